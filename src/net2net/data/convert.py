"""What an image expert takes, and converting images to it (channels, size), saying what was done.

An image expert declares its input with attributes (read only through
:func:`image_spec`):

- ``channels`` (or ``image_channels``): 1 for grey, 3 for RGB;
- ``image_size`` (or ``config.image_size``): the side of the square images it reads.

An expert that declares a size but no channels is grey (the zoo's experts); one that
declares neither takes images as they come. :func:`convert_images` then turns any
``(B, C, H, W)`` batch into that form: RGB -> grey by luma (as Pillow's ``L``), grey ->
RGB by repeating, a non-square image made square by its ``fit`` (:data:`FITS`:
``crop``, the default, keeps the centre square; ``pad`` adds black borders to the long
side; ``stretch`` resizes the sides unequally), then resized (area when shrinking,
bilinear when enlarging). It returns notes that say what it did, which the feature
store logs and records in its key. :func:`fit_image` does the same to one image of a
data set whose images differ in size, before they are batched; :func:`split_images`
reads a whole split that way (to train an expert on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from net2net.data.derived import luminance

__all__ = ["FITS", "ImageSpec", "convert_images", "fit_image", "image_spec", "split_images"]

#: how a non-square image is made square: keep the centre, pad the short side, or stretch.
FITS = ("crop", "pad", "stretch")


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


def _check_fit(fit: str) -> None:
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")


def _square(x: Tensor, fit: str, size: int) -> tuple[Tensor, str]:
    """A non-square ``(B, C, H, W)`` made square by ``fit``; the note says what was done."""
    h, w = x.shape[-2:]
    if fit == "crop":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        return x[..., top:top + s, left:left + s], f"centre-crop {w}x{h} -> {s}x{s}"
    if fit == "pad":
        s = max(h, w)
        top, left = (s - h) // 2, (s - w) // 2
        return F.pad(x, (left, s - w - left, top, s - h - top)), f"pad {w}x{h} -> {s}x{s}"
    mode = "area" if h >= size and w >= size else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x, size=(size, size), mode=mode, **kwargs).clamp(0, 1), f"stretch {w}x{h} -> {size}x{size}"


def _resize(x: Tensor, size: int) -> Tensor:
    mode = "area" if x.shape[-1] > size else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x, size=(size, size), mode=mode, **kwargs).clamp(0, 1)


def fit_image(image: Tensor, size: int, fit: str = "crop") -> Tensor:
    """One ``(C, H, W)`` image in ``[0, 1]`` made ``(C, size, size)`` by ``fit`` then a resize
    (the same operations :func:`convert_images` applies to a batch)."""
    _check_fit(fit)
    x = image[None].float()
    if x.shape[-2] != x.shape[-1]:
        x, _ = _square(x, fit, size)
    if x.shape[-1] != size:
        x = _resize(x, size)
    return x[0]


def convert_images(images: Tensor, spec: ImageSpec, fit: str = "crop") -> tuple[Tensor, list[str]]:
    """``images`` ``(B, C, H, W)`` in ``[0, 1]`` as ``spec`` wants them, and what was done (empty: nothing).

    ``fit`` (:data:`FITS`) says how a non-square image becomes square.
    """
    _check_fit(fit)
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be a (B, 1 or 3, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    notes: list[str] = []
    x = images.float()
    if spec.channels == 1 and x.shape[1] == 3:
        x, notes = luminance(x), [*notes, "RGB -> grey"]
    elif spec.channels == 3 and x.shape[1] == 1:
        x, notes = x.expand(-1, 3, -1, -1), [*notes, "grey -> RGB"]
    if spec.size is not None:
        if x.shape[-2] != x.shape[-1]:
            x, note = _square(x, fit, spec.size)
            notes.append(note)
        if x.shape[-1] != spec.size:
            notes.append(f"resize {x.shape[-1]}x{x.shape[-1]} -> {spec.size}x{spec.size}")
            x = _resize(x, spec.size)
    return x, notes


def split_images(split: Any, spec: ImageSpec, *, fit: str = "crop", limit: int | None = None,
                 progress: bool | None = None) -> tuple[Tensor, list[str]]:
    """The first ``limit`` images of a data-set split (:class:`net2net.data.split.Split`) as
    ``spec`` wants them, float ``(N, C, S, S)`` in ``[0, 1]``, and what was done.

    Images of one size come as they are (then converted as a batch); images that differ
    are fitted one by one, with a progress bar, so a folder of photos of many sizes
    becomes one tensor. What was done is said once (``fit crop: 3 image sizes -> 32x32``).
    """
    from tqdm.auto import tqdm

    _check_fit(fit)
    n = len(split) if limit is None else min(int(limit), len(split))
    if n == 0:
        raise ValueError("no images found; the data set is empty")
    first = split.image(0)
    channels = spec.channels or (3 if first.shape[2] == 3 else 1)
    size = spec.size or first.shape[0]
    target = ImageSpec(channels, size)
    out = torch.empty(n, channels, size, size)
    sizes: set[tuple[int, int]] = set()
    modes: set[int] = set()
    for i in tqdm(range(n), desc="read images", unit="image", disable=(not progress) if progress is not None else None,
                  dynamic_ncols=True, mininterval=1.0):
        a = first if i == 0 else split.image(i)
        sizes.add(a.shape[:2])
        modes.add(a.shape[2])
        x = torch.tensor(a).permute(2, 0, 1)[None].float() / 255.0
        out[i] = convert_images(x, target, fit)[0][0]  # its per-image notes are summed up below
    notes = []
    if modes != {channels}:
        notes.append("RGB -> grey" if channels == 1 else "grey -> RGB")
    if sizes != {(size, size)}:
        notes.append(f"fit {fit}: {len(sizes)} image size{'s' if len(sizes) > 1 else ''} -> {size}x{size}")
    return out, notes
