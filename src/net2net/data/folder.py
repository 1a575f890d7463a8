"""Image folders, read by net2net itself: metadata files or class sub-folders, row by row.

Layouts (docs/data.md):

- ``metadata.jsonl`` or ``metadata.csv`` (``file_name`` plus any columns) in the folder
  (one split, ``train``) or in split sub-folders (``train/``, ``test/``, ...);
- one sub-folder per class (``cat/``, ``dog/``: column ``label``), in the folder or in
  split sub-folders named ``train``, ``test``, ``validation``, ...

Loading a split reads only its metadata (or its file list): every row is checked there,
before any image is opened. A ``file_name`` must name a file inside the folder; a
symbolic link whose target lies outside is refused unless ``follow_links`` is given
(the fingerprint then covers the target's bytes). A row with a missing value or an
empty or non-text caption is refused naming its row and file, or skipped with a count
under ``skip_bad_rows``. Image files are bounded in bytes (checked from their size
before they are read).

The content fingerprint is the sha256 over every file under the folder (relative path
and bytes, in sorted order, hidden files skipped), the same value net2net has always
computed, so feature-store keys of image entries stay valid. It is taken in one pass
that also records each row's digest; the images read later are compared with it (see
:mod:`net2net.data.split`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from net2net.data.split import Scan, Split, header_shape

__all__ = ["MAX_FILES", "FolderDataSet", "IMAGE_SUFFIXES", "SPLIT_NAMES", "folder_fingerprint", "scan_folder"]

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
#: sub-folder names read as splits in a class-folder layout; also the order splits are listed in.
SPLIT_NAMES = ("train", "validation", "valid", "val", "dev", "test", "eval")
_METAS = ("metadata.jsonl", "metadata.csv")
#: a folder with more files than this is not hashed: it is most likely not a data set's own folder.
MAX_FILES = 1_000_000


def _read_bytes(path: Path, where: str) -> bytes:
    """An image file's bytes, its size checked before anything is read (the one place files are read)."""
    from net2net.imageio import MAX_BYTES

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValueError(f"{where}: {size} bytes is too large; the limit is {MAX_BYTES} bytes")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ValueError(f"{where}: the image is listed but missing on disk; add it or remove its row") from None
    except IsADirectoryError:
        raise ValueError(f"{where}: a folder, not an image file") from None
    except OSError as e:
        raise ValueError(f"{where}: cannot read it ({e.strerror})") from None
    if len(data) > MAX_BYTES:  # grew since its size was read
        raise ValueError(f"{where}: more than {MAX_BYTES} bytes is too large; the limit is {MAX_BYTES} bytes")
    return data


def _walk(root: Path, follow_links: bool) -> list[tuple[str, ...]]:
    """Every non-hidden file under ``root`` as relative parts, sorted as ``sorted(root.rglob('*'))`` sorts.

    A symbolic link (file or folder) whose target is outside ``root`` is refused unless
    ``follow_links``; folders reached twice through links are walked once.
    """
    real_root = root.resolve()
    out: list[tuple[str, ...]] = []
    seen: set[str] = set()

    def visit(folder: Path, rel: tuple[str, ...]) -> None:
        real = os.path.realpath(folder)
        if real in seen:
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            raise ValueError(f"{folder}: cannot list the folder ({e.strerror})") from None
        for e in entries:
            if e.name.startswith("."):
                continue
            parts = (*rel, e.name)
            path = Path(e.path)
            if e.is_symlink():
                target = path.resolve()
                if not follow_links and not target.is_relative_to(real_root):
                    raise ValueError(f"{root.name}/{'/'.join(parts)}: a symbolic link to {target}, outside the data "
                                     "set folder; pass --follow-links to read it (the fingerprint covers its target)")
            if e.is_dir():
                visit(path, parts)
            elif e.is_file():
                out.append(parts)
                if len(out) > MAX_FILES:
                    raise ValueError(f"{root}: more than {MAX_FILES} files under the folder; point --dataset at the "
                                     "data set's own folder (its images and metadata only)")

    visit(root, ())
    out.sort()
    return out


