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
    assert "not an empty folder" in capsys.readouterr().err


def test_images_of_three_sizes_train_an_expert_that_keeps_its_best_weights(tmp_path, capsys) -> None:
    """The worked example's folder (48x48, 64x40, 33x57 images) fitted to --size; the
    folder gets the best weights' metrics and a reconstruction grid."""
    import net2net
    from net2net.data.tiles import make_tiles
    from net2net.imageio import load_image

    data = make_tiles(tmp_path / "tiles", n_train=60, n_test=6)
    ae = tmp_path / "ae"
    assert main(["expert", "train", "autoencoder", "--dataset", str(data), "--out", str(ae), "--latent", "8",
                 "--steps", "3", "--fit", "pad"]) == 0
    out = capsys.readouterr()
    assert "fit pad: 3 image sizes -> 32x32" in out.err
    assert "held-out PSNR" in out.out and "reconstructions" in out.out
    meta = json.loads((ae / "config.json").read_text())["extra"]
    kept = meta["metrics"]["kept"]
    assert kept["rows"] == 3  # 5 % of 60 held back
    assert kept["psnr"] == max(v for _, v in kept["history"])
    assert kept["best_step"] == next(s for s, v in kept["history"] if v == kept["psnr"])
    assert meta["recipe_spec"]["data"]["fit"] == "pad"
    grid = load_image(ae / "reconstructions.png", None, invert=False, channels=3)
    assert grid.shape[1] == 3 and grid.shape[-1] > 2 * grid.shape[-2]  # 6 test images above their reconstructions

    # the same from Python, at 64x64
    m = net2net.train_expert("autoencoder", data, tmp_path / "ae64", size=64, latent=8, steps=1, progress=False)
    assert m["test"]["n"] == 6
    from net2net.experts.registry import get_expert

    expert = get_expert(str(tmp_path / "ae64"))
    assert expert.decode(expert.encode(torch.rand(2, 3, 64, 64))).shape == (2, 3, 64, 64)


def test_keep_best_keeps_the_weights_of_the_best_score() -> None:
    from net2net.zoo.train import _KeepBest

    keep = _KeepBest("vae", torch.zeros(1, 1), None, total=40, device=torch.device("cpu"), evals=4)
    net = torch.nn.Linear(1, 1)
    scores = iter([1.0, 3.0, 2.0, 0.5])
    keep.score = lambda _: next(scores)  # type: ignore[method-assign]
    for step in range(40):
        with torch.no_grad():
            net.weight.fill_(step)
        keep(step, net)
    assert [s for s, _ in keep.history] == [10, 20, 30, 40]
    assert keep.best_step == 20 and float(keep.state["weight"]) == 19.0


def test_a_folder_without_a_test_split_is_refused_before_training(tmp_path, capsys) -> None:
    data = make_folder(tmp_path / "imgs", n_train=8, n_test=2, size=32)
    import shutil

    shutil.rmtree(data / "test")
    assert main(["expert", "train", "autoencoder", "--dataset", str(data), "--out", str(tmp_path / "ae")]) == 2
    err = capsys.readouterr().err
    assert "no 'test' split" in err and "Traceback" not in err
    assert not (tmp_path / "ae").exists()
    with pytest.raises(SystemExit) as e:  # argparse's own refusal of an unknown kind
        main(["expert", "train", "banana", "--dataset", str(data), "--out", str(tmp_path / "x")])
    assert e.value.code == 2 and "invalid choice: 'banana'" in capsys.readouterr().err
    import net2net

    with pytest.raises(ValueError, match="unknown expert kind 'banana'; choose one of autoencoder, classifier"):
        net2net.train_expert("banana", data, tmp_path / "x")
