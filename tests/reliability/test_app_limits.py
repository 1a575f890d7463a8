"""The web app's limits, checked at the handler and launch level (no browser)."""

from __future__ import annotations

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
    monkeypatch.setattr(server, "build_app", lambda translators=None, device="cpu": demo)
    return demo


def test_serve_binds_to_loopback_runs_one_job_at_a_time_and_caps_uploads(launched) -> None:
    server.serve(translators={}, block=False)
    assert launched.calls["launch"]["server_name"] == "127.0.0.1"
    assert launched.calls["queue"] == {"default_concurrency_limit": 1, "max_size": 32}
    assert launched.calls["launch"]["max_file_size"] == MAX_BYTES
    assert launched.calls["launch"]["show_error"] is False  # no tracebacks in the page


def test_user_errors_become_messages_without_a_traceback() -> None:
    import gradio as gr

    cb = server._wrap(h.text_to_image, {})
    with pytest.raises(gr.Error, match="is not installed yet") as e:
        cb("dress", 4, 1.0, 0)
    assert e.value.__cause__ is None and e.value.print_exception is False


@pytest.mark.parametrize("prompt", ["x" * 501, "", None, b"\xff\xfe", 42])
def test_over_long_empty_or_non_text_prompts(tiny_text_translators_or_none, prompt) -> None:
    with pytest.raises(ValueError, match="prompt"):
        h.text_to_image(tiny_text_translators_or_none, prompt, 2, 1.0, 0)


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
