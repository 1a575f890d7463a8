"""Translator = (f, τ, g) and the application commands, on tiny local experts."""

from __future__ import annotations

import json

import pytest
import torch

from net2net.cli import main
from net2net.experts.labels import OneHotExpert
from net2net.experts.registry import EXPERTS, register_expert
from net2net.imageio import save_images
from net2net.testing import TinyAutoencoder
from net2net.testing import tiny_translator as make_tiny_translator
from net2net.translator import load


def TinyAE(seed: int = 0, device: str = "cpu") -> TinyAutoencoder:
    return TinyAutoencoder(seed, name="tiny-ae", device=device)


@pytest.fixture
def tiny_translator(tmp_path):
    EXPERTS.pop("tiny-ae", None)
    register_expert("tiny-ae", lambda device="cpu", **kw: TinyAE(device=device, **kw))
    t = make_tiny_translator(OneHotExpert(), query_name="onehot", info={"task": "attr", "query_transform": "labels"})
    folder = t.save_pretrained(tmp_path / "tiny-attr")
    yield t, folder
    EXPERTS.pop("tiny-ae", None)


def test_sample_is_seeded_and_query_major(tiny_translator) -> None:
    t, _ = tiny_translator
    a = t.sample(["dress", "bag"], n=3, seed=1)
    assert a.shape == (6, 1, 28, 28) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(a, t.sample(["dress", "bag"], n=3, seed=1))
    assert not torch.equal(a, t.sample(["dress", "bag"], n=3, seed=2))
    # the seed fixes the residuals: a query gets the same images whatever else is in the batch
    assert torch.allclose(a[:3], t.sample(["dress"], n=3, seed=1), atol=1e-5)


def test_edit_to_the_same_class_reconstructs(tiny_translator) -> None:
    t, _ = tiny_translator
    y = torch.rand(2, 1, 28, 28)
    recon = t.decode(t.encode_target(y))
    assert torch.allclose(t.edit(y, [3, 3], [3, 3]), recon, atol=1e-5)
    assert not torch.allclose(t.edit(y, [3, 3], [8, 8]), recon, atol=1e-3)
    # several edits: the first is exact, the others vary with the posterior
    many = t.edit(y[:1], [3], [8], n=3, seed=0)
    assert torch.allclose(many[0], t.edit(y[:1], [3], [8])[0], atol=1e-6) and not torch.equal(many[1], many[2])


def test_invert_then_render_is_the_identity_and_exemplar_uses_it(tiny_translator) -> None:
    t, _ = tiny_translator
    y = torch.rand(1, 1, 28, 28)
    v = t.invert(y, [5])
    assert v.shape == (1, 8)
    assert torch.allclose(t.exemplar([1], y, [5]), t.render(v, [1], 1), atol=1e-6)


def test_round_trip_and_changed_expert_is_named(tiny_translator) -> None:
    t, folder = tiny_translator
    loaded = load(folder)
    assert torch.equal(loaded.sample([2], n=2, seed=0), t.sample([2], n=2, seed=0))
    register_expert("tiny-ae", lambda device="cpu", **kw: TinyAE(seed=1, device=device), overwrite=True)
    with pytest.raises(ValueError, match="target expert 'tiny-ae' is not the one τ was trained with"):
        load(folder)


def test_bad_queries(tiny_translator) -> None:
    t, _ = tiny_translator
    with pytest.raises(ValueError, match="unknown class 'hat'"):
        t.sample(["hat"])
    with pytest.raises(ValueError, match="no queries"):
        t.sample([])
    with pytest.raises(ValueError, match="2 images but 1 queries"):
        t.invert(torch.rand(2, 1, 28, 28), [1])
    with pytest.raises(ValueError, match="no translator 'nope'"):
        load("nope")


def test_cli_sample_and_edit_write_pngs(tiny_translator, tmp_path, capsys) -> None:
    _, folder = tiny_translator
    assert main(["sample", str(folder), "--class", "Ankle-Boot", "-n", "3", "--seed", "4", "--out", str(tmp_path / "s")]) == 0
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == ["000.png", "001.png", "002.png", "grid.png"]
    first = (tmp_path / "s" / "000.png").read_bytes()
    assert main(["sample", str(folder), "--class", "9", "-n", "3", "--seed", "4", "--out", str(tmp_path / "s2")]) == 0
    assert (tmp_path / "s2" / "000.png").read_bytes() == first, "same seed, same image"
    save_images(torch.rand(1, 1, 28, 28), tmp_path / "in")
    capsys.readouterr()
    out = tmp_path / "e"
    assert main(["edit", str(folder), "--image", str(tmp_path / "in" / "000.png"), "--from", "dress",
                 "--set", "class=bag", "-n", "2", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["from"], report["to"], report["images"]) == ({"class": "dress"}, {"class": "bag"}, 2)
    assert sorted(p.name for p in out.iterdir()) == ["000.png", "001.png", "grid.png"]


@pytest.mark.parametrize("args, message", [
    (["sample", "FOLDER", "--class", "hat", "--out", "o"], "unknown class 'hat'"),
    (["edit", "FOLDER", "--image", "IMG", "--set", "colour=red", "--out", "o"], "--set takes class=CLASS"),
    (["sample", "FOLDER", "--class", "bag", "-n", "0", "--out", "o"], "-n must be between 1 and 256"),
    (["translate", "FOLDER", "--image", "IMG", "--out", "o"], "reads label, not images"),
    (["edit", "FOLDER", "--image", "NOTIMG", "--set", "class=bag", "--out", "o"], "not an image file"),
    (["sample", "no-such-translator", "--prompt", "x", "--out", "o"], "no translator 'no-such-translator'"),
])
def test_cli_errors_are_one_line(tiny_translator, tmp_path, capsys, args, message) -> None:
    _, folder = tiny_translator
    save_images(torch.rand(1, 1, 28, 28), tmp_path / "in")
    (tmp_path / "notimg.png").write_text("hello")
    subs = {"FOLDER": str(folder), "IMG": str(tmp_path / "in" / "000.png"), "NOTIMG": str(tmp_path / "notimg.png")}
    argv = [subs.get(a, a) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_independent_residuals_for_statistics(tiny_translator) -> None:
    t, _ = tiny_translator
    z_phi = t.encode_query([3, 3])
    shared = t.sample_latents(z_phi, n=2, seed=0)
    assert torch.allclose(shared[:2], shared[2:]), "one seed, one set of residuals for every query"
    independent = t.sample_latents(z_phi, n=2, seed=0, shared=False)
    assert not torch.allclose(independent[:2], independent[2:])
