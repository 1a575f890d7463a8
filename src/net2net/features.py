"""The feature store: each expert's representation of a data set, computed once.

An entry is keyed by everything that changes its numbers: the expert (name, its
``fingerprint()`` over weights and settings such as the tapped layer), the data set
(name, split, sha256 of its files, ``limit``) and the transform (name and parameters).
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

Training reads only the store: the ``"features"`` recipe source (:func:`features_source`)
pairs a cond entry with a target entry.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from net2net.data import fashion_mnist as fm
from net2net.data.transforms import get_transform
from net2net.experts.base import Expert, encode_all
from net2net.io import atomic_write_bytes, atomic_write_json, read_json, sha256_file
from net2net.train import distributed as D

__all__ = ["DATASETS", "FORMAT", "Entry", "FeatureStore", "ShardedRows", "default_root", "features_source"]

FORMAT = 1
_SHARD_BYTES = 256 << 20  # one shard for most entries; caps the memory of one write
_KEY_HEX = 16


def default_root() -> Path:
    """``$NET2NET_CACHE``, else ``~/.cache/net2net/features``."""
    if os.environ.get("NET2NET_CACHE"):
        return Path(os.environ["NET2NET_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "net2net" / "features"


_seen_data: dict[str, str] = {}


def _fashion_mnist(split: str, folder: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    root = Path(folder) if folder is not None else fm.find_fashion_mnist()
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for fashion-mnist, got {split!r}")
    try:
        digest = fm.dataset_fingerprint(split, root)
    except FileNotFoundError as e:
        raise ValueError(f"Fashion-MNIST file missing: {e.filename}; {fm._HINT}") from None
    # The loader caches arrays per folder; if the files changed underneath (reinstalled,
    # truncated), drop the cache so the new bytes are read and checked.
    if _seen_data.get(f"{root}:{split}", digest) != digest:
        fm._load.cache_clear()
    _seen_data[f"{root}:{split}"] = digest
    x, y = fm.load_fashion_mnist(split, root)
    return x, y, digest


#: dataset name -> loader ``(split, folder) -> (images uint8 (N, H, W), labels (N,), fingerprint)``.
DATASETS: dict[str, Callable[[str, str | None], tuple[np.ndarray, np.ndarray, str]]] = {
    "fashion-mnist": _fashion_mnist,
}


def _key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:_KEY_HEX]


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "_", s).strip("_") or "x"


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _load_npy(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """``np.load`` without pickles; a damaged header (numpy raises SyntaxError and
    friends from its parser) is a ``ValueError`` naming the file."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - ValueError, OSError, SyntaxError, TokenError, ...
        raise ValueError(f"{path}: not a readable .npy file ({type(e).__name__}: {e}); "
                         f"delete the folder {path.parent} and extract again") from None


