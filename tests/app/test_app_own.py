"""The tab "Your translators": translator folders given with ``net2net serve --translator DIR``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from net2net.app import handlers as h
from net2net.cli import main
from net2net.experts.labels import OneHotExpert
from net2net.testing import tiny_translator


@pytest.fixture(scope="module")
def with_own(tiny_translators):
    return {**tiny_translators, "runs/mine/translator": tiny_translator(OneHotExpert(), seed=9)}


def test_own_translators_are_the_ones_not_from_the_zoo(with_own, tiny_translators) -> None:
    assert h.own_translators(with_own) == ["runs/mine/translator"]
    assert h.own_translators(tiny_translators) == []


def test_own_sample_draws_n_seeded_images_for_a_class(with_own) -> None:
    items = h.own_sample(with_own, "runs/mine/translator", "Dress", 3, 1.0, 5)
    again = h.own_sample(with_own, "runs/mine/translator", "Dress", 3, 1.0, 5)
    assert [c for _, c in items] == ["#1", "#2", "#3"]
    a = torch.tensor(np.stack([np.asarray(img) for img, _ in items]), dtype=torch.float32)
    b = torch.tensor(np.stack([np.asarray(img) for img, _ in again]), dtype=torch.float32)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])


@pytest.mark.parametrize(("name", "query", "message"), [
    ("fmnist-text2img", "Dress", "pick one of your translators"),
    ("runs/mine/translator", "  ", "empty"),
    ("runs/mine/translator", "Banana", "Banana"),
])
def test_own_sample_refuses_bad_input(with_own, name, query, message) -> None:
    with pytest.raises(ValueError, match=message):
        h.own_sample(with_own, name, query, 2, 1.0, 0)


def test_a_folder_that_is_not_a_translator_is_refused_in_one_line(tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match="not a translator folder"):
        h.check_own([tmp_path])
    assert main(["serve", "--translator", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "--translator" in err and "not a translator folder" in err and "Traceback" not in err


def test_the_tab_appears_only_with_translators_of_yours(with_own, tiny_translators) -> None:
    pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'gradio>=5')")
    from net2net.app.server import build_app

    def ids(demo) -> set[str]:
        return {getattr(b, "elem_id", None) for b in demo.blocks.values()}

    assert "own-generate" in ids(build_app(with_own))
    assert "own-generate" not in ids(build_app(tiny_translators))
