"""What the web app does, as plain functions over translators: testable without a browser.

Each handler takes the app's translators (a ``name -> Translator`` mapping, loaded once
at start-up) and the widgets' values, and returns gallery items: ``(PIL image,
caption)`` pairs, enlarged so a 28×28 garment is visible. Input a user can get wrong
raises ``ValueError`` with a message meant for them; the server shows it as an error
toast. Nothing here imports Gradio.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from net2net.applications import (
    attribute_columns,
    check_prompt,
    edit_attributes,
    make_query,
    read_attributes,
    read_image_for,
)
from net2net.data.fashion_mnist import CLASS_NAMES, class_index
from net2net.data.shapes import ATTRIBUTES
from net2net.imageio import image_from_pil, to_pil
from net2net.translator import Translator, available_translators, load

__all__ = [
    "ALL_LAYERS",
    "APP_TRANSLATORS",
    "AUTO",
    "KEEP",
    "DIAGNOSE_PREFIX",
    "EXAMPLES_DIR",
    "MAX_SAMPLES",
    "SHAPES_ATTRIBUTES",
    "TASKS",
    "Item",
    "check_own",
    "own_sample",
    "own_translators",
    "probe_report",
    "diagnosis_layers",
    "edit_image",
    "example_images",
    "explore_classifier",
    "load_translators",
    "missing_message",
    "read_upload",
    "shapes_edit",
    "shapes_example_images",
    "shapes_text_to_image",
    "shapes_values",
    "text_to_image",
    "translate_image",
]

log = logging.getLogger(__name__)

TEXT2IMG, ATTR = "fmnist-text2img", "fmnist-attr"
#: the colour domain's translators: text -> image, content edits, style transfer.
SHAPES_TEXT2IMG, SHAPES_ATTR, SHAPES_STYLE = "shapes-text2img", "shapes-attr", "shapes-style"
#: the attributes the colour tab edits, in its menu's order.
SHAPES_ATTRIBUTES: tuple[str, ...] = ATTRIBUTES
#: the Translate tab's tasks: what the user sees -> the zoo translator doing it.
TASKS: dict[str, str] = {
    "sketch → image": "fmnist-edge2img",
    "fill a masked region": "fmnist-inpaint",
    "low resolution → high": "fmnist-superres",
}
DIAGNOSE_PREFIX = "fmnist-diagnose-"
#: the zoo translators the app uses (besides every ``fmnist-diagnose-*`` one).
APP_TRANSLATORS: tuple[str, ...] = (TEXT2IMG, ATTR, *TASKS.values(), SHAPES_TEXT2IMG, SHAPES_ATTR, SHAPES_STYLE)
EXAMPLES_DIR = Path(__file__).parent / "examples"
#: the classifier's verdict as the source class of an edit.
AUTO = "auto (ask the classifier)"
KEEP = "keep the image's"
MAX_SAMPLES = 16
MAX_TEMPERATURE = 2.0
#: 28 px -> 168 px in the gallery (nearest neighbour: the pixels stay visible).
SCALE = 6

Item = tuple[Image.Image, str]


def example_images() -> list[Path]:
    """The shipped examples: one Fashion-MNIST test image per class, in class order."""
    return [EXAMPLES_DIR / f"{name}.png" for name in CLASS_NAMES if (EXAMPLES_DIR / f"{name}.png").is_file()]


def load_translators(device: str = "cpu", own: Sequence[str | os.PathLike] = ()) -> dict[str, Translator]:
    """Every installed zoo translator the app uses, loaded once (the others are logged),
    and the translator folders ``own`` (``net2net serve --translator DIR``), keyed by path.

    A folder in ``own`` that does not load is refused (the user named it); a zoo
    translator that does not load only loses its tab.
    """
    check_own(own)
    loaded = {str(folder): load(folder, device) for folder in own}
    wanted = [n for n in available_translators() if n in APP_TRANSLATORS or n.startswith(DIAGNOSE_PREFIX)]
    for name in wanted:
        try:
            loaded[name] = load(name, device)
        except (ValueError, OSError) as e:  # a broken install must not take the other tabs down
            log.warning("net2net app: cannot load %s: %s", name, e)
    missing = [n for n in APP_TRANSLATORS if n not in loaded]
    if missing:
        log.warning("net2net app: not installed yet: %s", ", ".join(missing))
    return loaded


def missing_message(name: str) -> str:
    return (f"The translator {name!r} is not installed yet (the zoo is still being trained). "
            f"Install it with `net2net zoo train {name}`, then restart `net2net serve`.")


def _require(translators: Mapping[str, Translator], name: str) -> Translator:
    if name not in translators:
        raise ValueError(missing_message(name))
    return translators[name]


def _settings(n: Any, temperature: Any, seed: Any) -> tuple[int, float, int]:
    """The sliders' values as numbers, checked (an API caller can send anything)."""
    try:
        n, temperature, seed = int(n), float(temperature), int(seed)
    except (TypeError, ValueError):
        raise ValueError("the number of samples, the temperature and the seed must be numbers") from None
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"the number of samples must be between 1 and {MAX_SAMPLES}, got {n}")
    if not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValueError(f"the temperature must be between 0 and {MAX_TEMPERATURE}, got {temperature}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"the seed must be a whole number >= 0, got {seed}")
    return n, temperature, seed


def _items(images: Tensor, captions: list[str]) -> list[Item]:
    return [(to_pil(img, SCALE), cap) for img, cap in zip(images, captions, strict=True)]


def read_upload(path: str | Path | None, translator: Translator | None = None) -> Tensor:
    """An uploaded file as the translator reads it (grey 28×28 for Fashion-MNIST, colour at its
    own size for the shapes domain); errors name the file, not its temporary path."""
    if not path:
        raise ValueError("upload an image first (PNG, JPEG, ...), or pick one of the examples")
    try:
        return read_image_for(translator, path)
    except ValueError as e:
        raise ValueError(str(e).replace(str(path), Path(path).name)) from None


# --- Text -> image ----------------------------------------------------------------------


def text_to_image(translators: Mapping[str, Translator], prompt: Any, n: Any, temperature: Any, seed: Any,
                  keep_residual: bool = False, last_v: Tensor | None = None, complete: bool = True, *,
                  name: str = TEXT2IMG) -> tuple[list[Item], Tensor]:
    """``n`` samples for a prompt and the residuals ``v`` used (keep them in the session).

    With ``keep_residual`` the previous call's ``v`` is reused (when it has ``n`` rows),
    so a new prompt is drawn in the same "style": the paper's residual is what the text
    does not say. Where the translator has a prompt completer, each sample's prompt is
    completed (its caption says with what) unless ``complete`` is off (the CLI's
    ``--no-complete``). ``name`` is the text translator (the colour tab passes ``shapes-text2img``).
    """
    t = _require(translators, name)
    prompt = check_prompt(prompt)
    n, temperature, seed = _settings(n, temperature, seed)
    query = make_query(t, prompt=prompt)
    if keep_residual and isinstance(last_v, Tensor) and tuple(last_v.shape) == (n, t.tau.dim):
        v = last_v
    else:
        v = t.residuals(n, temperature=temperature, seed=seed)
    images = t.sample(query, n=n, v=v, seed=seed, complete=complete)  # the seed draws what a prompt leaves out
    labels = [f"#{i + 1}" for i in range(n)]
    if complete and t.completer is not None:  # say what each image's completion added
        added = [text[len(query[0]):].lstrip(",;: ") for text in t.completions(query, n=n, seed=seed)]
        labels = [f"{label}: {extra}" if extra else label for label, extra in zip(labels, added, strict=True)]
    return _items(images, labels), v.cpu()


def check_own(folders: Sequence[str | os.PathLike]) -> None:
    """Refuses, in one line, a ``--translator`` that is not a translator folder."""
    for folder in folders:
        if not (Path(folder) / "translator.json").is_file():
            raise ValueError(f"--translator {folder}: not a translator folder (no translator.json); give the "
                             "translator/ folder of a net2net train run")


def own_translators(translators: Mapping[str, Translator]) -> list[str]:
    """The translators given by folder (``--translator DIR``): every one that is not the zoo's."""
    return [n for n in translators if n not in APP_TRANSLATORS and not n.startswith(DIAGNOSE_PREFIX)]


def own_sample(translators: Mapping[str, Translator], name: Any, query: Any, n: Any, temperature: Any,
               seed: Any) -> list[Item]:
    """``n`` samples of one of your translators: a prompt for a text translator,
    ``NAME=VALUE, ...`` (or a class name) for a label or attribute one."""
    if name not in own_translators(translators):
        raise ValueError(f"pick one of your translators ({', '.join(own_translators(translators)) or 'none given'})")
    t = translators[name]
    n, temperature, seed = _settings(n, temperature, seed)
    text = check_prompt(query)
    q = make_query(t, prompt=text) if t.query_kind == "text" else make_query(t, label=text)
    images = t.sample(q, n=n, temperature=temperature, seed=seed)
    return _items(images, [f"#{i + 1}" for i in range(n)])


# --- Edit -------------------------------------------------------------------------------


def edit_image(translators: Mapping[str, Translator], path: str | None, target: Any, source: Any = AUTO,
               n: Any = 3, temperature: Any = 1.0, seed: Any = 0, brightness: Any = KEEP) -> list[Item]:
    """The input, its reconstruction ``Λ(Θ(y))`` and ``n`` edits to the target class (and, where
    ``fmnist-attr`` reads it, to another ``brightness`` level; :data:`KEEP` keeps the image's)."""
    t = _require(translators, ATTR)
    n, temperature, seed = _settings(n, temperature, seed)
    if target is None:
        raise ValueError(f"choose the target class: one of {', '.join(CLASS_NAMES)}")
    target = class_index(target)
    change = {"class": CLASS_NAMES[target]}
    if brightness not in (None, "", KEEP):
        levels = attribute_columns(t).get("brightness")
        if not levels:
            raise ValueError(f"this {ATTR} reads only the class; it cannot set the brightness (keep it)")
        if brightness not in levels:
            raise ValueError(f"choose the brightness: {KEEP} or one of {', '.join(levels)}")
        change["brightness"] = str(brightness)
    image = read_upload(path)
    # the image's class (the classifier's reading, or the one given) and, where fmnist-attr reads
    # them, its brightness and width levels: the edit changes what `change` says and keeps the rest
    current = read_attributes(t, image, classes=None if source in (None, "", AUTO) else [class_index(source)])
    recon = t.decode(t.encode_target(image))
    edits = edit_attributes(t, image, current, [change], n=n, temperature=temperature, seed=seed)
    to = ", ".join(change.values())
    return (_items(image, [f"input ({current['class'][0]})"]) + _items(recon, ["reconstruction"])
            + _items(edits, [f"→ {to} #{i + 1}" for i in range(n)]))


# --- Shapes (colour) ----------------------------------------------------------------------


def shapes_text_to_image(translators: Mapping[str, Translator], prompt: Any, n: Any, temperature: Any, seed: Any,
                         keep_residual: bool = False, last_v: Tensor | None = None,
                         complete: bool = True) -> tuple[list[Item], Tensor]:
    """:func:`text_to_image` with the colour domain's ``shapes-text2img``."""
    return text_to_image(translators, prompt, n, temperature, seed, keep_residual, last_v, complete,
                         name=SHAPES_TEXT2IMG)


def shapes_values(attribute: Any) -> list[str]:
    """The values an attribute of the shapes data set takes (the value menu follows the attribute menu)."""
    from net2net.data.shapes import VOCAB

    if attribute not in VOCAB:
        raise ValueError(f"choose an attribute: one of {', '.join(VOCAB)}")
    return list(VOCAB[attribute])


def shapes_edit(translators: Mapping[str, Translator], path: str | None, attribute: Any, value: Any,
                n: Any = 3, temperature: Any = 1.0, seed: Any = 0) -> list[Item]:
    """The input, its reconstruction and ``n`` edits setting one attribute: ``shapes-attr`` for
    shape, colour, size and position, ``shapes-style`` for the style; the rest is kept."""
    from net2net.applications import edit

    n, temperature, seed = _settings(n, temperature, seed)
    values = shapes_values(attribute)
    if value not in values:
        raise ValueError(f"{attribute} takes one of {', '.join(values)}, not {value!r}")
    t = _require(translators, SHAPES_STYLE if attribute == "style" else SHAPES_ATTR)
    image = read_upload(path, t)
    edits, change = edit(t, image, [f"{attribute}={value}"], n=n, temperature=temperature, seed=seed)
    recon = t.decode(t.encode_target(image))
    return (_items(image, [f"input ({attribute}: {change['from'][attribute]})"]) + _items(recon, ["reconstruction"])
            + _items(edits, [f"→ {attribute}={value} #{i + 1}" for i in range(n)]))


def shapes_example_images(folder: str | Path, n: int = 6) -> list[Path]:
    """The first ``n`` images of the shapes test split, written as PNGs into ``folder``
    (made from the generator, identical to the data set's files; nothing is shipped)."""
    from net2net.data.shapes import items

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pixels, rows = items("test", n)
    paths = []
    for i, (a, row) in enumerate(zip(pixels, rows, strict=True)):
        p = folder / f"{i}-{row['colour']}-{row['shape']}-{row['style']}.png"
        if not p.is_file():
            Image.fromarray(a).save(p)
        paths.append(p)
    return paths


# --- Translate --------------------------------------------------------------------------


def _alpha(layer: Any) -> np.ndarray | None:
    """A drawn layer's coverage in ``[0, 1]`` (its alpha), or None for no layer."""
    if layer is None:
        return None
    img = layer if isinstance(layer, Image.Image) else Image.fromarray(np.asarray(layer))
    return np.asarray(img.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0


def _is_blank(img: Any) -> bool:
    if img is None:
        return True
    a = np.asarray(img.convert("RGBA") if isinstance(img, Image.Image) else img)
    return a.size == 0 or (a.ndim == 3 and a.shape[-1] == 4 and not a[..., 3].any()) or int(np.ptp(a)) == 0


def _to_tensor(a: np.ndarray) -> Tensor:
    """A ``[0, 1]`` array of any size -> ``(1, 1, 28, 28)`` (area-averaged, so thin strokes stay)."""
    img = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8), mode="L")
    return image_from_pil(img, invert=False)


