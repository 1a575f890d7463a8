"""What a training step of τ costs on the CPU under bf16 autocast and ``torch.compile``.

Part of benchmarks/real_pairs.py (``--step-cost``): the same step as the trainer's
(:func:`net2net.train.fit.train_step`: loss, backward, gradient clip, fused AdamW) on a
task's batches, in thread CPU time on one thread, median of a few turns after a warm-up.
``torch.compile`` compiles ``log_prob``; its first two steps (tracing and compiling, wall
time, since the compiler may work in other processes) are reported apart, as the price
that the cheaper steps must pay back.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from net2net.train.fit import Pairs, TrainConfig, batch_indices, make_optimizer

__all__ = ["step_costs"]


def _step(log_prob: Callable[[Tensor, Tensor], Tensor], model: nn.Module, opt: torch.optim.Optimizer, z: Tensor,
          c: Tensor, autocast: bool) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        lp = log_prob(z, c)
    loss = -lp.float().mean() / model.dim
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0, foreach=True)
    opt.step()


def step_costs(make: dict[str, Callable[[int, int], nn.Module]], train: Pairs, *, tau: str,
               reference: str | None = None, steps: int = 30, rounds: int = 3,
               variants: bool = True) -> dict[str, dict]:
    """Per setting: milliseconds per step (and for ``torch.compile`` the seconds of its
    first two steps). Every model of ``make`` in float32, with the share of its step spent in
    matrix products; with ``variants``, model ``tau`` also under bf16 autocast and compiled,
    and model ``reference`` (where named) compiled too: compiling is a setting of the
    training step that either model could be run with."""
    cfg = TrainConfig(steps=10_000, batch_size=256, lr=1e-4, warmup_steps=0, device="cpu")
    batches = [batch_indices(s, len(train), cfg) for s in range(steps)]
    batches = [(train.target[i], train.cond[i]) for i in batches]
    settings: list[tuple[str, str, bool, bool]] = [(n, n, False, False) for n in make]
    if variants:
        settings += [(f"{tau}, bf16 autocast", tau, True, False), (f"{tau}, torch.compile", tau, False, True)]
        if reference is not None:
            settings.append((f"{reference}, torch.compile", reference, False, True))
    out: dict[str, dict] = {}
    for label, name, autocast, compiled in settings:
        torch.manual_seed(0)
        model = make[name](train.target.shape[1], train.cond.shape[1]).train()
        if hasattr(model, "check_finite"):
            model.check_finite = False
        opt = make_optimizer(model, cfg)
        log_prob = torch.compile(model.log_prob) if compiled else model.log_prob
        t0 = time.perf_counter()
        for z, c in batches[:2]:
            _step(log_prob, model, opt, z, c, autocast)
        first = time.perf_counter() - t0
        per_step = []
        for _ in range(rounds):
            t0 = time.thread_time()
            for z, c in batches:
                _step(log_prob, model, opt, z, c, autocast)
            per_step.append((time.thread_time() - t0) / steps)
        out[label] = {"ms_per_step": statistics.median(per_step) * 1e3, "first_two_steps_s": first}
        if not autocast and not compiled:
            out[label].update(_matmul_share(log_prob, model, opt, batches[:10]))
    return out


#: the profiler's names of the dense matrix products (what a step cannot do without)
_MATMULS = ("aten::mm", "aten::addmm", "aten::bmm")


def _matmul_share(log_prob: Callable[[Tensor, Tensor], Tensor], model: nn.Module, opt: torch.optim.Optimizer,
                  batches: list[tuple[Tensor, Tensor]]) -> dict[str, float]:
    """Where a step's time goes, from the profiler (self CPU time): the share in dense matrix
    products and the rate they run at (GFLOP/s). The profiler adds a little to every other
    op, so the share is a lower bound."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for z, c in batches:
            _step(log_prob, model, opt, z, c, False)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    mm = [e for e in events if e.key in _MATMULS]
    mm_us = sum(e.self_cpu_time_total for e in mm)
    flops = sum(e.flops for e in mm)
    return {"matmul_share": mm_us / total if total else float("nan"),
            "matmul_gflops": flops / mm_us / 1e3 if mm_us else float("nan"),
            "matmul_gflop_per_step": flops / len(batches) / 1e9}
