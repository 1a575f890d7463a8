"""``net2net train RECIPE [--resume] [--out DIR]``: fit τ from a recipe file."""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fit a translator from a recipe file", description=__doc__)
    p.add_argument("recipe", help="path to a recipe JSON file")
    p.add_argument("--out", help="run folder (default: the recipe's 'out')")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.add_argument("--steps", type=int, help="override train.steps")
    p.add_argument("--device", help="override train.device (auto, cpu, cuda, ...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from net2net.train.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    overrides = {k: v for k, v in (("steps", args.steps), ("device", args.device)) if v is not None}
    if overrides:
        recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, **overrides))
    metrics = recipe.run(resume=args.resume, out=args.out)
    out = args.out or recipe.out
    summary = {k: metrics[k] for k in ("steps", "train_pairs", "val_nll_nats_per_dim", "val_nll_bits_per_dim") if k in metrics}
    print(json.dumps(summary, indent=2))
    print(f"model written to {out}/model")
    return 0
