"""The Gradio app: four tabs over :mod:`net2net.app.handlers`, nothing else.

Translators are loaded once (or injected, for tests); a queue runs one request at a
time so concurrent users do not collide on the CPU; errors a user causes show as a
message, not a stack trace.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before Gradio is imported: it reads these at import time. No analytics (it would
# look up hosts this project cannot reach); uploads in our own temporary folder.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
if not os.environ.get("GRADIO_TEMP_DIR"):
    _TEMP = tempfile.mkdtemp(prefix="net2net-gradio-")
    os.environ["GRADIO_TEMP_DIR"] = _TEMP
    atexit.register(shutil.rmtree, _TEMP, ignore_errors=True)

from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr

from net2net.app import handlers as h
from net2net.data.fashion_mnist import CLASS_NAMES
from net2net.imageio import MAX_BYTES
from net2net.translator import Translator

__all__ = ["USER_ERRORS", "build_app", "serve"]

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
            return fn(translators, *args)
        except USER_ERRORS as e:
            raise gr.Error(str(e), print_exception=False) from None

    callback.__name__ = fn.__name__
    return callback


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


def build_app(translators: Mapping[str, Translator] | None = None, *, device: str = "cpu") -> gr.Blocks:
    """The app's page. ``translators`` (name -> Translator) replaces the installed zoo, e.g. in tests."""
    if translators is None:
        translators = h.load_translators(device)
    translators = dict(translators)

    with gr.Blocks(title="net2net") as demo:
        gr.Markdown(INTRO)

        with gr.Tab("Text → image", id="text"):
            _notice(translators, h.TEXT2IMG)
            prompt = gr.Textbox(label="prompt", placeholder="e.g. a dark pair of trousers", max_lines=3,
                                max_length=2000, elem_id="prompt")
            count, temperature, seed = _settings(8)
            keep = gr.Checkbox(label="same residual, new prompt",
                               info="keep the last samples' residuals v (their style) and change only the text")
            go = gr.Button("Generate", variant="primary", elem_id="generate")
            samples = _gallery("samples", "samples")
            last_v = gr.State(None)
            inputs, outputs = [prompt, count, temperature, seed, keep, last_v], [samples, last_v]
            go.click(_wrap(h.text_to_image, translators), inputs, outputs, api_name="text_to_image")
            prompt.submit(_wrap(h.text_to_image, translators), inputs, outputs, api_name=False)

        with gr.Tab("Edit", id="edit"):
            _notice(translators, h.ATTR)
            gr.Markdown("Change an image's class and keep the rest: the residual *v* of the image under its "
                        "class is rendered with the new class.")
            with gr.Row():
                with gr.Column():
                    upload = _upload("edit-upload")
                with gr.Column():
                    target = gr.Dropdown(list(CLASS_NAMES), value="coat", label="target class")
                    source = gr.Dropdown([h.AUTO, *CLASS_NAMES], value=h.AUTO, label="the image's class")
                    count, temperature, seed = _settings(3)
                    go = gr.Button("Edit", variant="primary", elem_id="edit-run")
            edits = _gallery("input, reconstruction, edits", "edits")
            go.click(_wrap(h.edit_image, translators), [upload, target, source, count, temperature, seed], edits,
                     api_name="edit")

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
    return demo


def serve(host: str = "127.0.0.1", port: int = 7860, *, translators: Mapping[str, Translator] | None = None,
          device: str = "cpu", max_queue: int = 32, block: bool = True, quiet: bool = False) -> gr.Blocks:
    """Builds and launches the app; ``block=False`` returns at once (``demo.close()`` stops it)."""
    demo = build_app(translators, device=device)
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    # System fonts: the default theme fetches web fonts, which an offline browser waits for.
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=quiet, ssr_mode=False,
                max_file_size=MAX_BYTES, allowed_paths=[str(h.EXAMPLES_DIR)], theme=theme, footer_links=[],
                show_error=False)
    return demo
