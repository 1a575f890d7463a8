"""Data sets by name or by path: Fashion-MNIST, your image folders, saved Hugging Face data sets.

:func:`get_dataset` takes a registered name (:data:`DATASETS`, e.g. ``fashion-mnist``)
or a path:

- an image folder with ``metadata.jsonl`` or ``metadata.csv`` (a ``file_name`` column
  plus any others: ``text`` captions, a class, 0/1 attributes), optionally split into
  ``train/``, ``test/``, ... sub-folders: the layout of Hugging Face's ``imagefolder``;
- an image folder with one sub-folder per class (``cat/``, ``dog/``): column ``label``;
- a data set saved with ``datasets.Dataset.save_to_disk`` (one split, called ``train``)
  or ``DatasetDict.save_to_disk``; its first ``Image`` column is the image.

Folders and saved data sets are read with the ``datasets`` library, offline and with
a throw-away cache, and every image is decoded by :mod:`net2net.imageio` (accepted
formats only, size limits). A split is loaded whole into a :class:`Split`: uint8
images ``(N, H, W, C)``, labels, columns, and a content fingerprint: the sha256 of
every file under the data set's folder (metadata included), so editing, adding or
removing one file changes it.

Bad input is one ``ValueError`` line that says what to fix: no metadata and no class
folders, a listed image missing on disk, an unreadable image (its row and file), images
of different sizes, an empty data set. Grey images among colour ones are converted to
RGB (and a warning says how many).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = ["DATASETS", "DataSet", "FashionMNIST", "FolderDataSet", "Split", "get_dataset", "register_dataset",
           "folder_fingerprint"]

log = logging.getLogger(__name__)
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a data set, in memory.

    Attributes:
        images: uint8 ``(N, H, W, C)``, ``C`` 1 (grey) or 3 (RGB).
        labels: int64 ``(N,)`` class indices, or None.
        columns: name -> N values (captions, attributes, ...), in row order.
        fingerprint: sha256 of the data it was read from.
        class_names: the classes ``labels`` index, when known.
        files: each row's file (for messages), when the data are files.
    """

    images: np.ndarray
    labels: np.ndarray | None
    columns: dict[str, list[Any]]
    fingerprint: str
    class_names: tuple[str, ...] | None = None
    files: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def column_kinds(self) -> dict[str, str]:
        """name -> ``"text"`` (strings) or ``"label"`` (numbers); ``label`` too when classes exist."""
        kinds = {name: "text" if any(isinstance(v, str) for v in values) else "label"
                 for name, values in self.columns.items()}
        if self.labels is not None:
            kinds.setdefault("label", "label")
        return kinds


class DataSet(Protocol):
    """What a data set offers: a name, its splits, and a split in memory."""

    name: str

    def splits(self) -> list[str]: ...

    def load(self, split: str) -> Split: ...


# -- Fashion-MNIST ----------------------------------------------------------------------

class FashionMNIST:
    """Fashion-MNIST from local files (see :mod:`net2net.data.fashion_mnist`); column ``label``."""

    name = "fashion-mnist"
    generated_captions = True  # the ``captions`` domain writes captions from the class and the pixels
    _seen: dict[str, str] = {}

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = folder

    def splits(self) -> list[str]:
        return ["train", "test"]

    def load(self, split: str) -> Split:
        from net2net.data import fashion_mnist as fm

        if split not in self.splits():
            raise ValueError(f"split must be 'train' or 'test' for fashion-mnist, got {split!r}")
        root = Path(self.folder) if self.folder is not None else fm.find_fashion_mnist()
        try:
            digest = fm.dataset_fingerprint(split, root)
        except FileNotFoundError as e:
            raise ValueError(f"Fashion-MNIST file missing: {e.filename}; {fm._HINT}") from None
        # The loader caches arrays per folder; if the files changed underneath (reinstalled,
        # truncated), drop the cache so the new bytes are read and checked.
        if self._seen.get(f"{root}:{split}", digest) != digest:
            fm._load.cache_clear()
        self._seen[f"{root}:{split}"] = digest
        x, y = fm.load_fashion_mnist(split, root)
        return Split(x[..., None], y, {}, digest, class_names=fm.CLASS_NAMES)


