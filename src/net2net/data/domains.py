"""Query domains: the one registry of ways to turn a data set's items into an expert's input.

A :class:`Domain` is a name, a function and the parameters passed to it: calling the
domain calls ``fn(items, **params)`` and nothing else, so the parameters that go into
the feature store's key are exactly the ones the function got. Every caller (feature
extraction, re-ranking, ``--derive`` in the applications, the demo, the evaluation,
the zoo's expert recipes) goes through :data:`DOMAINS` / :func:`derive`.

What a domain makes is its ``kind``: ``"image"`` (``float32 (n, C, H, W)`` in ``[0, 1]``),
``"text"`` (a list of str) or ``"label"`` (class indices, or ``(n, k)`` 0/1 attribute
flags). Image domains are defined on any size and on grey or colour images.

``lowres-N`` means an ``N × N`` image (the block mean of the input); it is *shown*
enlarged (nearest neighbour), never stored or encoded that way. Columns of a data set
are domains too: ``column`` (one column, e.g. a folder's ``text``: its captions) and
``attributes`` (several 0/1 columns as one flag vector, or several named-value columns
as ``column=value`` names per row, for a multi-hot expert); :func:`resolve_domain` turns a
request such as ``captions`` on a folder with a ``text`` column into the column domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from net2net.data.derived import apply_mask, box_masks, downsample, silhouette, sobel_edges

__all__ = ["DOMAINS", "Domain", "Items", "derive", "get_domain", "resolve_domain", "column_domain"]


@dataclass(frozen=True)
class Items:
    """A contiguous chunk of a data set split: what a domain function reads.

    Attributes:
        images: ``float32 (n, C, H, W)`` in ``[0, 1]`` (None for data sets without images).
        labels: class indices ``(n,)``, or None when the data set has no classes.
        columns: the data set's other columns, each a sequence of ``n`` values.
        start: index of the first item in its split.
        total: number of items in the whole split.
    """

    images: Tensor | None
    labels: np.ndarray | None = None
    columns: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    start: int = 0
    total: int | None = None

    def __len__(self) -> int:
        if self.images is not None:
            return len(self.images)
        if self.labels is not None:
            return len(self.labels)
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def need_images(self, domain: str) -> Tensor:
        if self.images is None:
            raise ValueError(f"the {domain!r} domain needs images, and this data set has none")
        return self.images


DomainFn = Callable[..., Any]


@dataclass(frozen=True, eq=False)
class Domain:
    """A named query domain: ``domain(items)`` is ``fn(items, **params)``.

    Attributes:
        name: registry key (or ``column:NAME`` / ``attributes:A,B`` for columns).
        kind: ``"image"``, ``"text"`` or ``"label"``: what an expert must read.
        fn: ``fn(items: Items, **params)``.
        params: every argument ``fn`` gets beside the items (and nothing else): the store key's.
        description: one line for ``--help`` and docs.
        reads_images: whether ``fn`` looks at the images (False: columns or labels only, so
            extraction never opens an image file).
    """

    name: str
    kind: str
    fn: DomainFn
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    reads_images: bool = True

    def __call__(self, items: Items) -> Any:
        return self.fn(items, **self.params)

    def spec(self) -> dict[str, Any]:
        """What goes into a feature-store key."""
        return {"name": self.name, "kind": self.kind, "params": dict(self.params)}


# -- the functions ---------------------------------------------------------------------

def _identity(items: Items) -> Tensor:
    return items.need_images("identity")


def _edges(items: Items, *, threshold: float | None) -> Tensor:
    return sobel_edges(items.need_images("edges"), threshold=threshold)


def _masked(items: Items, *, seed: int, min_frac: float, max_frac: float, fill: float) -> Tensor:
    # Boxes are drawn for the whole split from one seed, so item i always gets the same
    # box, whatever the chunking.
    x = items.need_images("masked")
    total = items.total if items.total is not None else items.start + len(x)
    masks = box_masks(total, tuple(x.shape[-2:]), min_frac=min_frac, max_frac=max_frac, seed=seed,
                      start=items.start, stop=items.start + len(x))
    return apply_mask(x, masks.to(x.device), fill=fill)


def _lowres(items: Items, *, size: int) -> Tensor:
    return downsample(items.need_images(f"lowres-{size}"), size)


def _silhouette(items: Items, *, threshold: float) -> Tensor:
    return silhouette(items.need_images("silhouette"), threshold=threshold)


def _captions(items: Items, *, templates: str, seed: int) -> list[str]:
    from net2net.data.captions import caption

    if items.labels is None:
        raise ValueError("the generated captions need Fashion-MNIST class labels; for your own data use its "
                         "text column (--column text)")
    x = items.need_images("captions")
    idx = np.arange(items.start, items.start + len(x))
    return caption(x, items.labels, split=templates, seed=seed, indices=idx)


def _labels(items: Items) -> list[int]:
    if items.labels is None:
        raise ValueError("this data set has no class labels (no class sub-folders or 'label' column)")
    return [int(v) for v in items.labels]


def _descriptors(items: Items) -> list[list[str]]:
    from net2net.data.captions import levels
    from net2net.data.fashion_mnist import CLASS_NAMES

    if items.labels is None:
        raise ValueError("the descriptor levels need Fashion-MNIST class labels (width is measured within the class)")
    x = items.need_images("descriptors")
    return [[f"class={CLASS_NAMES[int(y)]}", *(f"{k}={v}" for k, v in lv.items())]
            for y, lv in zip(items.labels, levels(x, items.labels), strict=True)]


def _column(items: Items, *, column: str) -> list[Any]:
    if column not in items.columns:
        raise ValueError(f"no column {column!r}; the columns are {', '.join(items.columns) or '(none)'}")
    return list(items.columns[column])


def _attributes(items: Items, *, columns: Sequence[str]) -> Tensor | list[list[str]]:
    """Numeric 0/1 columns: an ``(n, k)`` flag tensor. Named values (``colour``: ``"red"``):
    each row the list of ``column=value`` names (``["shape=star", "colour=red"]``), what a
    multi-hot expert over those names reads."""
    values = {c: _column(items, column=c) for c in columns}
    text = [c for c, v in values.items() if any(isinstance(x, str) for x in v)]
    if text:
        if len(text) != len(values):
            raise ValueError(f"columns {', '.join(text)} hold names and {', '.join(c for c in values if c not in text)} "
                             "numbers; attributes are all 0/1 flags or all named values")
        return [[f"{c}={values[c][i]}" for c in columns] for i in range(len(items))]
    rows = []
    for c, v in values.items():
        try:
            rows.append([float(x) for x in v])
        except (TypeError, ValueError):
            raise ValueError(f"column {c!r} is not numeric (0/1 flags); attributes are numeric columns") from None
    return (torch.tensor(rows, dtype=torch.float32).T != 0).float()


#: name -> Domain. Explicit: add a query domain by adding an entry here.
DOMAINS: dict[str, Domain] = {
    d.name: d
    for d in (
        Domain("identity", "image", _identity, {}, "the images themselves"),
        Domain("edges", "image", _edges, {"threshold": None}, "Sobel edge maps (sketches), one channel"),
        Domain("masked", "image", _masked, {"seed": 0, "min_frac": 0.3, "max_frac": 0.6, "fill": 0.5},
               "one grey box hidden per image (inpainting queries)"),
        Domain("lowres-7", "image", _lowres, {"size": 7}, "a 7 x 7 image: the block mean (shown enlarged)"),
        Domain("lowres-14", "image", _lowres, {"size": 14}, "a 14 x 14 image: the block mean (shown enlarged)"),
        Domain("silhouette", "image", _silhouette, {"threshold": 0.05}, "object/background masks, one channel"),
        Domain("captions", "text", _captions, {"templates": "train", "seed": 0},
               "generated Fashion-MNIST captions, training phrasings (your own data: its text column)"),
        Domain("captions-heldout", "text", _captions, {"templates": "heldout", "seed": 0},
               "generated Fashion-MNIST captions, held-out phrasings (evaluation only)"),
        Domain("labels", "label", _labels, {}, "the class indices", reads_images=False),
        Domain("descriptors", "label", _descriptors, {},
               "the class and the garment's brightness and width levels, measured from pixels (class=dress, "
               "brightness=dark, width=mid)"),
    )
}


def get_domain(name: str) -> Domain:
    """The domain registered as ``name``; an unknown name lists the valid ones."""
    if name not in DOMAINS:
        raise ValueError(f"unknown transform {name!r}; choose one of {', '.join(DOMAINS)}")
    return DOMAINS[name]


def column_domain(columns: str | Sequence[str], kind: str) -> Domain:
    """A data set's column(s) as a domain: one column read as it is (``kind`` text or
    label), or several numeric columns as one ``(n, k)`` flag vector (kind label)."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise ValueError(f"columns must be non-empty names, got {columns!r}")
    if len(cols) == 1:
        return Domain(f"column:{cols[0]}", kind, _column, {"column": cols[0]}, f"the column {cols[0]!r}",
                      reads_images=False)
    return Domain("attributes:" + ",".join(cols), "label", _attributes, {"columns": cols},
                  f"the columns {', '.join(cols)} as 0/1 flags", reads_images=False)


