"""Extraction: a data set's split, through a query domain, into an expert, into the store.

Everything that can be checked before writing is: the split's rows load (a metadata
row naming a missing or outside file, an empty caption: a ``ValueError`` naming the
row and file), the domain exists for the data (a missing column lists the columns), the
expert reads what the domain makes, and the domain works on the first item. Then the
rows stream: a chunk of images is decoded, converted and encoded at a time, so memory
does not grow with the data set.

A domain that reads no image (a caption or label column) never opens an image file;
its entry is keyed by the rows' fingerprint (the metadata). One that reads images is
keyed by the content fingerprint of a pre-scan, and every image read is checked
against it (:mod:`net2net.data.split`): a file changed during extraction is a
``ValueError`` and the entry is not written. Images of different sizes are each fitted
to the expert's declared size (``fit``: ``crop``, ``pad`` or ``stretch``, see
:mod:`net2net.data.convert`); all conversions are logged once and recorded in the key.
A ``ValueError`` during encoding removes the entry's folder when this call created it:
nothing half-written stays.

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
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from net2net.data.convert import FITS, convert_images, fit_image, image_spec
from net2net.data.datasets import get_dataset
from net2net.data.domains import Domain, Items, column_domain, resolve_domain
from net2net.data.split import ArraySplit, Split
from net2net.experts.base import Expert, encode_all
from net2net.features.entry import Entry, _key, _put, _record
from net2net.features.shards import npy_bytes, shard_plan
from net2net.io import atomic_write_json, read_json

__all__ = ["Rows", "extract_entry"]


class _Store(Protocol):
    """What extraction needs of a :class:`~net2net.features.store.FeatureStore` (which calls
    it): typed by shape, so that this module does not import the store back."""

    def spec(self, expert: Expert, **facts: Any) -> dict[str, Any]: ...

    def folder(self, spec: dict[str, Any]) -> Path: ...

    def _check(self, folder: Path, expect_key: str | None = None) -> dict[str, Any]: ...

log = logging.getLogger("net2net.features")
_SHARD_BYTES = 256 << 20  # one shard for most entries; caps the memory of one write
_CHUNK_BYTES = 128 << 20  # decoded float pixels held at once while streaming


def _add_rows_fingerprint(folder: Path, manifest: dict[str, Any], rows_fingerprint: str) -> None:
    """An entry written before manifests recorded the rows' fingerprint (``data_rows``) gets
    it on its next hit, so that it pairs with a caption entry of the same rows (the key, and
    so the entry, is the same). A store that cannot be written keeps the old manifest."""
    manifest["data_rows"] = rows_fingerprint
    try:
        atomic_write_json(folder / "manifest.json", manifest)
    except OSError as e:
        log.warning("%s: could not record the rows' fingerprint (%s); pairing it with a column entry "
                    "will ask for a fresh extraction", folder, e)


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


class Rows:
    """A split's rows as a domain's input, chunk by chunk: the images (when the domain reads
    them) decoded, checked against the pre-scan and, if they differ in size, each fitted to
    the expert's size.

    Attributes:
        fingerprint: what keys the entry: the content's (images read) or the rows' (none read).
        notes: conversions done before batching (recorded in the key).
    """

    def __init__(self, data: Split, domain: Domain, expert: Expert, n: int, fit: str, progress: bool | None) -> None:
        self.data, self.domain, self.expert, self.n, self.fit = data, domain, expert, n, fit
        self.size: int | None = None
        self.rgb = False
        self.notes: list[str] = []
        self.chunk = n
        if not domain.reads_images:
            self.fingerprint = data.rows_fingerprint
            return
        scan = data.scan(progress)
        self.fingerprint = scan.fingerprint
        sizes = scan.size_set(n)
        if len(sizes) > 1:
            self.size = image_spec(expert).size
            if self.size is None:
                j = next(i for i in range(n) if tuple(scan.sizes[i]) != sizes[0])
                w, h = scan.sizes[j].tolist()
                raise ValueError(f"images differ in size ({data.where(0)} is {sizes[0][0]}x{sizes[0][1]}, "
                                 f"{data.where(j)} is {w}x{h}) and expert {expert.name!r} declares no input size; "
                                 "make them one size first, or use an expert that declares image_size")
            self.notes.append(f"fit {fit}: {len(sizes)} image sizes -> {self.size}x{self.size}")
        channels = scan.channels[:n]
        if {int(c) for c in channels} == {1, 3}:
            self.rgb = True
            log.warning("%d of %d images are grey among colour ones; converted them to RGB", int((channels == 1).sum()), n)
        # decoded images are held at their own size (fitted ones at the expert's) while a chunk is converted
        pixels = int((scan.sizes[:n, 0] * scan.sizes[:n, 1]).max())
        self.chunk = max(1, _CHUNK_BYTES // (pixels * 3 * 4))

    def items(self, lo: int, hi: int) -> Items:
        """Rows ``lo:hi`` as a domain's input (images float ``(n, C, H, W)`` in ``[0, 1]``)."""
        data, images = self.data, None
        if self.domain.reads_images:
            if isinstance(data, ArraySplit) and self.size is None and not self.rgb:
                arrays = data.images[lo:hi]
            else:
                arrays = [data.image(i) for i in range(lo, hi)]
                if self.rgb:
                    arrays = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays]
            if self.size is None:
                # (n, H, W, C) viewed as (n, C, H, W): the layout (and so the float rounding) extraction always had
                images = torch.from_numpy(np.array(arrays)).permute(0, 3, 1, 2).float() / 255.0
            else:
                images = torch.stack([fit_image(torch.from_numpy(np.array(a)).permute(2, 0, 1).float() / 255.0,
                                                self.size, self.fit) for a in arrays])
        columns = {k: v[lo:hi] for k, v in data.columns.items()}
        if data.labels is not None:
            columns.setdefault("label", [int(v) for v in data.labels[lo:hi]])
        labels = None if data.labels is None else data.labels[lo:hi]
        return Items(images, labels, columns, start=lo, total=self.n)

    def inputs(self, lo: int, hi: int) -> tuple[Any, list[str]]:
        """The expert's input for rows ``lo:hi`` and the conversion done after the domain."""
        out = self.domain(self.items(lo, hi))
        if self.domain.kind == "image":
            return convert_images(out, image_spec(self.expert), self.fit)
        return out, []