def _shard_plan(n: int, rows_per_shard: int, world: int) -> list[tuple[int, int, int]]:
    """``(rank, lo, hi)`` of every shard, in row order: rank ``r`` takes the ``r``-th
    contiguous slice of the rows, cut into shards of at most ``rows_per_shard``.
    For one rank this is the single-process layout."""
    bounds = [n * r // world for r in range(world + 1)]
    return [(r, lo, min(bounds[r + 1], lo + rows_per_shard))
            for r in range(world) for lo in range(bounds[r], bounds[r + 1], rows_per_shard)]


class ShardedRows:
    """The rows of several memory-mapped shards, read lazily as one ``(N, dim)`` float32 table.

    Indexing with an index tensor or a slice gathers only those rows into a new tensor,
    so a store larger than memory can be trained on; :meth:`to` materialises it all.
    It offers what the trainer uses of a tensor: ``shape``, ``dim()``, ``len``,
    ``device``, ``dtype``, indexing, ``to`` and ``float``.
    """

    def __init__(self, parts: list[np.ndarray]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        self.shape = torch.Size((int(self.offsets[-1]), int(parts[0].shape[1])))
        self.dtype = torch.float32
        self.device = torch.device("cpu")

    def dim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx: Any) -> torch.Tensor:
        if isinstance(idx, slice):
            lo, hi, step = idx.indices(len(self))
            if step == 1:
                pieces = [p[max(lo, a) - a : min(hi, b) - a] for p, a, b in zip(self.parts, self.offsets, self.offsets[1:])
                          if max(lo, a) < min(hi, b)]
                return torch.from_numpy(np.concatenate(pieces) if pieces else np.empty((0, self.shape[1]), np.float32))
            idx = np.arange(lo, hi, step)
        rows = np.asarray(idx.cpu() if isinstance(idx, torch.Tensor) else idx, dtype=np.int64).reshape(-1)
        rows = np.where(rows < 0, rows + len(self), rows)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        out = np.empty((len(rows), self.shape[1]), np.float32)
        for k in np.unique(which):
            m = which == k
            out[m] = self.parts[k][rows[m] - self.offsets[k]]
        return torch.from_numpy(out)

    def to(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """All rows as one tensor (a full copy: only for data that fits in memory)."""
        return torch.from_numpy(np.concatenate(self.parts)).to(*args, **kwargs)

    def float(self) -> ShardedRows:
        return self


@dataclass(frozen=True)
class Entry:
    """One verified store entry. ``hit`` says whether :meth:`FeatureStore.extract` found it cached.

    Attributes:
        path: the entry's folder.
        manifest: its parsed, checked ``manifest.json``.
        hit: True when no encoding was done to produce it.
    """

    path: Path
    manifest: dict[str, Any]
    hit: bool = False

    @property
    def key(self) -> str:
        return self.manifest["key"]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def __len__(self) -> int:
        return int(self.manifest["rows"])

    def _parts(self) -> list[np.ndarray]:
        return [_load_npy(self.path / s["file"], mmap_mode="c") for s in self.manifest["shards"]]

    def array(self) -> np.ndarray:
        """``(N, dim)`` float32; memory-mapped (copy-on-write) when the entry is one shard,
        a concatenated copy otherwise (use :meth:`tensor` for data larger than memory)."""
        parts = self._parts()
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def tensor(self) -> torch.Tensor | ShardedRows:
        """The rows without reading them: a tensor on the memory-mapped shard, or for
        several shards a :class:`ShardedRows` view that reads only the rows indexed."""
        parts = self._parts()
        return torch.from_numpy(parts[0]) if len(parts) == 1 else ShardedRows(parts)

    def labels(self) -> np.ndarray:
        return _load_npy(self.path / "labels.npy")

    def inputs(self) -> list[str] | None:
        """The texts that were encoded (text transforms only)."""
        f = self.path / "inputs.json"
        return json.loads(f.read_text(encoding="utf-8"))["texts"] if f.is_file() else None


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
    def spec(expert: Expert, *, dataset: str, split: str, data_fingerprint: str, transform: str,
             limit: int | None) -> dict[str, Any]:
        """Everything that makes an entry, as stored in its manifest and hashed into its key."""
        t = get_transform(transform)
        settings = expert.settings() if hasattr(expert, "settings") else {}
        return {
            "format": FORMAT,
            "expert": {"name": expert.name, "fingerprint": expert.fingerprint(), "dim": int(expert.dim),
                       "settings": json.loads(json.dumps(settings, sort_keys=True, default=str))},
            "dataset": {"name": dataset, "split": split, "fingerprint": data_fingerprint, "limit": limit},
            "transform": {"name": t.name, "kind": t.kind, "params": dict(t.params)},
        }

    def folder(self, spec: dict[str, Any]) -> Path:
        name = "-".join([_slug(spec["expert"]["name"]), _slug(spec["dataset"]["name"]), spec["dataset"]["split"],
                         _slug(spec["transform"]["name"]), _key(spec)])
        return self.root / name

    # -- writing --------------------------------------------------------------------
    def extract(
        self,
        expert: Expert,
        *,
        dataset: str = "fashion-mnist",
        split: str = "train",
        transform: str = "identity",
        limit: int | None = None,
        data_dir: str | os.PathLike | None = None,
        batch_size: int = 256,
        progress: bool | None = None,
    ) -> Entry:
        """Returns the entry for ``expert`` on ``dataset``/``split``/``transform``, encoding only on a miss.

        Raises:
            ValueError: unknown data set or transform, an expert that cannot read the
                transform's output, a missing or corrupt data file, or a corrupt cached entry.
        """
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
        t = get_transform(transform)
        reads = getattr(expert, "input_kind", "image")
        if reads != t.kind:
            raise ValueError(f"expert {expert.name!r} reads {reads} but transform {transform!r} makes {t.kind}; "
                             f"choose a {reads} transform or another expert")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        x, y, digest = DATASETS[dataset](split, None if data_dir is None else str(data_dir))
        if limit is not None:
            x, y = x[:limit], y[:limit]
        spec = self.spec(expert, dataset=dataset, split=split, data_fingerprint=digest, transform=transform,
                         limit=limit)
        folder = self.folder(spec)
        if (folder / "manifest.json").is_file():
            return Entry(folder, self._check(folder, expect_key=_key(spec)), hit=True)
        return self._write(folder, spec, expert, t, x, y, batch_size, progress)

    def _write(self, folder: Path, spec: dict[str, Any], expert: Expert, t: Any, x: np.ndarray, y: np.ndarray,
               batch_size: int, progress: bool | None) -> Entry:
        dist = D.setup(getattr(expert, "device", "cpu"))  # a world of one unless launched by torchrun
        folder.mkdir(parents=True, exist_ok=True)
        n, dim = len(x), int(expert.dim)
        plan = _shard_plan(n, max(1, _SHARD_BYTES // (4 * dim)), dist.world_size)
        start_time = time.perf_counter()
        for s, (rank, lo, hi) in enumerate(plan):
            if rank != dist.rank or self._record(folder, s, lo, hi) is not None:
                continue  # another rank's shard, or done by an earlier, interrupted run
            inputs = t(x[lo:hi], y[lo:hi], np.arange(lo, hi), n)
            desc = f"{expert.name} {t.name}" + (f" {s + 1}/{len(plan)}" if len(plan) > 1 else "")
            z = encode_all(expert, inputs, batch_size=batch_size, progress=progress, desc=desc).numpy()
            if not np.isfinite(z).all():
                raise ValueError(f"expert {expert.name!r} produced NaN or inf features; check its weights and inputs")
            rec = self._put(folder, f"z-{s:05d}.npy", _npy_bytes(z), rows=hi - lo)
            # The record follows the shard: a shard without one is redone, never trusted.
            atomic_write_json(folder / f".z-{s:05d}.json", {**rec, "lo": lo, "hi": hi,
                                                             **({"texts": list(inputs)} if t.kind == "text" else {})})
        D.barrier()  # every rank's shards are on disk
        if dist.is_main:
            records = [self._record(folder, s, lo, hi) for s, (_, lo, hi) in enumerate(plan)]
            missing = [f"z-{s:05d}.npy" for s, r in enumerate(records) if r is None]
            if missing:
                raise ValueError(f"{folder}: shards {missing} were not written by their ranks; run the extraction again")
            shards = [{k: r[k] for k in ("file", "rows", "bytes", "sha256")} for r in records]
            files = [self._put(folder, "labels.npy", _npy_bytes(y.astype(np.int64)), rows=n)]
            if t.kind == "text":
                texts = [s for r in records for s in r["texts"]]
                files.append(self._put(folder, "inputs.json", json.dumps({"texts": texts}).encode(), rows=n))
            manifest = {"key": _key(spec), "spec": spec, "rows": n, "dim": dim, "dtype": "float32",
                        "shards": shards, "files": files, "seconds": round(time.perf_counter() - start_time, 3),
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            atomic_write_json(folder / "manifest.json", manifest)  # last: it marks the entry complete
            keep = {r["file"] for r in shards}
            for p in [*folder.glob(".z-*.json"), *(p for p in folder.glob("z-*.npy") if p.name not in keep)]:
                p.unlink(missing_ok=True)  # records, and shards of an earlier run cut for another world size
        D.barrier()  # the manifest is on disk
        return Entry(folder, read_json(folder / "manifest.json"), hit=False)

    @staticmethod
    def _record(folder: Path, s: int, lo: int, hi: int) -> dict[str, Any] | None:
        """Shard ``s``'s record if it covers rows ``lo:hi`` and its file has the recorded size."""
        f = folder / f".z-{s:05d}.json"
        try:
            rec = read_json(f)
            ok = (rec["lo"], rec["hi"]) == (lo, hi) and (folder / rec["file"]).stat().st_size == int(rec["bytes"])
        except (ValueError, KeyError, OSError):
            return None
        return rec if ok else None

    @staticmethod
    def _put(folder: Path, name: str, data: bytes, rows: int) -> dict[str, Any]:
        atomic_write_bytes(folder / name, data)
        return {"file": name, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

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

    def remove(self, ref: str | dict[str, Any]) -> None:
        """Deletes one entry (named as in :meth:`open`); it need not be valid."""
        try:
            path = self.open(ref).path
        except ValueError:
            if not isinstance(ref, str):
                raise
            path = next((p for p in self.root.glob(f"*{ref}*") if p.is_dir()), None)
            if path is None:
                raise
        shutil.rmtree(path)


_QUERY = {"expert": ("expert", "name"), "expert_fingerprint": ("expert", "fingerprint"), "dataset": ("dataset", "name"),
          "split": ("dataset", "split"), "limit": ("dataset", "limit"), "transform": ("transform", "name")}


def _matches(spec: dict[str, Any], query: dict[str, Any]) -> bool:
    unknown = sorted(set(query) - set(_QUERY))
    if unknown:
        raise ValueError(f"unknown entry query field(s) {unknown}; valid: {sorted(_QUERY)}")
    return all(spec.get(a, {}).get(b) == v for k, v in query.items() for a, b in [_QUERY[k]])


def features_source(fields: dict[str, Any], base: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The ``"features"`` recipe data source: pairs two store entries row by row.

    Recipe fields: ``cond`` and ``target`` (entry keys or query objects), optional
    ``val_cond`` and ``val_target`` (both or neither), optional ``root`` (store folder,
    relative to the recipe; default :func:`default_root`). The two entries of a pair must
    come from the same data (dataset, split, its fingerprint and limit).

    Example recipe ``data``::

        {"source": "features",
         "cond": {"expert": "minilm", "transform": "captions", "split": "train"},
         "target": {"expert": "fmnist-ae", "transform": "identity", "split": "train"},
         "val_cond": {"expert": "minilm", "transform": "captions", "split": "test"},
         "val_target": {"expert": "fmnist-ae", "transform": "identity", "split": "test"}}
    """
    from net2net.train.fit import Pairs

    allowed = {"source", "cond", "target", "val_cond", "val_target", "root"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(f"recipe.data: unknown field(s) {unknown}; valid: {sorted(allowed - {'source'})}")
    for name in ("cond", "target"):
        if name not in fields:
            raise ValueError(f"recipe.data.{name}: required (an entry key or a query like "
                             '{"expert": "minilm", "transform": "captions", "split": "train"})')
    if ("val_cond" in fields) != ("val_target" in fields):
        raise ValueError("recipe.data: give both val_cond and val_target, or neither")
    root = fields.get("root")
    store = FeatureStore(base / root if root else None)

    def pair(c: str, t: str) -> tuple[Any, dict[str, Any]]:
        entries = {}
        for name in (c, t):
            try:
                entries[name] = store.open(fields[name])
            except ValueError as e:
                raise ValueError(f"recipe.data.{name}: {e}") from None
        ec, et = entries[c], entries[t]
        dc, dt = ec.manifest["spec"]["dataset"], et.manifest["spec"]["dataset"]
        if dc != dt:
            raise ValueError(f"recipe.data.{c}/{t}: the entries come from different data ({dc} vs {dt}); "
                             "extract both from the same dataset, split and limit")
        return Pairs(ec.tensor(), et.tensor()), {c: ec.key, t: et.key, f"{c}_path": str(ec.path), f"{t}_path": str(et.path)}

    train, prov = pair("cond", "target")
    val = None
    if "val_cond" in fields:
        val, vprov = pair("val_cond", "val_target")
        prov.update(vprov)
    return train, val, {"source": "features", "root": str(store.root), **prov}
