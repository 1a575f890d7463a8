"""Done-when for "editing your own attributes": a folder with named columns (``fg``, ``bg``) ->
a translator over them -> ``net2net edit --set fg=blue``, checked from the pixels.

The translator is trained from a recipe on the folder (the query expert is the registry's
``multihot`` over ``fg=...``/``bg=...`` names, the target the test's ``block-ae``); its
folder records the columns and their values, and ``edit`` takes the image's current
values from ``--from``. Shipped ``shapes-attr`` and ``fmnist-attr`` edit through the same
functions (:func:`net2net.applications.edit` -> ``edit_attributes`` -> ``Translator.edit``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from own_data import register_block_ae
from PIL import Image

from net2net.cli import main

pytest.importorskip("datasets", reason="needs net2net[data]")

FG = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230)}
BG = {"black": 10, "grey": 110}
NAMES = "fg=red,fg=green,fg=blue,bg=black,bg=grey"


def make_columns_folder(root: Path, n_train: int = 72, n_test: int = 18, seed: int = 0) -> Path:
    """16 × 16 RGB: a centred 8 × 8 square of colour ``fg`` on a background ``bg``, a little noise;
    ``metadata.jsonl`` holds ``file_name``, ``fg`` and ``bg`` (named values)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            fg, bg = list(FG)[i % 3], list(BG)[(i // 3) % 2]
            a = np.clip(BG[bg] + rng.integers(-8, 9, (16, 16, 3)), 0, 255).astype(np.uint8)
            a[4:12, 4:12] = np.clip(np.array(FG[fg]) + rng.integers(-8, 9, (8, 8, 3)), 0, 255)
            Image.fromarray(a).save(folder / f"{i:03d}.png")
            rows.append({"file_name": f"{i:03d}.png", "fg": fg, "bg": bg})
        (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def own_translator(tmp_path_factory) -> tuple[Path, Path]:
    register_block_ae()
    root = tmp_path_factory.mktemp("own-columns")
    make_columns_folder(root / "tiles")

    def ref(expert: str, split: str, **kw) -> dict:
        return {"expert": expert, "dataset": "tiles", "split": split, **kw}

    query = {"name": "multihot", "options": {"attributes": NAMES}}
    cond = {"options": query["options"], "column": "fg,bg"}
    recipe = {
        "name": "tiles-attr",
        "data": {"source": "features", "root": "store",
                 "cond": ref("multihot", "train", **cond), "target": ref("block-ae", "train"),
                 "val_cond": ref("multihot", "test", **cond), "val_target": ref("block-ae", "test")},
        "model": {"kind": "cinn", "n_blocks": 4, "hidden": 64, "embed_dim": 16, "embed_hidden": 32},
        "train": {"steps": 400, "batch_size": 24, "lr": 3e-3, "warmup_steps": 20, "eval_every": 400,
                  "ckpt_every": 400, "seed": 0},
        "out": "run",
        "translator": {"query": query, "target": "block-ae", "info": {"task": "attr"}},
    }
    (root / "recipe.json").write_text(json.dumps(recipe))
    assert main(["--threads", "1", "train", str(root / "recipe.json"), "--out", str(root / "run")]) == 0
    return root, root / "run" / "translator"


def test_the_folder_records_its_columns_and_values(own_translator) -> None:
    _, folder = own_translator
    info = json.loads((folder / "translator.json").read_text())["info"]
    assert info["attributes"] == [["fg", ["red", "green", "blue"]], ["bg", ["black", "grey"]]]


def test_edit_sets_one_of_your_own_columns_and_keeps_the_rest(own_translator, capsys) -> None:
    root, folder = own_translator
    image = root / "tiles" / "test" / "000.png"  # fg red, bg black
    capsys.readouterr()
    out = root / "edited"
    assert main(["--threads", "1", "edit", str(folder), "--image", str(image), "--from", "fg=red", "--from", "bg=black",
                 "--set", "fg=blue", "-n", "4", "--temperature", "0.5", "--out", str(out)]) == 0
    said = json.loads(capsys.readouterr().out)
    assert (said["from"], said["to"], said["images"]) == ({"fg": "red"}, {"fg": "blue"}, 4)
    before = np.asarray(Image.open(image), dtype=np.float64)
    for i in range(4):
        a = np.asarray(Image.open(out / f"{i:03d}.png").resize((16, 16), Image.Resampling.BOX), dtype=np.float64)
        square, corner = a[4:12, 4:12].mean((0, 1)), a[:4, :4].mean((0, 1))
        assert square[2] > square[0] + 60, f"sample {i}: the square is not blue: {square}"  # fg changed
        assert abs(corner.mean() - before[:4, :4].mean()) < 40, f"sample {i}: the background moved: {corner}"


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "fg=purple", "--from", "fg=red", "--from", "bg=black"], "--set fg=purple: choose one of red, green, blue"),
    (["--set", "mood=calm", "--from", "fg=red", "--from", "bg=black"], "sets fg, bg, not 'mood'"),
    (["--set", "fg=blue", "--from", "bg=dusk", "--from", "fg=red"], "--from bg=dusk: choose one of black, grey"),
    (["--set", "fg=blue"], "names no classifier to read an image's fg, bg; give them with --from"),
])
def test_edit_errors_list_the_valid_names(own_translator, capsys, argv, message) -> None:
    root, folder = own_translator
    out = root / "never"
    assert main(["edit", str(folder), "--image", str(root / "tiles" / "test" / "000.png"), *argv, "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_sample_reads_every_column_by_name(own_translator, capsys) -> None:
    root, folder = own_translator
    assert main(["sample", str(folder), "--class", "fg=green, bg=grey", "-n", "1", "--out", str(root / "s")]) == 0
    assert json.loads(capsys.readouterr().out)["query"] == ["fg=green", "bg=grey"]
    assert main(["sample", str(folder), "--class", "fg=green,,bg", "--out", str(root / "s2")]) == 2
    assert "--class takes NAME=VALUE" in capsys.readouterr().err  # the flag used, not --set
    assert main(["sample", str(folder), "--class", "fg=green", "--out", str(root / "s3")]) == 2
    assert "needs every column; --class misses bg" in capsys.readouterr().err


def test_eval_refuses_a_translator_of_no_known_domain(own_translator, capsys) -> None:
    """It used to be scored against Fashion-MNIST (FID 177, accuracy 0.075) without a word."""
    _, folder = own_translator
    assert main(["eval", str(folder), "--queries", "4", "--samples", "1"]) == 2
    err = capsys.readouterr().err
    assert "tiles-attr's image domain is unknown (its target expert 'block-ae' belongs to none); known: " \
           "fashion-mnist" in err and err.count("\n") == 1
