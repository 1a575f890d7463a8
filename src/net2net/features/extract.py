"""Extraction: a data set's split, through a query domain, into an expert, into the store.

Everything is checked before anything is written: the data set loads whole (a missing
or unreadable image, mixed sizes, an empty split are a ``ValueError`` naming the row
and file), the domain exists for the data (a missing column lists the columns), the
expert reads what the domain makes, and the domain works on the first item. Images are
converted to what the expert declares (:func:`net2net.data.convert.image_spec`); the
conversion is logged and recorded in the entry's key. A ``ValueError`` during encoding
removes the entry's folder when this call created it: nothing half-written stays.

Under ``torchrun`` (``WORLD_SIZE > 1``) each rank encodes its contiguous slice of the
rows and rank 0 assembles the manifest (see :mod:`net2net.features.store`). The
process group is joined from the environment here, so that the store does not depend
on the trainer.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from net2net.data.convert import convert_images, image_spec
from net2net.data.datasets import Split, get_dataset
from net2net.data.domains import Domain, Items, column_domain, resolve_domain
from net2net.experts.base import Expert, encode_all
from net2net.features.shards import npy_bytes, shard_plan
from net2net.io import atomic_write_json, read_json

if TYPE_CHECKING:
    from net2net.features.store import Entry, FeatureStore

__all__ = ["extract_entry", "items_of"]

log = logging.getLogger("net2net.features")
_SHARD_BYTES = 256 << 20  # one shard for most entries; caps the memory of one write


def _world(device: Any) -> tuple[int, int]:
    """``(rank, world size)``: joins the process group ``torchrun`` describes, if any."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be an integer, got {os.environ['WORLD_SIZE']!r}") from None
    if world <= 1 or not dist.is_available():
        return 0, 1
    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def items_of(data: Split, lo: int, hi: int, total: int) -> Items:
    """Rows ``lo:hi`` of a loaded split (``total`` rows used) as a domain's input (images float ``(n, C, H, W)``)."""
    images = torch.from_numpy(np.array(data.images[lo:hi])).permute(0, 3, 1, 2).float() / 255.0
    columns = {k: v[lo:hi] for k, v in data.columns.items()}
    if data.labels is not None:
        columns.setdefault("label", [int(v) for v in data.labels[lo:hi]])
    labels = None if data.labels is None else data.labels[lo:hi]
    return Items(images, labels, columns, start=lo, total=total)


def _inputs(domain: Domain, items: Items, expert: Expert) -> tuple[Any, list[str]]:
    out = domain(items)
    if domain.kind == "image":
        return convert_images(out, image_spec(expert))
    return out, []


