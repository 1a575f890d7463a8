"""Data sets by name or by path: Fashion-MNIST, your image folders, saved Hugging Face data sets.

:func:`get_dataset` takes a registered name (:data:`DATASETS`, e.g. ``fashion-mnist``)
or a path:

- an image folder with ``metadata.jsonl`` or ``metadata.csv`` (a ``file_name`` column
  plus any others: ``text`` captions, a class, 0/1 attributes), optionally split into
  ``train/``, ``test/``, ... sub-folders (:mod:`net2net.data.folder`);
- an image folder with one sub-folder per class (``cat/``, ``dog/``): column ``label``;
- a data set saved with ``datasets.Dataset.save_to_disk`` (one split, called ``train``)
  or ``DatasetDict.save_to_disk``; its first ``Image`` column is the image
  (:mod:`net2net.data.saved`).

``load(split)`` returns a :class:`~net2net.data.split.Split`: the columns and labels
at once, each image only when its row is read (any size and mode; every image is
decoded by :mod:`net2net.imageio`), and two fingerprints: one of the rows (for entries
that read no image) and one of the content, taken by a pre-scan that every image read
is checked against (see :mod:`net2net.data.split`).

Bad input is one ``ValueError`` line that says what to fix and names the row and file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from net2net.data.folder import FolderDataSet, folder_fingerprint
from net2net.data.saved import SavedDataSet
from net2net.data.split import ArraySplit, Split

__all__ = ["DATASETS", "ArraySplit", "DataSet", "FashionMNIST", "FolderDataSet", "SavedDataSet", "Split",
           "folder_fingerprint", "get_dataset", "register_dataset"]


class DataSet(Protocol):
    """What a data set offers: a name, its splits, and a split (columns now, images per row)."""

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
        return ArraySplit(x[..., None], y, {}, digest, class_names=fm.CLASS_NAMES)


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


def get_dataset(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None, *,
                follow_links: bool = False, skip_bad_rows: bool = False) -> DataSet:
    """A registered data set by name, or one found at a path (see the module docstring).

    Args:
        follow_links: read symbolic links whose target is outside the folder (refused otherwise).
        skip_bad_rows: leave out metadata rows with a missing value or an empty or non-text
            caption (a warning counts them) instead of refusing the data set.
    """
    key = str(name_or_path)
    if key in DATASETS:
        ds = DATASETS[key](None if data_dir is None else str(data_dir))
        if isinstance(ds, FolderDataSet):
            ds.follow_links, ds.skip_bad_rows = follow_links, skip_bad_rows
        return ds
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return SavedDataSet(path, follow_links=follow_links)
        return FolderDataSet(path, follow_links=follow_links, skip_bad_rows=skip_bad_rows)
    raise ValueError(f"unknown data set {key!r}: not a registered name ({', '.join(DATASETS)}) nor a folder "
                     "(an image folder with metadata.jsonl/metadata.csv or class sub-folders, or a saved `datasets` folder)")
