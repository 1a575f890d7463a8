"""Shapes: a colour data set where every attribute of every image is known exactly.

One object per RGB image (32 × 32 by default) on a dark, softly shaded background, with

- **shape** (:data:`SHAPES`), **colour** (:data:`COLOURS`, 8 named colours),
  **size** (:data:`SIZES`) and **position** (:data:`POSITIONS`, a 3 × 3 grid);
- a rendering **style** (:data:`STYLES`): ``filled`` or ``outlined``; each image has
  one, so the two styles are disjoint sets of images (the unpaired translation of the
  paper's Tab. 5);
- small continuous jitter (position, size, colour, background), so that one
  description has many images.

Captions come in two disjoint phrasing sets, as for Fashion-MNIST: column ``text``
(training phrasings) and column ``text_heldout`` (held-out phrasings, evaluation only).
A few colour-shape pairs (:data:`HELDOUT_COMBOS`, "a green star") never occur in the
training split; the test split has them, marked ``combo = "heldout"``, so composition is
tested rather than memorised. Caption dropout: column ``text_partial`` (training
phrasings) and ``text_partial_heldout`` (held-out phrasings) name only the 1 to 5
attributes listed in column ``named``; column ``text_newword`` names all five, with a
synonym from the held-out vocabulary (:data:`HELDOUT_WORDS`, in no training caption) for
colour, size, position and style. Column ``text_varied`` says all five in training
phrasings made by a small grammar (:func:`paraphrase`: thousands of word orders), so a
condition embedder cannot learn six templates by heart; column ``text_varied_partial`` is
the same grammar naming only the 1 to 5 attributes in column ``named_varied`` (caption
dropout, a draw of its own), and column ``text_synonyms`` names all five with several
words per value (:data:`SYNONYMS`, none a held-out word). A third split, ``validation``, has every pair: it trains
only the attribute classifier that judges the translators, so the judge itself has seen
green stars while the autoencoder and every τ have not.

:func:`make_shapes` writes an image folder with ``train/``, ``test/`` and ``validation/`` sub-folders,
each with PNGs and a ``metadata.jsonl`` (the format of docs/data.md), so everything
downstream reads it through the generic data path. Every choice is a pure function of
``(seed, split, index)``: the same arguments give byte-identical files. The registered
data set ``shapes`` is that folder for the default arguments, made on first use in
``$NET2NET_DATA`` (else ``$NET2NET_CACHE/datasets``, else ``~/.cache/net2net/datasets``).

:func:`measure` reads the attributes back from pixels (foreground colour,
centroid, extent), independently of any network: the evaluation's second judge.
"""

from __future__ import annotations

import functools
import glob
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from net2net.data.datasets import FolderDataSet, register_dataset

__all__ = [
    "ATTRIBUTES",
    "COLOURS",
    "CONTENT",
    "HELDOUT_COMBOS",
    "HELDOUT_WORDS",
    "POSITIONS",
    "SHAPES",
    "SIZES",
    "STYLES",
    "SYNONYMS",
    "TRAIN_WORDS",
    "VOCAB",
    "ShapesSpec",
    "attribute_flags",
    "caption",
    "completion",
    "naming_captions",
    "paraphrase",
    "partial_caption",
    "default_folder",
    "examples",
    "items",
    "make_shapes",
    "measure",
    "render",
]

log = logging.getLogger(__name__)

#: Version of the generator: part of the default folder's name, bumped whenever the
#: pixels or captions of a given seed change (4: column ``text_varied``; 5: columns
#: ``text_varied_partial`` and ``text_synonyms``; the pixels and the other columns are
#: those of version 2, 3 and 4).
VERSION = 5

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
#: name -> RGB in [0, 1]; far apart from each other and from the dark grey background.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.75, 0.15),
    "blue": (0.15, 0.30, 1.00),
    "yellow": (0.95, 0.90, 0.10),
    "cyan": (0.10, 0.85, 0.90),
    "magenta": (0.90, 0.15, 0.85),
    "orange": (1.00, 0.55, 0.05),
    "white": (0.95, 0.95, 0.95),
}
SIZES: tuple[str, ...] = ("small", "medium", "large")
#: Row-major 3 × 3 grid: the name of each cell.
POSITIONS: tuple[str, ...] = ("top-left", "top", "top-right", "left", "centre", "right",
                              "bottom-left", "bottom", "bottom-right")
