"""Reading user images and writing results: any size or mode in, PNGs out.

Inputs become the project's image convention, ``float32 (1, 1, H, W)`` in ``[0, 1]``,
with a light garment on a dark background as in Fashion-MNIST (a photo on a light
background is inverted). Outputs are one PNG per image (``000.png``, ...) plus a
``grid.png``, each written atomically.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from net2net.io import atomic_write_bytes

__all__ = ["load_image", "image_from_pil", "save_images", "to_pil", "grid", "MAX_PIXELS", "MAX_BYTES"]

#: refuse images larger than this many pixels (decompression bombs) or bytes.
MAX_PIXELS = 4096 * 4096
MAX_BYTES = 20 * 1024 * 1024


def image_from_pil(img: Image.Image, size: int = 28, *, invert: bool | None = None) -> Tensor:
    """A PIL image of any mode -> ``(1, 1, size, size)`` grey in ``[0, 1]``.

    ``invert=None`` inverts when the border is mostly light (a product photo), so the
    garment ends up light on dark like the training data.
    """
    if img.width * img.height > MAX_PIXELS:
        raise ValueError(f"image is {img.width}x{img.height} pixels; the limit is {MAX_PIXELS} pixels")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        # Transparent pixels are background: put the image on black.
        bg = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(bg, rgba)
    grey = img.convert("L").resize((size, size), Image.Resampling.BILINEAR if img.width < size else Image.Resampling.LANCZOS)
    a = np.asarray(grey, dtype=np.float32) / 255.0
    if invert is None:
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
        invert = bool(border.mean() > 0.5)
    if invert:
        a = 1.0 - a
    return torch.from_numpy(a.copy())[None, None]


def load_image(path: str | os.PathLike, size: int = 28, *, invert: bool | None = None) -> Tensor:
    """Reads an image file (PNG, JPEG, ... any mode) as ``(1, 1, size, size)`` in ``[0, 1]``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is too large; the limit is {MAX_BYTES} bytes")
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise ValueError(f"{path}: image is {img.width}x{img.height} pixels; the limit is {MAX_PIXELS} pixels")
            img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        if isinstance(e, UnidentifiedImageError):
            raise ValueError(f"{path}: not an image file PIL can read (PNG, JPEG, ...)") from None
        raise ValueError(f"{path}: refusing a possible decompression bomb ({e})") from None
    except OSError as e:
        raise ValueError(f"{path}: the image is truncated or corrupt ({e})") from None
    return image_from_pil(img, size, invert=invert)


def to_pil(image: Tensor, scale: int = 1) -> Image.Image:
    """``(1, H, W)`` or ``(H, W)`` in ``[0, 1]`` -> a grey PIL image, optionally enlarged."""
    a = image.detach().float().cpu().clamp(0, 1).squeeze().numpy()
    img = Image.fromarray((a * 255 + 0.5).astype(np.uint8), mode="L")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST) if scale > 1 else img


def grid(images: Tensor, nrow: int | None = None, pad: int = 2, scale: int = 4) -> Image.Image:
    """Tiles ``(B, 1, H, W)`` images into one picture, ``nrow`` per row."""
    b, _, h, w = images.shape
    nrow = nrow or min(b, max(1, math.ceil(math.sqrt(b))))
    rows = math.ceil(b / nrow)
    canvas = torch.full((rows * (h + pad) + pad, nrow * (w + pad) + pad), 0.25)
    for i in range(b):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = images[i, 0].cpu().clamp(0, 1)
    return to_pil(canvas, scale)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_images(images: Tensor, out: str | os.PathLike, *, nrow: int | None = None, scale: int = 4) -> list[Path]:
    """Writes ``000.png``, ``001.png``, ... and ``grid.png`` into ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        p = out / f"{i:03d}.png"
        atomic_write_bytes(p, _png(to_pil(img, scale)))
        paths.append(p)
    atomic_write_bytes(out / "grid.png", _png(grid(images, nrow=nrow, scale=scale)))
    return paths
