"""`net2net zoo`: the recipes stay runnable end to end, and `list` shows the metrics."""

from __future__ import annotations

import json

import pytest

from net2net.cli import main
from net2net.zoo import load_expert


def test_zoo_train_smallest_expert_end_to_end(tmp_path, capsys):
    rc = main(["zoo", "train", "fmnist-lowres-ae", "--steps", "20", "--out", str(tmp_path),
               "--train-limit", "2560", "--eval-limit", "500"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "PSNR" in out and str(tmp_path) in out
    info = json.loads((tmp_path / "fmnist-lowres-ae" / "config.json").read_text())
    assert info["extra"]["metrics"]["train_steps"] == 20 and info["extra"]["recipe"] == "fmnist-lowres-ae"
    assert info["format"] == "net2net-model" and len(info["weights"]["sha256"]) == 64
    g = load_expert("fmnist-lowres-ae", folder=tmp_path)
    assert g.dim == 16
    assert main(["zoo", "list", "--dir", str(tmp_path)]) == 0
    assert "fmnist-lowres-ae" in capsys.readouterr().out


def test_zoo_list_shows_shipped_experts(capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("fmnist-classifier", "fmnist-ae", "fmnist-gan"):
        assert name in out
    assert "test acc" in out and "PSNR" in out and "FID" in out


def test_zoo_train_unknown_recipe_is_a_one_line_error(tmp_path, capsys):
    assert main(["zoo", "train", "fmnist-vgg", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fmnist-vgg" in err and "fmnist-ae" in err


@pytest.mark.parametrize("flag", ["--steps", "--epochs"])
def test_zoo_train_rejects_empty_budget(tmp_path, capsys, flag):
    assert main(["zoo", "train", "fmnist-lowres-ae", flag, "0", "--out", str(tmp_path)]) == 2
    assert "at least 1" in capsys.readouterr().err