STYLES: tuple[str, ...] = ("filled", "outlined")
#: The content attributes: what a style transfer must keep, and what ``shapes-attr`` edits.
CONTENT: tuple[str, ...] = ("shape", "colour", "size", "position")
#: Every attribute: the content, then the style.
ATTRIBUTES: tuple[str, ...] = (*CONTENT, "style")
#: attribute -> its values, in index order (the attribute classifier's heads).
VOCAB: dict[str, tuple[str, ...]] = {"shape": SHAPES, "colour": tuple(COLOURS), "size": SIZES,
                                     "position": POSITIONS, "style": STYLES}
#: (colour, shape) pairs that never occur in the training split.
HELDOUT_COMBOS: frozenset[tuple[str, str]] = frozenset(
    {("green", "star"), ("red", "triangle"), ("blue", "cross"), ("white", "circle")})

# Geometry, as fractions of the image side: half-extent of each size, cell centres.
_RADIUS = {"small": 0.125, "medium": 0.17, "large": 0.215}
_CENTRES = (0.28, 0.5, 0.72)
_OUTLINE = 0.3  # outline width, as a fraction of the radius
_SUPERSAMPLE = 4
#: The splits, in the order of their random streams. ``validation`` trains the attribute
#: classifier (the judge) only: it has every colour-shape pair, so the judge of held-out
#: pairs saw them. (Hugging Face's image folders know train, test and validation.)
SPLITS: tuple[str, ...] = ("train", "test", "validation")


#: the most images of one split :func:`make_shapes` writes (20 GB of PNGs at 128 px).
MAX_IMAGES = 1_000_000


@dataclass(frozen=True)
class ShapesSpec:
    """What :func:`make_shapes` makes: sizes, image side and seed."""

    n_train: int = 20000
    n_test: int = 3000
    n_judge: int = 5000
    size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test", "n_judge"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_IMAGES:
                raise ValueError(f"{name} must be an integer from 1 to {MAX_IMAGES:,}, got {v!r}")
        if not isinstance(self.size, int) or not 16 <= self.size <= 256:
            raise ValueError(f"size must be an integer from 16 to 256, got {self.size!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer in [0, 2**32), got {self.seed!r}")


# -- rendering -----------------------------------------------------------------------------

def _polygon(shape: str) -> np.ndarray:
    """Vertices of a unit-radius polygon, counter-clockwise, y pointing down."""
    if shape == "square":
        a = 0.8
        return np.array([[-a, -a], [-a, a], [a, a], [a, -a]])
    if shape == "triangle":
        ang = np.deg2rad([-90, 150, 30])
        return np.stack([np.cos(ang), np.sin(ang) + 0.15], 1)
    if shape == "star":
        ang = np.deg2rad(-90 + 36 * np.arange(10))
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return np.stack([r * np.cos(ang), r * np.sin(ang) + 0.05], 1)
    if shape == "cross":
        w, a = 0.32, 0.9
        return np.array([[-w, -a], [w, -a], [w, -w], [a, -w], [a, w], [w, w], [w, a], [-w, a], [-w, w], [-a, w],
                         [-a, -w], [-w, -w]])
    raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")


