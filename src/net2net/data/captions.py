"""Captions for Fashion-MNIST: the class in varied words plus descriptors measured from pixels.

A caption says what the garment is ("dress", "frock", ...) and, where the image is
unusual *for its class*, how it looks: dark or light (mean intensity of the garment),
narrow or wide (bounding-box width over height), small or large (fraction of the image
covered). "Unusual" means outside the middle third of the class on Fashion-MNIST's
training split, so "a wide trouser" and "a wide sneaker" each mean wide for their kind,
and about a third of the images of each class get each word.

Phrasing templates come in two disjoint sets: ``"train"`` (used to build training
pairs) and ``"heldout"`` (used only for evaluation, so a translator is tested on wording
it never saw). Every choice is a pure function of ``(seed, item index)``: the same item
gets the same caption whatever the batching.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from net2net.data.fashion_mnist import CLASS_NAMES

__all__ = [
    "DESCRIPTORS",
    "LEVELS",
    "NOUNS",
    "TEMPLATES",
    "caption",
    "describe",
    "levels",
    "measure",
    "render",
    "typical_levels",
]

#: Words for each descriptor bucket (low, high); the middle third gets no word.
DESCRIPTORS: dict[str, tuple[str, str]] = {
    "size": ("small", "large"),
    "brightness": ("dark", "light"),
    "width": ("narrow", "wide"),
}

# Tertiles (1/3, 2/3) per class of each measurement on the 60,000 training images,
# measured once with `measure` (fixed here so captions never depend on which data are
# at hand). Rows follow CLASS_NAMES.
_TERTILES: dict[str, np.ndarray] = {
    "brightness": np.array([[0.512, 0.717], [0.620, 0.741], [0.519, 0.735], [0.588, 0.751], [0.648, 0.764],
                            [0.446, 0.547], [0.453, 0.681], [0.503, 0.602], [0.615, 0.720], [0.645, 0.728]]),
    "width": np.array([[0.778, 0.821], [0.393, 0.429], [0.714, 0.786], [0.464, 0.571], [0.714, 0.750],
                       [1.474, 2.333], [0.741, 0.786], [2.000, 2.333], [0.929, 1.333], [1.217, 1.474]]),
    "size": np.array([[0.529, 0.575], [0.311, 0.339], [0.592, 0.654], [0.362, 0.436], [0.552, 0.611],
                      [0.222, 0.300], [0.570, 0.635], [0.281, 0.320], [0.497, 0.592], [0.408, 0.476]]),
}

#: Five levels of each descriptor that ``fmnist-attr`` reads beside the class (lowest first).
#: Brightness levels are over all garments (a "very-dark" coat is as dark as a "very-dark"
#: sandal), so a class edit that keeps the level keeps the garment's brightness; width
#: levels are within the class (a "wide" trouser is wide for a trouser).
LEVELS: dict[str, tuple[str, ...]] = {
    "brightness": ("very-dark", "dark", "mid", "light", "very-light"),
    "width": ("very-narrow", "narrow", "mid", "wide", "very-wide"),
}

# Brightness level edges: the quintiles of `measure`'s brightness over the 60,000 training
# images; width levels: the class's z-score of `measure`'s width (class mean and standard
# deviation on the training images) cut at the standard normal's quintiles. Fixed here, like
# _TERTILES, so a query never depends on which data are at hand (a test recomputes them).
_BRIGHTNESS_EDGES = np.array([0.4587, 0.5847, 0.6821, 0.762])
_WIDTH_STATS = np.array([[0.7849, 0.1282], [0.419, 0.0753], [0.7636, 0.084], [0.5269, 0.1224], [0.7232, 0.094],
                         [2.0214, 0.8662], [0.7777, 0.1259], [2.1333, 0.3692], [1.1745, 0.4087], [1.3576, 0.2662]])
_Z_EDGES = np.array([-0.8416, -0.2533, 0.2533, 0.8416])
# The brightness level of each class's median garment on the training images (rows follow CLASS_NAMES).
_TYPICAL_BRIGHTNESS = (2, 3, 2, 2, 3, 1, 1, 1, 2, 3)

#: Ways to name each class (shared by both template sets: the split is in the phrasing).
NOUNS: dict[str, tuple[str, ...]] = {
    "t-shirt": ("t-shirt", "tee", "top", "short-sleeved top"),
    "trouser": ("pair of trousers", "pair of pants", "pair of slacks"),
    "pullover": ("pullover", "sweater", "jumper"),
    "dress": ("dress", "frock", "gown"),
    "coat": ("coat", "jacket", "overcoat"),
    "sandal": ("sandal", "open shoe", "summer sandal"),
    "shirt": ("shirt", "button-up shirt", "blouse"),
    "sneaker": ("sneaker", "trainer", "running shoe"),
    "bag": ("bag", "handbag", "purse"),
    "ankle-boot": ("ankle boot", "boot", "short boot"),
}

#: Phrasing templates; ``{thing}`` becomes e.g. "a dark wide dress" (article included).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "train": (
        "{thing}",
        "a photo of {thing}",
        "a picture of {thing}",
        "an image showing {thing}",
        "{thing} on a black background",
        "a product shot of {thing}",
        "here we see {thing}",
        "a grayscale photo of {thing}",
    ),
    "heldout": (
        "this is {thing}",
        "a small greyscale snapshot of {thing}",
        "there is {thing} in the picture",
        "look at {thing}",
        "catalogue image: {thing}",
    ),
}

_PERM = 0x9E3779B97F4A7C15


def _mix(seed: int, index: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of (seed, index, salt): a per-item random integer without a sequential RNG."""
    with np.errstate(over="ignore"):
        z = (index.astype(np.uint64) * np.uint64(_PERM)) ^ np.uint64((seed * 1_000_003 + salt * 7919) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _as_float(images: np.ndarray | torch.Tensor) -> np.ndarray:
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if a.ndim == 4:
        if a.shape[1] != 1:
            raise ValueError(f"images must have one channel, got shape {a.shape}")
        a = a[:, 0]
    if a.ndim != 3:
        raise ValueError(f"images must be (N, H, W) or (N, 1, H, W), got shape {a.shape}")
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def measure(images: np.ndarray | torch.Tensor, threshold: float = 0.05) -> dict[str, np.ndarray]:
    """Raw measurements per image: ``brightness`` (mean of garment pixels), ``width``
    (bounding-box width / height) and ``size`` (fraction of pixels on the garment).

    Images are uint8 ``(N, H, W)`` or float ``(N, 1, H, W)`` in ``[0, 1]``.
    """
    x = _as_float(images)
    m = x > threshold
    count = m.sum((1, 2))
    brightness = (x * m).sum((1, 2)) / np.maximum(count, 1)

    def span(any_: np.ndarray) -> np.ndarray:
        n = any_.shape[1]
        first = any_.argmax(1)
        last = n - 1 - any_[:, ::-1].argmax(1)
        return np.where(any_.any(1), last - first + 1, 0)

    width = span(m.any(1)) / np.maximum(span(m.any(2)), 1)
    return {"brightness": brightness, "width": width.astype(np.float64), "size": m.mean((1, 2))}


def describe(images: np.ndarray | torch.Tensor, labels: Sequence[int] | np.ndarray | torch.Tensor) -> list[dict[str, str]]:
    """Per image, the descriptor words that apply, e.g. ``{"brightness": "dark"}``.

    A word applies when the measurement is in the lowest or highest third of the class.
    """
    y = _labels(labels)
    meas = measure(images)
    if len(y) != len(meas["size"]):
        raise ValueError(f"{len(meas['size'])} images but {len(y)} labels; pass one label per image")
    out: list[dict[str, str]] = [{} for _ in y]
    for key, (low, high) in DESCRIPTORS.items():
        lo, hi = _TERTILES[key][y, 0], _TERTILES[key][y, 1]
        v = meas[key]
        for i in np.nonzero(v < lo)[0]:
            out[i][key] = low
        for i in np.nonzero(v > hi)[0]:
            out[i][key] = high
    return out


def _labels(labels: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be a 1-d sequence of class indices, got {y.dtype} of shape {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= len(CLASS_NAMES)):
        raise ValueError(f"labels must be in 0-{len(CLASS_NAMES) - 1}")
    return y.astype(np.int64)


def levels(images: np.ndarray | torch.Tensor, labels: Sequence[int] | np.ndarray | torch.Tensor) -> list[dict[str, str]]:
    """Per image, its level of each descriptor of :data:`LEVELS`, e.g.
    ``{"brightness": "dark", "width": "mid"}``: brightness among all garments, width within
    the image's class (``labels``, class indices).

    Example:
        >>> import numpy as np
        >>> levels(np.full((1, 28, 28), 255, np.uint8), [3])
        [{'brightness': 'very-light', 'width': 'very-wide'}]
    """
    y = _labels(labels)
    meas = measure(images)
    if len(y) != len(meas["size"]):
        raise ValueError(f"{len(meas['size'])} images but {len(y)} labels; pass one label per image")
    bright = np.digitize(meas["brightness"], _BRIGHTNESS_EDGES)
    width = np.digitize((meas["width"] - _WIDTH_STATS[y, 0]) / _WIDTH_STATS[y, 1], _Z_EDGES)
    return [{"brightness": LEVELS["brightness"][b], "width": LEVELS["width"][w]} for b, w in zip(bright, width, strict=True)]


def typical_levels(label: int) -> dict[str, str]:
    """The levels of a typical garment of class ``label`` (its class's median brightness, the
    class's middle width): what a query that names only the class stands for."""
    return {"brightness": LEVELS["brightness"][_TYPICAL_BRIGHTNESS[int(label)]], "width": LEVELS["width"][2]}


def render(label: int, words: dict[str, str], template: str, noun: str) -> str:
    """One caption from its parts (the descriptor words in a fixed order: size, brightness, width)."""
    adjectives = [words[k] for k in DESCRIPTORS if k in words]
    phrase = " ".join([*adjectives, noun])
    article = "an" if phrase[0] in "aeiou" else "a"
    thing = f"{article} {phrase}"
    return template.format(thing=thing)


def caption(
    images: np.ndarray | torch.Tensor,
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    split: str = "train",
    seed: int = 0,
    indices: Sequence[int] | np.ndarray | None = None,
) -> list[str]:
    """Captions for a batch of Fashion-MNIST images.

    Args:
        images: uint8 ``(N, 28, 28)`` or float ``(N, 1, 28, 28)`` in ``[0, 1]``.
        labels: class indices ``(N,)``.
        split: ``"train"`` or ``"heldout"``: which phrasing templates to use.
        seed: changes the choice of template and noun, not the descriptors.
        indices: each item's index in its data set (default ``0..N-1``); the choice of
            words depends on ``(seed, index)`` only, so batches of one data set agree
            with captioning it whole.

    Example:
        >>> import numpy as np
        >>> caption(np.full((1, 28, 28), 255, np.uint8), [3])[0]
        'a picture of a large light wide dress'
    """
    if split not in TEMPLATES:
        raise ValueError(f"split must be one of {sorted(TEMPLATES)}, got {split!r}")
    y = _labels(labels)
    words = describe(images, y)
    idx = np.arange(len(y)) if indices is None else np.asarray(indices, dtype=np.int64)
    if len(idx) != len(y):
        raise ValueError(f"{len(idx)} indices for {len(y)} images; pass one index per image")
    templates = TEMPLATES[split]
    t_pick = _mix(seed, idx, 1) % np.uint64(len(templates))
    n_pick = _mix(seed, idx, 2)
    out = []
    for i, c in enumerate(y):
        nouns = NOUNS[CLASS_NAMES[c]]
        out.append(render(int(c), words[i], templates[int(t_pick[i])], nouns[int(n_pick[i] % np.uint64(len(nouns)))]))
    return out