def extract_entry(store: _Store, expert: Expert, *, dataset: str | Any = "fashion-mnist", split: str = "train",
                  transform: str | None = "identity", column: str | list[str] | None = None, limit: int | None = None,
                  data_dir: str | os.PathLike | None = None, batch_size: int = 256,
                  progress: bool | None = None, fit: str = "crop", follow_links: bool = False,
                  skip_bad_rows: bool = False) -> Entry:
    """See :meth:`FeatureStore.extract`."""

    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    # a data set object (e.g. one that keeps its loaded splits) is used as it is: its name and
    # the split's fingerprint key the entry, exactly as when it is named
    ds = dataset if hasattr(dataset, "load") else get_dataset(dataset, data_dir, follow_links=follow_links,
                                                                 skip_bad_rows=skip_bad_rows)
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
    rows = Rows(data, domain, expert, n, fit, progress)
    try:  # fails here, before anything is written
        _, notes = rows.inputs(0, 1)
    except (ValueError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # an expert's own code failing: one line that names it (--debug shows the rest)
        raise ValueError(f"expert {expert.name!r} failed on the first row of {ds.name} {split}: "
                         f"{type(e).__name__}: {e}") from e
    notes = [*rows.notes, *notes]
    if notes:
        log.warning("%s: images converted for expert %s: %s", ds.name, expert.name, "; ".join(notes))
    spec = store.spec(expert, dataset=ds.name, split=split, data_fingerprint=rows.fingerprint, transform=domain,
                      limit=limit, convert=notes)
    folder = store.folder(spec)
    if (folder / "manifest.json").is_file():
        manifest = store._check(folder, expect_key=_key(spec))
        if "data_rows" not in manifest:
            _add_rows_fingerprint(folder, manifest, data.rows_fingerprint)
        return Entry(folder, manifest, hit=True)
    created = not folder.exists()
    try:
        return _write(store, folder, spec, rows, batch_size, progress)
    except Exception as e:  # any failure: no half-made entry stays. A Ctrl-C (or SIGKILL) keeps the
        # verified shards written so far, which the next run resumes from.
        if created and not (folder / "manifest.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # this call's own, incomplete folder
        if not isinstance(e, ValueError):
            raise ValueError(f"extracting with expert {expert.name!r} failed: {type(e).__name__}: {e}") from e
        raise


def _write(store: _Store, folder: Path, spec: dict[str, Any], rows: Rows, batch_size: int,
           progress: bool | None) -> Entry:

    expert, domain, data, n = rows.expert, rows.domain, rows.data, rows.n
    rank, world = _world(getattr(expert, "device", "cpu"))
    folder.mkdir(parents=True, exist_ok=True)
    dim = int(expert.dim)
    plan = shard_plan(n, max(1, _SHARD_BYTES // (4 * dim)), world)
    start_time = time.perf_counter()
    for s, (r, lo, hi) in enumerate(plan):
        if r != rank or _record(folder, s, lo, hi) is not None:
            continue  # another rank's shard, or done by an earlier, interrupted run
        desc = f"{expert.name} {domain.name}" + (f" {s + 1}/{len(plan)}" if len(plan) > 1 else "")
        z = np.empty((hi - lo, dim), dtype=np.float32)
        texts: list[Any] = []
        # whole forward batches per chunk: the same batches as encoding the shard at once
        step = batch_size * max(1, min(rows.chunk, 1024) // batch_size)
        with tqdm(total=hi - lo, desc=desc, unit="item", disable=(not progress) if progress is not None else None,
                  dynamic_ncols=True) as bar:
            for a in range(lo, hi, step):
                b = min(hi, a + step)
                inputs, _ = rows.inputs(a, b)
                z[a - lo:b - lo] = encode_all(expert, inputs, batch_size=batch_size, progress=False).numpy()
                if domain.kind == "text":
                    texts.extend(inputs)
                bar.update(b - a)
        if not np.isfinite(z).all():
            raise ValueError(f"expert {expert.name!r} produced NaN or inf features; check its weights and inputs")
        rec = _put(folder, f"z-{s:05d}.npy", npy_bytes(z), rows=hi - lo)
        # The record follows the shard: a shard without one is redone, never trusted.
        atomic_write_json(folder / f".z-{s:05d}.json", {**rec, "lo": lo, "hi": hi,
                                                         **({"texts": texts} if domain.kind == "text" else {})})
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
        manifest = {"key": _key(spec), "spec": spec, "rows": n, "data_rows": data.rows_fingerprint, "dim": dim,
                    "dtype": "float32",
                    "shards": shards, "files": files, "seconds": round(time.perf_counter() - start_time, 3),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        atomic_write_json(folder / "manifest.json", manifest)  # last: it marks the entry complete
        keep = {rec["file"] for rec in shards}
        for p in [*folder.glob(".z-*.json"), *(p for p in folder.glob("z-*.npy") if p.name not in keep)]:
            p.unlink(missing_ok=True)  # records, and shards of an earlier run cut for another world size
    _barrier()  # the manifest is on disk
    return Entry(folder, read_json(folder / "manifest.json"), hit=False)
