"""Fitting τ (or a baseline) by maximum likelihood on cached pairs ``(z_Φ, z_Θ)``.

One plain function, :func:`fit`, reads top to bottom: batches, loss, step, log,
validate, checkpoint. The batch order is a pure function of ``(seed, epoch)`` and the
learning rate a pure function of the step, so a checkpoint needs only weights, the
optimiser's moments and the step counter to continue *exactly* where a killed run
stopped. Experts are never called here: the pairs come from the feature store.

The same function trains data-parallel under ``torchrun`` (see ``docs/scaling.md``):
every rank draws the same global batch from :func:`batch_indices` and takes its
contiguous slice; DDP averages the gradients, which equals the gradient of the
global-batch mean. ActNorm is initialised from the *whole* first global batch on every
rank (a no-grad forward before the first step, single process included), the logged
training NLL is all-reduced (the global-batch mean), and validation, checkpoints, the
model and the metrics are computed and written by rank 0 alone; the others wait at a
barrier. ``train.precision="bf16"`` runs the forward pass under bf16 autocast; the
flow's log-dets and the loss stay float32.

Around the loop: the run folder is checked for writing before the model is built and
locked while training (:mod:`net2net.train.checkpoints`: checkpoint records, the
``--resume`` check against a changed recipe, stale temporaries), progress is shown by
:mod:`net2net.train.progress`, and the best model by validation NLL is kept in ``out/best``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from net2net.io import atomic_write_json, load_tensors
from net2net.models import build_model, config_from_dict, load_model, save_model
from net2net.preflight import check_device
from net2net.train import checkpoints as C
from net2net.train import distributed as D
from net2net.train.checkpoints import latest_checkpoint
from net2net.train.progress import RISING_EVALS, OverfittingWarning, Progress, rising
from net2net.train.runs import claim_run_folder

__all__ = ["OverfittingWarning", "Pairs", "TrainConfig", "evaluate_nll", "fit", "latest_checkpoint", "lr_at",
           "make_optimizer", "train_step", "training_loss"]

log = logging.getLogger(__name__)

LN2 = math.log(2.0)
#: train.precision -> the autocast dtype of the forward pass (None: plain float32).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}
_FINITE_CHUNK = 1 << 16  # rows per NaN check: a memory-mapped store is never read whole
#: common-sense bounds, checked when a config is built: a billion steps of τ would take
#: years, and a batch of more than a million pairs is more than any data set here.
MAX_STEPS = 10**9
MAX_BATCH = 1 << 20


@dataclass(frozen=True)
class TrainConfig:
    """How to fit. Every field is checked when the config is built.

    Attributes:
        steps: optimiser steps in total.
        batch_size: pairs per step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        betas: AdamW's moment coefficients.
        warmup_steps: linear warm-up from 0 to ``lr``.
        min_lr_ratio: the cosine decay ends at ``lr * min_lr_ratio``.
        grad_clip: max global gradient norm (0 turns clipping off).
        eval_every: steps between validation passes (0: only at the end).
        ckpt_every: steps between checkpoints (0: only at the end).
        keep_checkpoints: how many recent checkpoints to keep.
        seed: seeds the initial weights and the batch order.
        device: "auto", "cpu", "cuda", "cuda:1", ...
        eval_batch_size: pairs per validation batch.
        precision: "fp32", or "bf16" for bf16 autocast of the forward pass (meant for
            GPUs; log-dets and the loss stay float32).
        keep: which model the run ships as ``out/model`` (and ``out/translator``):
            "best", the one with the lowest validation NLL of the run (the default; the
            last one when there is no validation data), or "last". The other is kept
            beside it (``out/last``, ``out/best``).
        embed_weight_decay: AdamW's weight decay on τ's condition embedder alone
            (``model.embedder``); None: ``weight_decay`` like every other parameter.
    """

    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 10.0
    eval_every: int = 500
    ckpt_every: int = 500
    keep_checkpoints: int = 2
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 4096
    precision: str = "fp32"
    keep: str = "best"
    embed_weight_decay: float | None = None

    def __post_init__(self) -> None:
        positive_ints = ("steps", "batch_size", "keep_checkpoints", "eval_batch_size")
        nonneg_ints = ("warmup_steps", "eval_every", "ckpt_every", "seed")
        for name in positive_ints + nonneg_ints:
            v = getattr(self, name)
            lo = 1 if name in positive_ints else 0
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"train.{name} must be an integer >= {lo}, got {v!r}")
        for name, hi in (("steps", MAX_STEPS), ("batch_size", MAX_BATCH), ("eval_batch_size", MAX_BATCH),
                         ("warmup_steps", MAX_STEPS), ("eval_every", MAX_STEPS), ("ckpt_every", MAX_STEPS)):
            if getattr(self, name) > hi:
                raise ValueError(f"train.{name} must be at most {hi:,}, got {getattr(self, name):,}")
        for name, lo, hi in (("lr", 0, 10), ("weight_decay", -1e-12, 10), ("min_lr_ratio", -1e-12, 1), ("grad_clip", -1e-12, 1e9)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (lo < v <= hi):
                raise ValueError(f"train.{name} must be a number in ({max(lo, 0)}, {hi}], got {v!r}")
        b = self.betas
        if not (isinstance(b, (tuple, list)) and len(b) == 2 and all(isinstance(x, (int, float)) and 0 <= x < 1 for x in b)):
            raise ValueError(f"train.betas must be two numbers in [0, 1), got {b!r}")
        object.__setattr__(self, "betas", tuple(float(x) for x in b))
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"train.device must be a string like 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if self.keep not in ("best", "last"):
            raise ValueError(f"train.keep must be 'best' or 'last', got {self.keep!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        e = self.embed_weight_decay
        if e is not None and (not isinstance(e, (int, float)) or isinstance(e, bool) or not 0 <= e <= 10):
            raise ValueError(f"train.embed_weight_decay must be a number in [0, 10] or null, got {e!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        if d["embed_weight_decay"] is None:  # unset: the record reads as before the field existed
            del d["embed_weight_decay"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return config_from_dict(cls, d, "train")


@dataclass(frozen=True)
class Pairs:
    """Paired representations: ``cond[i] = z_Φ(x_i)``, ``target[i] = z_Θ(y_i)``."""

    cond: Tensor
    target: Tensor

    def __post_init__(self) -> None:
        if self.cond.dim() != 2 or self.target.dim() != 2:
            raise ValueError(f"pairs must be 2-d, got cond {tuple(self.cond.shape)} and target {tuple(self.target.shape)}")
        if len(self.cond) != len(self.target):
            raise ValueError(f"pairs disagree in length: {len(self.cond)} conditions, {len(self.target)} targets")
        if len(self.cond) == 0:
            raise ValueError("no pairs: the data set is empty")

    def __len__(self) -> int:
        return len(self.cond)

    def check_finite(self, name: str) -> None:
        """Raises on NaN/inf, reading ``_FINITE_CHUNK`` rows at a time (bounded memory)."""
        for part, t in (("cond", self.cond), ("target", self.target)):
            for lo in range(0, len(t), _FINITE_CHUNK):
                bad = (~torch.isfinite(t[lo : lo + _FINITE_CHUNK])).any(dim=1).nonzero()
                if len(bad):
                    raise ValueError(f"{name} {part} has NaN or inf values (first bad row: {lo + int(bad[0])}); "
                                     "re-extract the features")


def resolve_device(name: str) -> torch.device:
    """``train.device`` as a device that exists here; a one-line ``ValueError`` otherwise."""
    return check_device(name, "train.device")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``lr * min_lr_ratio``. ``step`` counts from 0."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@functools.lru_cache(maxsize=2)
def _epoch_permutation(seed: int, epoch: int, n: int) -> Tensor:
    # Drawn once per epoch, not per step: a fresh randperm of 60k rows costs more
    # than a small τ's whole training step on the CPU.
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def batch_indices(step: int, n: int, cfg: TrainConfig) -> Tensor:
    """The rows of step ``step``: a fresh permutation per epoch, seeded by (seed, epoch)."""
    per_epoch = max(1, n // cfg.batch_size)
    epoch, k = divmod(step, per_epoch)
    perm = _epoch_permutation(cfg.seed, epoch, n)
    if n < cfg.batch_size:  # tiny data sets: sample with wrap-around
        return perm.repeat(cfg.batch_size // n + 1)[: cfg.batch_size]
    return perm[k * cfg.batch_size : (k + 1) * cfg.batch_size]


@torch.no_grad()
def evaluate_nll(model: nn.Module, pairs: Pairs, device: torch.device, batch_size: int = 4096) -> float:
    """Mean negative log-likelihood of ``pairs`` in nats per dimension of the target."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(pairs), batch_size):
        c = pairs.cond[i : i + batch_size].to(device, torch.float32)
        z = pairs.target[i : i + batch_size].to(device, torch.float32)
        total += float(-model.log_prob(z, c).double().sum())
        count += len(z)
    model.train(was_training)
    return total / count / model.dim


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with the fused kernel on CPU and CUDA alike: one kernel per parameter
    instead of a dozen element-wise ops (1.5x faster batch-16 steps on the 2-core CPU,
    docs/benchmarks.md)."""
    params: Any = model.parameters()
    embedder = getattr(model, "embedder", None)
    if cfg.embed_weight_decay is not None and isinstance(embedder, nn.Module):
        own = {id(p) for p in embedder.parameters()}
        params = [{"params": [p for p in model.parameters() if id(p) not in own]},
                  {"params": list(embedder.parameters()), "weight_decay": cfg.embed_weight_decay}]
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=True)


def training_loss(model: nn.Module, z: Tensor, c: Tensor) -> Tensor:
    """What training minimises: the model's own ``training_loss`` where it has one (a
    flow-matching τ's regression loss, a coupling τ's NLL plus its auxiliary regression),
    else the NLL in nats/dim."""
    own = getattr(model, "training_loss", None)
    return own(z, c) if callable(own) else -model.log_prob(z, c).mean() / model.dim


def train_step(model: nn.Module, opt: torch.optim.Optimizer, z: Tensor, c: Tensor, grad_clip: float) -> Tensor:
    """One step on :func:`training_loss`; returns the detached loss without a host sync."""
    loss = training_loss(model, z, c)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip, foreach=True)
    opt.step()
    return loss.detach()


class _LogProb(nn.Module):
    """``log_prob``, or with ``loss=True`` the training loss, as the forward pass, under
    the precision's autocast.

    DDP synchronises gradients only for calls that go through ``forward``; the flow's
    log-dets and ``log_prob`` itself are summed in float32 even under autocast
    (see :mod:`net2net.flow.layers`), and the result is cast to float32 here.
    """

    def __init__(self, model: nn.Module, autocast: torch.dtype | None, device_type: str) -> None:
        super().__init__()
        self.model = model
        self.dim = model.dim
        self.autocast = autocast
        self.device_type = device_type

    def forward(self, z: Tensor, c: Tensor, loss: bool = False) -> Tensor:
        run = (lambda: training_loss(self.model, z, c)) if loss else (lambda: self.model.log_prob(z, c))
        if self.autocast is None:
            return run()
        with torch.autocast(self.device_type, dtype=self.autocast):
            out = run()
        return out.float()

    def log_prob(self, z: Tensor, c: Tensor) -> Tensor:
        return self(z, c)

    def training_loss(self, z: Tensor, c: Tensor) -> Tensor:
        return self(z, c, loss=True)


class _DDPStep:
    """A DDP-wrapped :class:`_LogProb` seen through the face :func:`train_step` uses
    (``training_loss``, ``dim``, ``parameters``), so one step function serves one process
    and many. (DDP itself has a ``dim`` attribute of its own: the scatter dimension.)"""

    def __init__(self, ddp: torch.nn.parallel.DistributedDataParallel, dim: int) -> None:
        self.ddp, self.dim = ddp, dim

    def training_loss(self, z: Tensor, c: Tensor) -> Tensor:
        return self.ddp(z, c, loss=True)

    def parameters(self) -> Any:
        return self.ddp.parameters()


# --- the loop ------------------------------------------------------------------------


def check_batch_memory(model: nn.Module, cfg: TrainConfig, device: torch.device) -> None:
    """Refuses a batch whose activations cannot fit in this machine's memory, before the
    first step tries to allocate them (an allocation traceback otherwise)."""
    if device.type != "cpu":
        return
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    # every Linear's output is kept for the backward pass, with about as much again for
    # its gradient and the activation after it: 3 floats of 4 bytes per output unit.
    units = sum(m.out_features for m in model.modules() if isinstance(m, nn.Linear)) + model.dim + model.cond_dim
    need = max(cfg.batch_size, cfg.eval_batch_size) * units * 12
    if need > memory // 2:
        fits = max(1, memory // 2 // (units * 12))
        raise ValueError(f"train.batch_size {cfg.batch_size:,} (eval_batch_size {cfg.eval_batch_size:,}) needs about "
                         f"{need / 2**30:.0f} GiB for activations and this machine has {memory / 2**30:.0f} GiB; "
                         f"use at most {fits:,}")


def fit(
    kind: str,
    model_config: dict[str, Any],
    train: Pairs,
    val: Pairs | None,
    cfg: TrainConfig,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    extra: dict[str, Any] | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Trains a ``kind`` model on ``train``, validating on ``val``; writes ``out/model``.

    Progress (step, loss, learning rate, ETA) shows as a bar on a terminal and as a log
    line (``logging``, logger ``net2net.train.fit``) about every 5 % of the run
    elsewhere. When ``val`` is given, the model with the lowest validation NLL so far is
    kept in ``out/best`` beside the checkpoints, and an :class:`OverfittingWarning` is
    issued (once) when the validation NLL has risen for :data:`RISING_EVALS`
    evaluations in a row.

    Args:
        kind: a key of :data:`net2net.models.MODELS` ("cinn", "mlp").
        model_config: its config fields (``dim`` and ``cond_dim`` included).
        train, val: the pairs; ``val`` may be ``None``.
        cfg: the optimisation settings.
        out: run folder: ``checkpoints/``, ``model/``, ``best/`` and ``metrics.json`` go there.
        resume: continue from ``out``'s latest complete checkpoint (error if none, or if
            the checkpoint was written by a different recipe: model, data or a training
            setting other than :data:`~net2net.train.checkpoints.RESUMABLE_FIELDS`).
        extra: stored in the model's ``config.json`` (e.g. what made the features).
        progress: ``True`` a bar, ``False`` nothing, ``None`` (default) a bar on a
            terminal and log lines elsewhere.
        overwrite: train into ``out`` even if it is a non-empty folder that is not a
            net2net run (:func:`net2net.train.runs.claim_run_folder`); without it such a
            folder is refused before any work, so no one's files are replaced.

    Returns:
        The metrics dict also written to ``out/metrics.json``.
    """
    out = Path(out)
    dist = D.setup(resolve_device(cfg.device))  # a world of one unless launched by torchrun
    device = D.rank_device(resolve_device(cfg.device))
    # before any work: an unwritable or foreign folder must not cost a run
    claim_run_folder(out, what="run folder", overwrite=overwrite, record=False)
    if cfg.batch_size % dist.world_size:
        raise ValueError(f"train.batch_size ({cfg.batch_size}) is the global batch and must divide by the number of "
                         f"processes ({dist.world_size}); choose a multiple of {dist.world_size}")
    # Same seed, same initial weights, without touching the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_model(kind, model_config)
    if (model.dim, model.cond_dim) != (train.target.shape[1], train.cond.shape[1]):
        raise ValueError(
            f"model expects target dim {model.dim} and cond dim {model.cond_dim}, but the "
            f"training pairs have {train.target.shape[1]} and {train.cond.shape[1]}"
        )
    check_batch_memory(model, cfg, device)
    train.check_finite("training")
    if val is not None:
        val.check_finite("validation")
    if hasattr(model, "fit_standardization"):
        model.fit_standardization(train.target)  # τ's buffers (FlowConfig.standardize); a resume reloads them
    model.check_finite = False  # checked once above; no host sync per step
    with C.RunLock(out) if dist.is_main else contextlib.nullcontext():
        if dist.is_main:
            claim_run_folder(out, what="run folder", overwrite=overwrite)
            removed = C.clean_stale_temporaries(out)
            if removed:
                log.info("%s: removed %d temporaries left by a killed run (%s)", out, len(removed), ", ".join(removed))
        return _train(dist, device, kind, model, train, val, cfg, out, resume, extra, progress)


