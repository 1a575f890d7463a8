"""Text prompt -> 16 images with the shipped fmnist-text2img, after the models are loaded.

    python benchmarks/latency.py --out docs/latency.md

Times the whole public call ``translator.sample([prompt], n=16)``: MiniLM encodes the
prompt, τ draws 16 latents, the autoencoder decodes them. Also reports the parts, so a
reader sees where the time goes. Median of repeats after warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from net2net.translator import load


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--translator", default="fmnist-text2img")
    p.add_argument("--prompt", default="a product photo showing a dark pair of trousers")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--compare", metavar="FOLDER",
                   help="another translator (e.g. an earlier commit's folder): both are called in turn, and the "
                        "median ratio of the whole call is reported")
    p.add_argument("--versus-bare", action="store_true",
                   help="a translator with a prompt completer: also call sample(..., complete=False) in turn, and "
                        "report the median ratio of the completed call to the bare one")
    p.add_argument("--out", default="docs/latency.md")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    t = load(args.translator)
    t.sample([args.prompt], n=args.n)  # warm-up (and MiniLM's lazy start)
    load_s = time.perf_counter() - t0
    with torch.no_grad():
        z_phi = t.encode_query([args.prompt])
        z = t.sample_latents(z_phi, n=args.n)
        parts = {
            "encode prompt (MiniLM)": median_ms(lambda: t.encode_query([args.prompt]), args.repeats),
            f"τ: {args.n} latents": median_ms(lambda: t.sample_latents(z_phi, n=args.n), args.repeats),
            f"decode {args.n} images (AE)": median_ms(lambda: t.decode(z), args.repeats),
        }
        total = median_ms(lambda: t.sample([args.prompt], n=args.n), args.repeats)
        if args.compare:
            other = load(args.compare)
            other.sample([args.prompt], n=args.n)
            pairs = [(median_ms(lambda: t.sample([args.prompt], n=args.n), 1),
                      median_ms(lambda: other.sample([args.prompt], n=args.n), 1)) for _ in range(args.repeats)]
            ratio = statistics.median(a / b for a, b in pairs)
        if args.versus_bare:
            if t.completer is None:
                raise SystemExit(f"{args.translator} has no prompt completer: --versus-bare compares nothing")
            pairs = [(median_ms(lambda: t.sample([args.prompt], n=args.n), 1),
                      median_ms(lambda: t.sample([args.prompt], n=args.n, complete=False), 1))
                     for _ in range(args.repeats)]
            bare_ratio = statistics.median(a / b for a, b in pairs)
            named = t.completer.named(z_phi)[0].tolist()
            left_out = [a for a, yes in zip(t.completer.attributes, named, strict=True) if not yes]
    result = {"translator": args.translator, "n": args.n, "threads": args.threads, "total_ms": total, "parts_ms": parts,
              "load_seconds": load_s, "torch": torch.__version__, "python": platform.python_version(),
              "load_average": list(__import__("os").getloadavg())}
    command = f"python benchmarks/latency.py --out {args.out}" + (
        f" --translator {args.translator}" if args.translator != "fmnist-text2img" else "") + (
        f" --prompt \"{args.prompt}\"" if args.prompt != p.get_default("prompt") else "") + (
        f" --compare {args.compare}" if args.compare else "") + (" --versus-bare" if args.versus_bare else "")
    lines = [f"# Latency: text prompt → {args.n} images", "", "Written by `benchmarks/latency.py`:", "",
             f"    {command}", "",
             f"- translator `{args.translator}`, prompt “{args.prompt}”, {args.threads} torch thread(s), torch {torch.__version__}",
             f"- machine: the project's 2-core CPU (shared; load average at the end {result['load_average'][0]:.1f})",
             f"- **total: {total:.1f} ms** for `sample([prompt], n={args.n})` after loading (goal < 300 ms); "
             f"loading took {load_s:.1f} s", "", "| part | ms |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in parts.items()]
    if args.compare:
        result["compare"] = {"other": args.compare, "ratio_median": ratio}
        lines += ["", f"Against `{args.compare}`, called in turn {args.repeats} times: this translator's whole call "
                  f"takes **{ratio:.2f}×** the other's (median of the per-turn ratios)."]
    if args.versus_bare:
        result["versus_bare"] = {"ratio_median": bare_ratio, "left_out": left_out}
        lines += ["", f"The prompt leaves out (as the completer reads it): {', '.join(left_out) or 'nothing'}. "
                  f"Completing it per image (the default) against sampling it as given (`complete=False`), called in "
                  f"turn {args.repeats} times: the completed call takes **{bare_ratio:.2f}×** the bare one (median of "
                  "the per-turn ratios; a prompt that leaves something out costs one more MiniLM call, on all "
                  f"{args.n} completions at once)."]
    out = Path(args.out)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
