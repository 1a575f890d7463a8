"""What an image expert takes, and converting images to it (channels, size), saying what was done.

An image expert declares its input with attributes (read only through
:func:`image_spec`):

- ``channels`` (or ``image_channels``): 1 for grey, 3 for RGB;
- ``image_size`` (or ``config.image_size``): the side of the square images it reads.

An expert that declares a size but no channels is grey (the zoo's experts); one that
declares neither takes images as they come. :func:`convert_images` then turns any
``(B, C, H, W)`` batch into that form: RGB -> grey by luma (as Pillow's ``L``), grey ->
RGB by repeating, a non-square image centre-cropped to a square, then resized (area
when shrinking, bilinear when enlarging). It returns notes that say what it did, which
the feature store logs and records in its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from net2net.data.derived import luminance

__all__ = ["ImageSpec", "convert_images", "image_spec"]


@dataclass(frozen=True)
class ImageSpec:
    """What an image expert reads: ``channels`` (1, 3 or None: any) and ``size`` (None: any)."""

    channels: int | None = None
    size: int | None = None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def image_spec(expert: Any) -> ImageSpec:
    """The expert's declared input (see the module docstring)."""
    size = _int(getattr(expert, "image_size", None)) or _int(getattr(getattr(expert, "config", None), "image_size", None))
    channels = _int(getattr(expert, "channels", None)) or _int(getattr(expert, "image_channels", None))
    if channels not in (None, 1, 3):
        channels = None  # e.g. a conv net's layer widths: not an input declaration
    if channels is None and size is not None:
        channels = 1
    return ImageSpec(channels, size)


def convert_images(images: Tensor, spec: ImageSpec) -> tuple[Tensor, list[str]]:
    """``images`` ``(B, C, H, W)`` in ``[0, 1]`` as ``spec`` wants them, and what was done (empty: nothing)."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be a (B, 1 or 3, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    notes: list[str] = []
    x = images.float()
    if spec.channels == 1 and x.shape[1] == 3:
        x, notes = luminance(x), [*notes, "RGB -> grey"]
    elif spec.channels == 3 and x.shape[1] == 1:
        x, notes = x.expand(-1, 3, -1, -1), [*notes, "grey -> RGB"]
    if spec.size is not None:
        h, w = x.shape[-2:]
        if h != w:
            s = min(h, w)
            top, left = (h - s) // 2, (w - s) // 2
            x, notes = x[..., top:top + s, left:left + s], [*notes, f"centre-crop {w}x{h} -> {s}x{s}"]
        if x.shape[-1] != spec.size:
            mode = "area" if x.shape[-1] > spec.size else "bilinear"
            kwargs = {} if mode == "area" else {"align_corners": False}
            notes.append(f"resize {x.shape[-1]}x{x.shape[-1]} -> {spec.size}x{spec.size}")
            x = F.interpolate(x, size=(spec.size, spec.size), mode=mode, **kwargs).clamp(0, 1)
    return x, notes
