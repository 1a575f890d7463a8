"""A run folder's checkpoints: written atomically, read back with every field checked.

Layout of a run folder ``out``::

    out/checkpoints/step-00000500/model/            the model folder (config.json + model.safetensors)
    out/checkpoints/step-00000500/optimizer.safetensors, trainer.json
    out/checkpoints/latest          the name of the newest complete checkpoint
    out/.lock                       held (flock) by the process training into ``out``; removed after
    out/best/, out/model/           the best (validation NLL) and the final model

``trainer.json`` records the *run*: the model kind and config, every training setting
that changes the numbers, and a content fingerprint of the training and validation
pairs. ``--resume`` compares it with the current run and refuses a different recipe,
naming the fields that differ (a resumed run with another batch size or other data
would otherwise be described by provenance that is true only of its last segment).

A SIGKILL can leave hidden temporaries (``.step-*.tmp-*``, ``.latest.*.tmp``,
``.model.tmp-*``...), each as large as a checkpoint. They are removed when the next run
takes the folder's lock: a live writer holds that lock, so none of them is its.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from net2net.io import atomic_directory, atomic_write_bytes, atomic_write_json, read_json, save_tensors
from net2net.models import load_state_checked, model_kind, read_folder, write_folder

__all__ = [
    "RESUMABLE_FIELDS",
    "RunLock",
    "clean_stale_temporaries",
    "compare_runs",
    "fingerprint",
    "latest_checkpoint",
    "load_optimizer",
    "read_trainer_state",
    "save_checkpoint",
]

#: train settings that may change on ``--resume``: they change how long the run goes
#: on, where it runs and how often it writes, not what one step computes.
RESUMABLE_FIELDS = frozenset({"steps", "eval_every", "ckpt_every", "keep_checkpoints", "device", "eval_batch_size",
                              "keep"})
_POINTER = re.compile(r"step-\d{8}")
#: what an interrupted writer of this module (or of net2net.io) leaves in a run folder.
_STALE = (re.compile(r"\.(step-\d{8}|model|best|translator)\.(tmp-.+|old-\d+)"), re.compile(r"\.(latest|metrics\.json|trainer\.json)\..+\.tmp"))
_CHUNK = 1 << 16


def fingerprint(t: Tensor) -> str:
    """sha256 of a 2-d tensor's shape and float32 rows, read ``_CHUNK`` rows at a time
    (a memory-mapped store is never copied whole)."""
    h = hashlib.sha256(repr(tuple(t.shape)).encode())
    for lo in range(0, len(t), _CHUNK):
        h.update(t[lo : lo + _CHUNK].detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def run_record(kind: str, model: nn.Module, train_config: dict[str, Any], data: dict[str, str | None]) -> dict[str, Any]:
    """What determines a run's numbers: resuming with anything else is another run."""
    return {"kind": kind, "model": model.config.to_dict(),
            "train": {k: v for k, v in sorted(train_config.items()) if k not in RESUMABLE_FIELDS}, "data": data}


def _flat(d: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}"))
    return out


