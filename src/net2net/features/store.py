"""The feature store: each expert's representation of a data set, computed once.

An entry is keyed by everything that changes its numbers: the expert (name, its
``fingerprint()`` over weights and settings such as the tapped layer), the data set
(name, split, sha256 of its files, ``limit``), the query domain (name, kind and the
parameters its function gets) and any conversion of the images to the expert's input.
A changed expert or data set is therefore a new key, never a stale hit.

Layout under the root (``$NET2NET_CACHE`` or ``~/.cache/net2net/features``)::

    <expert>-<dataset>-<split>-<transform>-<key>/
        z-00000.npy ...   float32 (rows, dim) shards, memory-mapped when read
        labels.npy        int64 (N,) class labels of the items
        inputs.json       the texts, for text transforms
        manifest.json     what made the entry, and each file's size and sha256

Each file is written atomically and the manifest last: a folder without a manifest is
an interrupted extraction. Every shard is followed by a small hidden record
(``.z-00000.json``: its rows and sha256), so a rerun encodes only the shards that
have no record and keeps the rest.

Under ``torchrun`` extraction is sharded across ranks: rank ``r`` encodes the ``r``-th
contiguous slice of the rows and writes its own shards; once every rank is done (a
barrier), rank 0 assembles the manifest from the records. A rank that dies leaves at
most a hidden temporary file, and the rerun redoes only its missing shards. The key and
the concatenated data do not depend on the number of ranks; only how the rows are cut
into shard files does. Reading checks the manifest against its
key and every file against the manifest; anything that does not match is a
``ValueError`` naming the file, never silently reused.

The package has one job per module: :mod:`~net2net.features.store` (keys, entries,
verification, lookup), :mod:`~net2net.features.shards` (shard files and the lazy row
view) and :mod:`~net2net.features.extract` (data set -> domain -> expert -> entry).
Training reads only the store: the ``"features"`` recipe source, which pairs a cond
entry with a target entry, lives with the other recipe sources in
:mod:`net2net.train.recipe`; nothing here imports the trainer.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from net2net.data.domains import Domain, get_domain
from net2net.experts.base import Expert
from net2net.features.entry import Entry, _key, _put
from net2net.features.shards import load_npy, npy_bytes
from net2net.io import read_json, sha256_file

__all__ = ["FORMAT", "Entry", "FeatureStore", "default_root"]

FORMAT = 1


def default_root() -> Path:
    """``$NET2NET_CACHE``, else ``~/.cache/net2net/features``."""
    if os.environ.get("NET2NET_CACHE"):
        return Path(os.environ["NET2NET_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "net2net" / "features"


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "_", s).strip("_") or "x"


# names other modules (and tests that write entries by hand) import
_npy_bytes, _load_npy = npy_bytes, load_npy


class FeatureStore:
    """A folder of feature entries (see the module docstring for the layout).

    Args:
        root: the store folder (default :func:`default_root`).
        verify: ``"full"`` checks every file's sha256 on open, ``"size"`` only sizes and
            shapes (faster for very large entries).

    Example:
        >>> from net2net.experts.registry import get_expert   # doctest: +SKIP
        >>> store = FeatureStore()                             # doctest: +SKIP
        >>> e = store.extract(get_expert("onehot"), transform="labels", split="test")  # doctest: +SKIP
        >>> e.tensor().shape, e.hit                            # doctest: +SKIP
        (torch.Size([10000, 10]), False)
    """

    def __init__(self, root: str | os.PathLike | None = None, *, verify: str = "full") -> None:
        if verify not in ("full", "size"):
            raise ValueError(f"verify must be 'full' or 'size', got {verify!r}")
        self.root = Path(root) if root is not None else default_root()
        self.verify = verify

    # -- keys -----------------------------------------------------------------------
    @staticmethod
    def spec(expert: Expert, *, dataset: str, split: str, data_fingerprint: str, transform: str | Domain,
             limit: int | None, convert: list[str] | None = None) -> dict[str, Any]:
        """Everything that makes an entry, as stored in its manifest and hashed into its key.

        ``transform`` is a registered domain's name or a :class:`~net2net.data.domains.Domain`
        (a column of your data); ``convert`` says how images were converted for the
        expert (recorded only when something was done).
        """
        d = get_domain(transform) if isinstance(transform, str) else transform
        settings = expert.settings() if hasattr(expert, "settings") else {}
        spec = {
            "format": FORMAT,
            "expert": {"name": expert.name, "fingerprint": expert.fingerprint(), "dim": int(expert.dim),
                       "settings": json.loads(json.dumps(settings, sort_keys=True, default=str))},
            "dataset": {"name": dataset, "split": split, "fingerprint": data_fingerprint, "limit": limit},
            "transform": json.loads(json.dumps(d.spec(), default=str)),
        }
        if convert:
            spec["convert"] = list(convert)
        return spec

    def folder(self, spec: dict[str, Any]) -> Path:
        name = "-".join([_slug(spec["expert"]["name"]), _slug(spec["dataset"]["name"]), _slug(spec["dataset"]["split"]),
                         _slug(spec["transform"]["name"]), _key(spec)])
        return self.root / name

    _put = staticmethod(_put)  # writers that lay out an entry by hand use the same record

    # -- writing --------------------------------------------------------------------
    def extract(
        self,
        expert: Expert,
        *,
        dataset: str | Any = "fashion-mnist",
        split: str = "train",
        transform: str | None = "identity",
        column: str | list[str] | None = None,
        limit: int | None = None,
        data_dir: str | os.PathLike | None = None,
        batch_size: int = 256,
        progress: bool | None = None,
        fit: str = "crop",
        follow_links: bool = False,
        skip_bad_rows: bool = False,
    ) -> Entry:
        """Returns the entry for ``expert`` on ``dataset``/``split``/``transform``, encoding only on a miss.

        Args:
            dataset: a registered name (``fashion-mnist``) or a folder (see
                :func:`net2net.data.datasets.get_dataset`), or a data set object (``name``,
                ``splits()``, ``load(split)``).
            transform: a query domain of :data:`net2net.data.domains.DOMAINS`.
            column: a column of the data set instead (``text``; several: ``"a,b"`` as flags).
            limit: only the first ``limit`` items.
            fit: how a non-square image becomes the expert's square (``crop``, ``pad`` or
                ``stretch``; :mod:`net2net.data.convert`).
            follow_links: read symbolic links that point outside the data set folder.
            skip_bad_rows: leave out metadata rows with a missing value or an empty caption.

        Raises:
            ValueError: unknown data set, split, column or transform, an expert that cannot
                read the domain's output, bad data (named by row and file), or a corrupt
                cached entry. Nothing is left in the store.
        """
        from net2net.features.extract import extract_entry

        return extract_entry(self, expert, dataset=dataset, split=split, transform=transform, column=column,
                             limit=limit, data_dir=data_dir, batch_size=batch_size, progress=progress, fit=fit,
                             follow_links=follow_links, skip_bad_rows=skip_bad_rows)

    # -- reading --------------------------------------------------------------------
    def _check(self, folder: Path, expect_key: str | None = None) -> dict[str, Any]:
        fix = f"delete the folder {folder} and extract again"
        m = read_json(folder / "manifest.json")
        try:
            spec, key, rows, dim, shards, files = (m["spec"], m["key"], int(m["rows"]), int(m["dim"]),
                                                   list(m["shards"]), list(m["files"]))
            for rec in shards + files:  # every record whole, before any is trusted
                str(rec["file"]), int(rec["rows"]), int(rec["bytes"]), str(rec["sha256"])
                if not isinstance(rec["file"], str) or Path(rec["file"]).name != rec["file"]:
                    raise ValueError(f"file name {rec['file']!r} is not a plain file name")
            if not isinstance(spec, dict):
                raise TypeError(f"spec is a {type(spec).__name__}, not an object")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{folder / 'manifest.json'}: malformed manifest ({e!r}); {fix}") from None
        if not shards:
            raise ValueError(f"{folder / 'manifest.json'}: malformed manifest (no shards); {fix}")
        if spec.get("format") != FORMAT:
            raise ValueError(f"{folder}: store format {spec.get('format')!r}, this net2net reads {FORMAT}; {fix}")
        if _key(spec) != key or not folder.name.endswith(key) or (expect_key is not None and key != expect_key):
            raise ValueError(f"{folder / 'manifest.json'}: manifest does not match its entry "
                             f"(key {key!r}, folder {folder.name!r}, spec hashes to {_key(spec)!r}); {fix}")
        if sum(int(s["rows"]) for s in shards) != rows:
            raise ValueError(f"{folder / 'manifest.json'}: manifest does not match its shards "
                             f"(shards hold {sum(int(s['rows']) for s in shards)} rows, manifest says {rows}); {fix}")
        for rec in shards + files:
            path = folder / rec["file"]
            if not path.is_file():
                raise ValueError(f"{path}: missing from the store entry; {fix}")
            size = path.stat().st_size
            if size != int(rec["bytes"]):
                raise ValueError(f"{path}: {size} bytes, manifest says {rec['bytes']}; the shard is truncated or corrupt; {fix}")
            if self.verify == "full" and sha256_file(path) != rec["sha256"]:
                raise ValueError(f"{path}: sha256 does not match the manifest; the shard is corrupt; {fix}")
        for rec in shards:
            path = folder / rec["file"]
            a = _load_npy(path, mmap_mode="r")
            if a.dtype != np.float32 or a.shape != (int(rec["rows"]), dim):
                raise ValueError(f"{path}: holds {a.dtype} {a.shape}, manifest says float32 ({rec['rows']}, {dim}); {fix}")
        return m

    def entries(self) -> list[Entry]:
        """Every complete entry (unverified manifests; use :meth:`open` to check one)."""
        out = []
        for mf in sorted(self.root.glob("*/manifest.json")):
            if mf.parent.name.startswith("."):
                continue  # a hidden temporary left by a killed writer
            try:
                out.append(Entry(mf.parent, read_json(mf)))
            except ValueError:
                continue  # a broken entry is reported when it is opened, not when listing
        return out

    def open(self, ref: str | dict[str, Any]) -> Entry:
        """A verified entry, named by its key (or a unique prefix of it, or its folder name),
        or by a query such as ``{"expert": "minilm", "transform": "captions", "split": "train"}``.
        """
        if isinstance(ref, str):
            found = [p for p in self.root.glob("*") if p.is_dir() and not p.name.startswith(".") and (p.name == ref or p.name.rsplit("-", 1)[-1].startswith(ref))]
            if len(ref) < 6 and not any(p.name == ref for p in found):
                raise ValueError(f"entry key {ref!r} is too short; give at least 6 characters of the key")
            what = f"key {ref!r}"
        elif isinstance(ref, dict):
            found = [e.path for e in self.entries() if _matches(e.manifest.get("spec", {}), ref)]
            what = f"query {ref}"
        else:
            raise ValueError(f"an entry is named by a key string or a query dict, got {type(ref).__name__}")  # noqa: TRY004 - the project reports bad input as ValueError
        if not found:
            raise ValueError(f"no feature entry for {what} in {self.root}; run `net2net extract` first "
                             "(e.g. net2net extract --expert minilm --transform captions)")
        if len(found) > 1:
            names = ", ".join(sorted(p.name for p in found))
            raise ValueError(f"{what} matches several entries ({names}); name one by its key")
        if not (found[0] / "manifest.json").is_file():
            raise ValueError(f"{found[0]}: incomplete entry (no manifest; the extraction was interrupted); extract it again")
        return Entry(found[0], self._check(found[0]))


_QUERY = {"expert": ("expert", "name"), "expert_fingerprint": ("expert", "fingerprint"), "dataset": ("dataset", "name"),
          "split": ("dataset", "split"), "limit": ("dataset", "limit"), "transform": ("transform", "name")}


def _matches(spec: dict[str, Any], query: dict[str, Any]) -> bool:
    unknown = sorted(set(query) - set(_QUERY) - {"column"})
    if unknown:
        raise ValueError(f"unknown entry query field(s) {unknown}; valid: {sorted([*_QUERY, 'column'])}")
    for k, v in query.items():
        if k == "column":  # a column of your data: its domain is named column:NAME (or attributes:A,B)
            cols = v if isinstance(v, str) else ",".join(v)
            if spec.get("transform", {}).get("name") not in (f"column:{cols}", f"attributes:{cols}"):
                return False
            continue
        a, b = _QUERY[k]
        got = spec.get(a, {}).get(b)
        if k == "dataset" and isinstance(v, str) and got != v and got == Path(v).name:
            continue  # a folder given by its path: entries know it by its name (and content)
        if got != v:
            return False
    return True
