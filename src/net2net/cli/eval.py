"""``net2net eval NAME``: the translator's metrics on the test split, as a table and JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "format_table"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="measure a translator on the test split (NLL, FID, accuracy, diversity, ...)",
                       description=__doc__)
    p.add_argument("name", help="translator: a zoo name or a folder")
    p.add_argument("--queries", type=int, default=1000,
                   help="test images/queries to use (default: 1000, as in docs/results.md)")
    p.add_argument("--samples", type=int, default=4, help="samples per query (default: 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the metrics here (default: print only)")
    p.add_argument("--plots", help="folder for matplotlib plots (per-class accuracy, NLL curve)")
    p.add_argument("--dataset", metavar="NAME_OR_FOLDER",
                   help="shapes translators: the data set to measure on (default: shapes; e.g. a folder from "
                        "`net2net data make shapes`)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def _scalar(v: object) -> bool:
    return isinstance(v, (int, float, str)) and not isinstance(v, bool)


def format_table(metrics: dict) -> str:
    """One metric per line; a breakdown (a dict of figures, e.g. per attribute) as ``name.key``
    lines, so every figure docs/results.md cites can be read here. Lists stay in the JSON."""
    rows: list[tuple[str, object]] = []
    for k, v in metrics.items():
        if _scalar(v):
            rows.append((k, v))
        elif isinstance(v, dict):
            rows += [(f"{k}.{sub}", x) for sub, x in v.items() if _scalar(x)]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    from net2net.evaluate.translators import evaluate_translator
    from net2net.translator import load

    if not 1 <= args.samples <= 64:
        raise ValueError(f"--samples must be between 1 and 64, got {args.samples}")
    t = load(args.name, args.device)
    metrics = {"translator": args.name, **evaluate_translator(t, n_queries=args.queries, n_samples=args.samples, seed=args.seed,
                                                                  dataset=args.dataset)}
    print(format_table(metrics))
    if args.json:
        from net2net.io import atomic_write_json

        atomic_write_json(args.json, metrics)
    if args.plots and "class_accuracy_per_class" in metrics:
        from net2net.evaluate.plots import nll_curve, per_class_bars

        Path(args.plots).mkdir(parents=True, exist_ok=True)
        per_class_bars({args.name: metrics["class_accuracy_per_class"]}, Path(args.plots) / "per_class_accuracy.png")
        history = t.info.get("history")
        if history and history.get("val_nll"):
            nll_curve({args.name: history}, Path(args.plots) / "nll_curve.png")
    return 0
