"""Label and attribute experts: class names as one-hot, attribute sets as multi-hot.

These are the simplest query domains of the paper (class-conditional translation) and
need no weights; they still follow the expert protocol so the feature store and τ
treat them like any other expert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from net2net.data.fashion_mnist import CLASS_NAMES, class_index
from net2net.experts.base import TorchExpert

__all__ = ["GarmentExpert", "MultiHotExpert", "OneHotExpert", "label_columns"]


class OneHotExpert(TorchExpert):
    """Class labels (indices or names) to one-hot ``(B, num_classes)`` vectors.

    Args:
        class_names: the classes, in index order (default: Fashion-MNIST's ten).
        name: the expert's name.

    Example:
        >>> OneHotExpert().encode(["dress", 9]).argmax(1).tolist()
        [3, 9]
    """

    def __init__(self, class_names: Sequence[str] = CLASS_NAMES, *, name: str = "onehot", device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.input_kind = "label"  # what the feature store feeds it
        if len(class_names) < 2 or len(set(class_names)) != len(class_names):
            raise ValueError(f"class_names must be at least two distinct names, got {list(class_names)}")
        self.class_names = tuple(class_names)
        self.name = name
        self.dim = len(self.class_names)
        self._device = torch.device(device)

    @property
    def device(self) -> torch.device:
        return self._device

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "class_names": list(self.class_names)}

    def _index(self, item: Any) -> int:
        if isinstance(item, (np.integer, Tensor)):
            item = int(item)
        if self.class_names == CLASS_NAMES:
            return class_index(item)  # accepts Fashion-MNIST's aliases ("boot", "T-shirt", ...)
        if isinstance(item, int) and not isinstance(item, bool):
            if 0 <= item < self.dim:
                return item
            raise ValueError(f"class index {item} is out of range; use 0-{self.dim - 1}")
        if isinstance(item, str) and item in self.class_names:
            return self.class_names.index(item)
        raise ValueError(f"unknown class {item!r}; choose one of {', '.join(self.class_names)} or an index 0-{self.dim - 1}")

    def _encode(self, batch: Any) -> Tensor:
        if isinstance(batch, Tensor) and batch.dim() != 1:
            raise ValueError(f"labels must be a 1-d sequence, got shape {tuple(batch.shape)}")
        idx = torch.tensor([self._index(b) for b in batch], dtype=torch.long)
        return torch.nn.functional.one_hot(idx, self.dim).float().to(self.device)


class MultiHotExpert(TorchExpert):
    """Attribute sets to multi-hot ``(B, len(attributes))`` vectors.

    Each item of a batch is a collection of attribute names (``{"dark", "wide"}``), or
    a row of 0/1 flags; unknown names are a ``ValueError``.

    Example:
        >>> MultiHotExpert(["dark", "light", "wide"]).encode([{"dark", "wide"}, set()]).tolist()
        [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, attributes: Sequence[str], *, name: str = "multihot", device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.input_kind = "label"  # what the feature store feeds it
        if not attributes or len(set(attributes)) != len(attributes):
            raise ValueError(f"attributes must be a non-empty list of distinct names, got {list(attributes)}")
        self.attributes = tuple(attributes)
        self.name = name
        self.dim = len(self.attributes)
        self._device = torch.device(device)

    @property
    def device(self) -> torch.device:
        return self._device

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "attributes": list(self.attributes)}

    def _encode(self, batch: Any) -> Tensor:
        if isinstance(batch, Tensor):
            if batch.dim() != 2 or batch.shape[1] != self.dim:
                raise ValueError(f"flag rows must have shape (B, {self.dim}), got {tuple(batch.shape)}")
            return (batch != 0).float().to(self.device)
        out = torch.zeros(len(batch), self.dim)
        for i, item in enumerate(batch):
            if isinstance(item, str):
                raise ValueError("each item must be a collection of attribute names, not a single string; wrap it: {'dark'}")  # noqa: TRY004 - the project reports bad input as ValueError
            for a in item:
                if a not in self.attributes:
                    raise ValueError(f"unknown attribute {a!r}; choose from {', '.join(self.attributes)}")
                out[i, self.attributes.index(a)] = 1.0
        return out.to(self.device)


class GarmentExpert(MultiHotExpert):
    """A Fashion-MNIST garment as multi-hot flags: its class and its descriptor levels
    (:data:`net2net.data.captions.LEVELS`): ``class=dress``, ``brightness=dark``, ``width=mid``.

    An item names every column (``["class=dress", "brightness=dark", "width=mid"]``), only
    some of them, or is a bare class (an index or a name, as :class:`OneHotExpert` reads
    it); a column it leaves out takes the level of a typical garment of its class
    (:meth:`complete`), so a class alone still means that class.

    Example:
        >>> GarmentExpert().encode(["dress"]).nonzero()[:, 1].tolist()  # class=dress, brightness=mid, width=mid
        [3, 12, 17]
    """

    def __init__(self, *, name: str = "fmnist-garment", device: str | torch.device = "cpu") -> None:
        from net2net.data.captions import LEVELS

        super().__init__([f"class={c}" for c in CLASS_NAMES] + [f"{k}={v}" for k in LEVELS for v in LEVELS[k]],
                         name=name, device=device)

    def complete(self, values: dict[str, str]) -> dict[str, str]:
        """``values`` (column -> value, the class among them) with every column it leaves out set
        to a typical garment's level of that class."""
        from net2net.data.captions import typical_levels

        if "class" not in values:
            raise ValueError("name the class (class=dress); brightness and width alone do not make a garment")
        label = class_index(values["class"])  # Fashion-MNIST's spellings too ("Ankle-Boot", "9")
        return {**typical_levels(label), **values, "class": CLASS_NAMES[label]}

    def read(self, images: Tensor, classes: Sequence[int]) -> dict[str, list[str]]:
        """column -> each image's level, measured from its pixels (grey 28×28 in ``[0, 1]``)
        within its class (``classes``, indices): the columns beside the class that an image
        answers itself (:func:`net2net.data.captions.levels`)."""
        from net2net.data.captions import levels

        read = levels(images, list(classes))
        return {c: [r[c] for r in read] for c in read[0]} if read else {}

    def _item(self, item: Any) -> list[str]:
        if isinstance(item, (np.integer, Tensor)):
            item = int(item)
        if isinstance(item, (int, str)) and not isinstance(item, bool):
            if isinstance(item, str) and "=" in item:
                raise ValueError("each item must be a list of NAME=VALUE names or a bare class, not one string: "
                                 f"wrap it: [{item!r}]")
            item = [f"class={CLASS_NAMES[class_index(item)]}"]
        named = dict(str(a).split("=", 1) for a in item if "=" in str(a))
        if len(named) != len(list(item)):
            raise ValueError(f"each name must be NAME=VALUE, got {list(item)}")
        return [f"{k}={v}" for k, v in self.complete(named).items()]

    def _encode(self, batch: Any) -> Tensor:
        if isinstance(batch, Tensor) and batch.dim() == 2:
            return super()._encode(batch)
        return super()._encode([self._item(item) for item in batch])


def label_columns(expert: Any, column: str | None = None) -> dict[str, tuple[str, ...]]:
    """The named data-set columns a label expert reads, each with its values, in order.

    A multi-hot expert over ``column=value`` names (``shape=star``, ``colour=red``) is
    grouped by column; a one-hot expert is one column (``column``, default ``class``) whose
    values are its class names. Any other expert (text, image, flags without names) reads
    no named columns: ``{}``. This is what a translator folder records as its
    ``attributes`` and what editing by ``--set NAME=VALUE`` works on.

    Example:
        >>> label_columns(MultiHotExpert(["fg=red", "fg=blue", "bg=black"]))
        {'fg': ('red', 'blue'), 'bg': ('black',)}
    """
    if getattr(expert, "input_kind", "") != "label":
        return {}
    names = getattr(expert, "attributes", None)
    if names is not None:
        if not all(isinstance(a, str) and "=" in a for a in names):
            return {}
        grouped: dict[str, list[str]] = {}
        for a in names:
            col, _, value = a.partition("=")
            grouped.setdefault(col, []).append(value)
        return {c: tuple(v) for c, v in grouped.items()}
    classes = getattr(expert, "class_names", None)
    return {column or "class": tuple(classes)} if classes is not None else {}
