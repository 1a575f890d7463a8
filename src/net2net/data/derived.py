"""Query domains derived from an image: edges, low resolution, masks, silhouettes.

All functions take the project's image convention, ``float32`` tensors ``(B, C, H, W)``
in ``[0, 1]`` with ``C`` 1 or 3, and are deterministic (random masks take a seed).
Edges and silhouettes are one-channel maps whatever ``C`` (of the luminance, and of the
brightest channel); the others keep ``C``. On grey images every function is what it
was before colour existed. These are the functions behind the query domains of
:mod:`net2net.data.domains`; call them through that registry.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["luminance", "sobel_edges", "downsample", "upsample", "box_masks", "apply_mask", "silhouette"]


def _check(images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be a (B, 1 or 3, H, W) tensor, got {getattr(images, 'shape', type(images))}")


def luminance(images: Tensor) -> Tensor:
    """``(B, 1, H, W)``: grey images as they are, RGB by ITU-R 601 luma (as Pillow's ``L``)."""
    _check(images)
    if images.shape[1] == 1:
        return images.float()
    w = torch.tensor([0.299, 0.587, 0.114], device=images.device).view(1, 3, 1, 1)
    return (images.float() * w).sum(1, keepdim=True)


def sobel_edges(images: Tensor, *, threshold: float | None = None) -> Tensor:
    """Sobel gradient magnitude, scaled to ``[0, 1]`` per image (a sketch-like map).

    With ``threshold``, the map is binarised at that fraction of its maximum.
    """
    images = luminance(images)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=images.device)
    k = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    g = F.conv2d(F.pad(images.float(), (1, 1, 1, 1), mode="replicate"), k)
    mag = g.pow(2).sum(dim=1, keepdim=True).sqrt()
    mag = mag / mag.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    if threshold is not None:
        mag = (mag > threshold).float()
    return mag


def downsample(images: Tensor, size: int) -> Tensor:
    """Area-averaged low-resolution version, ``(B, C, size, size)`` (exact block means
    when ``size`` divides the image's sides)."""
    _check(images)
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    return F.adaptive_avg_pool2d(images.float(), size)


def upsample(images: Tensor, size: int) -> Tensor:
    """Nearest-neighbour upsampling to ``(B, C, size, size)`` (how low-res queries are shown)."""
    _check(images)
    return F.interpolate(images.float(), size=(size, size), mode="nearest")


def box_masks(n: int, size: int | tuple[int, int] = 28, *, min_frac: float = 0.3, max_frac: float = 0.6, seed: int = 0,
              start: int = 0, stop: int | None = None) -> Tensor:
    """``n`` masks ``(n, 1, H, W)`` (``size`` is ``H = W`` or ``(H, W)``): 1 where the pixel
    is kept, 0 in one random box.

    ``start``/``stop`` return only masks ``start:stop`` of that same sequence (the boxes
    of all ``n`` are drawn, only the slice is built), so a data set can be masked in
    chunks and still match masking it whole.
    """
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    g = torch.Generator().manual_seed(seed)
    hs = torch.randint(max(1, int(min_frac * h)), max(2, int(max_frac * h)) + 1, (n,), generator=g)
    ws = torch.randint(max(1, int(min_frac * w)), max(2, int(max_frac * w)) + 1, (n,), generator=g)
    top = (torch.rand(n, generator=g) * (h - hs + 1)).long()
    left = (torch.rand(n, generator=g) * (w - ws + 1)).long()
    sl = slice(start, n if stop is None else stop)
    hs, ws, top, left = hs[sl], ws[sl], top[sl], left[sl]
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + hs)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + ws)[:, None, None]))
    return (~inside).float()[:, None]


def apply_mask(images: Tensor, masks: Tensor, fill: float = 0.5) -> Tensor:
    """Replaces the masked-out pixels (mask 0) by ``fill`` (grey: distinct from background)."""
    _check(images)
    if masks.shape[0] not in (1, images.shape[0]) or masks.shape[1] != 1 or masks.shape[2:] != images.shape[2:]:
        raise ValueError(f"masks of shape {tuple(masks.shape)} do not fit images of shape {tuple(images.shape)}")
    return images * masks + fill * (1 - masks)


def silhouette(images: Tensor, threshold: float = 0.05) -> Tensor:
    """A two-class "segmentation" ``(B, 1, H, W)``: 1 where any channel is above ``threshold``."""
    _check(images)
    return (images.amax(1, keepdim=True) > threshold).float()