#: name -> factory ``(data_dir or None) -> DataSet``. Add yours with :func:`register_dataset`;
#: the generated ``shapes`` registers itself that way (:mod:`net2net.data.shapes`, imported by
#: :mod:`net2net.data`), so this module knows no data set but Fashion-MNIST.
DATASETS: dict[str, Callable[[str | None], DataSet]] = {"fashion-mnist": FashionMNIST}


def register_dataset(name: str, factory: Callable[[str | None], DataSet], *, overwrite: bool = False) -> None:
    """Makes ``get_dataset(name)`` (and ``net2net extract --dataset name``) call ``factory(data_dir)``."""
    if not isinstance(name, str) or not name or "/" in name or os.sep in name:
        raise ValueError(f"a data set name is a non-empty string without '/', got {name!r}")
    if name in DATASETS and not overwrite:
        raise ValueError(f"a data set named {name!r} is already registered; pass overwrite=True to replace it")
    DATASETS[name] = factory


def get_dataset(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> DataSet:
    """A registered data set by name, or one found at a path (see the module docstring)."""
    key = str(name_or_path)
    if key in DATASETS:
        return DATASETS[key](None if data_dir is None else str(data_dir))
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return SavedDataSet(path)
        return FolderDataSet(path)
    raise ValueError(f"unknown data set {key!r}: not a registered name ({', '.join(DATASETS)}) nor a folder "
                     "(an image folder with metadata.jsonl/metadata.csv or class sub-folders, or a saved `datasets` folder)")


def folder_fingerprint(root: Path) -> str:
    """sha256 over every file under ``root`` (relative path and bytes, in sorted order; hidden files skipped)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        h.update(str(rel.as_posix()).encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


# -- via the `datasets` library ----------------------------------------------------------

def _datasets():
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import datasets
    except ModuleNotFoundError:
        raise ValueError("reading image folders and saved data sets needs the `datasets` package: "
                         "pip install 'net2net[data]'") from None
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


class _HFDataSet:
    """Shared reading of a ``datasets.DatasetDict``: decode every image ourselves, row by row."""

    generated_captions = False

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()
        self.name = self.root.name

    @cached_property
    def _dict(self) -> Any:
        raise NotImplementedError

    def splits(self) -> list[str]:
        return list(self._dict)

    @cached_property
    def fingerprint(self) -> str:
        return folder_fingerprint(self.root)

    def load(self, split: str) -> Split:
        from net2net.imageio import decode_image, pil_to_array

        dd = self._dict
        if split not in dd:
            raise ValueError(f"{self.root}: no split {split!r}; its splits are {', '.join(dd)}")
        ds = dd[split]
        ds_ = _datasets()
        image_cols = [k for k, f in ds.features.items() if isinstance(f, ds_.Image)]
        if not image_cols:
            raise ValueError(f"{self.root}: no image column; its columns are {', '.join(ds.column_names)}")
        col = image_cols[0]
        if len(ds) == 0:
            raise ValueError(f"{self.root}: split {split!r} is empty (no images)")
        ds = ds.cast_column(col, ds_.Image(decode=False))
        class_names = None
        label_feature = ds.features.get("label")
        if isinstance(label_feature, ds_.ClassLabel):
            class_names = tuple(label_feature.names)
        columns: dict[str, list[Any]] = {k: list(ds[k]) for k in ds.column_names if k != col}
        arrays, files = [], []
        for i, ref in enumerate(ds[col]):
            where = self._where(i, ref)
            data = ref.get("bytes")
            if data is None:
                path = ref.get("path")
                if not path or not Path(path).is_file():
                    raise ValueError(f"{where}: the image is listed but missing on disk; add it or remove its row")
                data = Path(path).read_bytes()
            try:
                arrays.append(pil_to_array(decode_image(data, where)))
            except ValueError as e:
                raise ValueError(f"{self.root}: split {split!r}, {e}") from None
            files.append(where)
        images = _stack(arrays, files, self.root)
        labels = None
        if class_names is not None:
            labels = np.asarray(columns["label"], dtype=np.int64)
        return Split(images, labels, columns, self.fingerprint, class_names=class_names, files=files)

    def _where(self, i: int, ref: dict[str, Any]) -> str:
        path = ref.get("path")
        rel = os.path.relpath(path, self.root) if path and os.path.isabs(path) else path
        return f"row {i}" + (f" ({rel})" if rel else "")


def _stack(arrays: list[np.ndarray], files: list[str], root: Path) -> np.ndarray:
    sizes = {a.shape[:2] for a in arrays}
    if len(sizes) > 1:
        first = arrays[0].shape[:2]
        j = next(k for k, a in enumerate(arrays) if a.shape[:2] != first)
        raise ValueError(f"{root}: images differ in size ({files[0]} is {first[1]}x{first[0]}, {files[j]} is "
                         f"{arrays[j].shape[1]}x{arrays[j].shape[0]}); make them one size first "
                         "(an expert's own size is then reached by centre-crop and resize)")
    if {a.shape[2] for a in arrays} == {1, 3}:
        grey = sum(a.shape[2] == 1 for a in arrays)
        log.warning("%s: %d of %d images are grey among colour ones; converted them to RGB", root, grey, len(arrays))
        arrays = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays]
    return np.stack(arrays)


class FolderDataSet(_HFDataSet):
    """An image folder (metadata file or class sub-folders), read with ``imagefolder``."""

    @cached_property
    def _dict(self) -> Any:
        self._check_layout()
        ds = _datasets()
        with tempfile.TemporaryDirectory(prefix="net2net-imagefolder-") as cache:
            try:
                dd = ds.load_dataset("imagefolder", data_dir=str(self.root), cache_dir=cache, keep_in_memory=True)
            except Exception as e:  # noqa: BLE001 - the library's errors vary by version; say which folder
                if type(e).__name__ in ("EmptyDatasetError", "DataFilesNotFoundError"):
                    raise ValueError(f"{self.root}: no images found; the data set is empty") from None
                raise ValueError(f"{self.root}: cannot read the image folder ({type(e).__name__}: {e})") from None
        return dd

    def _check_layout(self) -> None:
        metas = [p for p in self.root.rglob("metadata.*") if p.name in ("metadata.jsonl", "metadata.csv")]
        subdirs = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        images = [p for p in self.root.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES]
        if not images:
            raise ValueError(f"{self.root}: no images found; the data set is empty")
        if not metas and not subdirs:
            raise ValueError(f"{self.root}: no metadata.jsonl or metadata.csv (file_name plus your columns), and no "
                             "class sub-folders; add one of them (see docs/data.md)")
        for meta in metas:
            self._check_metadata(meta)

    def _check_metadata(self, meta: Path) -> None:
        """Every listed file exists: a missing one is named with its row, before anything is read."""
        import csv
        import json

        rows: list[dict[str, Any]] = []
        try:
            if meta.suffix == ".csv":
                with open(meta, newline="", encoding="utf-8") as f:
                    rows = list(csv.DictReader(f))
            else:
                for n, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                        except json.JSONDecodeError as e:
                            raise ValueError(f"{meta}: line {n} is not JSON ({e.msg})") from None
        except UnicodeDecodeError:
            raise ValueError(f"{meta}: not UTF-8 text") from None
        if not rows:
            raise ValueError(f"{meta}: no rows; the data set is empty")
        for n, row in enumerate(rows, 1):
            if not isinstance(row, dict) or "file_name" not in row:
                raise ValueError(f"{meta}: row {n} has no 'file_name'; every row names its image in 'file_name'")
            if not (meta.parent / str(row["file_name"])).is_file():
                raise ValueError(f"{meta}: row {n} lists {row['file_name']!r}, which is missing on disk; "
                                 "add the image or remove its row")


class SavedDataSet(_HFDataSet):
    """A data set written by ``save_to_disk`` (a ``Dataset`` is the split ``train``)."""

    @cached_property
    def _dict(self) -> Any:
        ds = _datasets()
        try:
            d = ds.load_from_disk(str(self.root), keep_in_memory=True)
        except Exception as e:  # noqa: BLE001 - say which folder, whatever the library raised
            raise ValueError(f"{self.root}: cannot read the saved data set ({type(e).__name__}: {e})") from None
        return d if isinstance(d, ds.DatasetDict) else ds.DatasetDict({"train": d})

