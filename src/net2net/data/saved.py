"""Data sets written by ``datasets``' ``save_to_disk``: memory-mapped, one row's image at a time.

The first ``Image`` column is the image; the other columns are read whole (they are
small). Images are read as encoded bytes (``Image(decode=False)``) and decoded by
:mod:`net2net.imageio`. An image stored as a path (not as bytes) must lie inside the
folder. The content fingerprint is the sha256 over every file of the folder; the
pre-scan also hashes each row's image bytes, and each image read later is compared
with it (see :mod:`net2net.data.split`).
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from net2net.data.split import Scan, Split, header_shape

__all__ = ["SavedDataSet"]


def _datasets() -> Any:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import datasets
    except ModuleNotFoundError:
        raise ValueError("reading saved data sets needs the `datasets` package: pip install 'net2net[data]'") from None
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


class SavedDataSet:
    """A data set written by ``save_to_disk`` (a ``Dataset`` is the split ``train``)."""

    generated_captions = False

    def __init__(self, root: str | os.PathLike, *, follow_links: bool = False, skip_bad_rows: bool = False) -> None:
        self.root = Path(root).absolute()
        self.name = self.root.name
        self.follow_links = follow_links

    @cached_property
    def _dict(self) -> Any:
        ds = _datasets()
        try:
            d = ds.load_from_disk(str(self.root))
        except Exception as e:  # noqa: BLE001 - say which folder, whatever the library raised
            raise ValueError(f"{self.root}: cannot read the saved data set ({type(e).__name__}: {e})") from None
        return d if isinstance(d, ds.DatasetDict) else ds.DatasetDict({"train": d})

    def splits(self) -> list[str]:
        return list(self._dict)

    def load(self, split: str) -> SavedSplit:
        dd = self._dict
        if split not in dd:
            raise ValueError(f"{self.root}: no split {split!r}; its splits are {', '.join(dd)}")
        ds, lib = dd[split], _datasets()
        image_cols = [k for k, f in ds.features.items() if isinstance(f, lib.Image)]
        if not image_cols:
            raise ValueError(f"{self.root}: no image column; its columns are {', '.join(ds.column_names)}")
        col = image_cols[0]
        if len(ds) == 0:
            raise ValueError(f"{self.root}: split {split!r} is empty (no images)")
        class_names, labels = None, None
        label_feature = ds.features.get("label")
        others = [k for k in ds.column_names if k != col]
        columns: dict[str, list[Any]] = {k: list(ds[k]) for k in others}
        if isinstance(label_feature, lib.ClassLabel):
            class_names = tuple(label_feature.names)
            labels = np.asarray(columns["label"], dtype=np.int64)
        from net2net.data.folder import folder_fingerprint

        # what makes the rows: the columns' values (no image is read)
        h = hashlib.sha256(b"net2net saved rows v1\0" + split.encode() + b"\0")
        h.update(repr(sorted((k, v) for k, v in columns.items())).encode())
        out = SavedSplit(len(ds), columns, labels, h.hexdigest(), class_names=class_names)
        out._ds, out._col, out._root, out._split = ds.cast_column(col, lib.Image(decode=False)), col, self.root, split
        out._fingerprint = lambda progress: folder_fingerprint(self.root, follow_links=self.follow_links,
                                                               progress=progress)
        return out


class SavedSplit(Split):
    """A split of a saved data set."""

    _ds: Any
    _col: str
    _root: Path
    _split: str

    def where(self, i: int) -> str:
        return f"split {self._split!r}, row {i}"

    def _raw(self, i: int) -> bytes:
        ref = self._ds[i][self._col] or {}
        data = ref.get("bytes")
        if data is None:
            path = ref.get("path")
            p = Path(path) if path else None
            if p is not None and not p.is_absolute():
                p = self._root / p
            if p is None or not p.is_file():
                raise ValueError(f"{self.where(i)}: the image is listed but missing on disk; add it or remove its row")
            if not p.resolve().is_relative_to(self._root.resolve()):
                raise ValueError(f"{self.where(i)}: its image {path} is outside the data set folder; save the data set "
                                 "with the image bytes embedded")
            from net2net.data.folder import _read_bytes

            data = _read_bytes(p, self.where(i))
        return data

    def _do_scan(self, progress: bool | None) -> Scan:
        fp = self._fingerprint(progress)
        digests, shapes = [], []
        for i in range(len(self)):
            data = self._raw(i)
            digests.append(hashlib.sha256(data).digest())
            shapes.append(header_shape(data, self.where(i)))
        if self._fingerprint(False) != fp:
            raise ValueError(f"{self._root}: changed while the data set was read; run the command again")
        a = np.asarray(shapes, dtype=np.int64).reshape(-1, 3)
        return Scan(fp, digests, a[:, :2], a[:, 2])
