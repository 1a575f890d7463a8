"""Bad input everywhere a user can give it: one line, a non-zero exit, nothing written."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image

from net2net.cli import main
from net2net.imageio import load_image


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _image_bytes(mode: str, size: tuple[int, int], fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format=fmt)
    return buf.getvalue()


def _noise_png() -> bytes:
    buf = io.BytesIO()
    Image.frombytes("L", (28, 28), random.Random(0).randbytes(784)).save(buf, format="PNG")  # incompressible
    return buf.getvalue()


@pytest.fixture
def files(tmp_path, png_bytes):
    made = {
        "bomb.png": png_claiming(100_000, 100_000),
        "big.png": png_claiming(5000, 5000),
        "truncated.png": _noise_png()[:400],
        "notes.txt": b"just some text",
        "empty.png": b"",
        "wide.png": _image_bytes("RGB", (300, 20), "PNG"),
        "cmyk.jpg": _image_bytes("CMYK", (40, 40), "JPEG"),
        "ok.png": png_bytes,
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "huge.png").write_bytes(png_bytes + b"\0" * (20 * 1024 * 1024))
    return tmp_path


@pytest.mark.parametrize(("name", "message"), [
    ("bomb.png", "bomb.png: refusing a possible decompression bomb (Image size (10000000000 pixels) exceeds limit"),
    ("big.png", "big.png: image is 5000x5000 pixels; the limit is 16777216 pixels"),
    ("truncated.png", "truncated.png: the image is truncated or corrupt"),
    ("notes.txt", "notes.txt: not an image file PIL can read (PNG, JPEG, ...)"),
    ("empty.png", "empty.png: not an image file PIL can read (PNG, JPEG, ...)"),
    ("huge.png", "bytes is too large; the limit is 20971520 bytes"),
    ("missing.png", "missing.png: no such file"),
])
def test_bad_images_are_one_line_and_write_nothing(files, translator_dirs, capsys, name, message) -> None:
    out = files / "out"
    argv = ["edit", str(translator_dirs["label"]), "--image", str(files / name), "--set", "class=coat",
            "--from", "dress", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("net2net edit: error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("name", ["wide.png", "cmyk.jpg", "ok.png"])
def test_any_size_and_mode_is_accepted(files, name) -> None:
    x = load_image(files / name)
    assert tuple(x.shape) == (1, 1, 28, 28) and 0 <= float(x.min()) <= float(x.max()) <= 1


@pytest.mark.parametrize(("args", "message"), [
    (["--prompt", ""], "the prompt is empty; describe in words the image you want"),
    (["--prompt", " \t\n "], "the prompt is empty; describe in words the image you want"),
    (["--prompt", "x" * 5000], "the prompt has 5000 characters; the limit is 500"),
    (["--prompt", "a dress \udcff\udcfe"], "the prompt is not valid UTF-8 text"),  # undecodable argv bytes
    ([], "this translator reads text: pass a prompt (--prompt TEXT)"),
    (["--prompt", "dress", "-n", "0"], "-n must be between 1 and 256, got 0"),
    (["--prompt", "dress", "--temperature", "nan"], "--temperature must be between 0 and 10, got nan"),
])
def test_bad_prompts(translator_dirs, tmp_path, capsys, args, message) -> None:
    out = tmp_path / "out"
    assert main(["sample", str(translator_dirs["text"]), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("net2net sample: error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["sample", "no-such-translator", "--prompt", "dress"], "no translator 'no-such-translator': not a folder"),
    (["edit", "{label}", "--image", "{ok}", "--set", "class=hat"], "unknown class 'hat'; choose one of t-shirt"),
    (["edit", "{label}", "--image", "{ok}", "--set", "colour=red"], "--set takes class=CLASS"),
    (["edit", "{label}", "--image", "{ok}", "--set", "class=42"], "42"),
    (["edit", "{label}", "--image", "{ok}", "--set", "class=coat", "--from", "hat"], "unknown class 'hat'"),
    (["sample", "{label}", "--class", "unicorn"], "unknown class 'unicorn'"),
    (["train", "{ok}"], "not valid JSON"),
    (["zoo", "train", "no-such-zoo-name"], "no-such-zoo-name"),
])
def test_unknown_names(translator_dirs, files, capsys, argv, message) -> None:
    argv = [a.format(label=translator_dirs["label"], ok=files / "ok.png") for a in argv]
    out = files / "out"
    code = main([*argv, "--out", str(out)] if argv[0] in ("sample", "edit") else argv)
    err = capsys.readouterr().err
    assert code != 0 and message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists()


def test_debug_shows_the_traceback(translator_dirs, tmp_path) -> None:
    with pytest.raises(ValueError, match="the prompt is empty"):
        main(["--debug", "sample", str(translator_dirs["text"]), "--prompt", "", "--out", str(tmp_path / "o")])


def test_existing_output_survives_a_failed_command(translator_dirs, files, capsys) -> None:
    out = files / "out"
    out.mkdir()
    (out / "000.png").write_bytes(b"earlier result")
    assert main(["edit", str(translator_dirs["label"]), "--image", str(files / "bomb.png"), "--set", "class=coat",
                 "--out", str(out)]) == 2
    assert (out / "000.png").read_bytes() == b"earlier result" and sorted(p.name for p in out.iterdir()) == ["000.png"]
