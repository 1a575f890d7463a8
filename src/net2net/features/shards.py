"""Shard files of the feature store: ``.npy`` bytes without pickles, the shard plan, and a
lazy ``(N, dim)`` view over several memory-mapped shards."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["ShardedRows", "load_npy", "npy_bytes", "shard_plan"]


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def load_npy(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """``np.load`` without pickles; a damaged header (numpy raises SyntaxError and
    friends from its parser) is a ``ValueError`` naming the file."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - ValueError, OSError, SyntaxError, TokenError, ...
        raise ValueError(f"{path}: not a readable .npy file ({type(e).__name__}: {e}); "
                         f"delete the folder {path.parent} and extract again") from None


def shard_plan(n: int, rows_per_shard: int, world: int) -> list[tuple[int, int, int]]:
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
