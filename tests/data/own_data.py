"""Helpers for the own-data tests: a small captioned RGB image folder and a tiny RGB image expert.

Imported by the tests beside it (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from net2net.experts.base import TorchExpert

COLOURS = {"red": (230, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230), "yellow": (230, 220, 40)}


def make_folder(root: Path, n_train: int = 48, n_test: int = 16, size: int = 16, seed: int = 0) -> Path:
    """``root/train`` and ``root/test``, each with coloured squares on a dark background and a
    ``metadata.jsonl``: ``file_name``, ``text`` (a caption), ``colour`` (a class name),
    and two 0/1 attribute columns, ``big`` and ``left``."""
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    for split, n in (("train", n_train), ("test", n_test)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            colour = names[i % len(names)]
            big = int(rng.integers(0, 2))
            side = size // 2 + 2 if big else size // 4 + 1
            top, left = (int(v) for v in rng.integers(0, size - side + 1, 2))
            # a dim, noisy background: no latent dimension is constant (a flow cannot fit a point mass)
            a = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
            a[top:top + side, left:left + side] = COLOURS[colour]
            name = f"{i:03d}.png"
            Image.fromarray(a).save(folder / name)
            words = ("a big" if big else "a small") + f" {colour} square"
            rows.append({"file_name": name, "text": words, "colour": colour, "big": big,
                         "left": int(left + side / 2 < size / 2)})
        (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


class BlockAutoencoder(TorchExpert):
    """A fixed RGB "autoencoder": the 4 × 4 block means of a 16 × 16 colour image (48-d),
    decoded by enlarging them. No weights, deterministic, and it declares its input."""

    channels = 3
    image_size = 16

    def __init__(self, device: str = "cpu", **options: Any) -> None:
        super().__init__()
        self.name, self.dim = "block-ae", 48
        self.register_buffer("_anchor", torch.zeros(1))
        self.to(device)
        self.freeze()

    def _encode(self, batch: Tensor) -> Tensor:
        if batch.dim() != 4 or batch.shape[1:] != (3, 16, 16):
            raise ValueError(f"block-ae reads (B, 3, 16, 16) images, got {tuple(batch.shape)}")
        return F.adaptive_avg_pool2d(batch.float(), 4).flatten(1)

    def _decode(self, z: Tensor) -> Tensor:
        return F.interpolate(z.view(-1, 3, 4, 4), size=(16, 16), mode="nearest").clamp(0, 1)


def register_block_ae() -> None:
    from net2net.experts.registry import register_expert

    register_expert("block-ae", lambda device="cpu", **o: BlockAutoencoder(device, **o), overwrite=True)


class CharExpert(TorchExpert):
    """A tiny text expert: letter counts of each caption (a-h, 8-d). Loads in no time."""

    input_kind = "text"

    def __init__(self, device: str = "cpu", **options: Any) -> None:
        super().__init__()
        self.name, self.dim = "char-count", 8
        self.register_buffer("_anchor", torch.zeros(1))
        self.to(device)
        self.freeze()

    def _encode(self, texts: Any) -> Tensor:
        return torch.tensor([[float(t.count(c)) for c in "abcdefgh"] for t in texts])


def register_char_expert() -> None:
    from net2net.experts.registry import register_expert

    register_expert("char-count", lambda device="cpu", **o: CharExpert(device, **o), overwrite=True)
