"""Measure the installed zoo and write docs/results.md, docs/zoo.md, docs/results.json and plots.

    python scripts/results.py [--quick] [--docs docs] [--threads 1] [--only NAME ...]
    python scripts/results.py --render    # rewrite the pages from docs/results.json, measuring nothing
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", default="docs", help="folder to write into (default: docs)")
    p.add_argument("--quick", action="store_true", help="few queries (a smoke run; not the documented figures)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-grids", action="store_true", help="keep the sample grids already in docs/img")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="re-measure only this translator (repeatable) and keep every other figure of docs/results.json")
    p.add_argument("--render", action="store_true",
                   help="only rewrite results.md and zoo.md from the results.json in --docs (measures nothing)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from net2net.evaluate.results import render_results, run_results

    if args.render:
        render_results(args.docs)
        print(f"wrote {args.docs}/results.md, {args.docs}/zoo.md from {args.docs}/results.json")
        return 0

    t0 = time.perf_counter()
    run_results(args.docs, quick=args.quick, seed=args.seed, grids=not args.no_grids, translators=args.only,
                merge=bool(args.only))
    print(f"wrote {args.docs}/results.md, {args.docs}/zoo.md in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
