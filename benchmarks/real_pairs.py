"""τ against the paper's code on real cached pairs: NLL at equal steps, time to quality.

Three models learn the same real pairs from the same batches, side by side in one
process on one CPU thread: the first τ (the shipped translators' settings), the
paper's flow re-implemented from its code (benchmarks/paper_reference.py) and the new τ.
They take turns every few steps, and each turn is timed in thread CPU time, so a change
in a shared machine's load slows all alike. Every ``--eval-every`` steps the held-out
NLL is measured (not timed). Writes a markdown report and a JSON file beside it.

    net2net --threads 1 extract --expert minilm --transform captions --split train   # etc.
    python benchmarks/real_pairs.py --out docs/benchmarks-real.md
    python benchmarks/real_pairs.py --ablate --task fmnist-text2img --steps 600   # prints only

Benchmarks are not tests: nothing here asserts a speed or a likelihood.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paper_reference import PaperCINN

from net2net.flow import ConditionalINN
from net2net.train.fit import Pairs, TrainConfig, batch_indices, evaluate_nll, lr_at, make_optimizer, train_step

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "src" / "net2net" / "zoo" / "translator_recipes"

#: The shipped translators' τ: 6 blocks, hidden 128, depth 2, embedding 64 (hidden 128).
OLD_TAU: dict = {"n_blocks": 6, "hidden": 128, "depth": 2, "embed_dim": 64, "embed_hidden": 128}
#: The new τ: the same sizes with the settings this benchmark found to learn faster.
NEW_TAU: dict = {**OLD_TAU, "depth": 1, "hidden": 384, "embed_depth": 3, "embed_norm": "layer",
                 "zero_init": False}
#: The new τ's peak learning rate, as a multiple of the protocol's (a recipe's train.lr).
NEW_LR_SCALE = 2.0
#: The paper's code at the same sizes: its hidden_depth=1 is our depth 2; its default
#: conditioning depth (2, i.e. three hidden layers) with batch norm; activation "none".
REFERENCE: dict = {"n_flows": 6, "hidden": 128, "hidden_depth": 1, "embed_dim": 64, "cond_hidden": 128,
                   "cond_depth": 2, "cond_bn": True}

SIZES: dict[str, dict] = {
    # the protocol: batch 256, 200 warm-up steps, cosine from 1e-3, 1,500 steps
    "default": {"steps": 1500, "warmup": 200, "eval_every": 100, "turn": 25, "train_rows": None, "val_rows": None},
    # seconds, for the smoke test: the same code on a few rows
    "tiny": {"steps": 12, "warmup": 2, "eval_every": 4, "turn": 2, "train_rows": 600, "val_rows": 300},
}
BATCH = 256
LR = 1e-3


def load_pairs(task: str, root: str | None = None) -> tuple[Pairs, Pairs]:
    """``(train, val)`` pairs of a translator recipe's cached features, in memory.

    The one place this benchmark touches the feature store: it opens the four entries
    the recipe names (``net2net extract`` fills them) and copies them to float32 tensors.
    """
    from net2net.features import FeatureStore

    data = json.loads((RECIPES / f"{task}.json").read_text())["data"]
    store = FeatureStore(root)

    def rows(name: str) -> Tensor:
        return torch.as_tensor(store.open(data[name]).array()).float().contiguous()

    return Pairs(rows("cond"), rows("target")), Pairs(rows("val_cond"), rows("val_target"))


def synthetic_pairs(train_rows: int, val_rows: int, dim: int = 8, cond_dim: int = 12) -> tuple[Pairs, Pairs]:
    """Stand-in pairs for the smoke test: a nonlinear function of the condition plus noise."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(cond_dim, dim, generator=g)

    def make(n: int) -> Pairs:
        c = torch.randn(n, cond_dim, generator=g)
        return Pairs(c, torch.tanh(c @ w) + 0.1 * torch.randn(n, dim, generator=g))

    return make(train_rows), make(val_rows)


Builder = Callable[[int, int], nn.Module]


