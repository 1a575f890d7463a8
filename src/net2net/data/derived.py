"""Query domains derived from an image: edges, low resolution, masks, silhouettes.

All functions take and return the project's image convention, ``float32`` tensors
``(B, 1, H, W)`` in ``[0, 1]``, and are deterministic (random masks take a seed).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["sobel_edges", "downsample", "upsample", "box_masks", "apply_mask", "silhouette"]


def _check(images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be a (B, 1, H, W) tensor, got {getattr(images, 'shape', type(images))}")


def sobel_edges(images: Tensor, *, threshold: float | None = None) -> Tensor:
    """Sobel gradient magnitude, scaled to ``[0, 1]`` per image (a sketch-like map).

    With ``threshold``, the map is binarised at that fraction of its maximum.
    """
    _check(images)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=images.device)
    k = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    g = F.conv2d(F.pad(images.float(), (1, 1, 1, 1), mode="replicate"), k)
    mag = g.pow(2).sum(dim=1, keepdim=True).sqrt()
    mag = mag / mag.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    if threshold is not None:
        mag = (mag > threshold).float()
    return mag


def downsample(images: Tensor, size: int) -> Tensor:
    """Area-averaged low-resolution version, ``(B, 1, size, size)``."""
    _check(images)
    if images.shape[-1] % size or images.shape[-2] % size:
        raise ValueError(f"size {size} must divide the image size {tuple(images.shape[-2:])}")
    return F.adaptive_avg_pool2d(images.float(), size)


def upsample(images: Tensor, size: int) -> Tensor:
    """Nearest-neighbour upsampling to ``(B, 1, size, size)`` (how low-res queries are shown)."""
    _check(images)
    return F.interpolate(images.float(), size=(size, size), mode="nearest")


def box_masks(n: int, size: int = 28, *, min_frac: float = 0.3, max_frac: float = 0.6, seed: int = 0,
              start: int = 0, stop: int | None = None) -> Tensor:
    """``n`` masks ``(n, 1, size, size)``: 1 where the pixel is kept, 0 in one random box.

    ``start``/``stop`` return only masks ``start:stop`` of that same sequence (the boxes
    of all ``n`` are drawn, only the slice is built), so a data set can be masked in
    chunks and still match masking it whole.
    """
    g = torch.Generator().manual_seed(seed)
    lo, hi = max(1, int(min_frac * size)), max(2, int(max_frac * size))
    hs = torch.randint(lo, hi + 1, (n,), generator=g)
    ws = torch.randint(lo, hi + 1, (n,), generator=g)
    top = (torch.rand(n, generator=g) * (size - hs + 1)).long()
    left = (torch.rand(n, generator=g) * (size - ws + 1)).long()
    sl = slice(start, n if stop is None else stop)
    hs, ws, top, left = hs[sl], ws[sl], top[sl], left[sl]
    rows = torch.arange(size)[None, :, None]
    cols = torch.arange(size)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + hs)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + ws)[:, None, None]))
    return (~inside).float()[:, None]


def apply_mask(images: Tensor, masks: Tensor, fill: float = 0.5) -> Tensor:
    """Replaces the masked-out pixels (mask 0) by ``fill`` (grey: distinct from background)."""
    _check(images)
    if masks.shape[0] not in (1, images.shape[0]) or masks.shape[1:] != images.shape[1:]:
        raise ValueError(f"masks of shape {tuple(masks.shape)} do not fit images of shape {tuple(images.shape)}")
    return images * masks + fill * (1 - masks)


def silhouette(images: Tensor, threshold: float = 0.05) -> Tensor:
    """A two-class "segmentation": 1 on the garment, 0 on the background."""
    _check(images)
    return (images > threshold).float()
