"""The worked colour example of docs/data.md (``scripts/colour_example.py``), run at a toy size:
a folder of three image sizes -> ``expert train autoencoder`` -> ``train`` -> ``sample``, and
an attribute translator on the folder's own columns -> ``edit``; the page is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from net2net.data.tiles import BG, FG, SIZES, make_tiles, measure_colours, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_tiles_folder_has_three_sizes_and_its_colours_read_back_from_pixels(tmp_path) -> None:
    from net2net.data.convert import ImageSpec, split_images
    from net2net.data.datasets import get_dataset

    data = make_tiles(tmp_path / "t", n_train=30, n_test=6)
    split = get_dataset(str(data)).load("train")
    assert {tuple(split.image(i).shape[:2]) for i in range(3)} == {(h, w) for w, h in SIZES}
    assert set(split.columns) >= {"text", "digit", "fg", "bg"}
    test_captions = get_dataset(str(data)).load("test").columns["text"]
    assert all(c.startswith("a ") and " tile showing " in c for c in test_captions)  # the held-out phrasing
    assert not any(" tile showing " in c for c in split.columns["text"])
    x, notes = split_images(split, ImageSpec(3, 32), progress=False)
    assert notes == ["fit crop: 3 image sizes -> 32x32"] and x.shape == (30, 3, 32, 32)
    got = measure_colours(x)
    assert got["fg"] == split.columns["fg"] and got["bg"] == split.columns["bg"]
    # every pair of colours, read back at the expert's size
    rng = np.random.default_rng(0)
    tiles = [(fg, bg, render(8, fg, bg, 48, 48, rng)) for fg in FG for bg in BG]
    images = torch.stack([torch.from_numpy(a).permute(2, 0, 1).float() / 255 for *_, a in tiles])
    got = measure_colours(torch.nn.functional.interpolate(images, size=32, mode="area"))
    assert got["fg"] == [fg for fg, _, _ in tiles] and got["bg"] == [bg for _, bg, _ in tiles]
    with pytest.raises(ValueError, match="not an empty folder"):
        make_tiles(data)


def test_the_worked_colour_example_runs_end_to_end_at_a_toy_size(tmp_path) -> None:
    out = tmp_path / "docs" / "colour-example.md"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "colour_example.py"), "--tiny",
                           "--work", str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout[proc.stdout.index("{"):])
    commands = [c["command"] for c in figures["commands"]]
    assert commands[0].startswith("net2net --threads 1 expert train autoencoder --dataset my-tiles --out my-ae")
    assert commands[1] == "net2net --threads 1 train my-tiles.json"
    assert commands[2].startswith("net2net sample runs/my-tiles/translator --prompt")
    assert commands[4].startswith("net2net edit runs/my-tiles-attr/translator") and "--set fg=" in commands[4]
    assert len(figures["commands"]) == 5
    assert figures["followed"]["samples"] == 4 * figures["followed"]["prompts"]
    assert 0 <= figures["followed"]["fg"] <= 1 and 0 <= figures["edited"]["bg_kept"] <= 1
    page = out.read_text()
    assert "held-out PSNR" in page and "net2net --threads 1 expert train autoencoder" in page
    for name in ("reconstructions", "samples", "edited"):
        assert (out.parent / f"colour-example-{name}.png").stat().st_size > 0
    assert (tmp_path / "work" / "edited").is_dir() and (tmp_path / "work" / "samples").is_dir()


@pytest.mark.slow
def test_the_worked_example_follows_colour_words_and_edits_its_own_columns(tmp_path) -> None:
    """At a small size (600 images, minutes): samples of held-out prompts have the named
    colours, and ``edit --set fg=...`` on the folder's own columns changes the foreground
    and keeps the background, both read from the pixels."""
    out = tmp_path / "colour-example.md"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "colour_example.py"), "--size", "small",
                           "--work", str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    f = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert f["followed"]["fg"] >= 0.8 and f["followed"]["bg"] >= 0.9, f["followed"]
    assert f["edited"]["fg"] >= 0.8 and f["edited"]["bg_kept"] >= 0.9, f["edited"]
