"""The GPU table of issue 25: τ at the paper's size against the paper's own code, in one run.

Both models at the paper's text-to-image size (its configs/translation/sbert-to-biggan256:
dim 268, condition 768, embedding 268, 24 blocks, coupling nets of three hidden layers of
1024, a three-layer batch-normalised condition embedder of 256; τ: ``depth=3``,
``embed_hidden=256``, ``embed_depth=3``, its own defaults otherwise). For every batch of
``--batches`` and both precisions (float32, bf16 autocast):

- *training steps per second* of the paper's training step (its flow, its ``NLL`` loss,
  Adam with its betas and AMSGrad; benchmarks/paper_code.py) and of τ's (the trainer's
  ``train_step``: loss, backward, gradient clip, fused AdamW), the two timed in turns;
- τ's step replayed as one CUDA graph (GPU only; the optimiser built ``capturable``);
- the latency of drawing 16 samples (one query each): the paper's ``sample``, τ's, and
  τ's as a CUDA graph.

The paper's code is loaded from the git-ignored folder that ``benchmarks/paper_code.py``
prepares; without it the reference is ``paper_reference.PaperCINN``, our reading of that
code, and the report says so (``paper_code.agreement`` measures how close the two are
whenever both are there). Prepare the paper's code here, then run on the GPU machine with
the folder carried along::

    python benchmarks/paper_code.py /work/.mirror/CompVis+net2net/repo
    python benchmarks/gpu_table.py --device cuda --out docs/benchmarks-gpu.md

Benchmarks are not tests: nothing here asserts a speed. ``--size tiny --device cpu`` runs
every path but the CUDA graphs in seconds (the test suite does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paper_code
from run import sync, timed

from net2net.flow import ConditionalINN
from net2net.train.fit import TrainConfig, make_optimizer, train_step, training_loss

ROOT = Path(__file__).resolve().parents[1]
LR = 1e-4
#: the paper's flow (its own parameter names) and τ's FlowConfig at the same size
SIZES: dict[str, dict] = {
    "paper": {"paper": paper_code.PAPER_FLOW,
              "tau": {"dim": 268, "cond_dim": 768, "n_blocks": 24, "hidden": 1024, "depth": 3, "embed_dim": 268,
                      "embed_hidden": 256, "embed_depth": 3}},
    "tiny": {"paper": {**paper_code.PAPER_FLOW, "in_channels": 8, "conditioning_dim": 16, "embedding_dim": 8,
                       "n_flows": 2, "hidden_dim": 32, "hidden_depth": 1, "conditioning_hidden_dim": 16},
             "tau": {"dim": 8, "cond_dim": 16, "n_blocks": 2, "hidden": 32, "depth": 2, "embed_dim": 8,
                     "embed_hidden": 16, "embed_depth": 3}},
}
BATCHES = (16, 256, 1024, 4096)
GRAPHED = "τ, CUDA graph"
#: the issue's goals on the lent GPU, relative to the paper's code there and absolute (H100 anchors)
GOALS = {"ratio_16": 10.0, "ratio_4096": 5.0, "steps_per_s_16": 1040.0, "samples_per_s_4096": 120_000.0,
         "sample_16_ms": 5.0}


def _autocast(device: torch.device, bf16: bool, cache: bool = True):
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)


class Paper:
    """The paper's model and training step (its code where prepared, else PaperCINN)."""

    def __init__(self, params: dict, device: torch.device, modules) -> None:
        torch.manual_seed(0)
        if modules is not None:
            self.model = paper_code.PaperCodeFlow(modules, **params).to(device)
            self.opt = self.model.optimizer(LR)
            self._loss, self._sample = self.model.loss, self.model.sample
        else:
            self.model = paper_code.reimplementation(params).to(device)
            self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, **paper_code.PAPER_ADAM)
            self._loss = lambda z, c: -self.model.log_prob(z, c).mean()
            self._sample = lambda c: self.model.inverse(torch.randn(c.shape[0], self.model.dim, device=c.device), c)[0]
        self.device = device

    def step(self, z: torch.Tensor, c: torch.Tensor, bf16: bool) -> None:
        self.model.train()
        with _autocast(self.device, bf16):
            loss = self._loss(z, c)
        self.opt.zero_grad()
        loss.float().backward()
        self.opt.step()

    @torch.no_grad()
    def sample(self, c: torch.Tensor, bf16: bool) -> torch.Tensor:
        self.model.eval()
        with _autocast(self.device, bf16):
            return self._sample(c)


