"""Renders the JSON of ``benchmarks/run.py`` as docs/benchmarks.md."""

from __future__ import annotations

__all__ = ["render"]

GPU_ANCHORS = """\
## GPU (H100): not measured in this session

No GPU was lent to the session that wrote this file, so there are no GPU figures
here and the GPU goals of issue 6 are **open**. To measure them:

    python benchmarks/run.py --device cuda --size paper --out docs/benchmarks-h100.md

That run times ours and the plain reference side by side at the paper's size at batch
16 and 4096 (with `torch.cuda.synchronize()` around every timing), τ-only sampling of
16 queries, and our τ under each GPU lever (fp32, TF32, bf16 autocast, bf16 +
`torch.compile(mode="reduce-overhead")`, which uses CUDA graphs); a lever that fails is
reported, not fatal. `benchmarks/gpu_table.py` (issue 25; docs/benchmarks-real.md, "The
reference, and the GPU table") is the later GPU table: τ at the paper's size against the
paper's own code (copied by `benchmarks/paper_code.py`, never shipped) at batch 16, 256,
1,024 and 4,096 in float32 and bf16, τ also as one CUDA graph per step, written to
docs/benchmarks-gpu.md. It has not been run either: no GPU was lent to that issue.

The paper size is run with our `depth=3`. The paper's code counts "depth" as the
hidden→hidden layers that follow the first one, so its depth 2 means three hidden layers.
With that, the plain reference has 255.4M parameters, the issue's "about 255M"; with our
`depth=2` it would have only 154.6M.

Anchors from the issue (the paper's public τ and FrEIA 0.2, one H100, PyTorch 2.11,
full training step with Adam, paper size, ~255M parameters):

| implementation | batch 16 | batch 4096 |
|---|---|---|
| paper's public τ | ~104 samples/s (150 ms/step, 40 ms forward) | ~24,000 samples/s |
| FrEIA 0.2 AllInOneBlock (71M params) | 355 samples/s | 79,000 samples/s |
| goal for ours | ≥ 10× the paper's (≥ ~1,040/s) | ≥ 5× the paper's (≥ ~120,000/s) |

Goal for sampling: 16 queries through τ in under 5 ms.

**Choosing matmul precision.** Setting `torch.backends.cuda.matmul.allow_tf32`
changed nothing in the issue's runs: since PyTorch 2.9 the old TF32 flags are being
replaced by `torch.backends.cuda.matmul.fp32_precision = "tf32"` (and
`torch.backends.fp32_precision`, `torch.backends.cudnn.conv.fp32_precision`), and the
portable call is `torch.set_float32_matmul_precision("high")`; on this torch (2.13)
that call sets `torch.backends.cuda.matmul.fp32_precision` to `"tf32"` (checked
here). The GPU run uses `set_float32_matmul_precision`. bf16 autocast runs the
couplings' matmuls in bf16 while our layers sum log-dets in float32: the coupling
casts its log-scales to float32 before summing, ActNorm sums its float32 parameter,
and the data path stays float32 (`b * exp(s) + t` promotes to float32).
"""

WHAT_HELPED = """\
## Why the CPU epoch stays under 2× at this size

Both models do the same work apart from the coupling networks, and at batch 256 the
matmuls dominate. Per sample and half-coupling, our fused net costs
160·256 + 256·256 + 256·64 ≈ 123k multiply-adds, the plain reference's separate scale
and shift nets 2 × (160·256 + 256·256 + 256·32) ≈ 229k; with the shared embedder the
whole model is the "arithmetic ratio" above (about 1.81× at the default size). The
implementation gets a little more than that ratio, from the optimiser and from fewer
element-wise passes, but a compute-bound epoch cannot go much beyond it: 2× here needs
less arithmetic, not a faster implementation of the same arithmetic.

We tried the obvious way to less arithmetic, and it is not worth it. Sharing one
condition projection between a block's two halves, so that `W_c·c` is computed once per
block, cuts 13 % of the multiply-adds. On one epoch (three models in alternation, thread
CPU time) it was only 4 % faster than ours (17.3 s against 17.9 s; plain 33.9 s), and
its validation NLL was 0.14 nats/dim *worse* (3.329 against 3.192). So our τ keeps the
paper's architecture.

## What helped, what did not (CPU)

- **One fused network for scale and shift** (already in our coupling): half the
  coupling parameters of separate nets (see the parameter counts), so about half the
  matmul work at large batch and half the optimiser work at any batch.
- **Fused AdamW on the CPU too** (`fused=True`, `net2net.train.fit.make_optimizer`):
  on the CPU the `foreach` AdamW runs a dozen element-wise ops per parameter tensor
  (116 tensors at the default size); the fused kernel does one pass. The row "ours
  with foreach AdamW" above is the ablation.
- **Fewer passes over the activations**, all the same arithmetic:
  - LeakyReLU in place on its Linear's fresh output;
  - ActNorm and the coupling's affine map as one `addcmul` each;
  - permutations through `index_select`, whose backward is cheaper than advanced indexing's;
  - the log-det summed once for the whole flow, not two reductions and an add per block.

  Timed in alternation with the previous implementation (per-step thread CPU time, 80
  steps each, batch 256): the median step went from 84 ms to 75 ms, and the fastest from
  69 ms to 66 ms. The saved activations of a step (about 12 MB) overflow this CPU's
  cache, so every buffer not written is time saved. Outputs are unchanged to float32
  rounding (float64 tests are exact to 1e-9).
- **No host syncs**: our ActNorm decides on a Python flag mirrored from its buffer and
  never calls `.item()`; the trainer reads the loss once every 50 steps. On the CPU a
  host read costs little. On a GPU each one drains the launch queue; the issue blames
  per-layer host overhead and syncs for most of the reference's 40 ms forward pass.
- **Did not help: `torch.compile` on the CPU** (inductor, gcc 12). Compiling `log_prob`
  took 55 s, and the compiled step then ran *slower*: 107 ms against about 85 ms eager
  on the same machine. It stays a GPU lever (the `bf16+compile` row of a CUDA run).
- **Did not help: a cheaper gradient clip.** `clip_grad_norm_` costs about 1–3 ms of a
  step here. Hand-written `foreach` variants saved well under 1 ms, which is within the
  machine's noise, so the trainer keeps the public call.
- **Threads**: on the shared 2-core machine the default two torch threads can make a
  step more than 10× slower when another job holds a core: two spinning threads on
  oversubscribed cores. The benchmarks default to `--threads 1`, the same for both
  models. On a quiet machine `--threads 2` gave the same ratios (epoch 1.85×).
"""


