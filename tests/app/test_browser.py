"""The real app in headless Chromium: type a prompt, get images; upload a non-image, get the message.

Uses Debian's chromium (/usr/bin/chromium) through python Playwright; never
``playwright install``. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'gradio>=5')")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need python playwright (pip install playwright)")

CHROMIUM = os.environ.get("NET2NET_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def url(tiny_translators, free_port):
    from net2net.app.server import serve

    port = free_port()
    demo = serve("127.0.0.1", port, translators=tiny_translators, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, url):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(60_000)  # a busy 2-core CI machine: 20 s once timed out on an upload
    page.goto(url, wait_until="domcontentloaded")
    yield page
    page.close()


def test_prompt_to_gallery(page) -> None:
    page.locator("#prompt textarea").fill("dress")
    page.locator("#generate").click()
    images = page.locator("#samples img")
    images.nth(7).wait_for(state="visible")  # 8 samples by default
    assert images.count() == 8
    assert page.locator("#samples").get_by_text("#8").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-text-to-image.png"), full_page=True)


def test_non_image_upload_shows_the_error(page, tmp_path) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("this is not a picture")
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit-upload input[type=file]").set_input_files(str(note))
    page.locator("#edit-upload").get_by_text("notes.txt").first.wait_for()
    page.locator("#edit-run").click()
    message = page.get_by_text("notes.txt: not an image file PIL can read")
    message.first.wait_for(state="visible")
    assert page.locator("[data-testid=toast-text].error").get_by_text("not an image file").count() == 1
    page.wait_for_timeout(500)  # let the toast fly in before the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-bad-upload.png"))  # the viewport: the message is a toast on top


@pytest.mark.slow  # drives the canvas stroke by stroke: ~5-25 s on a busy machine
def test_sketch_on_the_canvas_to_realisations(page) -> None:
    page.get_by_role("tab", name="Translate").click()
    page.locator("#canvas button[aria-label=Brush]").click()
    box = page.locator("#canvas canvas").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(20):  # a diagonal stroke
        page.mouse.move(x0 + i * box["width"] * 0.02, y0 + i * box["height"] * 0.02)
    page.mouse.up()
    page.locator("#translate-run").click()
    images = page.locator("#realisations img")
    images.nth(6).wait_for(state="visible")  # the query and 6 realisations
    assert images.count() == 7
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-sketch.png"), full_page=True)