def _from_drawing(drawing: Any, task: str) -> tuple[Tensor, Tensor | None]:
    """The image and, for inpainting, the painted mask (1 = to fill) from the editor's value."""
    if not isinstance(drawing, dict):
        raise ValueError("draw a sketch or upload an image first")  # noqa: TRY004 - a user error, shown as such
    background, layers = drawing.get("background"), [a for a in map(_alpha, drawing.get("layers") or []) if a is not None]
    strokes = np.max(np.stack(layers), axis=0) if layers else None
    if strokes is not None and not strokes.any():
        strokes = None
    if _is_blank(background):
        if strokes is None:
            raise ValueError("draw a sketch or upload an image first")
        if TASKS[task] == "fmnist-inpaint":
            raise ValueError("to fill a region, upload an image into the editor, then paint over the part to replace")
        return _to_tensor(strokes), None  # strokes on an empty canvas: light on dark, like the data
    if TASKS[task] == "fmnist-inpaint":
        image = image_from_pil(background if isinstance(background, Image.Image) else Image.fromarray(background))
        if strokes is None:
            raise ValueError("paint over the region to fill (the brush marks the mask)")
        return image, (_to_tensor(strokes) > 0.25).float()
    composite = drawing.get("composite")
    composite = background if _is_blank(composite) else composite
    return image_from_pil(composite if isinstance(composite, Image.Image) else Image.fromarray(composite)), None