def scan_folder(root: Path, *, follow_links: bool = False, progress: bool | None = None,
                       keep: dict[str, str] | None = None) -> tuple[str, dict[str, tuple[bytes, Any]]]:
    """sha256 over every file under ``root`` (relative path and bytes, sorted; hidden files skipped).

    Each file named in ``keep`` (relative POSIX path -> its name in messages) is read
    whole (bounded) and returned with its sha256 and its header's ``(width, height,
    channels)``, both from the very bytes hashed into the fingerprint.
    """
    from tqdm.auto import tqdm

    files = _walk(root, follow_links)
    h = hashlib.sha256()
    kept: dict[str, tuple[bytes, Any]] = {}
    with tqdm(files, desc=f"hashing {root.name}", unit="file", disable=(not progress) if progress is not None else None,
              dynamic_ncols=True, leave=False) as bar:
        for parts in bar:
            rel = "/".join(parts)
            h.update(rel.encode("utf-8", "surrogateescape") + b"\0")
            path = root.joinpath(*parts)
            if keep is not None and rel in keep:
                data = _read_bytes(path, keep[rel])
                h.update(data)
                kept[rel] = (hashlib.sha256(data).digest(), header_shape(data, keep[rel]))
            else:
                try:
                    with open(path, "rb") as f:
                        for block in iter(lambda f=f: f.read(1 << 20), b""):
                            h.update(block)
                except OSError as e:
                    raise ValueError(f"{path}: cannot read it ({e.strerror})") from None
            h.update(b"\0")
    return h.hexdigest(), kept


def folder_fingerprint(root: str | os.PathLike, *, follow_links: bool = False, progress: bool | None = None) -> str:
    """The content fingerprint of a folder (see :func:`scan_folder`)."""
    return scan_folder(Path(root), follow_links=follow_links, progress=progress)[0]


def _utf8(name: str, where: Path) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "surrogateescape")
        raise ValueError(f"{where}: the folder name {shown!r} is not UTF-8; rename it") from None
    return name


def _is_image(p: os.DirEntry | Path) -> bool:
    return Path(p.name).suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def _has_images(folder: Path) -> bool:
    try:
        return any(e.is_file() and _is_image(e) for e in os.scandir(folder))
    except OSError:
        return False


