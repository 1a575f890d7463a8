"""One feature-store entry and the files it is made of: its key, shard records, and reader.

Both :mod:`~net2net.features.store` (lookup, verification) and
:mod:`~net2net.features.extract` (writing) build on this module, so neither imports
the other's internals and the arrow runs one way: store -> extract -> entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from net2net.features.shards import ShardedRows, load_npy
from net2net.io import atomic_write_bytes, read_json

__all__ = ["Entry"]

_KEY_HEX = 16


def _key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:_KEY_HEX]

def _put(folder: Path, name: str, data: bytes, rows: int) -> dict[str, Any]:
    atomic_write_bytes(folder / name, data)
    return {"file": name, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _record(folder: Path, s: int, lo: int, hi: int) -> dict[str, Any] | None:
    """Shard ``s``'s record if it covers rows ``lo:hi`` and its file has the recorded size."""
    f = folder / f".z-{s:05d}.json"
    try:
        rec = read_json(f)
        ok = (rec["lo"], rec["hi"]) == (lo, hi) and (folder / rec["file"]).stat().st_size == int(rec["bytes"])
    except (ValueError, KeyError, OSError):
        return None
    return rec if ok else None


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
        return [load_npy(self.path / s["file"], mmap_mode="c") for s in self.manifest["shards"]]

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

    @property
    def rows(self) -> dict[str, Any]:
        """Which rows of which data the entry holds: its data set's name, split and limit and
        the rows' fingerprint. Two entries pair row by row when these are equal (an entry of a
        caption column and one of the images, of the same rows, do, though the images' content
        fingerprint keys only the second)."""
        d = dict(self.manifest["spec"]["dataset"])
        d["fingerprint"] = self.manifest.get("data_rows", d.get("fingerprint"))
        return d

    def labels(self) -> np.ndarray:
        return load_npy(self.path / "labels.npy")

    def inputs(self) -> list[str] | None:
        """The texts that were encoded (text transforms only)."""
        f = self.path / "inputs.json"
        return json.loads(f.read_text(encoding="utf-8"))["texts"] if f.is_file() else None
