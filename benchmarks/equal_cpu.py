"""Time to quality at equal CPU time: the protocol of benchmarks/real_pairs.py.

Every model gets the reference's CPU time, not its number of steps: the cost of a
step of each model is measured first (in the same process, on the same batches), and a
model that is cheaper per step gets proportionally more steps, with its warm-up and
cosine schedule set for that many steps. A builder with a ``budget`` attribute gets that
fraction of the reference's CPU time instead (0.5: does a model trained for half the time,
its schedule set for that, end as well as the reference?). A builder with ``compiled`` set
trains under ``torch.compile`` (:class:`Compiled`); what a new process pays to compile
(:func:`compile_cost`) is charged to its CPU time and taken from its budget. The models of a group take turns (each runs
the next 1/``evals`` of its steps, the order rotating), each turn timed in thread CPU
time, and after every turn the held-out NLL of each is measured (not timed).

Per task: a learning-rate sweep on seed 0 (every model at every rate of ``SWEEP``); the
rates of ``MATCHED`` on the other seeds too (every model at the same rate); and each
model at its own best rate of the sweep (picked on seed 0 by the final held-out NLL,
reported on every seed, seed 0 included).

Benchmarks are not tests: nothing here asserts a speed or a likelihood.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from net2net.flow import ConditionalINN
from net2net.train.fit import (
    Pairs,
    TrainConfig,
    batch_indices,
    evaluate_nll,
    lr_at,
    make_optimizer,
    train_step,
    training_loss,
)

__all__ = ["MATCHED", "SWEEP", "Compiled", "best_rate", "compile_cost", "cost_per_step", "protocol", "race_cpu",
           "stepped", "time_to"]

#: The learning rates every model is swept over (seed 0 only).
SWEEP: tuple[float, ...] = (5e-4, 1e-3, 2e-3, 4e-3, 8e-3)
#: The learning rates every model runs at on every seed (the matched-settings rows).
MATCHED: tuple[float, ...] = (1e-3, 2e-3)
BATCH = 256

Builder = Callable[[int, int], nn.Module]


def best_rate(finals: dict[float, float]) -> float:
    """The rate with the lowest final held-out NLL; one at which the model diverged (NaN or
    inf at the end) is never the best."""
    return min(finals, key=lambda lr: finals[lr] if math.isfinite(finals[lr]) else math.inf)


def fresh_model(build: Builder, train: Pairs, seed: int) -> tuple[nn.Module, float]:
    """A fresh model in training mode, set up on ``train`` as the trainer would; returns it and
    the thread CPU seconds its data-dependent set-up took (an ablation's ``fit_on_train``,
    benchmarks/tau_ablations.py), which count as training time."""
    torch.manual_seed(seed)
    model = build(train.target.shape[1], train.cond.shape[1]).train()
    if isinstance(model, ConditionalINN):
        model.check_finite = False  # what fit() does after checking the data once
        model.fit_standardization(train.target)  # as fit() does (a no-op unless FlowConfig.standardize)
    t0 = time.thread_time()
    fit_on_train = getattr(model, "fit_on_train", None)
    if callable(fit_on_train):
        fit_on_train(train)
    return model, time.thread_time() - t0


class Compiled(nn.Module):
    """What :func:`train_step` steps for a builder with ``compiled`` set: the model's
    training loss under ``torch.compile`` (the parameters, ``dim`` and everything else
    the model's own). The protocol evaluates the model itself, uncompiled."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.dim = model, model.dim
        self.training_loss = torch.compile(functools.partial(training_loss, model))


def stepped(build: Builder, model: nn.Module) -> nn.Module:
    """The module a training step calls: ``model``, or :class:`Compiled` of it where the
    builder says ``compiled`` (a setting of the step, as bf16 autocast would be)."""
    return Compiled(model) if getattr(build, "compiled", False) else model


def compile_cost(build: Builder, train: Pairs, *, steps: int = 3) -> dict[str, float]:
    """Wall seconds of a compiled builder's first ``steps`` steps, which trace and compile:
    ``first`` in this process as it was (a cold compiler cache compiles from scratch), and
    ``warm`` after dropping the process's compiled code, with the compiler's on-disk cache
    now holding the graphs: what a new training process pays. Wall time, since the compiler
    works partly in other processes."""
    cfg = TrainConfig(steps=10_000, batch_size=BATCH, lr=1e-4, warmup_steps=0, seed=0, device="cpu")
    batches = [batch_indices(s, len(train), cfg) for s in range(steps)]
    out = {}
    for key in ("first", "warm"):
        torch._dynamo.reset()
        model = fresh_model(build, train, 0)[0]
        step_model, opt = stepped(build, model), make_optimizer(model, cfg)
        t0 = time.perf_counter()
        for i in batches:
            train_step(step_model, opt, train.target[i], train.cond[i], cfg.grad_clip)
        out[key] = time.perf_counter() - t0
    return out


def cost_per_step(make: dict[str, Builder], train: Pairs, *, steps: int = 20, rounds: int = 3) -> dict[str, float]:
    """Thread CPU seconds per training step of each model: fresh models, a few steps to
    warm up, then ``rounds`` turns of ``steps`` steps each (order rotating); the median turn."""
    cfg = TrainConfig(steps=10_000, batch_size=BATCH, lr=1e-4, warmup_steps=0, seed=0, device="cpu")
    models = {n: stepped(b, fresh_model(b, train, 0)[0]) for n, b in make.items()}
    opts = {n: make_optimizer(m, cfg) for n, m in models.items()}
    batches = [batch_indices(s, len(train), cfg) for s in range(steps)]
    batches = [(train.target[i], train.cond[i]) for i in batches]
    for n, m in models.items():
        for z, c in batches[:3]:
            train_step(m, opts[n], z, c, cfg.grad_clip)
    times: dict[str, list[float]] = {n: [] for n in models}
    order = list(models)
    for _ in range(rounds):
        order = order[1:] + order[:1]
        for n in order:
            t0 = time.thread_time()
            for z, c in batches:
                train_step(models[n], opts[n], z, c, cfg.grad_clip)
            times[n].append((time.thread_time() - t0) / steps)
    return {n: statistics.median(t) for n, t in times.items()}


def race_cpu(make: dict[str, Builder], lrs: dict[str, float], steps: dict[str, int], train: Pairs, val: Pairs, *,
             evals: int, warmup: float, seed: int, charge: dict[str, float] | None = None) -> dict[str, dict]:
    """Trains every model of ``make`` for its own ``steps`` at its own peak ``lrs`` (warm-up
    ``warmup`` of its steps, then cosine), all on the same batch order, taking turns.

    ``charge`` adds seconds to a model's CPU time before its first step: a compiled model's
    compile (:func:`compile_cost`), which the models of one process share and so no
    single run would otherwise pay.

    Returns per model its steps and rate, the steps at which it was evaluated, the held-out
    NLL (nats/dim) there, the training CPU seconds up to there and the parameter count.
    """
    runs: dict[str, dict] = {}
    for name, build in make.items():
        cfg = TrainConfig(steps=steps[name], batch_size=BATCH, lr=lrs[name], seed=seed, device="cpu",
                          warmup_steps=max(1, round(warmup * steps[name])))
        model, setup_cpu = fresh_model(build, train, seed)
        runs[name] = {"model": model, "step_model": stepped(build, model), "opt": make_optimizer(model, cfg),
                      "cfg": cfg, "done": 0, "cpu": setup_cpu + (charge or {}).get(name, 0.0),
                      "lr": lrs[name], "total_steps": steps[name], "steps": [], "nll": [], "seconds": [],
                      "params": sum(p.numel() for p in model.parameters())}
    order = list(runs)
    for k in range(1, evals + 1):
        order = order[1:] + order[:1]  # who goes first rotates
        for name in order:
            r = runs[name]
            cfg, end = r["cfg"], round(k * r["total_steps"] / evals)
            batches = []
            for step in range(r["done"], end):
                idx = batch_indices(step, len(train), cfg)
                batches.append((step, train.target[idx], train.cond[idx]))
            t0 = time.thread_time()
            for step, z, c in batches:
                for group in r["opt"].param_groups:
                    group["lr"] = lr_at(step, cfg)
                train_step(r["step_model"], r["opt"], z, c, cfg.grad_clip)
            r["cpu"] += time.thread_time() - t0
            r["done"] = end
        for r in runs.values():
            nll = evaluate_nll(r["model"], val, torch.device("cpu"))
            r["model"].train()
            r["steps"].append(r["done"])
            r["nll"].append(nll if math.isfinite(nll) else math.inf)
            r["seconds"].append(r["cpu"])
    return {name: {k: v for k, v in r.items() if k not in ("model", "step_model", "opt", "cfg", "done")}
            for name, r in runs.items()}


def time_to(run: dict, target: float) -> float | None:
    """CPU seconds until the held-out NLL first reaches ``target`` (linear between
    evaluations, from the untrained model at 0 s), or None if it never does."""
    prev_t, prev_nll = 0.0, math.inf
    for t, nll in zip(run["seconds"], run["nll"], strict=True):
        if nll <= target:
            if math.isinf(prev_nll):
                return t
            return prev_t + (t - prev_t) * (prev_nll - target) / (prev_nll - nll)
        prev_t, prev_nll = t, nll
    return None


def _versus_reference(group: dict[str, dict], reference: str) -> None:
    """Adds to every run of one seed the CPU time to the reference's final NLL, and its
    fraction of the reference's whole CPU time."""
    ref = group[reference]
    for r in group.values():
        t = time_to(r, ref["nll"][-1])
        r["time_to_reference"] = t
        r["fraction_of_reference"] = None if t is None else t / ref["cpu"]


def protocol(make: dict[str, Builder], train: Pairs, val: Pairs, *, reference: str, ref_steps: int, seeds: int,
             evals: int, warmup: float, calib_steps: int = 20, matched_only: bool = False,
             log: Callable[[str], None] = print) -> dict:
    """The whole protocol on one task; see the module docstring. ``reference`` names the
    model whose step count and CPU time set everyone's budget. ``matched_only`` runs only
    the matched rates (no sweep, no own-best rows): what a longer budget can afford."""
    compiles = {n: compile_cost(b, train) for n, b in make.items() if getattr(b, "compiled", False)}
    if compiles:
        log("compile (wall s): " + ", ".join(f"{n} {c['first']:.1f} first, {c['warm']:.1f} warm" for n, c in compiles.items()))
    charge = {n: c["warm"] for n, c in compiles.items()}
    cost = cost_per_step(make, train, steps=calib_steps)
    # a builder's ``budget`` (default 1) is its fraction of the reference's CPU time
    # (less a compiled model's compile, charged to its CPU time)
    steps = {n: max(1, round((ref_steps * cost[reference] * getattr(make[n], "budget", 1.0) - charge.get(n, 0.0)) / c))
             for n, c in cost.items()}
    log("cost per step: " + ", ".join(f"{n} {c * 1e3:.2f} ms ({steps[n]} steps)" for n, c in cost.items()))

    def run(models: list[str], lrs: dict[str, float], seed: int) -> dict[str, dict]:
        runs = race_cpu({n: make[n] for n in models}, lrs, steps, train, val, evals=evals, warmup=warmup, seed=seed,
                        charge=charge)
        log(f"seed {seed}: " + ", ".join(f"{n} lr {r['lr']:g} {r['nll'][-1]:+.4f} ({r['cpu']:.1f} s)"
                                         for n, r in runs.items()))
        return runs

    names = list(make)
    sweep = {} if matched_only else {lr: run(names, dict.fromkeys(names, lr), 0) for lr in SWEEP}
    best = {n: best_rate({lr: sweep[lr][n]["nll"][-1] for lr in SWEEP}) for n in names} if sweep else {}
    groups: dict[str, list[dict[str, dict]]] = {}
    for lr in MATCHED:
        groups[f"lr {lr:g}"] = [{n: dict(r) for n, r in sweep[lr].items()}] if sweep else []
        groups[f"lr {lr:g}"] += [run(names, dict.fromkeys(names, lr), s) for s in range(1 if sweep else 0, seeds)]
    if sweep:
        own = [{n: dict(sweep[best[n]][n]) for n in names}]
        for s in range(1, seeds):
            fresh = [n for n in names if best[n] not in MATCHED]
            got = run(fresh, {n: best[n] for n in fresh}, s) if fresh else {}
            own.append({n: dict(got[n] if n in got else groups[f"lr {best[n]:g}"][s][n]) for n in names})
        groups["own best"] = own
    for seeds_runs in groups.values():
        for group in seeds_runs:
            _versus_reference(group, reference)
    return {"train_pairs": len(train), "val_pairs": len(val), "dim": train.target.shape[1],
            "cond_dim": train.cond.shape[1], "cost_per_step": cost, **({"compile_s": compiles} if compiles else {}),
            "steps": steps, "best_lr": best,
            "sweep": {f"{lr:g}": {n: r["nll"][-1] for n, r in runs.items()} for lr, runs in sweep.items()},
            "groups": groups}