def builders(variants: dict[str, dict]) -> dict[str, Builder]:
    """Model builders by name; a variant with ``"reference": True`` is the paper's flow."""
    out: dict[str, Builder] = {}
    for name, kw in variants.items():
        kw = dict(kw)
        lr_scale = kw.pop("lr_scale", 1.0)
        if kw.pop("reference", False):
            out[name] = functools.partial(PaperCINN, **kw)
        else:
            out[name] = functools.partial(_tau, **kw)
        out[name].lr_scale = lr_scale  # type: ignore[attr-defined] - ablation of the peak learning rate
    return out


def _tau(dim: int, cond_dim: int, *, embedder_bn: bool = False, **kw) -> ConditionalINN:
    """τ; ``embedder_bn`` (ablation only) swaps in the paper's batch-normalised embedder."""
    model = ConditionalINN(dim, cond_dim, **kw)
    if embedder_bn:
        cfg = model.config
        layers: list[nn.Module] = []
        width = cond_dim
        for _ in range(cfg.embed_depth):
            layers += [nn.Linear(width, cfg.embed_hidden), nn.BatchNorm1d(cfg.embed_hidden), nn.LeakyReLU(cfg.slope)]
            width = cfg.embed_hidden
        model.embedder = nn.Sequential(*layers, nn.Linear(width, cfg.embed_dim))
    return model


def race(make: dict[str, Builder], train: Pairs, val: Pairs, *, steps: int, warmup: int, eval_every: int,
         turn: int, seed: int) -> dict[str, dict]:
    """Trains every model on the same batches, taking turns of ``turn`` steps.

    Returns per model the evaluated steps, the held-out NLL (nats/dim) there and the
    training thread CPU time (seconds) spent up to there, and the parameter count.
    """
    cfg = TrainConfig(steps=steps, batch_size=BATCH, lr=LR, warmup_steps=warmup, seed=seed, device="cpu")
    dim, cond_dim = train.target.shape[1], train.cond.shape[1]
    runs: dict[str, dict] = {}
    for name, build in make.items():
        torch.manual_seed(seed)
        model = build(dim, cond_dim).train()
        lr_scale = getattr(build, "lr_scale", 1.0)
        if isinstance(model, ConditionalINN):
            model.check_finite = False  # what fit() does after checking the data once
        runs[name] = {"model": model, "opt": make_optimizer(model, cfg), "cpu": 0.0, "steps": [], "nll": [],
                      "seconds": [], "params": sum(p.numel() for p in model.parameters()), "lr_scale": lr_scale}
    order = list(runs)
    for start in range(0, steps, turn):
        batches = []
        for step in range(start, min(steps, start + turn)):
            idx = batch_indices(step, len(train.target), cfg)
            batches.append((step, train.target[idx], train.cond[idx]))
        order = order[1:] + order[:1]  # who goes first rotates
        for name in order:
            r = runs[name]
            t0 = time.thread_time()
            for step, z, c in batches:
                for group in r["opt"].param_groups:
                    group["lr"] = lr_at(step, cfg) * r["lr_scale"]
                train_step(r["model"], r["opt"], z, c, cfg.grad_clip)
            r["cpu"] += time.thread_time() - t0
        done = min(steps, start + turn)
        if done % eval_every == 0 or done == steps:
            for r in runs.values():
                nll = evaluate_nll(r["model"], val, torch.device("cpu"))
                r["model"].train()
                r["steps"].append(done)
                r["nll"].append(nll)
                r["seconds"].append(r["cpu"])
    return {name: {k: v for k, v in r.items() if k not in ("model", "opt")} for name, r in runs.items()}


def time_to(run: dict, target: float) -> float | None:
    """CPU seconds until the held-out NLL first reaches ``target`` (linear between
    evaluations), or None if it never does."""
    prev_t, prev_nll = 0.0, math.inf
    for t, nll in zip(run["seconds"], run["nll"], strict=True):
        if nll <= target:
            if math.isinf(prev_nll):
                return t
            return prev_t + (t - prev_t) * (prev_nll - target) / (prev_nll - nll)
        prev_t, prev_nll = t, nll
    return None


