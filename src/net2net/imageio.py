"""Reading user images and writing results: any size, grey or colour in, PNGs out.

Images are decoded from an explicit list of formats (:data:`FORMATS`: PNG, JPEG, WebP,
BMP, GIF, TIFF; never EPS/PS, which Pillow would hand to Ghostscript), and the size
in the header is checked *before* any pixel is decoded: at most :data:`MAX_PIXELS`
pixels, :data:`MAX_SIDE` on either side and an aspect ratio of :data:`MAX_ASPECT`
(a 16,000,000 × 1 PNG is 15 KB on disk and seconds of work). 16-bit images are scaled
to 8 bits (``v * 255 / 65535``), not clipped; transparent pixels go on black.

In the project's convention an image is ``float32 (B, C, H, W)`` in ``[0, 1]`` with
``C`` 1 (grey) or 3 (RGB). :func:`load_image` defaults to the Fashion-MNIST form
(grey 28 × 28, a light garment on a dark background: a photo on a light background is
inverted); pass ``channels=3`` and ``size=None`` for colour at its own size.

Outputs are one PNG per image (``000.png``, ...) plus a ``grid.png``, each written
atomically; numbered PNGs of an earlier, larger run in the same folder are removed, so
the folder always holds exactly the images of the last call.
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from net2net.io import atomic_write_bytes

__all__ = [
    "FORMATS", "MAX_ASPECT", "MAX_BYTES", "MAX_PIXELS", "MAX_SIDE",
    "decode_image", "grid", "image_from_pil", "load_image", "pil_to_array", "read_image", "save_images", "to_pil",
]

#: refuse images larger than this many pixels (decompression bombs) or bytes.
MAX_PIXELS = 4096 * 4096
MAX_BYTES = 20 * 1024 * 1024
#: refuse a side longer than this, or a long side more than MAX_ASPECT times the short one.
MAX_SIDE = 8192
MAX_ASPECT = 32
#: Pillow format names accepted; anything else (EPS, PS, PDF, ...) is never opened.
FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
_FORMAT_WORDS = "PNG, JPEG, WebP, BMP, GIF, TIFF"
_NUMBERED = re.compile(r"^\d{3,}\.png$")


def _check_header(img: Image.Image, name: str) -> None:
    w, h = img.size
    if w < 1 or h < 1:
        raise ValueError(f"{name}: image is {w}x{h} pixels; it has no pixels")
    if w * h > MAX_PIXELS:
        raise ValueError(f"{name}: image is {w}x{h} pixels; the limit is {MAX_PIXELS} pixels")
    if max(w, h) > MAX_SIDE:
        raise ValueError(f"{name}: image is {w}x{h} pixels; the limit is {MAX_SIDE} pixels on a side")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ValueError(f"{name}: image is {w}x{h} pixels; sides may differ by at most {MAX_ASPECT}x")


def _normalise(img: Image.Image) -> Image.Image:
    """Any mode -> ``L`` or ``RGB``: 16/32-bit scaled (not clipped), alpha put on black."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(a * 255.0 / peak + 0.5, 0, 255).astype(np.uint8), mode="L")
    if img.mode == "F":
        a = np.asarray(img).astype(np.float64)
        peak = 1.0 if a.max(initial=0) <= 1.0 else 255.0
        return Image.fromarray(np.clip(a * 255.0 / peak + 0.5, 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        grey = img.mode in ("LA", "La")
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(bg, rgba).convert("L" if grey else "RGB")
    if img.mode in ("1", "L"):
        return img.convert("L")
    return img.convert("RGB")


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """Bytes -> a decoded PIL image in mode ``L`` or ``RGB``, after the format and size checks.

    Raises:
        ValueError: naming ``name``: not an accepted format, too large, or truncated/corrupt.
    """
    if len(data) > MAX_BYTES:
        raise ValueError(f"{name}: {len(data)} bytes is too large; the limit is {MAX_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            _check_header(img, name)
            img.load()
            return _normalise(img)
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not an image file PIL can read (PNG, JPEG, ...); "
                         f"accepted formats: {_FORMAT_WORDS}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(f"{name}: refusing a possible decompression bomb ({e})") from None
    except (OSError, SyntaxError, EOFError) as e:
        raise ValueError(f"{name}: the image is truncated or corrupt ({e})") from None


def read_image(path: str | os.PathLike) -> Image.Image:
    """Reads and decodes an image file (see :func:`decode_image`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is too large; the limit is {MAX_BYTES} bytes")
    return decode_image(path.read_bytes(), str(path))


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image -> uint8 ``(H, W, C)``, ``C`` 1 for grey and 3 for colour."""
    img = _normalise(img) if img.mode not in ("L", "RGB") else img
    a = np.asarray(img, dtype=np.uint8)
    return a[..., None] if a.ndim == 2 else a


def image_from_pil(img: Image.Image, size: int | None = 28, *, invert: bool | None = None,
                   channels: int = 1) -> Tensor:
    """A PIL image of any mode -> ``(1, channels, size, size)`` in ``[0, 1]`` (``size=None``: its own size).

    ``invert=None`` inverts grey images whose border is mostly light (a product photo),
    so the garment ends up light on dark like Fashion-MNIST; colour images are never
    inverted unless asked.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    _check_header(img, "image")
    img = _normalise(img)
    img = img.convert("L" if channels == 1 else "RGB")
    if size is not None:
        img = img.resize((size, size), Image.Resampling.BILINEAR if img.width < size else Image.Resampling.LANCZOS)
    a = np.asarray(img, dtype=np.float32) / 255.0
    a = a[..., None] if a.ndim == 2 else a
    if invert is None and channels == 1:
        g = a[..., 0]
        border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
        invert = bool(border.mean() > 0.5)
    if invert:
        a = 1.0 - a
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def load_image(path: str | os.PathLike, size: int | None = 28, *, invert: bool | None = None,
               channels: int = 1) -> Tensor:
    """Reads an image file as ``(1, channels, size, size)`` in ``[0, 1]`` (see :func:`image_from_pil`)."""
    return image_from_pil(read_image(path), size, invert=invert, channels=channels)


def to_pil(image: Tensor, scale: int = 1) -> Image.Image:
    """``(C, H, W)`` (C 1 or 3), ``(1, C, H, W)`` or ``(H, W)`` in ``[0, 1]`` -> a grey or RGB PIL image."""
    a = image.detach().float().cpu().clamp(0, 1)
    while a.dim() > 3 and a.shape[0] == 1:
        a = a[0]
    if a.dim() == 3 and a.shape[0] == 1:
        a = a[0]
    if a.dim() == 3:
        if a.shape[0] != 3:
            raise ValueError(f"an image has 1 or 3 channels, got shape {tuple(image.shape)}")
        a = a.permute(1, 2, 0)
    elif a.dim() != 2:
        raise ValueError(f"expected an image (C, H, W) or (H, W), got shape {tuple(image.shape)}")
    u8 = (a.numpy() * 255 + 0.5).astype(np.uint8)
    img = Image.fromarray(u8, mode="RGB" if u8.ndim == 3 else "L")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST) if scale > 1 else img


def grid(images: Tensor, nrow: int | None = None, pad: int = 2, scale: int = 4) -> Image.Image:
    """Tiles ``(B, C, H, W)`` images (C 1 or 3; grey ones beside colour ones are fine) into one picture."""
    b, c, h, w = images.shape
    nrow = nrow or min(b, max(1, math.ceil(math.sqrt(b))))
    rows = math.ceil(b / nrow)
    canvas = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 0.25)
    for i in range(b):
        r, col = divmod(i, nrow)
        canvas[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = \
            images[i].cpu().clamp(0, 1)
    return to_pil(canvas, scale)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_images(images: Tensor, out: str | os.PathLike, *, nrow: int | None = None, scale: int = 4) -> list[Path]:
    """Writes ``000.png``, ``001.png``, ... and ``grid.png`` into ``out``; returns the paths.

    Numbered PNGs (``NNN.png``) already in ``out`` beyond this call's are removed after
    the new ones are written: the folder then shows this call's images only, never a
    mix with an earlier run's. Other files are left alone.
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be a (B, 1 or 3, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        p = out / f"{i:03d}.png"
        atomic_write_bytes(p, _png(to_pil(img, scale)))
        paths.append(p)
    atomic_write_bytes(out / "grid.png", _png(grid(images, nrow=nrow, scale=scale)))
    keep = {p.name for p in paths}
    for stale in out.iterdir():
        if _NUMBERED.match(stale.name) and stale.name not in keep and stale.is_file():
            stale.unlink(missing_ok=True)
    return paths
