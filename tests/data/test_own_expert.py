"""``net2net expert train``: an image expert trained on a folder, then used by path."""

from __future__ import annotations

import json

import pytest
import torch
from own_data import make_folder

from net2net.cli import main

pytest.importorskip("datasets", reason="needs net2net[data]")


def test_expert_train_autoencoder_and_classifier_on_a_folder_then_load_by_path(tmp_path, capsys) -> None:
    from net2net.experts.registry import get_expert

    data = make_folder(tmp_path / "imgs", n_train=32, n_test=8, size=32)
    ae = tmp_path / "experts" / "my-ae"
    assert main(["expert", "train", "autoencoder", "--dataset", str(data), "--out", str(ae),
                 "--latent", "8", "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "psnr" in printed and f"expert written to {ae}" in printed
    saved = json.loads((ae / "config.json").read_text())
    assert saved["format"] == "net2net-model" and saved["kind"] == "vae" and saved["weights"]["sha256"]
    expert = get_expert(str(ae))  # a folder is an expert name everywhere
    assert expert.dim == 8
    images = torch.rand(2, 3, 32, 32)
    assert expert.decode(expert.encode(images)).shape == (2, 3, 32, 32)

    clf = tmp_path / "experts" / "my-clf"
    assert main(["expert", "train", "classifier", "--dataset", str(data), "--column", "colour", "--out", str(clf),
                 "--steps", "2"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert get_expert(str(clf)).encode(images).shape[0] == 2

    # errors are one line, exit code 2
    assert main(["expert", "train", "classifier", "--dataset", str(data), "--out", str(tmp_path / "c2")]) == 2
    assert "needs --column" in capsys.readouterr().err
    assert main(["expert", "train", "autoencoder", "--dataset", str(data), "--out", str(ae)]) == 2
    assert "not empty" in capsys.readouterr().err
