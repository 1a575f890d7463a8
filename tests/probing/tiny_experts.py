"""A user's own experts, named by path in the probe tests: a small conv net tapped at any
layer (``tiny_conv``), and a fixed RGB "autoencoder" of 4 × 4 block means (``block_ae``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from net2net.experts.base import TorchExpert
from net2net.experts.tap import LayerTap


def tiny_conv(*, device: str = "cpu", layer: str | None = None, pool: str = "flatten") -> LayerTap:
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    tap = LayerTap(net, layer if layer is not None else "7", pool=pool, example=torch.zeros(1, 3, 16, 16),
                   name="tiny-conv", device=device)
    tap.channels, tap.image_size = 3, 16
    return tap


class BlockAutoencoder(TorchExpert):
    channels, image_size = 3, 16

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        self.name, self.dim = "block-ae", 12
        self.register_buffer("_anchor", torch.zeros(1))
        self.to(device).freeze()

    def _encode(self, batch: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(batch.float(), 2).flatten(1)

    def _decode(self, z: Tensor) -> Tensor:
        return F.interpolate(z.view(-1, 3, 2, 2), size=(16, 16), mode="nearest").clamp(0, 1)


def block_ae(*, device: str = "cpu", **options: Any) -> BlockAutoencoder:
    return BlockAutoencoder(device)


def make_folder(root: Path, n_train: int = 64, n_test: int = 24, seed: int = 0) -> Path:
    """Coloured squares left or right on a noisy background; columns ``colour`` and ``side``,
    and captions in two wordings (``caption``, ``caption_heldout``)."""
    rng = np.random.default_rng(seed)
    colours = {"red": (230, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230)}
    for split, n in (("train", n_train), ("test", n_test)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n):
            colour, side = list(colours)[i % 3], ("left", "right")[int(rng.integers(0, 2))]
            a = rng.integers(0, 40, (16, 16, 3), dtype=np.uint8)
            left = 1 if side == "left" else 9
            a[4:10, left:left + 6] = colours[colour]
            Image.fromarray(a).save(folder / f"{i:03d}.png")
            # captions name the row too, so they are not categorical columns (nothing to judge)
            rows.append({"file_name": f"{i:03d}.png", "colour": colour, "side": side,
                         "caption": f"picture {i}: a {colour} square on the {side}",
                         "caption_heldout": f"you can see a {colour} block at the {side} ({i})"})
        (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
