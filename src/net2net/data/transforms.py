"""Query domains as named transforms of Fashion-MNIST items (an explicit registry).

A transform turns a contiguous chunk of a data set (uint8 images ``(n, 28, 28)``, labels,
and the items' indices in the whole split) into the input an expert reads: images
``(n, 1, 28, 28)`` in ``[0, 1]``, captions (a list of str) or class labels. Its ``params``
are part of the feature store's key, so changing one makes a new entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from net2net.data.captions import caption
from net2net.data.derived import (
    apply_mask,
    box_masks,
    downsample,
    silhouette,
    sobel_edges,
    upsample,
)
from net2net.data.fashion_mnist import to_float

__all__ = ["TRANSFORMS", "Transform", "get_transform"]

#: (images uint8 (n, H, W), labels (n,), indices (n,), split size) -> expert input
TransformFn = Callable[[np.ndarray, np.ndarray, np.ndarray, int], Any]


@dataclass(frozen=True, eq=False)
class Transform:
    """A named query domain.

    Attributes:
        name: registry key.
        kind: what it makes: ``"image"``, ``"text"`` or ``"label"`` (an expert must read it).
        fn: the function (see :data:`TransformFn`).
        params: every setting that changes the output (goes into the store key).
        description: one line for ``--help`` and docs.
    """

    name: str
    kind: str
    fn: TransformFn
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __call__(self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, total: int) -> Any:
        return self.fn(images, labels, indices, total)


def _identity(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: int) -> Tensor:
    return to_float(x)


def _edges(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: int) -> Tensor:
    return sobel_edges(to_float(x))


def _masked(seed: int) -> TransformFn:
    def fn(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: int) -> Tensor:
        # Boxes are drawn for the whole split from one seed, so item i always gets the
        # same box, whatever the chunking.
        start = int(idx[0])
        if not np.array_equal(idx, np.arange(start, start + len(idx))):
            raise ValueError("the masked transform needs a contiguous range of item indices")
        return apply_mask(to_float(x), box_masks(n, x.shape[-1], seed=seed, start=start, stop=start + len(idx)))
    return fn


def _lowres(size: int) -> TransformFn:
    def fn(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: int) -> Tensor:
        # Shown (and encoded) at full size, blocky: image experts expect 28 x 28.
        return upsample(downsample(to_float(x), size), x.shape[-1])
    return fn


def _silhouette(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: int) -> Tensor:
    return silhouette(to_float(x))


def _captions(split: str, seed: int) -> TransformFn:
    def fn(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: int) -> list[str]:
        return caption(x, y, split=split, seed=seed, indices=idx)
    return fn


def _labels(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: int) -> list[int]:
    return [int(v) for v in y]


#: name -> Transform. Explicit: add a query domain by adding an entry here.
TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("identity", "image", _identity, {}, "the images themselves"),
        Transform("edges", "image", _edges, {"op": "sobel", "threshold": None}, "Sobel edge maps (sketches)"),
        Transform("masked", "image", _masked(0), {"seed": 0, "min_frac": 0.3, "max_frac": 0.6, "fill": 0.5},
                  "one grey box hidden per image (inpainting queries)"),
        Transform("lowres-7", "image", _lowres(7), {"size": 7}, "7 x 7 area average, shown at 28 x 28"),
        Transform("lowres-14", "image", _lowres(14), {"size": 14}, "14 x 14 area average, shown at 28 x 28"),
        Transform("silhouette", "image", _silhouette, {"threshold": 0.05}, "garment/background masks"),
        Transform("captions", "text", _captions("train", 0), {"templates": "train", "seed": 0},
                  "captions with the training phrasings"),
        Transform("captions-heldout", "text", _captions("heldout", 0), {"templates": "heldout", "seed": 0},
                  "captions with held-out phrasings (evaluation only)"),
        Transform("labels", "label", _labels, {}, "the class indices"),
    )
}


def get_transform(name: str) -> Transform:
    """The transform registered as ``name``; an unknown name lists the valid ones."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; choose one of {', '.join(TRANSFORMS)}")
    return TRANSFORMS[name]