class Tau:
    """τ and the trainer's step; ``graphed`` replays the whole step as one CUDA graph."""

    def __init__(self, config: dict, device: torch.device, *, graphed: bool = False) -> None:
        torch.manual_seed(0)
        self.model = ConditionalINN(**config).to(device)
        self.model.check_finite = False  # what fit() does after checking the data once
        self.opt = make_optimizer(self.model, TrainConfig(lr=LR))
        if graphed:  # the trainer's fused AdamW keeps its step counts on the GPU; capture needs the flag too
            for group in self.opt.param_groups:
                group["capturable"] = True
        self.device, self.graphed = device, graphed
        self._graphs: dict = {}

    def _capture(self, z: torch.Tensor, c: torch.Tensor, bf16: bool):
        """A CUDA graph of one step on static inputs (warm-up on a side stream first, as
        ``torch.cuda.graphs`` asks; ActNorm is initialised there, outside the graph)."""
        static_z, static_c = z.clone(), c.clone()
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(3):
                with _autocast(self.device, bf16, cache=False):
                    train_step(self.model, self.opt, static_z, static_c, grad_clip=10.0)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            with _autocast(self.device, bf16, cache=False):
                loss = training_loss(self.model, static_z, static_c)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0, foreach=True)
            self.opt.step()
        return graph, static_z, static_c

    def release(self) -> None:
        """Drops the captured graphs (and with them their memory pools)."""
        self._graphs.clear()
        self.opt.zero_grad(set_to_none=True)

    def step(self, z: torch.Tensor, c: torch.Tensor, bf16: bool) -> None:
        self.model.train()
        if not self.graphed:
            with _autocast(self.device, bf16):
                train_step(self.model, self.opt, z, c, grad_clip=10.0)
            return
        key = (tuple(z.shape), bf16)
        if key not in self._graphs:
            self._graphs[key] = self._capture(z, c, bf16)
        graph, static_z, static_c = self._graphs[key]
        static_z.copy_(z)
        static_c.copy_(c)
        graph.replay()

    @torch.no_grad()
    def sample(self, c: torch.Tensor, bf16: bool) -> torch.Tensor:
        self.model.eval()
        if not self.graphed:
            with _autocast(self.device, bf16):
                return self.model.sample(c, generator=torch.Generator(self.device).manual_seed(0))
        key = ("sample", tuple(c.shape), bf16)
        if key not in self._graphs:
            static_c = c.clone()
            for _ in range(2):  # warm-up outside the graph
                with _autocast(self.device, bf16, cache=False):
                    self.model.inverse(torch.randn(c.shape[0], self.model.dim, device=c.device), static_c)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), _autocast(self.device, bf16, cache=False):
                out = self.model.inverse(torch.randn(c.shape[0], self.model.dim, device=c.device), static_c)[0]
            self._graphs[key] = (graph, static_c, out)
        graph, static_c, out = self._graphs[key]
        static_c.copy_(c)
        graph.replay()
        return out


