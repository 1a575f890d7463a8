"""The web app's limits, checked at the handler and launch level (no browser)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

pytest.importorskip("gradio")

import net2net.app.server as server  # noqa: E402
from net2net.app import handlers as h  # noqa: E402
from net2net.imageio import MAX_BYTES  # noqa: E402


class FakeDemo:
    def __init__(self) -> None:
        self.calls: dict[str, dict] = {}

    def queue(self, **kw):
        self.calls["queue"] = kw
        return self

    def launch(self, **kw):
        self.calls["launch"] = kw


@pytest.fixture
def launched(monkeypatch):
    demo = FakeDemo()
    monkeypatch.setattr(server, "build_app", lambda translators=None, device="cpu", own=(): demo)
    monkeypatch.setenv("GRADIO_TEMP_DIR", os.environ["GRADIO_TEMP_DIR"])
    return demo


def test_serve_binds_to_loopback_runs_one_job_at_a_time_and_caps_uploads(launched) -> None:
    server.serve(translators={}, block=False)
    assert launched.calls["launch"]["server_name"] == "127.0.0.1"
    assert launched.calls["queue"] == {"default_concurrency_limit": 1, "max_size": 64}
    assert launched.calls["launch"]["max_file_size"] == MAX_BYTES
    assert launched.calls["launch"]["show_error"] is False  # no tracebacks in the page
    sweeper = launched.temp_sweeper
    assert (sweeper.max_bytes, sweeper.max_age_s) == (server.TEMP_MAX_BYTES, server.TEMP_MAX_AGE_S)
    assert sweeper.root == server.Path(os.environ["GRADIO_TEMP_DIR"]) and sweeper._thread.is_alive()
    sweeper.stop()


def test_user_errors_become_messages_without_a_traceback() -> None:
    import gradio as gr

    cb = server._wrap(h.text_to_image, {})
    with pytest.raises(gr.Error, match="is not installed yet") as e:
        cb("dress", 4, 1.0, 0)
    assert e.value.__cause__ is None and e.value.print_exception is False


@pytest.mark.parametrize(("prompt", "message"), [
    ("x" * 501, "the prompt has 501 characters; the limit is 500"),
    ("", "the prompt is empty; describe in words the image you want"),
    (" \t\n ", "the prompt is empty; describe in words the image you want"),
    (None, "the prompt must be text, got NoneType"),
    (42, "the prompt must be text, got int"),
    (b"\xff\xfe", "the prompt is not valid UTF-8 text"),
    ("a dress \udcff", "the prompt is not valid UTF-8 text"),
])
def test_over_long_empty_or_non_text_prompts(tiny_text_translators_or_none, prompt, message) -> None:
    with pytest.raises(ValueError) as e:
        h.text_to_image(tiny_text_translators_or_none, prompt, 2, 1.0, 0)
    assert str(e.value) == message


def test_the_longest_allowed_prompt_and_utf8_bytes_are_accepted(tiny_text_translators_or_none) -> None:
    items, v = h.text_to_image(tiny_text_translators_or_none, "x" * 500, 2, 1.0, 0)
    assert len(items) == 2 and tuple(v.shape)[0] == 2
    items, _ = h.text_to_image(tiny_text_translators_or_none, "une robe légère".encode(), 1, 1.0, 0)
    assert len(items) == 1


@pytest.mark.parametrize(("settings", "message"), [
    ((0, 1.0, 0), "the number of samples must be between 1 and 16, got 0"),
    ((17, 1.0, 0), "the number of samples must be between 1 and 16, got 17"),
    ((2, 2.5, 0), "the temperature must be between 0 and 2.0, got 2.5"),
    ((2, float("nan"), 0), "the temperature must be between 0 and 2.0, got nan"),
    ((2, 1.0, -1), "the seed must be a whole number >= 0, got -1"),
    ((2, 1.0, 2**64), f"the seed must be a whole number >= 0, got {2**64}"),
    (("many", 1.0, 0), "the number of samples, the temperature and the seed must be numbers"),
])
def test_api_callers_cannot_send_out_of_range_settings(tiny_text_translators_or_none, settings, message) -> None:
    with pytest.raises(ValueError) as e:
        h.text_to_image(tiny_text_translators_or_none, "a dress", *settings)
    assert str(e.value) == message


def _files(root, sizes_ages: dict[str, tuple[int, float]]) -> dict[str, object]:
    made = {}
    now = time.time()
    for name, (size, age) in sizes_ages.items():
        folder = root / hashlib.sha256(name.encode()).hexdigest()
        folder.mkdir()
        f = folder / f"{name}.png"
        f.write_bytes(b"\0" * size)
        os.utime(f, (now - age, now - age))
        made[name] = f
    return made


def test_sweeper_deletes_old_files_then_the_oldest_over_the_byte_bound(tmp_path) -> None:
    made = _files(tmp_path, {"stale": (10, 120), "old": (400, 50), "mid": (400, 40), "new": (400, 1)})
    mine = tmp_path / "notes.txt"  # not a Gradio hash folder: never touched
    mine.write_text("keep")
    sweeper = server.TempSweeper(tmp_path, max_bytes=900, max_age_s=60)
    assert sweeper.sweep() == 410  # "stale" by age, then "old" (the oldest) until 800 <= 900 bytes
    assert sorted(n for n, f in made.items() if f.exists()) == ["mid", "new"]
    assert not made["stale"].parent.exists()  # its emptied hash folder too
    assert mine.read_text() == "keep"
    assert sweeper.sweep() == 0
    # what the page links (Gradio's copies of its example images) is kept, however old
    example = tmp_path / "bag.png"
    example.write_bytes(b"\x89PNG example bytes")
    copy = _files(tmp_path, {"bag": (1, 3600)})["bag"]
    copy.write_bytes(example.read_bytes())
    os.utime(copy, (time.time() - 3600, time.time() - 3600))
    other = _files(tmp_path, {"other": (len(example.read_bytes()), 3600)})["other"]  # same size, other bytes
    assert server.TempSweeper(tmp_path, max_bytes=0, max_age_s=60, keep=[example]).sweep() == 800 + len(b"\x89PNG example bytes")
    assert copy.exists() and not other.exists()
    with pytest.raises(ValueError, match="must be positive"):
        server.TempSweeper(tmp_path, max_bytes=1, max_age_s=0)


@pytest.fixture
def tiny_text_translators_or_none(translator_dirs):
    from net2net.translator import load

    return {h.TEXT2IMG: load(translator_dirs["text"])}


def test_oversized_and_non_image_uploads(tmp_path, monkeypatch, png_bytes) -> None:
    import net2net.imageio

    big = tmp_path / "big.png"
    big.write_bytes(png_bytes + b"\0" * 100)
    monkeypatch.setattr(net2net.imageio, "MAX_BYTES", len(png_bytes) + 10)
    with pytest.raises(ValueError, match=r"^big.png: \d+ bytes is too large"):
        h.read_upload(str(big))
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00" + b"\0" * 64)
    with pytest.raises(ValueError, match=r"^tool.exe: not an image file"):
        h.read_upload(str(exe))


def test_each_request_gets_its_own_output_files(tmp_path, monkeypatch) -> None:
    """Issue 27: outputs are files in a folder of the request's own (never a shared
    content-hash path that another request may be rewriting), swept like Gradio's."""
    from PIL import Image

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    img = Image.new("RGB", (4, 4), (200, 10, 10))
    cb = server._wrap(lambda translators, n: ([(img, "#1"), (img, "#2")], "state"), {})
    first, second = cb(2), cb(2)
    assert first[1] == "state"
    paths = [p for p, _ in first[0]] + [p for p, _ in second[0]]
    assert len({server.Path(p).parent for p in paths}) == 2 and len(set(paths)) == 4
    assert all(Image.open(p).convert("RGB").getpixel((0, 0)) == (200, 10, 10) for p in paths)
    assert {f for _, _, f in server.TempSweeper(tmp_path).files()} == {server.Path(p) for p in paths}
