"""τ's contract (net2net.flow.protocol) and the baselines that meet only its density half."""

from __future__ import annotations

import pytest
import torch

from net2net.baselines import LinearTranslator, MLPTranslator
from net2net.cli import main
from net2net.experts.labels import OneHotExpert
from net2net.experts.registry import EXPERTS, register_expert
from net2net.flow import ConditionalDensity, ConditionalINN, InvertibleDensity, describe, is_invertible
from net2net.testing import TinyAutoencoder
from net2net.translator import ExpertRef, Translator


def test_every_tau_declares_what_it_can_do() -> None:
    flow = ConditionalINN(4, 3, n_blocks=1, hidden=8)
    mlp, lin = MLPTranslator(4, 3, hidden=8), LinearTranslator(4, 3)
    assert isinstance(flow, InvertibleDensity) and is_invertible(flow)
    for m in (mlp, lin):
        assert isinstance(m, ConditionalDensity) and not isinstance(m, InvertibleDensity)
        assert not is_invertible(m) and "baseline" in describe(m)
    # a method that happens to be called ``inverse`` does not make a model invertible
    class Impostor(MLPTranslator):
        def inverse(self, v, c):  # pragma: no cover - never called
            raise AssertionError

    assert not is_invertible(Impostor(4, 3, hidden=8))


def test_flow_does_not_export_the_baselines() -> None:
    import net2net.flow as flow

    assert not hasattr(flow, "MLPTranslator") and not hasattr(flow, "LinearTranslator")
    from net2net import MLPConfig
    from net2net import MLPTranslator as top

    assert top is MLPTranslator and MLPConfig is MLPTranslator(2, 2, hidden=4).config.__class__


@pytest.fixture
def mlp_translator(tmp_path):
    EXPERTS.pop("tiny-ae", None)
    register_expert("tiny-ae", lambda device="cpu", **kw: TinyAutoencoder(device=device, **kw))
    query, target = OneHotExpert(), TinyAutoencoder()
    tau = MLPTranslator(target.dim, query.dim, hidden=16, depth=1)
    t = Translator(query, tau.eval(), target, query_ref=ExpertRef.of(query, "onehot"),
                   target_ref=ExpertRef.of(target, "tiny-ae"), info={"recipe": "tiny-mlp", "task": "attr"})
    yield t, t.save_pretrained(tmp_path / "tiny-mlp")
    EXPERTS.pop("tiny-ae", None)


def test_a_baseline_samples_but_refuses_to_invert(mlp_translator) -> None:
    t, _ = mlp_translator
    a = t.sample([1, 2], n=2, seed=0)
    assert torch.equal(a, t.sample([1, 2], n=2, seed=5))  # one answer per query
    y = torch.rand(1, 1, 28, 28)
    msg = "tiny-mlp's τ is an MLP regression baseline: it has no inverse, so it cannot edit/exemplar/invert"
    for call in (lambda: t.invert(y, [1]), lambda: t.edit(y, [1], [2]), lambda: t.exemplar([1], y, [2]),
                 lambda: t.render(torch.zeros(1, 8), [1])):
        with pytest.raises(ValueError, match=msg):
            call()
    with pytest.raises(ValueError, match="cannot take residuals v"):
        t.sample([1], n=1, v=torch.zeros(1, 8))


def test_cli_edit_of_a_baseline_is_one_line(mlp_translator, tmp_path, capsys) -> None:
    from net2net.imageio import save_images

    _, folder = mlp_translator
    save_images(torch.rand(1, 1, 28, 28), tmp_path / "img")
    image = next((tmp_path / "img").glob("*.png"))
    rc = main(["edit", str(folder), "--image", str(image), "--set", "class=bag", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "it has no inverse, so it cannot edit/exemplar/invert; use an invertible translator such as fmnist-text2img" in err


def test_a_translator_refuses_what_is_no_density() -> None:
    with pytest.raises(ValueError, match="ConditionalDensity"):
        Translator(OneHotExpert(), torch.nn.Linear(2, 2), TinyAutoencoder(),
                   query_ref=ExpertRef("onehot"), target_ref=ExpertRef("tiny-ae"))
