"""``net2net demo --out DIR``: every application on the shipped zoo, as an HTML report."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run every application on the shipped zoo and write an HTML report",
                       description=__doc__)
    p.add_argument("--out", default="demo-out", help="report folder (default: demo-out)")
    p.add_argument("-n", type=int, default=8, help="samples per query (default: 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--queries", type=int, default=100, help="test queries per translator for the metrics (default: 100)")
    p.add_argument("--no-metrics", action="store_true", help="skip the metrics table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from net2net.demo import run_demo

    if not 1 <= args.n <= 32:
        raise ValueError(f"-n must be between 1 and 32, got {args.n}")
    result = run_demo(args.out, n=args.n, seed=args.seed, n_queries=args.queries, metrics=not args.no_metrics)
    print(f"report: {result['report']} ({result['seconds']:.0f} s)")
    return 0
