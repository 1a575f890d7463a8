"""The Gradio app: tabs over :mod:`net2net.app.handlers`, nothing else.

Translators are loaded once (or injected, for tests); a queue runs one request at a
time so concurrent users do not collide on the CPU; errors a user causes show as a
message, not a stack trace. Gradio keeps every upload and every output image in its
temporary folder for the server's lifetime: :class:`TempSweeper` bounds that folder
(files older than ``max_age_s`` go, and the oldest go first while it holds more than
``max_bytes``), and the folder is removed when the server stops, SIGTERM included.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

# Before Gradio is imported: it reads these at import time. No analytics (it would
# look up hosts this project cannot reach); uploads in our own temporary folder.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
if not os.environ.get("GRADIO_TEMP_DIR"):
    _TEMP = tempfile.mkdtemp(prefix="net2net-gradio-")
    os.environ["GRADIO_TEMP_DIR"] = _TEMP
    atexit.register(shutil.rmtree, _TEMP, ignore_errors=True)

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import gradio as gr
from PIL import Image

from net2net.app import handlers as h
from net2net.data.captions import LEVELS
from net2net.data.fashion_mnist import CLASS_NAMES
from net2net.imageio import MAX_BYTES
from net2net.translator import Translator

__all__ = ["TEMP_MAX_AGE_S", "TEMP_MAX_BYTES", "USER_ERRORS", "TempSweeper", "build_app", "serve"]

log = logging.getLogger(__name__)

#: the temporary folder's bounds: uploads and outputs older than this are deleted...
TEMP_MAX_AGE_S = 30 * 60
#: ...and the oldest go first while the folder holds more than this.
TEMP_MAX_BYTES = 256 * 1024 * 1024
#: Gradio keeps each file in a folder named by the hex hash of its content.
_HASH_DIR = re.compile(r"[0-9a-f]{32,128}")

#: what a handler raises for input a user got wrong -> an error message in the page.
USER_ERRORS = (ValueError, FileNotFoundError)

INTRO = """# net2net: network-to-network translation
Conditional invertible networks translate between frozen expert networks
([Rombach, Esser, Ommer, NeurIPS 2020](https://arxiv.org/abs/2005.13580)): a sentence encoder to an
image autoencoder, a sketch to a photo, a classifier's layer back to images. Each
output is one draw of the residual *v*: what the query does not say."""


def _wrap(fn: Callable[..., Any], translators: Mapping[str, Translator]) -> Callable[..., Any]:
    """``fn(translators, *widgets)`` as a Gradio callback whose user errors become messages."""

    def callback(*args: Any) -> Any:
        try:
            out = fn(translators, *args)
        except USER_ERRORS as e:
            raise gr.Error(str(e), print_exception=False) from None
        return _private(out)

    callback.__name__ = fn.__name__
    return callback


def _private(out: Any) -> Any:
    """Gallery items with their images written to this request's own folder.

    Handed PIL images, Gradio writes each to a path named by the hash of its bytes,
    in place: two requests with the same output rewrite one file while a browser
    reads it ("Too little data for declared Content-Length"). A file of our own is
    instead copied into Gradio's cache under a temporary name and renamed, once. The
    folder's random hex name makes the :class:`TempSweeper` age it out like Gradio's.
    """
    items = out[0] if isinstance(out, tuple) else out
    if not (isinstance(items, list) and items and all(isinstance(i, tuple) and isinstance(i[0], Image.Image)
                                                     for i in items)):
        return out
    folder = Path(os.environ["GRADIO_TEMP_DIR"]) / secrets.token_hex(32)
    folder.mkdir(parents=True)
    files = []
    for k, (img, caption) in enumerate(items):
        path = folder / f"{k:03d}.png"
        img.save(path, format="PNG")
        files.append((str(path), caption))
    return (files, *out[1:]) if isinstance(out, tuple) else files


def _notice(translators: Mapping[str, Translator], *names: str) -> None:
    """A visible note in a tab whose translator is not installed (the tab still renders)."""
    missing = [n for n in names if n not in translators]
    if missing:
        gr.Markdown("⚠️ " + " ".join(h.missing_message(n) for n in missing), elem_classes="net2net-missing")


def _settings(n: int = 6) -> tuple[gr.Slider, gr.Slider, gr.Number]:
    with gr.Row():
        count = gr.Slider(1, h.MAX_SAMPLES, value=n, step=1, label="number of samples")
        temperature = gr.Slider(0.0, h.MAX_TEMPERATURE, value=1.0, step=0.05, label="temperature",
                                info="scale of the residual v: 0 gives the most typical image")
        seed = gr.Number(0, precision=0, minimum=0, label="seed")
    return count, temperature, seed


def _upload(elem_id: str) -> gr.File:
    upload = gr.File(label="image (PNG, JPEG, ...; any size)", type="filepath", file_count="single",
                     elem_id=elem_id, height=120)
    gr.Examples([[str(p)] for p in h.example_images()], inputs=[upload], label="examples (Fashion-MNIST test set)",
                example_labels=[p.stem for p in h.example_images()])
    return upload


def _gallery(label: str, elem_id: str) -> gr.Gallery:
    return gr.Gallery(label=label, columns=6, height="auto", object_fit="contain", elem_id=elem_id,
                      buttons=["download"], preview=False)


def _shapes_examples_dir() -> Path:
    """Where the colour tab's example images are written (made from the generator at start-up)."""
    return Path(os.environ["GRADIO_TEMP_DIR"]) / "shapes-examples"


def _text_to_image(translators: Mapping[str, Translator], fn: Callable[..., Any], placeholder: str, prefix: str,
                   api_name: str, name: str) -> None:
    """A prompt, the sample settings, a "same residual" box and a gallery, wired to ``fn``;
    a "complete the prompt" box too where the translator ``name`` has a prompt completer."""
    prompt = gr.Textbox(label="prompt", placeholder=placeholder, max_lines=3, max_length=2000,
                        elem_id=f"{prefix}prompt")
    count, temperature, seed = _settings(8)
    keep = gr.Checkbox(label="same residual, new prompt",
                       info="keep the last samples' residuals v (their style) and change only the text")
    t = translators.get(name)
    complete = [gr.Checkbox(value=True, label="complete the prompt", elem_id=f"{prefix}complete",
                            info="give what the prompt leaves out (size, position, ...) a drawn value per sample; "
                                 "off: τ samples the prompt as written")] if getattr(t, "completer", None) else []
    go = gr.Button("Generate", variant="primary", elem_id=f"{prefix}generate")
    samples = _gallery("samples", f"{prefix}samples")
    last_v = gr.State(None)
    inputs, outputs = [prompt, count, temperature, seed, keep, last_v, *complete], [samples, last_v]
    go.click(_wrap(fn, translators), inputs, outputs, api_name=api_name)
    prompt.submit(_wrap(fn, translators), inputs, outputs, api_name=False)


def build_app(translators: Mapping[str, Translator] | None = None, *, device: str = "cpu",
              own: Sequence[str | os.PathLike] = ()) -> gr.Blocks:
    """The app's page. ``translators`` (name -> Translator) replaces the installed zoo, e.g. in
    tests; ``own`` adds translator folders of yours (a tab of their own)."""
    if translators is None:
        translators = h.load_translators(device, own)
    translators = dict(translators)

    with gr.Blocks(title="net2net") as demo:
        gr.Markdown(INTRO)

        with gr.Tab("Text → image", id="text"):
            _notice(translators, h.TEXT2IMG)
            _text_to_image(translators, h.text_to_image, "e.g. a dark pair of trousers", "", "text_to_image",
                           h.TEXT2IMG)

        with gr.Tab("Edit", id="edit"):
            _notice(translators, h.ATTR)
            gr.Markdown("Change an image's class (and, if you like, its brightness) and keep the rest: the "
                        "residual *v* of the image under its class, brightness and width is rendered with the new "
                        "ones.")
            with gr.Row():
                with gr.Column():
                    upload = _upload("edit-upload")
                with gr.Column():
                    target = gr.Dropdown(list(CLASS_NAMES), value="coat", label="target class")
                    source = gr.Dropdown([h.AUTO, *CLASS_NAMES], value=h.AUTO, label="the image's class")
                    brightness = gr.Dropdown([h.KEEP, *LEVELS["brightness"]], value=h.KEEP, label="brightness")
                    count, temperature, seed = _settings(3)
                    go = gr.Button("Edit", variant="primary", elem_id="edit-run")
            edits = _gallery("input, reconstruction, edits", "edits")
            go.click(_wrap(h.edit_image, translators), [upload, target, source, count, temperature, seed, brightness],
                     edits, api_name="edit")

        with gr.Tab("Shapes (colour)", id="shapes"):
            _notice(translators, h.SHAPES_TEXT2IMG, h.SHAPES_ATTR, h.SHAPES_STYLE)
            gr.Markdown("The colour domain: generated shapes whose every attribute is known (shape, colour, size, "
                        "position, style). Describe one, or change one attribute of an image and keep the rest.")
            _text_to_image(translators, h.shapes_text_to_image, "e.g. a large red star in the centre", "shapes-",
                           "shapes_text_to_image", h.SHAPES_TEXT2IMG)
            gr.Markdown("**Edit**: the attribute classifier reads the image; `shapes-attr` changes shape, colour, "
                        "size or position, `shapes-style` the style.")
            with gr.Row():
                with gr.Column():
                    upload = gr.File(label="image (PNG, JPEG, ...; any size)", type="filepath", file_count="single",
                                     elem_id="shapes-upload", height=120)
                    examples = h.shapes_example_images(_shapes_examples_dir())
                    gr.Examples([[str(p)] for p in examples], inputs=[upload], label="examples (shapes test set)",
                                example_labels=[p.stem.split("-", 1)[1] for p in examples])
                with gr.Column():
                    attribute = gr.Dropdown(list(h.SHAPES_ATTRIBUTES), value="colour",
                                            label="attribute")
                    value = gr.Dropdown(h.shapes_values("colour"), value="red", label="new value")
                    attribute.change(lambda a: gr.Dropdown(choices=h.shapes_values(a), value=h.shapes_values(a)[0]),
                                     attribute, value, api_name=False)
                    count, temperature, seed = _settings(3)
                    go = gr.Button("Edit", variant="primary", elem_id="shapes-edit-run")
            edits = _gallery("input, reconstruction, edits", "shapes-edits")
            go.click(_wrap(h.shapes_edit, translators), [upload, attribute, value, count, temperature, seed], edits,
                     api_name="shapes_edit")

        with gr.Tab("Translate", id="translate"):
            _notice(translators, *h.TASKS.values())
            task = gr.Radio(list(h.TASKS), value=next(iter(h.TASKS)), label="task")
            gr.Markdown("Draw a sketch on the empty canvas, or load an image into the canvas and paint over the "
                        "part to fill; or upload a file (a file wins over the canvas).")
            with gr.Row():
                drawing = gr.ImageEditor(type="pil", image_mode="RGBA", canvas_size=(280, 280), label="canvas",
                                         brush=gr.Brush(colors=["#000000", "#ffffff"], default_size=16,
                                                        color_mode="fixed"), elem_id="canvas")
                with gr.Column():
                    upload = _upload("translate-upload")
                    derive = gr.Checkbox(label="my image is a photo: derive the query",
                                         info="compute the sketch, the low-resolution image or a box mask from it")
            count, temperature, seed = _settings(6)
            go = gr.Button("Translate", variant="primary", elem_id="translate-run")
            out = _gallery("query and realisations", "realisations")
            go.click(_wrap(h.translate_image, translators), [task, upload, drawing, derive, count, temperature, seed],
                     out, api_name="translate")

        with gr.Tab("Explore a classifier", id="explore"):
            layers = h.diagnosis_layers(translators)
            if not layers:
                gr.Markdown("⚠️ No classifier-diagnosis translators (fmnist-diagnose-<layer>) are installed yet; "
                            "install one with `net2net zoo train fmnist-diagnose-fc1`, then restart.",
                            elem_classes="net2net-missing")
            gr.Markdown("What does a layer of the zoo classifier keep of an image? Samples from the translation "
                        "*layer → image*: all alike means the layer keeps that much; variety shows what it ignores.")
            with gr.Row():
                with gr.Column():
                    upload = _upload("explore-upload")
                with gr.Column():
                    layer = gr.Dropdown([h.ALL_LAYERS, *layers], value=h.ALL_LAYERS, label="layer")
                    count, temperature, seed = _settings(6)
                    go = gr.Button("Explore", variant="primary", elem_id="explore-run")
            out = _gallery("input and samples per layer", "layers")
            go.click(_wrap(h.explore_classifier, translators), [upload, layer, count, temperature, seed], out,
                     api_name="explore")

        own = h.own_translators(translators)
        if own:
            with gr.Tab("Your translators", id="own"):
                gr.Markdown("The translator folders given with `net2net serve --translator DIR`: a prompt for a "
                            "text translator, `NAME=VALUE, ...` (or a class name) for a label or attribute one.")
                with gr.Row():
                    with gr.Column():
                        which = gr.Dropdown(own, value=own[0], label="translator", elem_id="own-translator")
                        query = gr.Textbox(label="prompt or values", max_lines=3, max_length=2000,
                                           placeholder="e.g. a red 7 on black, or fg=red, bg=black",
                                           elem_id="own-query")
                        count, temperature, seed = _settings(8)
                        go = gr.Button("Generate", variant="primary", elem_id="own-generate")
                    samples = _gallery("samples", "own-samples")
                inputs = [which, query, count, temperature, seed]
                go.click(_wrap(h.own_sample, translators), inputs, samples, api_name="own_sample")
                query.submit(_wrap(h.own_sample, translators), inputs, samples, api_name=False)

        with gr.Tab("Probe", id="probe"):
            gr.Markdown("Which layer of an expert to read? Load the folder of a finished `net2net probe` "
                        "(docs/probe.md): per layer, what it keeps of the target, measured with τ.")
            folder = gr.Textbox(label="report folder (--out of net2net probe)", placeholder="runs/probe-fmnist",
                                elem_id="probe-folder")
            go = gr.Button("Load", variant="primary", elem_id="probe-run")
            text = gr.Markdown(elem_id="probe-report")
            figures = gr.Gallery(label="figures", elem_id="probe-figures", columns=1, height="auto")
            go.click(_wrap(h.probe_report, translators), [folder], [text, figures], api_name="probe")
    return demo


class TempSweeper:
    """Bounds Gradio's temporary folder, where every upload (used by a request or not)
    and every output image stays until the server stops.

    Every ``interval_s`` (and on :meth:`sweep`), files older than ``max_age_s`` are
    deleted, then the oldest while the total exceeds ``max_bytes``. Only Gradio's own
    content-hash folders are touched, so a ``GRADIO_TEMP_DIR`` shared with other files is
    safe. An upload is not deleted right after its request: the page keeps offering it
    (change the class, press Edit again), so it lives until it ages out.
    """

    def __init__(self, root: str | os.PathLike, max_bytes: int = TEMP_MAX_BYTES, max_age_s: float = TEMP_MAX_AGE_S,
                 interval_s: float | None = None, keep: Iterable[str | os.PathLike] = ()) -> None:
        if max_bytes < 0 or max_age_s <= 0:
            raise ValueError(f"the temporary folder's bounds must be positive, got {max_bytes} bytes, {max_age_s} s")
        self.root, self.max_bytes, self.max_age_s = Path(root), int(max_bytes), float(max_age_s)
        # Gradio copies the page's example images into this folder once, at start-up, and
        # the page links those copies: files with the same bytes are never deleted.
        kept = [Path(p) for p in keep]
        self._keep = {hashlib.sha256(p.read_bytes()).hexdigest() for p in kept}
        self._keep_sizes = {p.stat().st_size for p in kept}
        self.interval_s = interval_s if interval_s is not None else min(30.0, max(0.5, self.max_age_s / 4))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def files(self) -> list[tuple[float, int, Path]]:
        """``(mtime, bytes, path)`` of every file in Gradio's hash folders but the kept ones, oldest first."""
        found = []
        if not self.root.is_dir():
            return found
        for d in self.root.iterdir():
            if not (_HASH_DIR.fullmatch(d.name) and d.is_dir() and not d.is_symlink()):
                continue
            for f in d.rglob("*"):
                try:
                    st = f.lstat()
                except FileNotFoundError:
                    continue
                if f.is_file() and not f.is_symlink() and not self._kept(f, st.st_size):
                    found.append((st.st_mtime, st.st_size, f))
        return sorted(found)

    def _kept(self, f: Path, size: int) -> bool:
        if size not in self._keep_sizes:
            return False
        try:
            return hashlib.sha256(f.read_bytes()).hexdigest() in self._keep
        except OSError:
            return False

    def sweep(self) -> int:
        """One pass; returns the bytes deleted."""
        files, now, freed = self.files(), time.time(), 0
        total = sum(size for _, size, _ in files)
        for mtime, size, f in files:
            if now - mtime <= self.max_age_s and total <= self.max_bytes:
                break  # oldest first: everything after is younger, and the total fits
            try:
                f.unlink()
            except OSError:
                continue
            total, freed = total - size, freed + size
            try:
                f.parent.rmdir()  # the hash folder, once empty
            except OSError:
                pass
        if freed:
            log.info("net2net app: deleted %d bytes of old uploads and outputs from %s", freed, self.root)
        return freed

    def start(self) -> TempSweeper:
        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    self.sweep()
                except OSError as e:  # never take the server down for a sweep
                    log.warning("net2net app: could not sweep %s: %s", self.root, e)

        self._thread = threading.Thread(target=loop, name="net2net-temp-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()


def _sigterm_closes_the_server() -> None:
    """SIGTERM (``kill``, ``docker stop``, systemd) ends the server like Ctrl-C: Gradio
    closes it, ``serve`` returns, and the atexit hooks remove the temporary folder."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


def serve(host: str = "127.0.0.1", port: int = 7860, *, translators: Mapping[str, Translator] | None = None,
          device: str = "cpu", max_queue: int = 64, block: bool = True, quiet: bool = False,
          temp_max_bytes: int = TEMP_MAX_BYTES, temp_max_age_s: float = TEMP_MAX_AGE_S,
          own: Sequence[str | os.PathLike] = ()) -> gr.Blocks:
    """Builds and launches the app; ``block=False`` returns at once (``demo.close()`` stops it).
    ``own``: translator folders of yours, shown in a tab of their own.

    ``temp_max_bytes`` and ``temp_max_age_s`` bound Gradio's temporary folder
    (:class:`TempSweeper`).
    """
    sweeper = TempSweeper(os.environ["GRADIO_TEMP_DIR"], temp_max_bytes, temp_max_age_s,
                          keep=[*h.example_images(), *h.shapes_example_images(_shapes_examples_dir())])
    if block:
        _sigterm_closes_the_server()
    demo = build_app(translators, device=device, own=own)
    demo.temp_sweeper = sweeper.start()  # type: ignore[attr-defined]
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    # System fonts: the default theme fetches web fonts, which an offline browser waits for.
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=quiet, ssr_mode=False,
                max_file_size=MAX_BYTES, allowed_paths=[str(h.EXAMPLES_DIR)], theme=theme, footer_links=[],
                show_error=False)
    if block:  # launch returned: the server was closed (Ctrl-C or SIGTERM)
        sweeper.stop()
    return demo