def _signed_distance(shape: str, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) of points to the unit-radius ``shape``."""
    if shape == "circle":
        return np.hypot(px, py) - 0.85
    v = _polygon(shape)
    d = np.full(px.shape, np.inf)
    inside = np.zeros(px.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(v, np.roll(v, -1, axis=0), strict=True):
        ex, ey = x1 - x0, y1 - y0
        t = np.clip(((px - x0) * ex + (py - y0) * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        d = np.minimum(d, np.hypot(px - x0 - t * ex, py - y0 - t * ey))
        crosses = ((y0 > py) != (y1 > py)) & (px < (x1 - x0) * (py - y0) / (y1 - y0 + 1e-12) + x0)
        inside ^= crosses
    return np.where(inside, -d, d)


def render(shape: str, colour: Sequence[float], size: str, position: str, style: str, *, side: int = 32,
           offset: tuple[float, float] = (0.0, 0.0), scale: float = 1.0,
           background: tuple[float, float, float] = (0.15, 0.0, 0.0)) -> np.ndarray:
    """One image, ``float32 (side, side, 3)`` in [0, 1], anti-aliased (4 × supersampled).

    Args:
        colour: the object's RGB.
        offset: shift of the centre, in fractions of the side.
        scale: factor on the size's radius.
        background: ``(level, gradient x, gradient y)``: a grey ramp.
    """
    for name, value in (("size", size), ("position", position), ("style", style)):
        if value not in VOCAB[name]:
            raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(VOCAB[name])}")
    n = side * _SUPERSAMPLE
    coords = (np.arange(n) + 0.5) / n
    gx, gy = np.meshgrid(coords, coords)
    row, col = divmod(POSITIONS.index(position), 3)
    cx, cy = _CENTRES[col] + offset[0], _CENTRES[row] + offset[1]
    r = _RADIUS[size] * scale
    sd = _signed_distance(shape, (gx - cx) / r, (gy - cy) / r) * r  # in fractions of the side
    mask = sd < 0 if style == "filled" else (sd < 0) & (sd > -_OUTLINE * r)
    cover = mask.reshape(side, _SUPERSAMPLE, side, _SUPERSAMPLE).mean(axis=(1, 3))[..., None]
    level, ramp_x, ramp_y = background
    xs = (np.arange(side) + 0.5) / side - 0.5
    bg = level + ramp_x * xs[None, :] + ramp_y * xs[:, None]
    image = (1 - cover) * bg[..., None] + cover * np.asarray(colour, dtype=np.float64)[None, None, :]
    return np.clip(image, 0, 1).astype(np.float32)


# -- captions --------------------------------------------------------------------------------

_SHAPE_WORDS = {"circle": ("circle", "disc", "round dot"), "square": ("square", "box"),
                "triangle": ("triangle",), "star": ("star", "five-pointed star"), "cross": ("cross", "plus sign")}
_SIZE_WORDS = {"small": ("small", "tiny", "little"), "medium": ("medium-sized", "mid-sized", "medium"),
               "large": ("large", "big", "huge")}
_STYLE_WORDS = {"filled": ("filled", "solid"), "outlined": ("outlined", "hollow")}
_POSITION_WORDS = {
    "top-left": ("in the top left corner", "at the upper left"),
    "top": ("at the top", "at the top centre"),
    "top-right": ("in the top right corner", "at the upper right"),
    "left": ("on the left", "at the left edge"),
    "centre": ("in the centre", "in the middle"),
    "right": ("on the right", "at the right edge"),
    "bottom-left": ("in the bottom left corner", "at the lower left"),
    "bottom": ("at the bottom", "at the bottom centre"),
    "bottom-right": ("in the bottom right corner", "at the lower right"),
}
#: Phrasing templates; the two sets share no template.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "train": (
        "a {size} {style} {colour} {shape} {pos}",
        "{pos} there is a {size} {colour} {shape}, {style}",
        "a picture of a {style} {colour} {shape}, {size}, {pos}",
        "one {colour} {shape} {pos}; it is {size} and {style}",
        "a {size} {colour} {style} {shape} placed {pos}",
        "{pos}: a {style} {shape} in {colour}, {size}",
    ),
    "heldout": (
        "an image with a {colour} {shape} that is {size} and {style}, {pos}",
        "you can see a {style} {size} {shape} coloured {colour} {pos}",
        "{size} {colour} {shape} ({style}) {pos}",
    ),
}


#: The held-out vocabulary: for each colour, size, position and style value, one synonym
#: that no training caption uses; only the test column ``text_newword`` says it.
HELDOUT_WORDS: dict[str, dict[str, str]] = {
    "colour": {"red": "crimson", "green": "emerald", "blue": "cobalt", "yellow": "lemon", "cyan": "turquoise",
               "magenta": "fuchsia", "orange": "tangerine", "white": "ivory"},
    "size": {"small": "petite", "medium": "average-sized", "large": "enormous"},
    "position": {"top-left": "up and to the left", "top": "along the top edge", "top-right": "up and to the right",
                 "left": "towards the left side", "centre": "at the midpoint", "right": "towards the right side",
                 "bottom-left": "down and to the left", "bottom": "along the bottom edge",
                 "bottom-right": "down and to the right"},
    "style": {"filled": "opaque", "outlined": "line-drawn"},
}
#: Templates that name any subset of the attributes: a ``[...]`` segment holds one
#: attribute's slot and is left out when that attribute is not named; ``{shape}`` always
#: stays (a generic noun when the shape is not named). The sets share no template with
#: each other; with all five named they read like :data:`TEMPLATES`.
PARTIAL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "train": (
        "a[ {size}][ {style}][ {colour}] {shape}[ {pos}]",
        "[{pos} ]there is a[ {size}][ {colour}] {shape}[, {style}]",
        "a picture of a[ {style}][ {colour}] {shape}[, {size}][, {pos}]",
        "one[ {colour}] {shape}[ {pos}][; it is {size}][; it is {style}]",
        "a[ {size}][ {colour}][ {style}] {shape}[ placed {pos}]",
        "[{pos}: ]a[ {style}] {shape}[ in {colour}][, {size}]",
    ),
    "heldout": (
        "an image with a[ {colour}] {shape}[ that is {size}][, {style}][, {pos}]",
        "you can see a[ {style}][ {size}] {shape}[ coloured {colour}][ {pos}]",
        "[{size} ][{colour} ]{shape}[ ({style})][ {pos}]",
    ),
}
#: The noun of an unnamed shape, per phrasing set.
_GENERIC_SHAPE = {"train": ("shape", "object"), "heldout": ("figure",)}
_SLOT = {"size": "size", "style": "style", "colour": "colour", "pos": "position", "shape": "shape"}


def _pick(rng: np.random.Generator, words: Sequence[str]) -> str:
    return words[int(rng.integers(len(words)))]


def caption(attrs: dict[str, str], rng: np.random.Generator, phrasing: str = "train") -> str:
    """A caption of ``attrs`` (shape, colour, size, position, style) in the ``phrasing`` set."""
    if phrasing not in TEMPLATES:
        raise ValueError(f"phrasing must be one of {', '.join(TEMPLATES)}, got {phrasing!r}")
    template = _pick(rng, TEMPLATES[phrasing])
    text = template.format(size=_pick(rng, _SIZE_WORDS[attrs["size"]]), style=_pick(rng, _STYLE_WORDS[attrs["style"]]),
                           colour=attrs["colour"], shape=_pick(rng, _SHAPE_WORDS[attrs["shape"]]),
                           pos=_pick(rng, _POSITION_WORDS[attrs["position"]]))
    text = re.sub(r"\ba (?=[aeiou])", "an ", text)
    return text[0].upper() + text[1:] if phrasing == "heldout" and text[0].islower() and rng.random() < 0.5 else text


def partial_caption(attrs: dict[str, str], named: Sequence[str], rng: np.random.Generator, phrasing: str = "train",
                    *, new_words: bool = False) -> str:
    """A caption that names only the attributes in ``named`` (any non-empty subset of
    :data:`ATTRIBUTES`), in the ``phrasing`` set; ``new_words`` says colour, size, position
    and style with the held-out vocabulary (:data:`HELDOUT_WORDS`)."""
    if phrasing not in PARTIAL_TEMPLATES:
        raise ValueError(f"phrasing must be one of {', '.join(PARTIAL_TEMPLATES)}, got {phrasing!r}")
    unknown = [a for a in named if a not in ATTRIBUTES]
    if unknown or not named:
        raise ValueError(f"named must be a non-empty subset of {', '.join(ATTRIBUTES)}, got {list(named)!r}")
    template = _pick(rng, PARTIAL_TEMPLATES[phrasing])
    if new_words:
        words = {a: HELDOUT_WORDS[a][attrs[a]] for a in ("colour", "size", "position", "style")}
    else:
        words = {"colour": attrs["colour"], "size": _pick(rng, _SIZE_WORDS[attrs["size"]]),
                 "position": _pick(rng, _POSITION_WORDS[attrs["position"]]),
                 "style": _pick(rng, _STYLE_WORDS[attrs["style"]])}
    words["shape"] = (_pick(rng, _SHAPE_WORDS[attrs["shape"]]) if "shape" in named
                      else _pick(rng, _GENERIC_SHAPE[phrasing]))

    def segment(m: re.Match) -> str:
        slot = re.search(r"\{(\w+)\}", m.group(1)).group(1)  # type: ignore[union-attr]
        return m.group(1) if _SLOT[slot] in named else ""

    text = re.sub(r"\[([^\]]*)\]", segment, template)
    text = text.format(**{k: words[a] for k, a in _SLOT.items()})
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


#: The paraphrase grammar of columns ``text_varied``, ``text_varied_partial`` and
#: ``text_synonyms`` (training phrasings only): openers, and the clause forms an attribute
#: takes when it is not an adjective before the noun. It shares no opener, connector or word
#: order with the held-out templates ("an image with", "you can see", "coloured", "that is",
#: parentheses).
_OPENERS = ("a", "there is a", "a picture of a", "one", "a drawing of a", "here is a", "the picture shows a",
            "a single", "we have a", "an illustration of a")
_CLAUSES = {
    "size": ("{w}", "which is {w}", "{w} in size", "it is {w}"),
    "colour": ("in {w}", "{w} in colour", "painted {w}", "whose colour is {w}"),
    "style": ("{w}", "which is {w}", "drawn {w}", "it is {w}"),
    "position": ("{w}", "placed {w}", "located {w}", "sitting {w}"),
}
_JOINERS = (", ", " ", "; ", " and ")
#: More names per value (column ``text_synonyms``, data version 5): "scarlet", "ruby" and
#: "cherry red" as well as "red". None of them is in :data:`HELDOUT_WORDS`. Measured in
#: issue 23: training on them does not carry τ to the held-out words (docs/new-words.md).
_MORE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "colour": {"red": ("scarlet", "ruby", "cherry red"), "green": ("lime", "grass green", "jade"),
               "blue": ("royal blue", "sapphire", "ultramarine"), "yellow": ("golden", "canary", "sunflower yellow"),
               "cyan": ("aqua", "aquamarine", "teal"), "magenta": ("hot pink", "purple", "violet"),
               "orange": ("amber", "apricot", "pumpkin orange"), "white": ("snow white", "pearl", "milky white")},
    "size": {"small": ("miniature", "wee", "smallish"), "medium": ("middle-sized", "regular-sized", "moderately sized"),
             "large": ("giant", "massive", "oversized")},
    "style": {"filled": ("colour-filled", "painted-in", "full"), "outlined": ("unfilled", "empty", "open")},
    "position": {"top-left": ("in the upper-left corner", "near the top left"),
                 "top": ("near the top", "high up in the middle"),
                 "top-right": ("in the upper-right corner", "near the top right"),
                 "left": ("near the left", "in the middle of the left edge"),
                 "centre": ("in the center", "in the very middle"),
                 "right": ("near the right", "in the middle of the right edge"),
                 "bottom-left": ("in the lower-left corner", "near the bottom left"),
                 "bottom": ("near the bottom", "low down in the middle"),
                 "bottom-right": ("in the lower-right corner", "near the bottom right")},
}
#: The words of the training templates, per attribute and value (colour: its name).
TRAIN_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "colour": {c: (c,) for c in COLOURS}, "size": _SIZE_WORDS, "style": _STYLE_WORDS, "position": _POSITION_WORDS}
#: The training words and :data:`_MORE_WORDS` together (column ``text_synonyms``).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    a: {v: (*TRAIN_WORDS[a][v], *_MORE_WORDS[a][v]) for v in VOCAB[a]} for a in _MORE_WORDS}
#: The noun of an unnamed shape in the grammar.
_VARIED_GENERIC = ("shape", "object", "thing")


def paraphrase(attrs: dict[str, str], rng: np.random.Generator, named: Sequence[str] = ATTRIBUTES,
               words: dict[str, dict[str, tuple[str, ...]]] | None = None,
               generic: Sequence[str] = _VARIED_GENERIC) -> str:
    """A caption from a small grammar that names the attributes in ``named`` (default: all
    five; column ``text_varied``): size, colour and style each either an adjective before the
    noun (in a random order) or a trailing clause, the position a trailing clause or a
    leading phrase, the clauses in a random order; an unnamed shape is a generic noun
    ("object"). Thousands of word orders instead of six templates, so τ's condition embedder
    cannot learn the phrasings by heart (issue 23). ``words`` is the vocabulary per attribute
    and value (default :data:`TRAIN_WORDS`; :data:`SYNONYMS` for column ``text_synonyms``);
    nothing here is a held-out template or a held-out word. ``generic``: the nouns of an
    unnamed shape."""
    unknown = [a for a in named if a not in ATTRIBUTES]
    if unknown or not named:
        raise ValueError(f"named must be a non-empty subset of {', '.join(ATTRIBUTES)}, got {list(named)!r}")
    vocab = words or TRAIN_WORDS
    # one word has no draw, so that the default keeps the captions of data version 4
    chosen = {a: vocab[a][attrs[a]][0] if len(vocab[a][attrs[a]]) == 1 else _pick(rng, vocab[a][attrs[a]])
              for a in ("size", "colour", "style", "position")}
    before = [a for a in ("size", "colour", "style") if a in named and rng.random() < 0.5]
    rng.shuffle(before)
    after = [a for a in ("size", "colour", "style", "position") if a in named and a not in before]
    lead = "position" in after and rng.random() < 0.25
    if lead:
        after.remove("position")
    rng.shuffle(after)
    shape = _pick(rng, _SHAPE_WORDS[attrs["shape"]]) if "shape" in named else _pick(rng, generic)
    noun = " ".join([*(chosen[a] for a in before), shape])
    text = f"{_pick(rng, _OPENERS)} {noun}"
    for a in after:
        text += _pick(rng, _JOINERS) + _pick(rng, _CLAUSES[a]).format(w=chosen[a])
    if lead:
        text = chosen["position"] + _pick(rng, (", ", ": ", " ")) + text
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


#: Nouns for a shape that a caption does not name, for the captions that teach which
#: attributes a prompt names (:func:`naming_captions`); none is a held-out word.
GENERIC_NOUNS: tuple[str, ...] = ("shape", "object", "thing", "item", "form", "symbol", "mark", "sign", "element",
                                  "motif", "design", "pattern")


def naming_captions(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """``n`` training-grammar captions that name random subsets of the attributes, and
    which ones each names (``(n, 5)`` bool, :data:`ATTRIBUTES` order): what a prompt
    completer learns to read (:mod:`net2net.completion`). A third each from the grammar
    with the training words, the grammar with :data:`SYNONYMS` and the partial training
    templates; an unnamed shape is one of :data:`GENERIC_NOUNS`. Nothing here is a
    held-out template or a held-out word."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    captions, named_rows = [], []
    for i in range(n):
        attrs = {a: _pick(rng, VOCAB[a]) for a in ATTRIBUTES}
        named = _named(rng)
        if i % 3 == 2:
            text = partial_caption(attrs, named, rng, "train")
            if "shape" not in named:  # the templates' own generic nouns, widened
                text = re.sub(r"\b(shape|object)\b", _pick(rng, GENERIC_NOUNS), text, count=1)
                text = re.sub(r"\ba (?=[aeiou])", "an ", re.sub(r"\ban (?=[^aeiou])", "a ", text))
        else:
            text = paraphrase(attrs, rng, named, words=SYNONYMS if i % 3 else None, generic=GENERIC_NOUNS)
        captions.append(text)
        named_rows.append([a in named for a in ATTRIBUTES])
    return captions, np.asarray(named_rows, dtype=bool)


