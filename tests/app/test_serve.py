"""``net2net serve`` as a user runs it: a subprocess on a free loopback port that answers a
real request end to end (HTTP API, the shipped zoo, the packaged MiniLM), keeps its
temporary folder bounded, and removes it when stopped with SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'gradio>=5')")

MAX_MB, MAX_AGE_MIN = 1, 0.1  # 1 MiB, 6 s: small enough to watch the sweeper work in a test
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "src" / "net2net" / "app" / "examples").glob("*.png"))


class Server:
    def __init__(self, proc: subprocess.Popen, url: str, tmpdir: Path, log: Path) -> None:
        self.proc, self.url, self.tmpdir, self.log = proc, url, tmpdir, log

    def temp_folders(self) -> list[Path]:
        return sorted(self.tmpdir.glob("net2net-gradio-*"))

    def temp_bytes(self) -> int:
        """Bytes in the server's temporary folder (files the sweeper deletes meanwhile count 0)."""
        (folder,) = self.temp_folders()
        total = 0
        for where, _, names in os.walk(folder):  # os.walk skips folders that vanish mid-walk
            for name in names:
                try:
                    total += os.stat(os.path.join(where, name)).st_size
                except FileNotFoundError:
                    pass
        return total


@pytest.fixture(scope="module")
def server(tmp_path_factory, free_port):
    """``net2net serve`` with a 1 MiB / 6 s temporary-folder bound; TMPDIR shows where its folder goes."""
    root = tmp_path_factory.mktemp("serve")
    tmpdir = root / "tmp"
    tmpdir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
    env.update(GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(tmpdir), OMP_NUM_THREADS="1")
    log = root / "serve.log"
    with log.open("w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "net2net", "--threads", "1", "serve", "--port", str(port),
                                 "--temp-max-mb", str(MAX_MB), "--temp-max-age", str(MAX_AGE_MIN)],
                                stdout=f, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline, page = time.monotonic() + 240, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert r.status == 200
                    page = r.read().decode("utf-8", "replace")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert page is not None, f"no answer from net2net serve (exit code {proc.poll()}):\n{log.read_text()[-3000:]}"
        assert "net2net" in page
        yield Server(proc, url, tmpdir, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_real_text_to_image_request_returns_images(server, tmp_path) -> None:
    from gradio_client import Client
    from PIL import Image

    client = Client(server.url, download_files=str(tmp_path), verbose=False)
    gallery = client.predict("a dark pair of trousers", 3, 1.0, 0, False, api_name="/text_to_image")
    assert [item["caption"] for item in gallery] == ["#1", "#2", "#3"]
    images = [Image.open(item["image"]) for item in gallery]
    assert all(img.size == (168, 168) for img in images)  # 28 px enlarged 6x
    pixels = [img.convert("L").tobytes() for img in images]
    assert len(set(pixels)) == 3, "three draws of the residual give three different images"
    assert all(len(set(p)) > 10 for p in pixels), "a garment, not a blank image"
    again = client.predict("a dark pair of trousers", 3, 1.0, 0, False, api_name="/text_to_image")
    assert [Image.open(i["image"]).convert("L").tobytes() for i in again] == pixels  # same seed, same images
    with pytest.raises(Exception, match="the prompt is empty"):  # a user error is a message, not a traceback
        client.predict("   ", 3, 1.0, 0, False, api_name="/text_to_image")


def test_unused_uploads_do_not_pile_up(server) -> None:
    import httpx

    size = 400 * 1024
    for i in range(5):  # 2 MB of uploads no request ever uses
        r = httpx.post(server.url + "gradio_api/upload", files=[("files", (f"u{i}.png", io.BytesIO(os.urandom(size))))],
                       timeout=30)
        assert r.status_code == 200, r.text
        assert Path(r.json()[0]).is_relative_to(server.temp_folders()[0])
    deadline = time.monotonic() + 20
    while server.temp_bytes() > MAX_MB * 1024 * 1024 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.temp_bytes() <= MAX_MB * 1024 * 1024, "the byte bound is kept"
    (folder,) = server.temp_folders()
    # the colour tab's examples are made at start-up in the folder (Gradio links them where they are)
    shapes = sorted((folder / "shapes-examples").glob("*.png"))
    assert len(shapes) == 6
    examples = sum(p.stat().st_size for p in EXAMPLES) + sum(p.stat().st_size for p in shapes)
    deadline = time.monotonic() + MAX_AGE_MIN * 60 + 20
    while server.temp_bytes() > examples and time.monotonic() < deadline:
        time.sleep(0.5)
    assert server.temp_bytes() == examples, "files older than --temp-max-age are deleted..."
    left = sorted(p.name for p in folder.rglob("*.png"))
    assert left == sorted([p.name for p in EXAMPLES] + [p.name for p in shapes]), \
        "...but not the page's example images, which it links"
    assert server.proc.poll() is None


def test_fifty_concurrent_identical_requests_all_get_whole_images(server, tmp_path) -> None:
    """Issue 27: the same request fifty times at once gives the same images, so Gradio
    would write them to one content-hash path while other requests download it; each
    request's outputs come from its own file instead, and every download is a whole PNG."""
    from gradio_client import Client
    from PIL import Image

    client = Client(server.url, download_files=str(tmp_path), verbose=False)
    jobs = [client.submit("a dark pair of trousers", 2, 1.0, 0, False, api_name="/text_to_image") for _ in range(50)]
    results = []
    for job in jobs:
        out = []
        for item in job.result(timeout=600):
            with Image.open(item["image"]) as img:
                img.load()  # a truncated download fails here
                out.append(img.tobytes())
        results.append(out)
    assert len(results) == 50 and all(r == results[0] for r in results) and len(results[0]) == 2


def test_sigterm_stops_cleanly_and_removes_the_temporary_folder(server) -> None:
    assert len(server.temp_folders()) == 1
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("net2net serve did not stop within 30 s of SIGTERM")
    assert code == 0, server.log.read_text()[-3000:]
    assert server.temp_folders() == [], "the temporary folder outlived the server"
    assert "Traceback" not in server.log.read_text()