def extract_entry(store: FeatureStore, expert: Expert, *, dataset: str | Any = "fashion-mnist", split: str = "train",
                  transform: str | None = "identity", column: str | list[str] | None = None, limit: int | None = None,
                  data_dir: str | os.PathLike | None = None, batch_size: int = 256,
                  progress: bool | None = None) -> Entry:
    """See :meth:`FeatureStore.extract`."""
    from net2net.features.store import Entry, _key

    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    # a data set object (e.g. one that keeps its loaded splits) is used as it is: its name and
    # the split's fingerprint key the entry, exactly as when it is named
    ds = dataset if hasattr(dataset, "load") else get_dataset(dataset, data_dir)
    if split not in ds.splits():
        raise ValueError(f"data set {ds.name!r} has no split {split!r}; its splits are {', '.join(ds.splits())}")
    data = ds.load(split)
    if len(data) == 0:
        raise ValueError(f"data set {ds.name!r}, split {split!r}: the data set is empty")
    n = len(data) if limit is None else min(limit, len(data))
    domain = resolve_domain(transform, column, data.column_kinds(),
                            generated_captions=bool(getattr(ds, "generated_captions", False)))
    reads = getattr(expert, "input_kind", "image")
    if reads == "label" and domain.kind == "text" and domain.name.startswith("column:"):
        # a column of names ("filled", "outlined") is a class column to a label expert
        domain = column_domain(domain.params["column"], "label")
    if reads != domain.kind:
        raise ValueError(f"expert {expert.name!r} reads {reads} but transform {domain.name!r} makes {domain.kind}; "
                         f"choose a {reads} transform or another expert")
    _, notes = _inputs(domain, items_of(data, 0, 1, n), expert)  # fails here, before anything is written
    if notes:
        log.warning("%s: images converted for expert %s: %s", ds.name, expert.name, "; ".join(notes))
    spec = store.spec(expert, dataset=ds.name, split=split, data_fingerprint=data.fingerprint, transform=domain,
                      limit=limit, convert=notes)
    folder = store.folder(spec)
    if (folder / "manifest.json").is_file():
        return Entry(folder, store._check(folder, expect_key=_key(spec)), hit=True)
    created = not folder.exists()
    try:
        return _write(store, folder, spec, expert, domain, data, n, batch_size, progress)
    except ValueError:
        if created and not (folder / "manifest.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # this call's own, incomplete folder
        raise


def _write(store: FeatureStore, folder: Path, spec: dict[str, Any], expert: Expert, domain: Domain, data: Split,
           n: int, batch_size: int, progress: bool | None) -> Entry:
    from net2net.features.store import Entry, _key, _put, _record

    rank, world = _world(getattr(expert, "device", "cpu"))
    folder.mkdir(parents=True, exist_ok=True)
    dim = int(expert.dim)
    plan = shard_plan(n, max(1, _SHARD_BYTES // (4 * dim)), world)
    start_time = time.perf_counter()
    for s, (r, lo, hi) in enumerate(plan):
        if r != rank or _record(folder, s, lo, hi) is not None:
            continue  # another rank's shard, or done by an earlier, interrupted run
        inputs, _ = _inputs(domain, items_of(data, lo, hi, n), expert)
        desc = f"{expert.name} {domain.name}" + (f" {s + 1}/{len(plan)}" if len(plan) > 1 else "")
        z = encode_all(expert, inputs, batch_size=batch_size, progress=progress, desc=desc).numpy()
        if not np.isfinite(z).all():
            raise ValueError(f"expert {expert.name!r} produced NaN or inf features; check its weights and inputs")
        rec = _put(folder, f"z-{s:05d}.npy", npy_bytes(z), rows=hi - lo)
        # The record follows the shard: a shard without one is redone, never trusted.
        atomic_write_json(folder / f".z-{s:05d}.json", {**rec, "lo": lo, "hi": hi,
                                                         **({"texts": list(inputs)} if domain.kind == "text" else {})})
    _barrier()  # every rank's shards are on disk
    if rank == 0:
        records = [_record(folder, s, lo, hi) for s, (_, lo, hi) in enumerate(plan)]
        missing = [f"z-{s:05d}.npy" for s, rec in enumerate(records) if rec is None]
        if missing:
            raise ValueError(f"{folder}: shards {missing} were not written by their ranks; run the extraction again")
        shards = [{k: rec[k] for k in ("file", "rows", "bytes", "sha256")} for rec in records]
        labels = data.labels[:n] if data.labels is not None else np.full(n, -1)
        files = [_put(folder, "labels.npy", npy_bytes(np.asarray(labels, dtype=np.int64)), rows=n)]
        if domain.kind == "text":
            texts = [t for rec in records for t in rec["texts"]]
            files.append(_put(folder, "inputs.json", json.dumps({"texts": texts}).encode(), rows=n))
        manifest = {"key": _key(spec), "spec": spec, "rows": n, "dim": dim, "dtype": "float32",
                    "shards": shards, "files": files, "seconds": round(time.perf_counter() - start_time, 3),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        atomic_write_json(folder / "manifest.json", manifest)  # last: it marks the entry complete
        keep = {rec["file"] for rec in shards}
        for p in [*folder.glob(".z-*.json"), *(p for p in folder.glob("z-*.npy") if p.name not in keep)]:
            p.unlink(missing_ok=True)  # records, and shards of an earlier run cut for another world size
    _barrier()  # the manifest is on disk
    return Entry(folder, read_json(folder / "manifest.json"), hit=False)