def _batches(batch: int, count: int, dim: int, cond_dim: int, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
    """Pairs with a conditional structure (``z`` a noisy linear map of ``c``), made on the CPU with a fixed seed."""
    g = torch.Generator().manual_seed(batch)
    w = torch.randn(cond_dim, dim, generator=g) / cond_dim ** 0.5
    out = []
    for _ in range(count):
        c = torch.randn(batch, cond_dim, generator=g)
        out.append(((c @ w + 0.5 * torch.randn(batch, dim, generator=g)).to(device), c.to(device)))
    return out


def bench_training(models: dict, batch: int, bf16: bool, data: list, *, warmup: int, repeats: int,
                   device: torch.device) -> dict[str, dict]:
    """Steps per second of every model on the same batches, the models taking turns each repeat."""
    out: dict[str, dict] = {}
    live = {}
    for name, m in models.items():
        try:
            for i in range(warmup):
                m.step(*data[i % len(data)], bf16)
            sync(device)
            live[name] = m
        except Exception as e:  # noqa: BLE001  (a path that fails here is reported, not fatal)
            out[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
    times: dict[str, list[float]] = {name: [] for name in live}
    for _ in range(repeats):
        for name, m in live.items():
            times[name].append(timed(device, lambda m=m: [m.step(z, c, bf16) for z, c in data]))
    for name, ts in times.items():
        s = statistics.median(ts) / len(data)
        out[name] = {"steps_per_s": 1.0 / s, "samples_per_s": batch / s, "ms_per_step": 1e3 * s}
    return out


def bench_sampling(models: dict, cond: torch.Tensor, bf16: bool, *, repeats: int, device: torch.device) -> dict:
    """Median milliseconds of drawing one sample for each row of ``cond``."""
    out: dict = {}
    for name, m in models.items():
        try:
            for _ in range(3):
                m.sample(cond, bf16)
            out[name] = {"ms": 1e3 * statistics.median(timed(device, lambda m=m: m.sample(cond, bf16))
                                                       for _ in range(repeats))}
        except Exception as e:  # noqa: BLE001
            out[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
    return out


def machine(device: torch.device) -> str:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    return f"{where}; torch {torch.__version__}; {platform.machine()}"


def run(size: str, device: torch.device, batches: tuple[int, ...], *, steps: int, repeats: int,
        paper_dir: Path) -> dict:
    modules = paper_code.load(paper_dir)
    sizes = SIZES[size]
    tau_cfg = sizes["tau"]
    report: dict = {"machine": machine(device), "size": size, "batches": list(batches), "steps": steps,
                    "repeats": repeats, "paper_params": sizes["paper"], "tau_config": tau_cfg,
                    "reference": "the paper's code (CompVis/net2net)" if modules is not None else
                    "paper_reference.PaperCINN (our reading of the paper's code; the paper's code was not prepared)",
                    "train": {}, "sample_16": {}}
    if modules is not None:
        report["agreement_nats"] = paper_code.agreement(modules)
    models: dict = {"paper": Paper(sizes["paper"], device, modules), "τ": Tau(tau_cfg, device)}
    if device.type == "cuda":
        models[GRAPHED] = Tau(tau_cfg, device, graphed=True)
    report["params"] = {name: sum(p.numel() for p in m.model.parameters()) for name, m in models.items()}
    t0 = time.perf_counter()
    for bf16 in (False, True):
        precision = "bf16" if bf16 else "fp32"
        for batch in batches:
            data = _batches(batch, steps, tau_cfg["dim"], tau_cfg["cond_dim"], device)
            res = bench_training(models, batch, bf16, data, warmup=3, repeats=repeats, device=device)
            report["train"][f"{precision} {batch}"] = res
            if GRAPHED in models:  # frees the graphs' memory pools before the next batch
                models[GRAPHED].release()
            print(f"{precision} batch {batch}: " + ", ".join(
                f"{n} {r['steps_per_s']:.1f}/s" if "steps_per_s" in r else f"{n} {r['error']}" for n, r in res.items()),
                flush=True)
        cond = _batches(16, 1, tau_cfg["dim"], tau_cfg["cond_dim"], device)[0][1]
        report["sample_16"][precision] = bench_sampling(models, cond, bf16, repeats=max(10, repeats * 4), device=device)
        del data
        if device.type == "cuda":
            torch.cuda.empty_cache()
    report["wall_s"] = time.perf_counter() - t0
    return report


def _rate(r: dict, key: str) -> str:
    return f"{r[key]:,.1f}" if key in r else f"failed ({r['error'][:60]})"


def _ratio(r: dict, ref: dict) -> str:
    return f"**{r['steps_per_s'] / ref['steps_per_s']:.2f}×**" if "steps_per_s" in r and "steps_per_s" in ref else "–"


def write_report(report: dict, out: Path, command: str) -> None:
    names = [n for n in ("τ", GRAPHED) if any(n in r for r in report["train"].values())]
    lines = ["# τ against the paper's code on a GPU, at the paper's size", "",
             f"Written by `benchmarks/gpu_table.py`; do not edit by hand. Rerun with `{command}` "
             f"({report['machine']}; {report['wall_s']:.0f} s).", "",
             f"Reference: {report['reference']}."]
    if "agreement_nats" in report:
        lines.append(f"Our reading of it (`paper_reference.PaperCINN`, the reference of docs/benchmarks-real.md) given "
                     f"the paper's weights differs from it by at most {report['agreement_nats']:.1e} nats in a row's NLL "
                     "(`paper_code.agreement`).")
    lines += ["", "Parameters: " + ", ".join(f"{n} {p:,}" for n, p in report["params"].items()) + ".",
              f"Paper: {json.dumps(report['paper_params'])}. τ: {json.dumps(report['tau_config'])}.", "",
              f"Training steps per second (median of {report['repeats']} turns of {report['steps']} steps, the models "
              "taking turns; samples per second in brackets):", "",
              "| precision | batch | paper's code | " + " | ".join(names) + " | " +
              " | ".join(f"{n} / paper" for n in names) + " |",
              "|---|---|---|" + "---|" * (2 * len(names))]
    for key, res in report["train"].items():
        precision, batch = key.split()
        ref = res["paper"]
        cells = [f"{_rate(ref, 'steps_per_s')} ({_rate(ref, 'samples_per_s')})"]
        cells += [f"{_rate(res[n], 'steps_per_s')} ({_rate(res[n], 'samples_per_s')})" if n in res else "–" for n in names]
        cells += [_ratio(res[n], ref) if n in res else "–" for n in names]
        lines.append(f"| {precision} | {batch} | " + " | ".join(cells) + " |")
    lines += ["", "Latency of 16 samples, one per query (ms, median):", "",
              "| precision | paper's code | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for precision, res in report["sample_16"].items():
        cells = [_rate(res[n], "ms") if n in res else "–" for n in ("paper", *names)]
        lines.append(f"| {precision} | " + " | ".join(cells) + " |")
    lines += ["", "Goals (issue 25, on the lent GPU): " + _goals(report), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps({**report, "command": command}, indent=1) + "\n")


def _goals(report: dict) -> str:
    """The issue's goals against the fp32 rows: met or not, with the figure."""
    train = report["train"]
    best = GRAPHED if any(GRAPHED in r for r in train.values()) else "τ"
    checks = []
    for batch, goal in ((16, GOALS["ratio_16"]), (4096, GOALS["ratio_4096"])):
        res = train.get(f"fp32 {batch}", {})
        if "steps_per_s" in res.get(best, {}) and "steps_per_s" in res.get("paper", {}):
            ratio = res[best]["steps_per_s"] / res["paper"]["steps_per_s"]
            checks.append(f"{best} at batch {batch} {ratio:.2f}× the paper's code (goal ≥ {goal:g}×: "
                          f"{'met' if ratio >= goal else 'not met'})")
    res16, res4096 = train.get("fp32 16", {}).get(best, {}), train.get("fp32 4096", {}).get(best, {})
    if "steps_per_s" in res16:
        checks.append(f"{res16['steps_per_s']:,.0f} steps/s at 16 (goal ≥ {GOALS['steps_per_s_16']:,.0f}: "
                      f"{'met' if res16['steps_per_s'] >= GOALS['steps_per_s_16'] else 'not met'})")
    if "samples_per_s" in res4096:
        checks.append(f"{res4096['samples_per_s']:,.0f} samples/s at 4096 (goal ≥ {GOALS['samples_per_s_4096']:,.0f}: "
                      f"{'met' if res4096['samples_per_s'] >= GOALS['samples_per_s_4096'] else 'not met'})")
    sample = {k: v["ms"] for k, v in report["sample_16"].get("fp32", {}).items() if k != "paper" and "ms" in v}
    if sample:
        ms = min(sample.values())
        checks.append(f"16 samples in {ms:.2f} ms (goal < {GOALS['sample_16_ms']:g} ms: "
                      f"{'met' if ms < GOALS['sample_16_ms'] else 'not met'})")
    return "; ".join(checks) + "." if checks else "no figures to check."


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    p.add_argument("--size", choices=sorted(SIZES), default="paper")
    p.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    p.add_argument("--steps", type=int, default=10, help="steps per timed turn")
    p.add_argument("--repeats", type=int, default=5, help="timed turns per model")
    p.add_argument("--paper-code", type=Path, default=paper_code.DEFAULT_DIR,
                   help="the folder benchmarks/paper_code.py prepared (default: .paper-code)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-gpu.md")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no GPU here; run it where one is lent, or use --device cpu")
    if any(b < 2 for b in args.batches):
        p.error("every batch must be at least 2 (the paper's embedder batch-normalises)")
    command = "python benchmarks/gpu_table.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = run(args.size, torch.device(args.device), tuple(args.batches), steps=args.steps, repeats=args.repeats,
                 paper_dir=args.paper_code)
    write_report(report, args.out, command)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