def completion(named: Sequence[str], rng: np.random.Generator) -> str:
    """What a caption that names only ``named`` leaves out, said in the training grammar:
    for every other attribute a clause with a value drawn uniformly (the training split's
    marginal), in a random order, each led by a joiner (``""`` when all five are named).
    Appended to a prompt, it makes the full caption τ was trained on, so the values of
    the unnamed attributes vary from sample to sample instead of τ picking one."""
    unknown = [a for a in named if a not in ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown attributes {unknown!r}; the attributes are {', '.join(ATTRIBUTES)}")
    clauses = []
    for a in ("size", "colour", "style", "position"):
        if a not in named:
            value = _pick(rng, VOCAB[a])
            clauses.append(_pick(rng, _CLAUSES[a]).format(w=_pick(rng, TRAIN_WORDS[a][value])))
    if "shape" not in named:
        clauses.append("it is a " + _pick(rng, _SHAPE_WORDS[_pick(rng, SHAPES)]))
    rng.shuffle(clauses)
    return "".join(_pick(rng, _JOINERS) + c for c in clauses)


def _named(rng: np.random.Generator) -> list[str]:
    """Caption dropout: 1 to 5 attributes (uniformly many, then a uniform subset), in :data:`ATTRIBUTES` order."""
    k = int(rng.integers(1, len(ATTRIBUTES) + 1))
    keep = set(rng.choice(len(ATTRIBUTES), size=k, replace=False).tolist())
    return [a for i, a in enumerate(ATTRIBUTES) if i in keep]


# -- the data set ------------------------------------------------------------------------------

def _draw(attrs: dict[str, str], rng: np.random.Generator, side: int) -> np.ndarray:
    """``attrs`` rendered with the data set's jitter (colour, background, position, size) drawn from ``rng``."""
    rgb = np.clip(np.asarray(COLOURS[attrs["colour"]]) + rng.uniform(-0.04, 0.04, 3), 0, 1)
    background = (float(rng.uniform(0.08, 0.28)), float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.06, 0.06)))
    return render(attrs["shape"], rgb, attrs["size"], attrs["position"], attrs["style"], side=side,
                  offset=tuple(rng.uniform(-0.035, 0.035, 2)), scale=float(rng.uniform(0.94, 1.06)),
                  background=background)