def resolve_domain(transform: str | None, column: str | Sequence[str] | None, columns: Mapping[str, str],
                   *, generated_captions: bool) -> Domain:
    """The domain a request names, for a data set whose columns (name -> ``"text"`` or
    ``"label"``) are ``columns``.

    ``column`` wins over ``transform``; ``captions`` on a data set without generated
    captions is its ``text`` column. Unknown columns list the data set's columns.
    """
    if column is not None:
        cols = [c.strip() for c in column.split(",")] if isinstance(column, str) else list(column)
        missing = [c for c in cols if c not in columns]
        if missing:
            raise ValueError(f"no column {missing[0]!r} in this data set; its columns are "
                             f"{', '.join(columns) or '(none: it has images only)'}")
        return column_domain(cols, columns[cols[0]])
    name = transform or "identity"
    if name in ("captions", "captions-heldout") and not generated_captions:
        if "text" in columns:
            return column_domain("text", "text")
        raise ValueError(f"this data set has no captions: no 'text' column (its columns: "
                         f"{', '.join(columns) or 'none'}); name the caption column with --column")
    return get_domain(name)


def derive(name: str, images: Tensor, *, start: int = 0, total: int | None = None) -> Tensor:
    """The image domain ``name`` of float images ``(B, C, H, W)``: what a translator's
    query would have been for these images (``masked``: the boxes of items ``start...``)."""
    d = get_domain(name)
    if d.kind != "image":
        raise ValueError(f"{name!r} is a {d.kind} domain; it cannot be derived from an image alone")
    return d(Items(images.float(), start=start, total=total))