class FolderDataSet:
    """An image folder (see the module docstring).

    Args:
        root: the folder.
        follow_links: read symbolic links whose target is outside the folder.
        skip_bad_rows: skip rows with a missing value or an empty or non-text caption
            (a warning counts them) instead of refusing the data set.
    """

    generated_captions = False

    def __init__(self, root: str | os.PathLike, *, follow_links: bool = False, skip_bad_rows: bool = False) -> None:
        self.root = Path(root).absolute()
        self.name = self.root.name
        self.follow_links = follow_links
        self.skip_bad_rows = skip_bad_rows

    # -- layout ---------------------------------------------------------------------------
    @cached_property
    def _layout(self) -> dict[str, tuple[str, Path]]:
        """split -> (``"meta"`` and the metadata file, or ``"classes"`` and the folder of class folders)."""
        root = self.root
        if not any(True for _ in os.scandir(root)):
            raise ValueError(f"{root}: no images found; the data set is empty")
        meta = next((root / m for m in _METAS if (root / m).is_file()), None)
        if meta is not None:
            return {"train": ("meta", meta)}
        subdirs = _subdirs(root)
        for d in subdirs:
            _utf8(d.name, root)
        splits: dict[str, tuple[str, Path]] = {}
        for d in subdirs:
            m = next((d / m for m in _METAS if (d / m).is_file()), None)
            if m is not None:
                splits[d.name] = ("meta", m)
        if splits:
            for d in subdirs:
                if d.name not in splits and _has_images(d):
                    raise ValueError(f"{root}: {d.name}/ holds images but no metadata.jsonl or metadata.csv, unlike "
                                     f"{', '.join(s + '/' for s in splits)}; add one (file_name plus your columns) "
                                     "or move the folder out")
            return self._ordered(splits)
        if any(_has_images(d) for d in subdirs):
            return {"train": ("classes", root)}
        split_dirs = [d for d in subdirs if d.name in SPLIT_NAMES and any(_has_images(c) for c in _subdirs(d))]
        if split_dirs:
            return self._ordered({d.name: ("classes", d) for d in split_dirs})
        # never a walk of the whole tree here: `--dataset /usr` is refused after two levels of listing
        raise ValueError(f"{root}: no metadata.jsonl or metadata.csv (file_name plus your columns), and no class "
                         "sub-folders; add one of them (see docs/data.md)")

    @staticmethod
    def _ordered(splits: dict[str, tuple[str, Path]]) -> dict[str, tuple[str, Path]]:
        order = sorted(splits, key=lambda s: (SPLIT_NAMES.index(s) if s in SPLIT_NAMES else len(SPLIT_NAMES), s))
        return {s: splits[s] for s in order}

    def splits(self) -> list[str]:
        return list(self._layout)

    def load(self, split: str) -> FolderSplit:
        """The split's rows and columns (no image is opened; see :class:`FolderSplit`)."""
        if split not in self._layout:
            raise ValueError(f"{self.root}: no split {split!r}; its splits are {', '.join(self._layout)}")
        kind, where = self._layout[split]
        if kind == "meta":
            return self._from_metadata(split, where)
        return self._from_classes(split, where)

    # -- metadata -------------------------------------------------------------------------
    def _rel(self, p: Path) -> str:
        return p.relative_to(self.root).as_posix()

    def _from_metadata(self, split: str, meta: Path) -> FolderSplit:
        try:
            raw = meta.read_bytes()
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{meta}: not UTF-8 text") from None
        rows = _parse(meta, text)
        if not rows:
            raise ValueError(f"{meta}: no rows; the data set is empty")
        names = list(dict.fromkeys(k for r in rows for k in r if k != "file_name"))
        texts = {k for r in rows[:1000] for k, v in r.items() if isinstance(v, str) and k != "file_name"} | {"text"}
        real_root = self.root.resolve()
        files: list[str] = []
        paths: list[Path] = []
        bad: list[str] = []
        keep: list[int] = []
        for n, row in enumerate(rows, 1):
            name = row.get("file_name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{meta}: row {n} has no 'file_name'; every row names its image in 'file_name'")
            path = meta.parent / name
            if Path(name).is_absolute() or ".." in Path(name).parts or "\0" in name:
                raise ValueError(f"{meta}: row {n} names {name!r}, a path outside the data set folder; file names "
                                 "are relative to the metadata file and stay inside the folder")
            if not path.is_file():
                raise ValueError(f"{meta}: row {n} lists {name!r}, which is missing on disk; "
                                 "add the image or remove its row")
            if not self.follow_links and not path.resolve().is_relative_to(real_root):
                raise ValueError(f"{meta}: row {n} ({self._rel(path)}) is a symbolic link to {path.resolve()}, outside the data "
                                 "set folder; pass --follow-links to read it")
            rel = self._rel(path)
            problem = _row_problem(row, names, texts)
            if problem is not None:
                msg = f"{meta}: row {n} ({rel}) {problem}"
                if not self.skip_bad_rows:
                    raise ValueError(f"{msg}; fix the row, or pass --skip-bad-rows to leave such rows out")
                bad.append(msg)
                continue
            keep.append(n - 1)
            files.append(rel)
            paths.append(path)
        if bad:
            log.warning("%s: skipped %d of %d rows (--skip-bad-rows); the first: %s", meta, len(bad), len(rows), bad[0])
        if not keep:
            raise ValueError(f"{meta}: every row was skipped as bad; the data set is empty")
        columns = {k: [rows[i].get(k) for i in keep] for k in names}
        h = hashlib.sha256(b"net2net rows v1\0" + self._rel(meta).encode() + b"\0" + raw)
        if bad:
            h.update(json.dumps(keep).encode())
        return FolderSplit(self, split, paths, files, columns, None, h.hexdigest(), meta=(meta, raw))

    # -- class folders --------------------------------------------------------------------
    def _from_classes(self, split: str, folder: Path) -> FolderSplit:
        real_root = self.root.resolve()
        classes = [d for d in _subdirs(folder) if _has_images(d)]
        names = tuple(_utf8(d.name, folder) for d in classes)
        paths: list[Path] = []
        labels: list[int] = []
        for k, d in enumerate(classes):
            if not self.follow_links and not d.resolve().is_relative_to(real_root):
                raise ValueError(f"{d}: a symbolic link to {d.resolve()}, outside the data set folder; "
                                 "pass --follow-links to read it")
            for p in sorted(d.iterdir(), key=lambda p: p.name):
                if p.is_file() and _is_image(p):
                    _utf8(p.name, d)
                    if not self.follow_links and not p.resolve().is_relative_to(real_root):
                        raise ValueError(f"{p}: a symbolic link to {p.resolve()}, outside the data set "
                                         "folder; pass --follow-links to read it")
                    paths.append(p)
                    labels.append(k)
        files = [self._rel(p) for p in paths]
        listing = json.dumps({"classes": names, "files": files, "labels": labels}).encode()
        rows_fp = hashlib.sha256(b"net2net rows v1\0" + listing).hexdigest()
        return FolderSplit(self, split, paths, files, {"label": labels}, np.asarray(labels, dtype=np.int64), rows_fp,
                           class_names=names, classes=folder)