def ablate(task: str, variants: dict[str, dict], size: dict, seed: int, root: str | None) -> dict[str, dict]:
    """One seed of ``variants`` side by side; printed, and returned for the report.
    CPU time is relative to the first variant."""
    train, val = load_pairs(task, root)
    runs = race(builders(variants), train, val, steps=size["steps"], warmup=size["warmup"],
                eval_every=size["eval_every"], turn=size["turn"], seed=seed)
    base = next(iter(runs.values()))
    rows = {}
    for name, r in runs.items():
        mid = r["nll"][len(r["nll"]) // 2 - 1]
        rows[name] = {"settings": {k: v for k, v in variants[name].items()}, "params": r["params"],
                      "mid_step": r["steps"][len(r["nll"]) // 2 - 1], "mid": mid, "final": r["nll"][-1],
                      "cpu_ratio": r["cpu"] / base["cpu"]}
        print(f"{name:28s} params {r['params']:8d}  nll@mid {mid:+.4f}  final {r['nll'][-1]:+.4f}  "
              f"cpu {r['cpu']:6.1f}s  ratio {r['cpu'] / base['cpu']:.2f}", flush=True)
    return rows


ABLATIONS: dict[str, dict] = {
    "old-tau": OLD_TAU,
    "reference": {**REFERENCE, "reference": True},
    "ref-no-bn": {**REFERENCE, "cond_bn": False, "reference": True},
    "tau-embed3": {**OLD_TAU, "embed_depth": 3},
    "tau-embed3-layer": {**OLD_TAU, "embed_depth": 3, "embed_norm": "layer"},
    "tau-embed3-actnorm": {**OLD_TAU, "embed_depth": 3, "embed_norm": "actnorm"},
    "tau-embed1-layer": {**OLD_TAU, "embed_norm": "layer"},
    "tau-clamp1": {**OLD_TAU, "clamp": 1.0},
    "tau-randinit": {**OLD_TAU, "zero_init": False},
    "tau-slope": {**OLD_TAU, "slope": 0.01},
    "tau-split": {**OLD_TAU, "split_nets": True},
    "new-tau": NEW_TAU,
    "ref-layernorm": {**REFERENCE, "cond_norm": "layer", "reference": True},
    "ref-zero-last": {**REFERENCE, "zero_last": True, "reference": True},
    "ref-fused": {**REFERENCE, "fused": True, "reference": True},
    "ref-embed1": {**REFERENCE, "cond_depth": 0, "reference": True},
    "tau-embed3-bn": {**OLD_TAU, "embed_depth": 3, "embedder_bn": True},
    "tau-embed3-bn-rand": {**OLD_TAU, "embed_depth": 3, "embedder_bn": True, "zero_init": False},
    "tau-embed1-bn": {**OLD_TAU, "embedder_bn": True},
}

_BASE = {**OLD_TAU, "embed_depth": 3, "embed_norm": "layer", "zero_init": False}
ABLATIONS.update({
    "A-embed3-ln-rand": _BASE,
    "A-clamp1": {**_BASE, "clamp": 1.0},
    "B-d1-h256": {**_BASE, "depth": 1, "hidden": 256},
    "C-d1-h320": {**_BASE, "depth": 1, "hidden": 320},
    "D-split-h96": {**_BASE, "split_nets": True, "hidden": 96},
    "E-h192": {**_BASE, "hidden": 192},
    "F-4blocks-split": {**_BASE, "n_blocks": 4, "split_nets": True},
    "G-d1-h256-8blocks": {**_BASE, "depth": 1, "hidden": 256, "n_blocks": 8},
    "H-d1-h384": {**_BASE, "depth": 1, "hidden": 384},
    "I-4b-d1-h512": {**_BASE, "depth": 1, "hidden": 512, "n_blocks": 4},
    "J-d1-h320-emb128": {**_BASE, "depth": 1, "hidden": 320, "embed_dim": 128},
    "K-d1-h320-clamp1": {**_BASE, "depth": 1, "hidden": 320, "clamp": 1.0},
    "M-d1-h448": {**_BASE, "depth": 1, "hidden": 448},
    "ref-lr2": {**REFERENCE, "reference": True, "lr_scale": 2.0},
    "A-lr2": {**_BASE, "lr_scale": 2.0},
    "B-d1-h256-lr2": {**_BASE, "depth": 1, "hidden": 256, "lr_scale": 2.0},
    "H-d1-h384-lr2": {**_BASE, "depth": 1, "hidden": 384, "lr_scale": 2.0},
    "old-tau-lr2": {**OLD_TAU, "lr_scale": 2.0},
})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["fmnist-text2img", "fmnist-edge2img"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--size", choices=sorted(SIZES), default="default")
    p.add_argument("--steps", type=int, help="override the size's step count")
    p.add_argument("--root", help="feature store folder (default: $NET2NET_CACHE)")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks-real.md"))
    p.add_argument("--ablate", nargs="*", help="print a one-seed ablation of these variants (all if none named)")
    p.add_argument("--ablation-json", help="with --ablate: also save the ablation here (--merge takes it)")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="write --out from the JSON files of earlier runs (one task each, run side by side)")
    args = p.parse_args(argv)
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        runs = [part for part in parts if "tasks" in part]
        merged = {**runs[0], "tasks": {}}
        merged["command"] = " && ".join([*(part["command"] for part in runs),
                                          "python benchmarks/real_pairs.py " + " ".join(sys.argv[1:])])
        for part in runs:
            merged["tasks"].update(part["tasks"])
        merged["ablations"] = [part for part in parts if "ablation" in part]
        write_report(merged, Path(args.out))
        return
    torch.set_num_threads(1)
    size = dict(SIZES[args.size])
    if args.steps:
        size["steps"] = args.steps
    if args.ablate is not None:
        names = args.ablate or list(ABLATIONS)
        result = {"command": "python benchmarks/real_pairs.py " + " ".join(sys.argv[1:]), "steps": size["steps"],
                  "ablation": {}}
        for task in args.tasks:
            print(f"== {task}, {size['steps']} steps", flush=True)
            result["ablation"][task] = ablate(task, {n: ABLATIONS[n] for n in names}, size, 0, args.root)
        if args.ablation_json:
            Path(args.ablation_json).write_text(json.dumps(result, indent=1) + "\n")
        return
    report = run_all(args, size)
    write_report(report, Path(args.out))


def run_all(args: argparse.Namespace, size: dict) -> dict:
    lr2 = f"lr {LR * NEW_LR_SCALE:g}"
    variants = {"old τ": OLD_TAU, "reference": {**REFERENCE, "reference": True}, "new τ": NEW_TAU,
                f"new τ, {lr2}": {**NEW_TAU, "lr_scale": NEW_LR_SCALE},
                f"reference, {lr2}": {**REFERENCE, "reference": True, "lr_scale": NEW_LR_SCALE}}
    report: dict = {"command": "python benchmarks/real_pairs.py " + " ".join(sys.argv[1:]),
                    "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, 1 thread",
                    "size": args.size, "protocol": {**size, "batch": BATCH, "lr": LR}, "models": {
                        "old τ": OLD_TAU, "reference": REFERENCE, "new τ": NEW_TAU}, "new_lr_scale": NEW_LR_SCALE,
                    "tasks": {}}
    for task in args.tasks:
        if args.size == "tiny":
            train, val = synthetic_pairs(size["train_rows"], size["val_rows"])
        else:
            train, val = load_pairs(task, args.root)
        seeds = []
        for seed in range(args.seeds):
            runs = race(builders(variants), train, val, steps=size["steps"], warmup=size["warmup"],
                        eval_every=size["eval_every"], turn=size["turn"], seed=seed)
            target = runs["reference"]["nll"][-1]
            for r in runs.values():
                r["time_to_reference"] = time_to(r, target)
            seeds.append(runs)
            print(f"{task} seed {seed}: " + ", ".join(
                f"{n} {r['nll'][-1]:+.4f} ({r['cpu']:.0f} s)" for n, r in runs.items()), flush=True)
        report["tasks"][task] = {"train_pairs": len(train.target), "val_pairs": len(val.target),
                                 "dim": train.target.shape[1], "cond_dim": train.cond.shape[1], "seeds": seeds}
    return report


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def write_report(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    proto = report["protocol"]
    lines = [
        "# τ against the paper's code on real pairs",
        "",
        "Written by `benchmarks/real_pairs.py`; do not edit by hand. Command: "
        f"`{report['command']}` ({report['machine']}).",
        "",
        f"Protocol: AdamW (the trainer's: weight decay 1e-5, gradient clip 10), batch {proto['batch']}, "
        f"{proto['warmup']} warm-up steps then cosine from {proto['lr']:g}, {proto['steps']} steps; the "
        "models see the same batches and take turns every "
        f"{proto['turn']} steps, each turn timed in thread CPU time on one thread. Held-out NLL (nats/dim, "
        f"Gaussian constant included) every {proto['eval_every']} steps on the validation pairs "
        "(for text→image: the test split with held-out wording). *Time to reference* is the CPU time a "
        "model needs to reach the reference's final held-out NLL of the same seed (linear between "
        "evaluations); its ratio is the reference's total time over it.",
        "",
        "- old τ: the shipped translators' τ, " + _fields(report["models"]["old τ"]) + ".",
        "- reference: the paper's `ConditionalFlatCouplingFlow` re-implemented from its code "
        "(`benchmarks/paper_reference.py`), " + _fields(report["models"]["reference"]) + ", activation \"none\".",
        "- new τ: " + _fields(report["models"]["new τ"]) + ".",
        "",
    ]
    summary = {}
    for task, t in report["tasks"].items():
        seeds = t["seeds"]
        names = list(seeds[0])
        lines += [f"## {task}", "",
                  f"{t['train_pairs']:,} training pairs, {t['val_pairs']:,} validation pairs, "
                  f"dim {t['dim']}, condition {t['cond_dim']}; {len(seeds)} seeds.", "",
                  "| model | params | NLL at mid-run | NLL at the end (per seed) | CPU s (mean) | s per step vs reference | time to reference's NLL (mean) | speed-up to that NLL |",
                  "|---|---|---|---|---|---|---|---|"]
        ref_cpu = _mean([s["reference"]["cpu"] for s in seeds])
        for n in names:
            runs = [s[n] for s in seeds]
            mid = _mean([r["nll"][len(r["nll"]) // 2 - 1] for r in runs])
            mid_step = runs[0]["steps"][len(runs[0]["nll"]) // 2 - 1]
            ends = ", ".join(f"{r['nll'][-1]:+.3f}" for r in runs)
            cpu = _mean([r["cpu"] for r in runs])
            reached = [r["time_to_reference"] for r in runs]
            if all(x is not None for x in reached):
                ttq = _mean(reached)
                speed = _mean([s["reference"]["cpu"] / s[n]["time_to_reference"] for s in seeds])
                ttq_s, speed_s = f"{ttq:.0f} s", f"{speed:.2f}×"
            else:
                got = sum(x is not None for x in reached)
                ttq_s, speed_s = f"reached in {got} of {len(runs)} seeds", "–"
            lines.append(f"| {n} | {runs[0]['params']:,} | {mid:+.3f} (step {mid_step}) | {ends} (mean "
                         f"{_mean([r['nll'][-1] for r in runs]):+.3f}) | {cpu:.0f} | {cpu / ref_cpu:.2f} | {ttq_s} | {speed_s} |")
        summary[task] = {n: {"final": _mean([s[n]["nll"][-1] for s in seeds]),  # noqa: B023 - used at once
                             "speedup": (_mean([s["reference"]["cpu"] / s[n]["time_to_reference"] for s in seeds])
                                         if all(s[n]["time_to_reference"] for s in seeds) else None),
                             "step_ratio": _mean([s[n]["cpu"] for s in seeds]) / ref_cpu} for n in names}
        lines += ["", "Held-out NLL against the step (mean over seeds):", "",
                  "| step | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        steps = seeds[0][names[0]]["steps"]
        stride = max(1, len(steps) // 10)
        for i in list(range(stride - 1, len(steps), stride)) + ([len(steps) - 1] if (len(steps) - 1) % stride != stride - 1 else []):
            lines.append(f"| {steps[i]} | " + " | ".join(f"{_mean([s[n]['nll'][i] for s in seeds]):+.3f}" for n in names) + " |")
        lines.append("")
    for ab in report.get("ablations", []):
        for task, rows in ab["ablation"].items():
            first = next(iter(rows))
            lines += [f"## Ablations on {task}: {ab['steps']} steps, one seed", "",
                      f"`{ab['command']}`; the same protocol, shortened (warm-up, then cosine over "
                      f"{ab['steps']} steps). CPU time relative to {first}.", "",
                      "| variant | settings | params | NLL mid-run | NLL at the end | CPU vs first |", "|---|---|---|---|---|---|"]
            for name, r in rows.items():
                lines.append(f"| {name} | {_fields(r['settings']) or '–'} | {r['params']:,} | {r['mid']:+.3f} "
                             f"(step {r['mid_step']}) | {r['final']:+.3f} | {r['cpu_ratio']:.2f} |")
            lines.append("")
    lines += ["## What changed and why it learns better", "", _explain(summary, report.get("new_lr_scale")), "", WHY, ""]
    out.write_text("\n".join(lines))


WHY = (
    "Why the paper's code learns more per step than the old τ (the ablation tables): "
    "(1) its condition embedder: three hidden layers, batch-normalised. MiniLM conditions "
    "are unit-norm 384-d vectors that differ little from one caption to the next, so an "
    "unnormalised embedder hands the couplings a small embedding that barely varies with "
    "the query; normalising the hidden units fixes that, and LayerNorm does it nearly as "
    "well as batch norm in the reference. (2) Its separate scale and shift networks. They "
    "double the coupling's parameters, and Adam moves every parameter by about the "
    "learning rate per step whatever its gradient, so more (or wider) networks change the "
    "flow's function faster per step: fusing them costs the reference a clear margin, and "
    "widening τ's fused networks wins it back. (3) PyTorch's default "
    "initialisation of the couplings' last layers: zeros (the old τ's identity start) cost "
    "the reference a clear margin. The tanh bound against the soft clamp makes no "
    "difference, and the paper's smaller LeakyReLU slope, if anything, slows τ down. "
    "What the new τ changes, all through `FlowConfig` fields whose defaults keep the old "
    "τ: one hidden layer of 384 units per coupling network instead of two of 128 "
    "(`depth=1, hidden=384`; a fused one-layer net of width 2h can compute anything the "
    "paper's separate one-layer scale and shift nets of width h compute, and the wide "
    "layer is one efficient matmul), a three-layer embedder with LayerNorm "
    "(`embed_depth=3, embed_norm=\"layer\"`: no batch statistics, so a query alone gets the "
    "embedding it gets in a batch, there are no running averages to go stale between "
    "training and inference and nothing to synchronise under DDP), and PyTorch's default "
    "initialisation (`zero_init=false`). The learning rate matters as much as the "
    "architecture at this budget: both models learn faster with the higher peak rate, "
    "which is the one a recipe for the new τ should use."
)


def _fields(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items() if k != "reference")


def _explain(summary: dict, lr_scale: float | None) -> str:
    parts = []
    for task, s in summary.items():
        new, ref, old = s["new τ"], s["reference"], s["old τ"]

        def versus(m: dict, ref: dict = ref) -> str:
            gap = m["final"] - ref["final"]
            if gap <= 0:
                return "at least as good as the reference's"
            return f"{gap:.3f} nats/dim worse than the reference's"

        def speed(m: dict) -> str:
            if m["speedup"]:
                return f"reaches the reference's final NLL {m['speedup']:.2f}× sooner than the reference (CPU time)"
            return "does not reach the reference's final NLL in every seed within the run"

        text = (f"On {task}, under the same protocol, the new τ ends at {new['final']:+.3f} nats/dim "
                f"({versus(new)} {ref['final']:+.3f}; the old τ {old['final']:+.3f}) at {new['step_ratio']:.2f}× "
                f"the reference's CPU time per step, and {speed(new)}.")
        lr_names = [n for n in s if n.startswith("new τ, lr")]
        if lr_names:
            fast, ref2 = s[lr_names[0]], s[lr_names[0].replace("new τ", "reference")]
            text += (f" With its peak learning rate ×{lr_scale:g}, it ends at {fast['final']:+.3f} ({versus(fast)}) "
                     f"and {speed(fast)}; the reference itself, given the same higher rate, ends at "
                     f"{ref2['final']:+.3f} and {speed(ref2).replace('sooner than the reference', 'sooner than at its own rate')}.")
        parts.append(text)
    return " ".join(parts)



if __name__ == "__main__":
    main()
