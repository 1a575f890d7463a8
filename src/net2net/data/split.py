"""One split of a data set: its columns at once, its images one row at a time.

A :class:`Split` holds what the metadata says (columns, labels, each row's file) and
reads an image only when asked for that row, so caption and label columns never decode
(nor open) an image, and a split of any size streams. Its two fingerprints:

- :attr:`Split.rows_fingerprint`: what makes the rows and their columns (the metadata
  bytes, or the class folders' file list). Cheap; keys entries that read no image.
- :meth:`Split.scan`: a pre-scan that hashes the data set's bytes (the content
  fingerprint that keys image entries) and reads each image's header (size, channels).
  Every image read afterwards is hashed again from the very bytes that are decoded and
  compared with the pre-scan: a file changed in between is refused, never encoded under
  the old content's key.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["ArraySplit", "Scan", "Split", "header_shape"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scan:
    """What the pre-scan saw.

    Attributes:
        fingerprint: sha256 of the data set's content (the store key's).
        digests: per row, the sha256 of its image bytes (None: nothing to compare, in memory).
        sizes: int ``(N, 2)``: each row's ``(width, height)``.
        channels: int ``(N,)``: 1 (grey) or 3 (colour) after decoding.
    """

    fingerprint: str
    digests: list[bytes] | None
    sizes: np.ndarray
    channels: np.ndarray

    def size_set(self, n: int) -> list[tuple[int, int]]:
        """The distinct ``(width, height)`` of the first ``n`` rows, in order of appearance."""
        seen: dict[tuple[int, int], None] = {}
        for w, h in self.sizes[:n].tolist():
            seen.setdefault((w, h), None)
        return list(seen)


def header_shape(data: bytes, where: str) -> tuple[int, int, int]:
    """``(width, height, channels)`` from an image's header, without decoding its pixels."""
    import io

    from PIL import Image, UnidentifiedImageError

    from net2net.imageio import FORMATS

    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ValueError(f"{where}: not an image file PIL can read (PNG, JPEG, ...)") from None
    except (OSError, SyntaxError, EOFError) as e:
        raise ValueError(f"{where}: the image is truncated or corrupt ({e})") from None
    grey = img.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
    return img.size[0], img.size[1], 1 if grey else 3


class Split:
    """A split: columns in memory, images read per row (see the module docstring).

    Attributes:
        columns: name -> N values (captions, attributes, ...), in row order.
        labels: int64 ``(N,)`` class indices, or None.
        class_names: the classes ``labels`` index, when known.
        files: each row's name for messages (``row 4 (train/004.png)``), when the data are files.
        rows_fingerprint: sha256 of what makes the rows (see the module docstring).
    """

    def __init__(self, n: int, columns: dict[str, list[Any]], labels: np.ndarray | None, rows_fingerprint: str, *,
                 class_names: tuple[str, ...] | None = None, files: list[str] | None = None) -> None:
        self._n = n
        self.columns = columns
        self.labels = labels
        self.rows_fingerprint = rows_fingerprint
        self.class_names = class_names
        self.files = files
        self._scan: Scan | None = None

    def __len__(self) -> int:
        return self._n

    def column_kinds(self) -> dict[str, str]:
        """name -> ``"text"`` (strings) or ``"label"`` (numbers); ``label`` too when classes exist."""
        kinds = {name: "text" if any(isinstance(v, str) for v in values) else "label"
                 for name, values in self.columns.items()}
        if self.labels is not None:
            kinds.setdefault("label", "label")
        return kinds

    # -- images ---------------------------------------------------------------------------
    def scan(self, progress: bool | None = None) -> Scan:
        """The pre-scan (done once): content fingerprint, per-row digests and header shapes."""
        if self._scan is None:
            self._scan = self._do_scan(progress)
        return self._scan

    @property
    def fingerprint(self) -> str:
        """The content fingerprint (runs the pre-scan if not done yet)."""
        return self.scan().fingerprint

    def where(self, i: int) -> str:
        return f"row {i}" + (f" ({self.files[i]})" if self.files else "")

    def image(self, i: int) -> np.ndarray:
        """Row ``i``'s image, uint8 ``(H, W, C)``, decoded from bytes checked against the pre-scan."""
        from net2net.imageio import decode_image, pil_to_array

        scan = self.scan()
        data = self._raw(i)
        if data is None:
            return self._array(i)
        where = self.where(i)
        if scan.digests is not None and hashlib.sha256(data).digest() != scan.digests[i]:
            raise ValueError(f"{where}: the file changed while the data set was read (its bytes differ from "
                             "when it was fingerprinted); nothing was stored - run the command again")
        return pil_to_array(decode_image(data, where))

    @cached_property
    def images(self) -> np.ndarray:
        """Every image at once, uint8 ``(N, H, W, C)``: for small data in memory (one size only)."""
        arrays = [self.image(i) for i in range(len(self))]
        sizes = {a.shape[:2] for a in arrays}
        if len(sizes) > 1:
            first = arrays[0].shape[:2]
            j = next(k for k, a in enumerate(arrays) if a.shape[:2] != first)
            raise ValueError(f"images differ in size ({self.where(0)} is {first[1]}x{first[0]}, {self.where(j)} is "
                             f"{arrays[j].shape[1]}x{arrays[j].shape[0]}); read them through the feature store "
                             "(net2net extract), which fits each one to the expert's size")
        if {a.shape[2] for a in arrays} == {1, 3}:
            arrays = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays]
        return np.stack(arrays)

    # -- what a kind of split provides ------------------------------------------------------
    def _do_scan(self, progress: bool | None) -> Scan:
        raise NotImplementedError

    def _raw(self, i: int) -> bytes | None:
        """Row ``i``'s encoded image bytes, or None when the split holds decoded arrays."""
        raise NotImplementedError

    def _array(self, i: int) -> np.ndarray:
        raise NotImplementedError


class ArraySplit(Split):
    """A split already in memory (Fashion-MNIST): uint8 ``(N, H, W, C)`` images; both fingerprints given."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, columns: dict[str, list[Any]], fingerprint: str,
                 *, class_names: tuple[str, ...] | None = None) -> None:
        super().__init__(len(images), columns, labels, fingerprint, class_names=class_names)
        self._images = images
        h, w, c = images.shape[1:]
        self._scan = Scan(fingerprint, None, np.tile([w, h], (len(images), 1)), np.full(len(images), c))

    @property
    def images(self) -> np.ndarray:  # type: ignore[override]
        return self._images

    def _raw(self, i: int) -> None:
        return None

    def _array(self, i: int) -> np.ndarray:
        return self._images[i]
