"""``net2net probe --query EXPERT --layers A,B --target EXPERT --dataset DIR --out DIR``.

Which layer of an expert to read before training a translator: fits a small τ from
each layer (and one from nothing) to the target's code under one shared budget, and
writes ``DIR/report.html`` and ``DIR/report.json``: per layer the held-out NLL, the
information the layer holds about the target, the diversity of samples, how often they
keep each label column, a grid of samples and a one-line recommendation. Rerun the same
command to resume: cached features and finished layers are not redone. See docs/probe.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="which layer of an expert to read: what each keeps of a target, measured with τ",
                       description=__doc__)
    p.add_argument("--query", required=True, help="the expert whose layers are probed (a name, file.py:factory or module:factory)")
    p.add_argument("--layers", required=True, help="comma-separated layers, input to output (e.g. conv1,conv2,fc1,logits)")
    p.add_argument("--target", required=True, help="the expert whose code τ draws (e.g. fmnist-ae)")
    p.add_argument("--dataset", default="fashion-mnist", help="a data set name or a folder of your images (default: fashion-mnist)")
    p.add_argument("--column", help="label column(s) to judge, comma-separated (default: every categorical column)")
    p.add_argument("--query-column", help="the column the query expert reads, e.g. captions for a text expert "
                                          "(default: the images)")
    p.add_argument("--heldout-query-column", help="the held-out rows' query column, e.g. captions in wordings "
                                                  "training never uses (default: --query-column)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--budget-minutes", type=float, help="process CPU minutes for all τs together, split evenly (default: 10)")
    budget.add_argument("--budget-steps", type=int, help="optimiser steps for all τs together, split evenly")
    p.add_argument("--out", required=True, help="the probe's folder (report.html, report.json; rerun to resume)")
    p.add_argument("--max-dim", type=int, default=1024, help="the widest a pooled layer may be (default: 1024)")
    p.add_argument("--limit", type=int, help="training rows (default: the whole train split)")
    p.add_argument("--heldout-limit", type=int, default=5000, help="held-out rows (default: 5000)")
    p.add_argument("--queries", type=int, default=200, help="held-out queries for diversity and labels kept (default: 200)")
    p.add_argument("--samples", type=int, default=8, help="samples per query (default: 8)")
    p.add_argument("--batch-size", type=int, default=256, help="pairs per τ training step (default: 256)")
    p.add_argument("--judge", help="a classifier expert that judges decoded samples (default: a linear probe on the target's codes)")
    p.add_argument("--seed", type=int, default=0, help="seeds τ, the queries and the samples (default: 0)")
    p.add_argument("--device", default="cpu", help="where experts and τ run (default: cpu)")
    p.add_argument("--root", help="feature store folder (default: $NET2NET_CACHE or ~/.cache/net2net/features)")
    p.add_argument("--data-dir", help="folder with a registered data set's files (default: searched)")
    p.add_argument("--docs", metavar="DIR", help="also copy the figures to DIR and write DIR/report.md (for docs/)")
    p.add_argument("--docs-into", metavar="FILE",
                   help="with --docs: also fill the section <!-- probe: NAME --> ... <!-- /probe: NAME --> of FILE")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from net2net.probing import probe, write_docs

    layers = [x.strip() for x in args.layers.split(",") if x.strip()]
    columns = [x.strip() for x in args.column.split(",") if x.strip()] if args.column else None
    report = probe(args.query, args.target, layers, args.dataset, out=args.out, budget_minutes=args.budget_minutes,
                   budget_steps=args.budget_steps, columns=columns, data_dir=args.data_dir, store_root=args.root,
                   device=args.device, progress=False if args.no_progress else None, max_dim=args.max_dim,
                   limit=args.limit, heldout_limit=args.heldout_limit, queries=args.queries, samples=args.samples,
                   judge=args.judge, seed=args.seed, batch_size=args.batch_size, query_column=args.query_column,
                   heldout_query_column=args.heldout_query_column)
    for r in report["rows"]:
        kept = "  ".join(f"{c} {v:.2f}" for c, v in r["labels_kept"].items())
        print(f"{r['layer']:>12}  {r['pool'] or '-':>7} {r['dim']:>5}-d  NLL {r['heldout_nll_nats_per_dim']:.3f} nats/dim  "
              f"I {r['information_nats']:.2f} nats  diversity {r['diversity']:.2f}  {kept}")
    print(f"recommendation: {report['recommendation']}")
    print(f"report: {args.out}/report.html")
    if args.docs:
        command = "net2net --threads 1 probe " + " ".join(shlex.quote(a) for a in _probe_args(sys.argv))
        print(f"docs: {write_docs(args.out, args.docs, command=command, into=args.docs_into)}")
    elif args.docs_into:
        raise ValueError("--docs-into needs --docs DIR (where the figures go)")
    return 0


def _probe_args(argv: list[str]) -> list[str]:
    """The arguments after ``probe`` (for the docs: the command that made them)."""
    return argv[argv.index("probe") + 1:] if "probe" in argv else []