def compare_runs(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``["train.lr 0.001 -> 0.002", "data.train (the pairs' content)", ...]``: what differs."""
    a, b = _flat(saved, ""), _flat(current, "")
    diffs = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            name = key[1:]
            if name.startswith("data."):
                diffs.append(f"{name} (the pairs' content)")
            else:
                diffs.append(f"{name} {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
    return diffs


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors = {f"state.{i}.{k}": v for i, s in sd["state"].items() for k, v in s.items() if isinstance(v, Tensor)}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups}


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict[str, Any], source: str) -> None:
    state: dict[int, dict[str, Tensor]] = {}
    try:
        for key, v in tensors.items():
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = v
        groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{source}: the optimiser state does not fit this model ({type(e).__name__}: {e}); "
                         "delete the checkpoint or start a new run folder") from None


def save_checkpoint(out: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, state: dict[str, Any],
                    keep: int) -> Path:
    """Writes ``checkpoints/step-N`` (weights, optimiser, ``state`` as trainer.json), then
    points ``latest`` at it and prunes all but the ``keep`` newest."""
    ckpt_root = out / "checkpoints"
    target = ckpt_root / f"step-{step:08d}"
    opt_tensors, opt_meta = optimizer_tensors(opt)
    with atomic_directory(target) as tmp:
        # the model in the one "config + weights" folder format (checksummed, read back verified)
        write_folder(tmp / "model", kind=model_kind(model), config=model.config.to_dict(), state=model.state_dict())
        save_tensors(tmp / "optimizer.safetensors", opt_tensors)
        atomic_write_json(tmp / "trainer.json", {"step": step, "kind": model_kind(model),
                                                 "model_config": model.config.to_dict(), "optimizer": opt_meta, **state})
    # The pointer moves only once the folder is complete: a kill at any moment
    # leaves `latest` naming a whole checkpoint.
    atomic_write_bytes(ckpt_root / "latest", target.name.encode())
    for p in sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
    return target


def load_checkpoint_model(model: nn.Module, ckpt: Path) -> None:
    """Loads ``ckpt/model`` into ``model`` after verifying the folder (size, sha256, shapes).

    Checkpoints written before the model became a folder hold ``model.safetensors`` at
    their top level; those are still read (shapes checked).
    """
    if not (ckpt / "model").is_dir() and (ckpt / "model.safetensors").is_file():
        from net2net.io import load_tensors

        load_state_checked(model, load_tensors(ckpt / "model.safetensors"), str(ckpt))
        return
    saved = read_folder(ckpt / "model")
    load_state_checked(model, saved.state(), str(ckpt / "model"))


def latest_checkpoint(out: str | os.PathLike) -> Path | None:
    """The checkpoint ``out/checkpoints/latest`` names, or None; a pointer that is not a
    plain ``step-NNNNNNNN`` name (binary junk, ``../..``) is refused, never followed."""
    pointer = Path(out) / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    raw = pointer.read_bytes()[:64].strip()
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        name = None
    if name is None or not _POINTER.fullmatch(name):
        raise ValueError(f"{pointer}: not a checkpoint name (expected step-NNNNNNNN, got {raw[:32]!r}); "
                         f"delete {pointer} to resume from no checkpoint, or start a new run folder")
    path = pointer.parent / name
    if not (path / "trainer.json").is_file():
        raise ValueError(f"{pointer} names {name}, which is missing or incomplete; delete {pointer} to start over")
    return path


#: trainer.json's fields and their types (older checkpoints lack "run" and "running_loss").
_STATE_FIELDS: dict[str, type | tuple[type, ...]] = {"step": int, "kind": str, "model_config": dict, "optimizer": dict,
                                                     "history": dict}


def read_trainer_state(ckpt: Path) -> dict[str, Any]:
    """``ckpt/trainer.json``, every field checked; errors name the file and the field."""
    path = ckpt / "trainer.json"
    state = read_json(path)
    for name, types in _STATE_FIELDS.items():
        if name not in state:
            raise ValueError(f"{path}: malformed checkpoint record ('{name}' is missing); "
                             f"delete {ckpt} and {ckpt.parent / 'latest'}, or start a new run folder")
        if not isinstance(state[name], types) or isinstance(state[name], bool):
            raise ValueError(f"{path}: malformed checkpoint record ('{name}' is a {type(state[name]).__name__}); "
                             f"delete {ckpt} and {ckpt.parent / 'latest'}, or start a new run folder")
    history = state["history"]
    for key in ("step", "train_nll", "val_step", "val_nll"):
        if not isinstance(history.get(key), list):
            raise ValueError(f"{path}: malformed checkpoint record (history.{key} is not a list); "
                             f"delete {ckpt} and {ckpt.parent / 'latest'}, or start a new run folder")
    if state["step"] < 0 or not isinstance(state.get("running_loss", 0.0), (int, float)):
        raise ValueError(f"{path}: malformed checkpoint record (step {state['step']!r}, "
                         f"running_loss {state.get('running_loss')!r}); start a new run folder")
    if "run" in state and not isinstance(state["run"], dict):
        raise ValueError(f"{path}: malformed checkpoint record ('run' is a {type(state['run']).__name__})")
    return state


class RunLock:
    """An exclusive ``flock`` on ``out/.lock`` while a process trains into ``out``.

    The kernel drops it when the process dies (SIGKILL included; the empty file stays
    until the next run takes and removes it), so whoever holds it knows that no live
    writer owns the temporaries it finds. A second ``net2net train`` into the same folder
    is refused instead of racing the first.
    """

    def __init__(self, out: Path) -> None:
        self.path = out / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ValueError(f"{self.path.parent}: another process is training into this folder (it holds "
                                 f"{self.path}); wait for it to finish or choose another run folder") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)  # the holder removed the file between our open and our lock: take the new one

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            # Removed while still held, so a waiting opener sees another inode and retries.
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def clean_stale_temporaries(out: Path) -> list[str]:
    """Removes what killed writers left in ``out`` and ``out/checkpoints``; call with the
    :class:`RunLock` held. Returns the removed names."""
    removed = []
    for folder in (out, out / "checkpoints"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(".") and any(r.fullmatch(p.name) for r in _STALE):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                removed.append(p.name)
    return sorted(removed)