def translate_image(translators: Mapping[str, Translator], task: str, path: str | None, drawing: Any,
                    derive: bool = False, n: Any = 6, temperature: Any = 1.0, seed: Any = 0) -> list[Item]:
    """``n`` realisations of a sketch, a masked image or a low-resolution image.

    An uploaded file wins over the drawing. ``derive`` treats the image as a plain photo
    and computes the query (edges, low resolution, a box mask) from it; a mask painted in
    the editor is used as it is (the masked pixels become grey 0.5, as in training).
    """
    if task not in TASKS:
        raise ValueError(f"choose a task: one of {', '.join(TASKS)}")
    t = _require(translators, TASKS[task])
    n, temperature, seed = _settings(n, temperature, seed)
    if path:
        query = make_query(t, image=read_upload(path), derive=bool(derive))
    else:
        image, mask = _from_drawing(drawing, task)
        query = image * (1 - mask) + 0.5 * mask if mask is not None else make_query(t, image=image, derive=bool(derive))
    images = t.sample(query, n=n, temperature=temperature, seed=seed)
    return _items(query, ["query"]) + _items(images, [f"#{i + 1}" for i in range(n)])


# --- Explore a classifier ---------------------------------------------------------------


def diagnosis_layers(translators: Mapping[str, Translator]) -> list[str]:
    """The classifier layers with a translator, shallow to deep."""
    order = ["conv1", "conv2", "conv3", "fc1", "logits"]
    layers = [n[len(DIAGNOSE_PREFIX):] for n in translators if n.startswith(DIAGNOSE_PREFIX)]
    return sorted(layers, key=lambda x: (order.index(x) if x in order else len(order), x))