def _train(dist: D.DistInfo, device: torch.device, kind: str, model: nn.Module, train: Pairs, val: Pairs | None,
           cfg: TrainConfig, out: Path, resume: bool, extra: dict[str, Any] | None, progress: bool | None) -> dict[str, Any]:
    model.to(device).train()
    history: dict[str, list] = {"step": [], "train_nll": [], "val_step": [], "val_nll": []}
    t0 = time.perf_counter()
    if getattr(model, "closed_form", False):
        # A closed-form baseline (least squares) is solved, not stepped: no loop to run.
        model.fit_closed_form(train.cond.to(device), train.target.to(device))
        return _finish_on_main(dist, kind, model, train, val, cfg, out, device, history, t0, extra, [])
    run = C.run_record(kind, model, cfg.to_dict(), {"train": C.fingerprint(train.cond) + C.fingerprint(train.target),
                                                    "val": None if val is None else
                                                    C.fingerprint(val.cond) + C.fingerprint(val.target)})
    opt = make_optimizer(model, cfg)
    start, resumed_running, segments = 0, 0.0, []
    if resume:
        ckpt = latest_checkpoint(out)
        if ckpt is None:
            raise ValueError(f"--resume: no checkpoint in {out / 'checkpoints'}; run without --resume to start")
        state = C.read_trainer_state(ckpt)
        if "run" in state:
            diffs = C.compare_runs(state["run"], run)
            if diffs:
                raise ValueError(f"--resume: {ckpt} belongs to another recipe; changed: {'; '.join(diffs)}. Resume "
                                 f"with the recipe that started the run (only {', '.join(sorted(C.RESUMABLE_FIELDS))} "
                                 "may change) or start a new run folder")
        elif state["kind"] != kind or state["model_config"] != model.config.to_dict():
            raise ValueError(f"--resume: {ckpt} was trained with a different model config; use a new output folder")
        C.load_checkpoint_model(model, ckpt)
        C.load_optimizer(opt, load_tensors(ckpt / "optimizer.safetensors", device), state["optimizer"], str(ckpt))
        start, history = state["step"], state["history"]
        resumed_running = float(state.get("running_loss", 0.0))
        segments = list(state.get("segments", []))
        if start > cfg.steps:
            raise ValueError(f"--resume: {ckpt} is at step {start}, past train.steps={cfg.steps}; raise --steps")
    elif latest_checkpoint(out) is not None:
        raise ValueError(f"{out} holds checkpoints of an earlier run; pass --resume to continue it or choose a new folder")
    segments.append({"start": start, "steps": cfg.steps})

    target = train.target if train.target.device == device else train.target.to(device, torch.float32)
    cond = train.cond if train.cond.device == device else train.cond.to(device, torch.float32)
    n = len(train)
    # Gradients flow through forward (DDP's rule); fp32 on one process needs no wrapper.
    step_model: nn.Module = model
    if PRECISIONS[cfg.precision] is not None or dist.distributed:
        step_model = _LogProb(model, PRECISIONS[cfg.precision], device.type)
    if start == 0:
        # Data-dependent init (ActNorm) from the whole first global batch, identical on every
        # rank; the first step's forward would do the same on one process.
        idx = batch_indices(0, n, cfg).to(device)
        with torch.no_grad():
            step_model.log_prob(target[idx].float(), cond[idx].float())
    if dist.distributed:
        # Every rank holds identical weights here (same seed, same init batch).
        ddp = torch.nn.parallel.DistributedDataParallel(
            step_model, device_ids=[device.index] if device.type == "cuda" else None, forward_sync_buffers=False)
        step_model = _DDPStep(ddp, model.dim)  # type: ignore[assignment]
    local = cfg.batch_size // dist.world_size
    lo = dist.rank * local  # this rank's contiguous slice of every global batch
    log_every = 50
    shown = Progress(kind, cfg.steps, start, progress, dist.is_main, log_every)
    running = torch.full((), resumed_running, device=device)
    best = min(history["val_nll"], default=math.inf)
    warned = False
    for step in range(start, cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        idx = batch_indices(step, n, cfg)[lo : lo + local].to(device)
        running += train_step(step_model, opt, target[idx].float(), cond[idx].float(), cfg.grad_clip)
        done = step + 1
        if val is not None and dist.is_main and ((cfg.eval_every and done % cfg.eval_every == 0) or done == cfg.steps):
            v = evaluate_nll(model, val, device, cfg.eval_batch_size)
            history["val_step"].append(done)
            history["val_nll"].append(v)
            shown.val = v
            if v < best:  # the best model so far, beside the checkpoints
                best = v
                save_model(model, out / "best", extra={"best": {"step": done, "val_nll_nats_per_dim": v},
                                                       "train_config": cfg.to_dict(), **(extra or {})})
            if not warned and rising(history["val_nll"]):
                warned = True
                warnings.warn(OverfittingWarning(
                    f"validation NLL has risen for {RISING_EVALS} evaluations in a row "
                    f"({history['val_nll'][-RISING_EVALS - 1]:.4f} -> {v:.4f} nats/dim at step {done}); "
                    f"the best model so far ({best:.4f} at step {history['val_step'][history['val_nll'].index(best)]}) "
                    f"is kept in {out / 'best'}; fewer steps or more data may help"), stacklevel=2)
        if done % log_every == 0 or done == cfg.steps:
            k = done % log_every or log_every
            value = float(D.all_reduce_mean(running)) / k  # the only host sync, once per log_every steps
            running.zero_()
            if not math.isfinite(value):
                raise FloatingPointError(f"training diverged at step {done} (loss {value}); lower train.lr or raise train.grad_clip")
            history["step"].append(done)
            history["train_nll"].append(value)
            shown.logged(done, value, lr_at(step, cfg))
        if (cfg.ckpt_every and done % cfg.ckpt_every == 0) or done == cfg.steps:
            summed = float(D.all_reduce_mean(running.clone())) if dist.distributed else float(running)
            if dist.is_main:
                C.save_checkpoint(out, model, opt, done, {
                    "train_config": cfg.to_dict(), "run": run, "segments": segments, "history": history,
                    # the loss summed since the last log line: a resumed run logs the same means
                    "running_loss": summed,
                }, cfg.keep_checkpoints)
            D.barrier()
        shown.bar.update(1)
    shown.close()
    return _finish_on_main(dist, kind, model, train, val, cfg, out, device, history, t0, extra, segments)


def _finish_on_main(dist: D.DistInfo, *args: Any) -> dict[str, Any]:
    """Rank 0 validates and writes; every rank returns rank 0's metrics."""
    metrics = _finish(*args) if dist.is_main else None
    return D.broadcast_object(metrics)


def _finish(kind: str, model: nn.Module, train: Pairs, val: Pairs | None, cfg: TrainConfig, out: Path,
            device: torch.device, history: dict[str, list], t0: float, extra: dict[str, Any] | None,
            segments: list[dict[str, int]]) -> dict[str, Any]:
    """Final validation, ``out/model`` and ``out/metrics.json``."""
    metrics: dict[str, Any] = {
        "kind": kind,
        "steps": cfg.steps if not getattr(model, "closed_form", False) else 0,
        "train_pairs": len(train),
        "seconds_this_run": time.perf_counter() - t0,
        "history": history,
    }
    if len(segments) > 1:  # a resumed run says which settings each segment ran with
        metrics["segments"] = segments
    if val is not None:
        nll = history["val_nll"][-1] if history["val_nll"] else evaluate_nll(model, val, device, cfg.eval_batch_size)
        metrics.update(val_pairs=len(val), val_nll_nats_per_dim=nll, val_nll_bits_per_dim=nll / LN2)
        if history["val_nll"]:
            i = history["val_nll"].index(min(history["val_nll"]))
            metrics["best"] = {"step": history["val_step"][i], "val_nll_nats_per_dim": history["val_nll"][i],
                               "folder": "best"}
    model.check_finite = True
    shipped, which = model, "last"
    best = metrics.get("best")
    if cfg.keep == "best" and best is not None and best["val_nll_nats_per_dim"] < metrics["val_nll_nats_per_dim"] \
            and (out / "best").is_dir():
        shipped, which = load_model(out / "best", device=device), "best"
    if val is not None:
        metrics["shipped"] = {"which": which, "step": best["step"] if which == "best" else metrics["steps"],
                              "val_nll_nats_per_dim": (best["val_nll_nats_per_dim"] if which == "best"
                                                       else metrics["val_nll_nats_per_dim"])}
    saved = {"train_config": cfg.to_dict(), "metrics": {k: v for k, v in metrics.items() if k != "history"}, **(extra or {})}
    if shipped is not model:
        save_model(model, out / "last", extra=saved)
    elif (out / "last").is_dir():  # an earlier segment's, now stale
        shutil.rmtree(out / "last")
    save_model(shipped, out / "model", extra=saved)
    atomic_write_json(out / "metrics.json", json.loads(json.dumps(metrics)))
    return metrics