def _f(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


#: Where the comparison on real pairs, against the paper's own parametrisation, lives.
REAL_PAIRS_LINK = ("How τ learns on real cached pairs against the paper's own parametrisation (time to "
                   "quality at equal CPU time, matched and own-best learning rates, three seeds, three tasks): "
                   "[benchmarks-real.md](benchmarks-real.md), written by "
                   "`benchmarks/real_pairs.py`.")


def render(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Benchmarks: our τ against a plain implementation of the paper's block",
        "",
        "Written by `benchmarks/run.py`; the JSON beside this file has every figure.",
        REAL_PAIRS_LINK,
        "",
        f"    {r['command']}",
        "",
        f"- device: **{r['device']}**; size **{r['size']}**: `{r['model']}`",
        f"- parameters: ours {r['params']['ours']:,}, plain reference {r['params']['plain']:,}",
        *([f"- arithmetic: ours {r['macs_per_sample']['ours']:,} multiply-adds per sample per forward pass, "
           f"plain {r['macs_per_sample']['plain']:,}: an **arithmetic ratio of "
           f"{r['macs_per_sample']['plain'] / r['macs_per_sample']['ours']:.2f}×**, the most a purely "
           "compute-bound step could gain by doing the same maths faster"] if "macs_per_sample" in r else []),
        *(["- the default size is the τ our text→image translator is to use (issue 6): MiniLM's 384-d sentence "
           "code → a 64-d image code, with the first τ's settings (8 blocks, hidden 256, depth 2, "
           "embedding 128: `FlowConfig`'s defaults until issue 24 made them the shipped τ's)"] if r["size"] == "default" else []),
        f"- machine: {m.get('cpu', '?')}, {m.get('cpu_count')} cores, torch {m['torch']} with "
        f"{m['torch_threads']} thread(s), Python {m['python']}"
        + (f", GPU {m['gpu']}" if "gpu" in m else "")
        + (f"; load average at the end {tuple(round(x, 1) for x in m['load_average'])}" if "load_average" in m else ""),
        "",
        ("The plain reference (`benchmarks/plain_reference.py`) is the paper's block written "
        "plainly: ActNorm with a host-read `initialized` check every call, separate scale and "
        "shift MLPs per half (tanh on the scale), a fixed shuffle, the same condition embedder "
        "and sizes, plain Adam, the same NLL loss. Both models see the same data (the "
        "linear-Gaussian toy at this size) and are timed in alternation, median of repeats "
        "after warm-up."),
        "",
    ]
    if r["device"] == "cpu":
        lines += [("The CPU is shared with other engineers' jobs: read the **ratios**; the absolute "
                   "figures are for this machine at this load only."), ""]
    lines += ["## Training step (forward, backward, optimiser)", "",
              "| batch | ours samples/s | plain samples/s | ours with foreach AdamW | **ours / plain** | fused / foreach AdamW |",
              "|---|---|---|---|---|---|"]
    for batch, t in r["train"].items():
        lines.append(
            f"| {batch} | {_f(t['ours']['samples_per_s'])} | {_f(t['plain']['samples_per_s'])} | "
            f"{_f(t['ours_foreach_adamw']['samples_per_s'])} | **{t['speedup_vs_plain']:.2f}×** | "
            f"{t['fused_adamw_speedup']:.2f}× |")
    e = r["epoch"]
    seeds = e.get("seeds", 1)
    lines += ["", f"## One epoch over {e['pairs']:,} cached pairs (batch {e['batch']}, {e['steps']} steps)", "",
              (f"Repeated from {seeds} initialisation seeds: seconds are per epoch (mean), NLLs the mean "
               "and each seed's." if seeds > 1 else ""), "",
              "| | seconds | validation NLL (nats/dim) | per seed |", "|---|---|---|---|"]
    for name, label in (("ours", "ours"), ("plain", "plain reference")):
        per_seed = ", ".join(f"{x:.4f}" for x in e[name].get("val_nll_per_seed", [e[name]["val_nll_nats_per_dim"]]))
        lines.append(f"| {label} | {_f(e[name]['seconds'], 2)} | {e[name]['val_nll_nats_per_dim']:.4f} | {per_seed} |")
    gaps = e.get("nll_gap_per_seed", [e["nll_gap_nats_per_dim"]])
    lines += ["",
              f"- **epoch speed-up: {e['speedup']:.2f}×** (goal ≥ 2×)",
              (f"- NLL gap after the same steps, ours − plain: **{e['nll_gap_nats_per_dim']:+.4f} nats/dim** "
               f"(per seed: {', '.join(f'{g:+.4f}' for g in gaps)}; goal: within ±0.02); the toy's "
               f"conditional entropy, the best reachable, is {e['entropy_nats_per_dim']:.4f}"),
              ]
    if e["nll_gap_nats_per_dim"] < -0.02:
        same_sign = all(g < 0 for g in gaps)
        lines.append(
            "- one epoch is far from convergence on this toy (z = A·c + b + noise with a 384-wide A: both "
            "models are still learning the mean). A negative gap means ours is *lower* (better)"
            + (", for every seed" if same_sign and len(gaps) > 1 else "")
            + ": the speed-ups cost no accuracy. After one epoch the two differ because they are different "
            "parametrisations, fused against separate nets. A one-epoch check with our clamp set to 1 (exactly "
            "the reference's tanh) and Adam without weight decay or clipping still gave −0.06, so the fused net "
            "is what learns faster" + ("; the next section shows where both end up." if "convergence" in r else "."))
    else:
        lines.append("- within the goal: the speed-ups cost no accuracy." if abs(e["nll_gap_nats_per_dim"]) <= 0.02
                     else "- ours is worse than the reference after the same steps: a speed-up that costs accuracy.")
    lines.append("")
    if "convergence" in r:
        cv = r["convergence"]
        lines += [f"## Where both end up: {cv['epochs']} epochs side by side", "",
                  (f"Both trained for {cv['epochs']} epochs ({cv['epochs'] * cv['steps_per_epoch']:,} steps) under one "
                   "warm-up + cosine schedule, validation NLL after each epoch (nats/dim):"), "",
                  "| epoch | ours | plain | ours − plain |", "|---|---|---|---|"]
        for k, (o, p, g) in enumerate(zip(cv["ours"], cv["plain"], cv["gap"]), start=1):
            lines.append(f"| {k} | {o:.4f} | {p:.4f} | {g:+.4f} |")
        end = cv["gap"][-1]
        verdict = "the same NLL, within the goal" if abs(end) <= 0.02 else "outside the goal"
        lines += ["", f"- at the end of training the gap is **{end:+.4f} nats/dim** (goal: within ±0.02): {verdict}."]
        if cv["gap"][0] < 0 < end:
            ratio = r["params"]["plain"] / r["params"]["ours"]
            lines.append(f"- ours leads early; the reference, with {ratio:.1f}× the parameters, catches up as "
                         "the learning rate anneals.")
        lines.append("")
    s = r["sample"]
    lines += ["## Sampling 16 queries through τ (no experts)", "",
              (f"- ours {s['ours']['ms_for_16']:.2f} ms, plain {s['plain']['ms_for_16']:.2f} ms: "
               f"**{s['speedup_vs_plain']:.2f}×** (eval mode, no grad, median of repeats; on a loaded "
               "shared CPU a latency includes waits for a core)"), ""]
    if "gpu_variants" in r:
        lines += ["## Our τ under the GPU levers", "", "| variant | train b16 samples/s | train large samples/s | sample 16 (ms) |",
                  "|---|---|---|---|"]
        for label, v in r["gpu_variants"].items():
            if "error" in v:
                lines.append(f"| {label} | failed: {v['error']} | | |")
                continue
            keys = [k for k in v if k.startswith("train_b")]
            lines.append(f"| {label} | {_f(v[keys[0]]['samples_per_s'])} | {_f(v[keys[1]]['samples_per_s'])} | "
                         f"{v['sample_16']['ms_for_16']:.2f} |")
        lines.append("")
    lines += [WHAT_HELPED]
    if r["device"] == "cpu":
        lines += [GPU_ANCHORS]
    lines += ["", "End to end, a text prompt to 16 images with the shipped translator (MiniLM, τ, the "
              "autoencoder) is timed separately by `benchmarks/latency.py`: see [latency.md](latency.md)."]
    return "\n".join(lines)