ALL_LAYERS = "all layers"


@torch.no_grad()
def explore_classifier(translators: Mapping[str, Translator], path: str | None, layer: str | None,
                       n: Any = 6, temperature: Any = 1.0, seed: Any = 0) -> list[Item]:
    """Samples from what a classifier layer keeps of the image (the paper's Fig. 5).

    All alike: the layer keeps that much of the image; variety: what it is invariant to.
    """
    layers = diagnosis_layers(translators)
    if not layers:
        raise ValueError(f"No classifier-diagnosis translators ({DIAGNOSE_PREFIX}<layer>) are installed yet (the "
                         f"zoo is still being trained). Install one with `net2net zoo train {DIAGNOSE_PREFIX}fc1`, "
                         "then restart `net2net serve`.")
    chosen = layers if layer in (None, "", ALL_LAYERS) else [layer]
    if any(c not in layers for c in chosen):
        raise ValueError(f"no translator for layer {layer!r}; installed: {', '.join(layers)}")
    n, temperature, seed = _settings(n, temperature, seed)
    image = read_upload(path)
    items = _items(image, ["input"])
    for name in chosen:
        samples = translators[DIAGNOSE_PREFIX + name].sample(image, n=n, temperature=temperature, seed=seed)
        items += _items(samples, [f"{name} #{i + 1}" for i in range(n)])
    return items


# --- Probe: a finished `net2net probe` report ----------------------------------------------


def probe_report(translators: Mapping[str, Translator], folder: Any) -> tuple[str, list[Item]]:
    """A finished probe's table, recommendation and figures, loaded from its folder (nothing is run)."""
    from net2net.probing.report import load_report, markdown

    if not isinstance(folder, str) or not folder.strip():
        raise ValueError("give the folder of a finished probe (the --out of `net2net probe`)")
    path = Path(folder.strip()).expanduser()
    report = load_report(path)
    s = report["settings"]
    text = f"### {s['query']} → {s['target']} on {s['dataset']}\n\n" + markdown(report, images=False)
    figures = [(Image.open(path / f).convert("RGB"), f) for f in report["figures"] if (path / f).is_file()]
    return text, figures
