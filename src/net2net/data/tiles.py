"""Tiles: a small folder of captioned colour photos-to-be, for the worked example in docs/data.md.

Each image is a seven-segment digit in a foreground colour on a background colour, in
one of three sizes that are not square (48×48, 64×40, 33×57, as a folder of photos
would be), with the digit inside the centre square so that ``--fit crop`` keeps it.
Every row of ``metadata.jsonl`` has ``file_name``, a caption ``text`` and the columns
``digit``, ``fg`` and ``bg``. Training captions use three phrasings; the test split's
use a fourth that no training caption uses (held-out prompts).

:func:`measure_colours` reads the foreground and background colour back from pixels,
which is how the worked example checks that samples follow the colour words.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BG", "FG", "SIZES", "accuracy", "caption", "make_tiles", "measure_colours", "render"]

#: foreground colours (RGB 0-255)
FG: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 80, 235),
    "yellow": (235, 215, 50), "magenta": (205, 60, 205), "cyan": (60, 205, 215),
}
#: background colours
BG: dict[str, tuple[int, int, int]] = {"black": (15, 15, 15), "white": (240, 240, 240), "grey": (125, 125, 125)}
#: image sizes (width, height): three, none of them the expert's
SIZES: tuple[tuple[int, int], ...] = ((48, 48), (64, 40), (33, 57))
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: segments a-g of each digit (a top, b top-right, c bottom-right, d bottom, e bottom-left, f top-left, g middle)
_SEGMENTS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")
_TEMPLATES = {
    "train": ("a {fg} {digit} on {bg}", "the digit {word} in {fg} on a {bg} background",
              "{fg} number {digit}, {bg} background"),
    "test": ("a {bg} tile showing a {fg} {word}",),
}


def render(digit: int, fg: str, bg: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """One tile, uint8 ``(height, width, 3)``: the digit's segments in ``fg`` on a noisy ``bg``."""
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2  # the centre square holds the digit
    scale = rng.uniform(0.55, 0.75)
    h = side * scale
    w = h * 0.55
    cx = x0 + side / 2 + rng.uniform(-0.08, 0.08) * side
    cy = y0 + side / 2 + rng.uniform(-0.06, 0.06) * side
    t = max(1.5, h * 0.13)  # stroke thickness
    left, right, top, bottom, mid = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2, cy
    bars = {"a": (left, top, right, top), "d": (left, bottom, right, bottom), "g": (left, mid, right, mid),
            "f": (left, top, left, mid), "b": (right, top, right, mid),
            "e": (left, mid, left, bottom), "c": (right, mid, right, bottom)}
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    mask = np.zeros((height, width), bool)
    for s in _SEGMENTS[digit]:
        ax, ay, bx, by = bars[s]
        mask |= (xx >= min(ax, bx) - t / 2) & (xx <= max(ax, bx) + t / 2) & \
                (yy >= min(ay, by) - t / 2) & (yy <= max(ay, by) + t / 2)
    img = np.empty((height, width, 3), np.float32)
    img[:] = BG[bg]
    img[mask] = FG[fg]
    img += rng.normal(0, 6, img.shape)  # sensor noise: no latent dimension is exactly constant
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def caption(digit: int, fg: str, bg: str, rng: np.random.Generator, phrasing: str = "train") -> str:
    """A caption naming the digit, the foreground and the background, in ``phrasing``'s words."""
    templates = _TEMPLATES[phrasing]
    return templates[int(rng.integers(len(templates)))].format(fg=fg, bg=bg, digit=digit, word=_WORDS[digit])


def make_tiles(out: str | os.PathLike, *, n_train: int = 3000, n_test: int = 300, seed: int = 0) -> Path:
    """Writes ``out/train`` and ``out/test`` (PNGs of three sizes plus ``metadata.jsonl``); returns ``out``."""
    from PIL import Image

    out = Path(out)
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be at least 1, got {n_train} and {n_test}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not an empty folder; choose a new one")
    fgs, bgs = list(FG), list(BG)
    for split, n, phrasing, offset in (("train", n_train, "train", 0), ("test", n_test, "test", 1)):
        rng = np.random.default_rng([seed, offset])
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            digit, fg, bg = int(rng.integers(10)), fgs[int(rng.integers(len(fgs)))], bgs[int(rng.integers(len(bgs)))]
            width, height = SIZES[i % len(SIZES)]
            name = f"{i:05d}.png"
            Image.fromarray(render(digit, fg, bg, width, height, rng)).save(folder / name)
            rows.append({"file_name": name, "text": caption(digit, fg, bg, rng, phrasing),
                         "digit": str(digit), "fg": fg, "bg": bg})
        (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def _nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    d = ((np.array([palette[k] for k in names], np.float32) - rgb) ** 2).sum(1)
    return names[int(d.argmin())]


def measure_colours(images: Any) -> dict[str, list[str | None]]:
    """The foreground and background colour of each image, read from its pixels.

    ``images``: ``(N, 3, H, W)`` floats in ``[0, 1]`` (a tensor or an array). The
    background is the median of the border pixels, named by the nearest of :data:`BG`;
    the foreground is the median of the pixels farthest from it (the strokes' cores, not
    their edges), named by the nearest of :data:`FG` (``None`` when no pixel stands out).
    """
    a = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, np.float32) * 255
    if a.ndim != 4 or a.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W), got {a.shape}")
    fg: list[str | None] = []
    bg: list[str | None] = []
    for im in a.transpose(0, 2, 3, 1):
        border = np.concatenate([im[0], im[-1], im[:, 0], im[:, -1]])
        back = np.median(border, 0)
        bg.append(_nearest(back, BG))
        px = im.reshape(-1, 3)
        d = np.linalg.norm(px - back, axis=1)
        far = px[d > max(80.0, 0.8 * d.max())]  # the stroke's core, not its edges blended with the background
        fg.append(_nearest(np.median(far, 0), FG) if len(far) >= 4 else None)
    return {"fg": fg, "bg": bg}


def accuracy(named: Sequence[str], measured: Sequence[str | None]) -> float:
    """The fraction of ``measured`` that equals ``named``."""
    if len(named) != len(measured) or not named:
        raise ValueError("accuracy needs two non-empty lists of one length")
    return sum(a == b for a, b in zip(named, measured, strict=True)) / len(named)