def _parse(meta: Path, text: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if meta.suffix == ".csv":
        for row in csv.DictReader(io.StringIO(text, newline="")):
            rows.append({k: _csv_value(v) for k, v in row.items() if k is not None})
        return rows
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{meta}: line {n} is not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{meta}: row {len(rows) + 1} is not a JSON object; "
                                 "every row is {\"file_name\": ..., your columns}")
            rows.append(row)
    return rows


def _csv_value(v: str | None) -> Any:
    if v is None or v == "":
        return None
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v


def _row_problem(row: dict[str, Any], names: list[str], texts: set[str]) -> str | None:
    """Why a row cannot be used (a missing value, an empty or non-text caption), or None."""
    for k in names:
        v = row.get(k)
        if v is None:
            return f"has no value in column {k!r}"
        if k in texts:
            if not isinstance(v, str):
                return f"has a non-text caption in column {k!r} ({v!r})"
            if not v.strip():
                return f"has an empty caption in column {k!r}"
    return None


class FolderSplit(Split):
    """A split of an image folder: rows from its metadata or class folders; images read per row."""

    def __init__(self, ds: FolderDataSet, split: str, paths: list[Path], files: list[str], columns: dict[str, list[Any]],
                 labels: np.ndarray | None, rows_fingerprint: str, *, class_names: tuple[str, ...] | None = None,
                 meta: tuple[Path, bytes] | None = None, classes: Path | None = None) -> None:
        super().__init__(len(paths), columns, labels, rows_fingerprint, class_names=class_names, files=files)
        self._ds, self._split, self._paths, self._meta, self._classes = ds, split, paths, meta, classes

    def where(self, i: int) -> str:
        return f"split {self._split!r}, row {i} ({self.files[i]})"

    def _do_scan(self, progress: bool | None) -> Scan:
        ds = self._ds
        keep = {f: self.where(i) for i, f in enumerate(self.files)}
        fp, kept = scan_folder(ds.root, follow_links=ds.follow_links, progress=progress, keep=keep)
        missing = [f for f in self.files if f not in kept]
        if missing:
            raise ValueError(f"{ds.root}: {missing[0]} vanished while the data set was read; run the command again")
        # the rows were read before the scan: they must be the rows of the content fingerprinted
        if self._meta is not None:
            meta, raw = self._meta
            if not meta.is_file() or meta.read_bytes() != raw:
                raise ValueError(f"{meta}: changed while the data set was read; run the command again")
        elif ds._from_classes(self._split, self._classes).files != self.files:
            raise ValueError(f"{ds.root}: the class folders changed while the data set was read; run the command again")
        shapes = np.asarray([kept[f][1] for f in self.files], dtype=np.int64).reshape(-1, 3)
        return Scan(fp, [kept[f][0] for f in self.files], shapes[:, :2], shapes[:, 2])

    def _raw(self, i: int) -> bytes:
        return _read_bytes(self._paths[i], self.where(i))
