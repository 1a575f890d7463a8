"""Reading and writing images: formats, sizes, bit depths, colour, and the output folder."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from net2net.imageio import decode_image, grid, load_image, save_images, to_pil


def _write(path, img: Image.Image, fmt: str = "PNG") -> None:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    path.write_bytes(buf.getvalue())


def test_a_very_long_thin_png_is_refused_before_decoding(tmp_path) -> None:
    path = tmp_path / "line.png"
    _write(path, Image.new("L", (16_000_000, 1)))
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"line.png: image is 16000000x1 pixels; the limit is 8192 pixels on a side"):
        load_image(path)
    assert time.perf_counter() - t0 < 1.0  # refused from the header, nothing decoded


def test_aspect_ratio_is_limited(tmp_path) -> None:
    path = tmp_path / "thin.png"
    _write(path, Image.new("L", (4000, 10)))
    with pytest.raises(ValueError, match="sides may differ by at most 32x"):
        load_image(path)


def test_16_bit_png_is_scaled_not_saturated(tmp_path) -> None:
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    path = tmp_path / "deep.png"
    _write(path, Image.fromarray(ramp))
    x = load_image(path, size=None, invert=False)
    assert x.shape == (1, 1, 64, 64)
    want = torch.from_numpy(ramp.astype(np.float32) / 65535.0)
    assert float((x[0, 0] - want).abs().max()) < 1 / 255 + 1e-6
    assert float((x >= 1.0).float().mean()) < 0.01  # the old reading put 54 % of such pixels at 1.0


def test_only_listed_formats_are_opened(tmp_path) -> None:
    eps = tmp_path / "drawing.eps"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n%%EOF\n")
    with pytest.raises(ValueError, match=r"drawing.eps: not an image file .* accepted formats: PNG, JPEG, WebP, BMP, GIF, TIFF"):
        load_image(eps)
    for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"):
        p = tmp_path / f"ok.{fmt.lower()}"
        _write(p, Image.new("RGB", (20, 12), (200, 30, 10)), fmt)
        assert load_image(p, size=None, channels=3).shape == (1, 3, 12, 20)


def test_colour_round_trip_and_grid(tmp_path) -> None:
    img = Image.new("RGB", (16, 16), (255, 0, 0))
    x = decode_image(_png_bytes(img))
    assert x.mode == "RGB"
    t = load_image(_saved(tmp_path, img), size=8, channels=3)
    assert t.shape == (1, 3, 8, 8) and t[0, 0].min() > 0.99 and t[0, 1:].max() < 0.01
    g = grid(torch.cat([t, t.flip(1)]), nrow=2, scale=1)
    assert g.mode == "RGB" and g.size == (2 + 2 * 10, 2 + 10)
    assert to_pil(t[0]).getpixel((0, 0)) == (255, 0, 0)
    paths = save_images(torch.cat([t, t]), tmp_path / "out")
    assert Image.open(paths[0]).mode == "RGB"


def test_fewer_images_into_a_used_folder_leave_no_stale_ones(tmp_path) -> None:
    out = tmp_path / "out"
    save_images(torch.rand(8, 1, 4, 4), out)
    (out / "notes.txt").write_text("mine")
    save_images(torch.rand(2, 1, 4, 4), out)
    assert sorted(p.name for p in out.iterdir()) == ["000.png", "001.png", "grid.png", "notes.txt"]


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _saved(tmp_path, img: Image.Image):
    p = tmp_path / "in.png"
    p.write_bytes(_png_bytes(img))
    return p