def examples(attrs: dict[str, str], k: int, *, seed: int = 0, side: int = 32) -> np.ndarray:
    """``k`` fresh images of one description, ``float32 (k, 3, side, side)``: what the data set's
    own variation looks like for ``attrs`` (the reference of the diversity metric)."""
    rng = np.random.default_rng([seed, 2])
    return np.stack([_draw(attrs, rng, side) for _ in range(k)]).transpose(0, 3, 1, 2)


def _item(seed: int, split: str, index: int, side: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Image and metadata of item ``index`` of ``split``: a pure function of its arguments."""
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    while True:
        shape, colour = _pick(rng, SHAPES), _pick(rng, tuple(COLOURS))
        heldout = (colour, shape) in HELDOUT_COMBOS
        if not (heldout and split == "train"):
            break
    attrs = {"shape": shape, "colour": colour, "size": _pick(rng, SIZES), "position": _pick(rng, POSITIONS),
             "style": _pick(rng, STYLES)}
    image = _draw(attrs, rng, side)
    meta = {**attrs, "combo": "heldout" if heldout else "seen",
            "text": caption(attrs, rng, "train"), "text_heldout": caption(attrs, rng, "heldout")}
    # The partial and new-word captions draw from a stream of their own, so the pixels and
    # the two full-caption columns stay those of version 2.
    words = np.random.default_rng([seed, SPLITS.index(split), index, 1])
    named = _named(words)
    meta.update(named=",".join(named), text_partial=partial_caption(attrs, named, words, "train"),
                text_partial_heldout=partial_caption(attrs, named, words, "heldout"),
                text_newword=partial_caption(attrs, ATTRIBUTES, words, "heldout", new_words=True))
    meta["text_varied"] = paraphrase(attrs, np.random.default_rng([seed, SPLITS.index(split), index, 2]))
    varied = np.random.default_rng([seed, SPLITS.index(split), index, 3])
    named_varied = _named(varied)
    meta.update(named_varied=",".join(named_varied), text_varied_partial=paraphrase(attrs, varied, named_varied))
    meta["text_synonyms"] = paraphrase(attrs, np.random.default_rng([seed, SPLITS.index(split), index, 4]),
                                       words=SYNONYMS)
    return image, meta


def items(split: str, n: int, *, seed: int = 0, size: int = 32, start: int = 0) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Items ``start ... start+n-1`` of ``split`` in memory: uint8 ``(n, size, size, 3)`` and their metadata rows.

    The same pixels and rows as the files :func:`make_shapes` writes for that seed and
    size (a split's items do not depend on how many the other split has).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    made = [_item(seed, split, i, size) for i in range(start, start + n)]
    return (np.stack([np.round(im * 255).astype(np.uint8) for im, _ in made]) if made else np.zeros((0, size, size, 3), np.uint8),
            [m for _, m in made])


def make_shapes(out: str | os.PathLike, spec: ShapesSpec | None = None, *, progress: bool | None = None) -> Path:
    """Writes the data set into ``out`` (``train/`` and ``test/``: PNGs + ``metadata.jsonl``).

    The folder is written to a temporary sibling and renamed, so an interrupted run
    leaves nothing half-made. ``out`` must not exist or be an empty folder.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    spec = spec or ShapesSpec()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty folder; choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep_killed(out)
    need = (spec.n_train + spec.n_test + spec.n_judge) * (spec.size * spec.size * 3 // 4 + 300)  # PNG + metadata row
    free = shutil.disk_usage(out.parent).free
    if need > free:
        raise ValueError(f"the data set needs about {need / 1e9:.1f} GB and {out.parent} has {free / 1e9:.1f} GB free; "
                         "make fewer images (--n-train, --n-test, --n-judge) or choose another --out")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-tmp-{os.getpid()}-", dir=out.parent))
    try:
        bar = tqdm(total=spec.n_train + spec.n_test + spec.n_judge, desc="make shapes", unit="img", dynamic_ncols=True,
                   disable=(not progress) if progress is not None else None)
        for split, n in (("train", spec.n_train), ("test", spec.n_test), ("validation", spec.n_judge)):
            folder = tmp / split
            folder.mkdir()
            rows = []
            for i in range(n):
                image, meta = _item(spec.seed, split, i, spec.size)
                name = f"{i:05d}.png"
                Image.fromarray(np.round(image * 255).astype(np.uint8)).save(folder / name, optimize=False)
                rows.append({"file_name": name, **meta})
                bar.update(1)
            with open(folder / "metadata.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
        bar.close()
        (tmp / "shapes.json").write_text(json.dumps({"generator": "net2net.data.shapes", "version": VERSION,
                                                     **spec.__dict__}, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _sweep_killed(out: Path) -> list[str]:
    """Removes the temporary siblings of ``out`` that killed runs of :func:`make_shapes`
    left (their process is gone); a live run's temporary is left alone."""
    removed = []
    for p in out.parent.glob(f".{glob.escape(out.name)}-tmp-*-*"):
        pid = p.name[len(out.name) + 6:].split("-", 1)[0]
        if not (pid.isdigit() and p.is_dir() and not p.is_symlink()):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # alive (or not ours to signal): not a leftover
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    if removed:
        log.info("removed %d temporaries left by killed runs: %s", len(removed), ", ".join(sorted(removed)))
    return removed


def data_root() -> Path:
    """Where registered, generated data sets live."""
    if os.environ.get("NET2NET_DATA"):
        return Path(os.environ["NET2NET_DATA"])
    if os.environ.get("NET2NET_CACHE"):
        return Path(os.environ["NET2NET_CACHE"]) / "datasets"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "net2net" / "datasets"


def default_folder(spec: ShapesSpec | None = None) -> Path:
    spec = spec or ShapesSpec()
    return data_root() / f"shapes-v{VERSION}-{spec.size}px-{spec.n_train}-{spec.n_test}-{spec.n_judge}-seed{spec.seed}"


def shapes_dataset(data_dir: str | None = None):
    """The registered ``shapes`` data set: ``data_dir`` if given, else the default folder, made on first use."""
    folder = Path(data_dir) if data_dir is not None else default_folder()
    if not (folder / "shapes.json").is_file():
        if data_dir is not None:
            raise ValueError(f"{folder}: not a shapes data set (no shapes.json); make one with "
                             f"`net2net data make shapes --out {folder}`")
        log.warning("making the shapes data set in %s (once; about a minute)", folder)
        try:
            make_shapes(folder)
        except ValueError:
            if not (folder / "shapes.json").is_file():  # another process made it meanwhile: fine
                raise
    ds = FolderDataSet(folder)
    ds.name = "shapes"
    return ds


# the same registry a user's own data set joins: datasets.py does not know shapes
register_dataset("shapes", shapes_dataset)


# -- attributes back from pixels ------------------------------------------------------------------

def attribute_flags(values: dict[str, Sequence[str]]) -> list[list[str]]:
    """Rows of ``attribute=value`` names, e.g. ``["shape=star", "colour=red", ...]``: the multi-hot query."""
    names = list(values)
    n = len(values[names[0]])
    return [[f"{a}={values[a][i]}" for a in names] for i in range(n)]


@functools.lru_cache(maxsize=None)
def _expected_extent(shape: str, size: str, side: int = 32) -> float:
    """Bounding-box side (fraction of the image) of ``shape`` at ``size`` as :func:`measure` sees it:
    measured on a jitter-free reference rendering at ``side`` pixels, so that sharp tips lost to
    anti-aliasing (a triangle's corners) count as they do in the images measured."""
    image = render(shape, COLOURS["green"], size, "centre", "filled", side=side)
    fg = np.abs(image - image[0, 0]).max(axis=2) > 0.25
    rows, cols = np.nonzero(fg)
    return float(max(np.ptp(rows), np.ptp(cols)) + 1) / side


def measure(images: np.ndarray | Any, shapes: Sequence[str] | None = None) -> dict[str, list[str | None]]:
    """Colour, position and (given each image's intended shape) size, read from pixels.

    The foreground is every pixel more than 0.25 away (max over channels) from the
    median of the image's border; colour is the named colour that best explains every
    foreground pixel as a blend of it and the background (anti-aliased edges and thin
    outlines are such blends), position the grid cell nearest the centroid, size the size
    whose bounding box for that shape (measured the same way on a reference rendering) is
    nearest the foreground's. An image without foreground
    gets ``None`` everywhere.

    Args:
        images: ``(N, 3, H, W)`` float in [0, 1] (a tensor or an array).
        shapes: the shape each image should show (for the size); None skips the size.
    """
    x = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"measure reads RGB images (N, 3, H, W), got {x.shape}")
    n, _, h, w = x.shape
    border = np.concatenate([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], axis=2)
    bg = np.median(border, axis=2)
    fg = np.abs(x - bg[:, :, None, None]).max(axis=1) > 0.25
    names = list(COLOURS)
    palette = np.asarray([COLOURS[c] for c in names])
    out: dict[str, list[str | None]] = {"colour": [], "position": [], "size": []}
    ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    centres = np.asarray(_CENTRES)
    for i in range(n):
        m = fg[i]
        if m.sum() == 0:
            out["colour"].append(None)
            out["position"].append(None)
            out["size"].append(None)
            continue
        # Each foreground pixel is a blend (1 - c) bg + c colour (anti-aliased edges, thin
        # outlines): the colour is the named one that best explains every pixel as such a blend.
        d = x[i][:, m] - bg[i][:, None]                                   # (3, K)
        u = palette - bg[i][None, :]                                      # (colours, 3)
        c = np.clip(u @ d / (u * u).sum(1, keepdims=True), 0, 1)          # (colours, K)
        resid = ((d[None] - c[:, None, :] * u[:, :, None]) ** 2).sum(axis=(1, 2))
        out["colour"].append(names[int(np.argmin(resid))])
        rows, cols = np.nonzero(m)
        cy, cx = ys[rows].mean(), xs[cols].mean()
        r, c = int(np.argmin(np.abs(centres - cy))), int(np.argmin(np.abs(centres - cx)))
        out["position"].append(POSITIONS[3 * r + c])
        if shapes is None:
            out["size"].append(None)
            continue
        extent = max(ys[rows].max() - ys[rows].min(), xs[cols].max() - xs[cols].min()) + 1 / h
        out["size"].append(min(SIZES, key=lambda s, e=extent, sh=shapes[i]: abs(_expected_extent(sh, s, h) - e)))
    return out
