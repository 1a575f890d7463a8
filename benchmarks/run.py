"""Side-by-side benchmarks of our τ and the plain reference (benchmarks/plain_reference.py).

Everything is measured in one process, on the same data (the linear-Gaussian toy at the
chosen size), with warm-up before timing and the median of repeats; the two models are
timed in alternation so that a noisy, shared machine slows both alike. Writes a markdown
report and a JSON file beside it.

    python benchmarks/run.py --device cpu --size default --out docs/benchmarks.md
    python benchmarks/run.py --device cuda --size paper --out docs/benchmarks-h100.md

Benchmarks are not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plain_reference import PlainCINN

from net2net.data.toy import LinearGaussianToy
from net2net.flow import ConditionalINN, FlowConfig
from net2net.train.fit import TrainConfig, lr_at, make_optimizer, train_step

# "default" is the first text→image translator: MiniLM (384) → a 64-d image code, with
# the first τ's settings (8 blocks, hidden 256, depth 2, embedding 128; the rest from
# FlowConfig.LEGACY: one embedder layer, zero-initialised couplings), which the plain
# reference mirrors.
# "paper" is the paper's SBERT→BigGAN τ (dim 268, condition 768, embedding 268, 24
# blocks, hidden 1024, "depth 2"). The paper's code counts depth as the hidden→hidden
# layers after the first one, so its depth 2 is three hidden layers: our depth=3. That
# is what gives the "about 255M parameters" (the plain reference has 255.4M
# there; with our depth=2 it would have 154.6M).
SIZES: dict[str, dict] = {
    "tiny": {"dim": 8, "cond_dim": 16, "n_blocks": 2, "hidden": 32, "depth": 2, "embed_dim": 16, "embed_hidden": 32},
    "default": {"dim": 64, "cond_dim": 384, "n_blocks": 8, "hidden": 256, "depth": 2, "embed_dim": 128, "embed_hidden": 256},
    "paper": {"dim": 268, "cond_dim": 768, "n_blocks": 24, "hidden": 1024, "depth": 3, "embed_dim": 268, "embed_hidden": 1024},
}
# How much work each size does: (steps per timed repeat at the small / large batch,
# repeats, pairs in the epoch, validation pairs, and how many initialisation seeds the
# epoch comparison is repeated for: one run's NLL gap mixes the method with the seed;
# and the length of the longer run that follows both NLLs epoch by epoch).
WORK: dict[str, dict] = {
    "tiny": {"small_steps": 3, "large_steps": 2, "repeats": 2, "warmup": 2, "epoch_pairs": 2048, "val_pairs": 512,
             "sample_repeats": 5, "epoch_seeds": 1, "convergence_epochs": 2},
    "default": {"small_steps": 20, "large_steps": 3, "repeats": 5, "warmup": 5, "epoch_pairs": 60_000,
                "val_pairs": 5000, "sample_repeats": 50, "epoch_seeds": 3, "convergence_epochs": 6},
    "paper": {"small_steps": 20, "large_steps": 5, "repeats": 5, "warmup": 10, "epoch_pairs": 60_000,
              "val_pairs": 5000, "sample_repeats": 50, "epoch_seeds": 1, "convergence_epochs": 0},
}
EPOCH_BATCH = 256  # TrainConfig's default batch size
LR = 1e-3


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Runner:
    """A model, its optimiser and its training step, built identically for both sides."""

    def __init__(self, name: str, kind: str, size: dict, device: torch.device, *, optimizer: str = "fused",
                 autocast: bool = False, compile_mode: str | None = None, seed: int = 0) -> None:
        self.name, self.kind, self.device, self.autocast = name, kind, device, autocast
        torch.manual_seed(seed)
        if kind == "ours":
            self.model = ConditionalINN(**{**FlowConfig.LEGACY, **size}).to(device)
            self.model.check_finite = False  # what fit() does after checking the data once
            cfg = TrainConfig(lr=LR)
            if optimizer == "fused":
                self.opt = make_optimizer(self.model, cfg)
            else:  # the trainer's previous optimiser, kept as an ablation
                self.opt = torch.optim.AdamW(self.model.parameters(), lr=LR, weight_decay=cfg.weight_decay, foreach=True)
        else:
            self.model = PlainCINN(**size).to(device)
            self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.model.train()
        self.log_prob = self.model.log_prob
        self.inverse = None  # eager sampling through model.sample
        if compile_mode is not None:
            self.log_prob = torch.compile(self.model.log_prob, mode=compile_mode)
            # Sampling is τ's inverse pass: compiled separately ("reduce-overhead" replays it
            # as one CUDA graph instead of launching every layer's kernels from Python).
            self.inverse = torch.compile(self.model.inverse, mode=compile_mode)

    def _ctx(self):
        if self.autocast:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(self, z: torch.Tensor, c: torch.Tensor) -> None:
        with self._ctx():
            if self.kind == "ours":
                if self.log_prob is self.model.log_prob:
                    train_step(self.model, self.opt, z, c, grad_clip=10.0)
                    return
                loss = -self.log_prob(z, c).mean() / self.model.dim
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0, foreach=True)
                self.opt.step()
            else:
                loss = -self.log_prob(z, c).mean() / self.model.dim
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()

    @torch.no_grad()
    def sample(self, c: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        with self._ctx():
            gen = torch.Generator(self.device).manual_seed(0)
            if self.inverse is None:
                return self.model.sample(c, generator=gen)
            v = torch.randn(c.shape[0], self.model.dim, generator=gen, device=self.device)
            return self.inverse(v, c)[0]

    @torch.no_grad()
    def val_nll(self, z: torch.Tensor, c: torch.Tensor) -> float:
        self.model.eval()
        total = 0.0
        for i in range(0, len(z), 4096):
            total += float(-self.model.log_prob(z[i : i + 4096], c[i : i + 4096]).double().sum())
        self.model.train()
        return total / len(z) / self.model.dim


def timed(device: torch.device, fn: Callable[[], None]) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def alternate(runners: list[Runner], device: torch.device, work: Callable[[Runner], None], repeats: int) -> dict[str, float]:
    """Median seconds of ``work(runner)`` per runner, the runners taking turns each repeat."""
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(repeats):
        for r in runners:
            times[r.name].append(timed(device, lambda r=r: work(r)))
    return {name: statistics.median(ts) for name, ts in times.items()}


def batches(toy: LinearGaussianToy, batch: int, count: int, device: torch.device, seed: int):
    c, z = toy.sample(batch * count, seed=seed)
    return [(z[i * batch : (i + 1) * batch].to(device), c[i * batch : (i + 1) * batch].to(device)) for i in range(count)]


def bench_training(runners: list[Runner], toy, batch: int, steps: int, warmup: int, repeats: int, device) -> dict:
    data = batches(toy, batch, steps, device, seed=10 + batch)
    for r in runners:  # warm-up (initialises ActNorm, allocator, compiled graphs)
        for i in range(warmup):
            r.step(*data[i % steps])

    def work(r: Runner) -> None:
        for z, c in data:
            r.step(z, c)

    med = alternate(runners, device, work, repeats)
    return {name: {"samples_per_s": batch * steps / s, "ms_per_step": 1e3 * s / steps} for name, s in med.items()}


def toy_split(toy, pairs: int, val_pairs: int, device) -> tuple[torch.Tensor, ...]:
    """``(z, c, val_z, val_c)``: the cached training pairs and the validation pairs."""
    c, z = toy.sample(pairs, seed=1)
    vc, vz = toy.sample(val_pairs, seed=2)
    return z.to(device), c.to(device), vz.to(device), vc.to(device)


def epoch_side_by_side(runners, z, c, order, cfg: TrainConfig, first_step: int, device) -> dict[str, float]:
    """One epoch over ``z[order]`` for every runner, the runners taking turns step by step
    (so a change in the shared machine's load slows all alike); seconds per runner."""
    seconds = {r.name: 0.0 for r in runners}
    for i in range(len(order) // EPOCH_BATCH):
        idx = order[i * EPOCH_BATCH : (i + 1) * EPOCH_BATCH]
        zb, cb = z[idx], c[idx]
        for r in runners:
            for g in r.opt.param_groups:
                g["lr"] = lr_at(first_step + i, cfg)
            seconds[r.name] += timed(device, lambda r=r, zb=zb, cb=cb: r.step(zb, cb))
    return seconds


def bench_epoch(size: dict, toy, pairs: int, val_pairs: int, seeds: int, device) -> dict:
    """One epoch over ``pairs`` cached pairs for ours and the plain reference from the same
    fresh start, once per initialisation seed; then the validation NLL of both after the
    same number of steps. Times are summed over the seeds, NLLs reported per seed."""
    z, c, vz, vc = toy_split(toy, pairs, val_pairs, device)
    steps = pairs // EPOCH_BATCH
    cfg = TrainConfig(steps=steps, batch_size=EPOCH_BATCH, lr=LR, warmup_steps=max(1, steps // 10))
    order = torch.randperm(pairs, generator=torch.Generator().manual_seed(0)).to(device)
    seconds = {"ours": 0.0, "plain": 0.0}
    nll: dict[str, list[float]] = {"ours": [], "plain": []}
    for seed in range(seeds):
        runners = (Runner("ours", "ours", size, device, seed=seed), Runner("plain", "plain", size, device, seed=seed))
        for name, s in epoch_side_by_side(runners, z, c, order, cfg, 0, device).items():
            seconds[name] += s
        for r in runners:
            nll[r.name].append(r.val_nll(vz, vc))
    out: dict = {"pairs": pairs, "batch": EPOCH_BATCH, "steps": steps, "seeds": seeds}
    for name in ("ours", "plain"):
        out[name] = {"seconds": seconds[name] / seeds, "val_nll_nats_per_dim": statistics.mean(nll[name]),
                     "val_nll_per_seed": nll[name]}
    gaps = [o - p for o, p in zip(nll["ours"], nll["plain"])]
    out["speedup"] = seconds["plain"] / seconds["ours"]
    out["nll_gap_nats_per_dim"] = statistics.mean(gaps)
    out["nll_gap_per_seed"] = gaps
    out["entropy_nats_per_dim"] = toy.entropy_per_dim()
    return out


def bench_convergence(size: dict, toy, pairs: int, val_pairs: int, epochs: int, device) -> dict:
    """Ours and the plain reference trained side by side for ``epochs`` epochs under one
    warm-up + cosine schedule; the validation NLL of both after every epoch. One epoch of
    a one-epoch schedule shows who learns faster; this shows where both end up."""
    z, c, vz, vc = toy_split(toy, pairs, val_pairs, device)
    per_epoch = pairs // EPOCH_BATCH
    cfg = TrainConfig(steps=per_epoch * epochs, batch_size=EPOCH_BATCH, lr=LR, warmup_steps=max(1, per_epoch // 10))
    runners = (Runner("ours", "ours", size, device), Runner("plain", "plain", size, device))
    out: dict = {"epochs": epochs, "steps_per_epoch": per_epoch, "ours": [], "plain": [], "gap": []}
    for epoch in range(epochs):
        order = torch.randperm(pairs, generator=torch.Generator().manual_seed(epoch)).to(device)
        epoch_side_by_side(runners, z, c, order, cfg, epoch * per_epoch, device)
        ours, plain = (r.val_nll(vz, vc) for r in runners)
        out["ours"].append(ours)
        out["plain"].append(plain)
        out["gap"].append(ours - plain)
    return out


def matmul_macs(model: torch.nn.Module) -> int:
    """Multiply-adds per sample of one forward pass through every Linear layer: for these
    all-MLP models, the arithmetic that a compute-bound step is made of."""
    return sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


def bench_sampling(runners: list[Runner], toy, repeats: int, device) -> dict:
    c = toy.sample(16, seed=3)[0].to(device)
    for r in runners:
        for _ in range(3):
            r.sample(c)
    med = alternate(runners, device, lambda r: r.sample(c), repeats)
    return {name: {"ms_for_16": 1e3 * s} for name, s in med.items()}


def machine(device: torch.device) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    info["cpu"] = platform.processor()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        info["cpu"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), info["cpu"])
    with contextlib.suppress(OSError):
        info["load_average"] = os.getloadavg()
    return info


def gpu_variants(size: dict, toy, work: dict, large: int, device) -> dict:
    """Our τ under the GPU levers, each against our fp32 baseline; kept only if it helps."""
    results: dict = {}
    variants = {
        "fp32": {},
        "tf32 (set_float32_matmul_precision('high'))": {"tf32": True},
        "bf16 autocast": {"autocast": True},
        "bf16 autocast + torch.compile(reduce-overhead)": {"autocast": True, "compile_mode": "reduce-overhead"},
    }
    for label, opts in variants.items():
        torch.set_float32_matmul_precision("high" if opts.get("tf32") else "highest")
        try:
            r = Runner("ours", "ours", size, device, autocast=opts.get("autocast", False),
                       compile_mode=opts.get("compile_mode"))
            res = {}
            for batch, steps in ((16, work["small_steps"]), (large, work["large_steps"])):
                res[f"train_b{batch}"] = bench_training([r], toy, batch, steps, work["warmup"], work["repeats"], device)["ours"]
            res["sample_16"] = bench_sampling([r], toy, work["sample_repeats"], device)["ours"]
            results[label] = res
        except Exception as e:  # noqa: BLE001  (a lever that does not work here is reported, not fatal)
            results[label] = {"error": f"{type(e).__name__}: {e}"[:300]}
        finally:
            torch.set_float32_matmul_precision("highest")
    return results


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--size", choices=sorted(SIZES), default="default")
    p.add_argument("--out", default="docs/benchmarks.md", help="markdown report; the JSON goes beside it")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch (default 1: on a shared 2-core machine more threads "
                        "oversubscribe the cores and make every figure noise)")
    p.add_argument("--convergence-epochs", type=int,
                   help="length of the side-by-side NLL run (default: 6 at the default size, 0 = skip)")
    p.add_argument("--render", metavar="JSON", help="only write --out from the JSON of an earlier run (no timing)")
    args = p.parse_args(argv)
    if args.render:
        from report import render  # beside this file

        report = json.loads(Path(args.render).read_text())
        Path(args.out).write_text(render(report))
        print(f"wrote {args.out} from {args.render}")
        return report
    if args.convergence_epochs is not None and args.convergence_epochs < 0:
        p.error(f"--convergence-epochs must be >= 0, got {args.convergence_epochs}")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available here; use --device cpu")
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    size, work = SIZES[args.size], WORK[args.size]
    large = 4096 if device.type == "cuda" else 1024
    if args.size == "tiny":
        large = 64
    toy = LinearGaussianToy(dim=size["dim"], cond_dim=size["cond_dim"], seed=0)
    t_start = time.perf_counter()

    def pair() -> tuple[Runner, Runner, Runner]:
        return (Runner("ours", "ours", size, device), Runner("plain", "plain", size, device),
                Runner("ours_foreach_adamw", "ours", size, device, optimizer="foreach"))

    report: dict = {
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "device": args.device, "size": args.size, "model": size, "machine": machine(device),
        "params": {}, "train": {},
    }
    for batch, steps in ((16, work["small_steps"]), (large, work["large_steps"])):
        runners = list(pair())
        report["params"] = {r.name: sum(p.numel() for p in r.model.parameters()) for r in runners[:2]}
        report["macs_per_sample"] = {r.name: matmul_macs(r.model) for r in runners[:2]}
        res = bench_training(runners, toy, batch, steps, work["warmup"], work["repeats"], device)
        res["speedup_vs_plain"] = res["ours"]["samples_per_s"] / res["plain"]["samples_per_s"]
        res["fused_adamw_speedup"] = res["ours"]["samples_per_s"] / res["ours_foreach_adamw"]["samples_per_s"]
        report["train"][str(batch)] = res
        del runners

    report["epoch"] = bench_epoch(size, toy, work["epoch_pairs"], work["val_pairs"], work["epoch_seeds"], device)
    epochs = work["convergence_epochs"] if args.convergence_epochs is None else args.convergence_epochs
    if epochs:
        report["convergence"] = bench_convergence(size, toy, work["epoch_pairs"], work["val_pairs"], epochs, device)
    ours, plain, _ = pair()
    report["sample"] = bench_sampling([ours, plain], toy, work["sample_repeats"], device)
    report["sample"]["speedup_vs_plain"] = report["sample"]["plain"]["ms_for_16"] / report["sample"]["ours"]["ms_for_16"]
    if device.type == "cuda":
        report["gpu_variants"] = gpu_variants(size, toy, work, large, device)
    report["seconds_total"] = time.perf_counter() - t_start

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    from report import render  # beside this file

    out.write_text(render(report))
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return report


if __name__ == "__main__":
    main()
