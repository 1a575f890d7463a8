"""``net2net zoo list|train``: the shipped experts and translators, and reproducing one.

    net2net zoo list [--json]
    net2net zoo train NAME [--device cuda] [--out DIR] [--steps N | --epochs N]

``zoo train`` of a translator (e.g. fmnist-text2img) extracts any missing features,
fits τ from its recipe and installs it into the package (with ``--out``: writes the run
folder there and installs nothing).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list the shipped experts or retrain one from its recipe", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    zsub = p.add_subparsers(dest="zoo_command", metavar="ACTION", parser_class=type(p))
    zsub.required = True

    ls = zsub.add_parser("list", help="every zoo expert with its dim and test metrics")
    ls.add_argument("--dir", help="list this folder instead of the package's weights")
    ls.add_argument("--json", action="store_true", help="print the metrics as JSON")
    ls.set_defaults(func=run_list)

    tr = zsub.add_parser("train", help="train a zoo expert or translator from its recipe")
    tr.add_argument("name", help="recipe name (see `net2net zoo list`) or a recipe JSON path")
    tr.add_argument("--out", help="folder for NAME.safetensors + NAME.json (default: the package's weights folder)")
    tr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default: cpu)")
    budget = tr.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="override the recipe's budget in optimiser steps")
    budget.add_argument("--epochs", type=int, help="override the recipe's budget in epochs")
    tr.add_argument("--train-limit", type=int, help="train on the first N training images only (smoke tests)")
    tr.add_argument("--eval-limit", type=int, help="measure on the first N test images only")
    tr.add_argument("--dataset", metavar="NAME_OR_FOLDER",
                    help="train on this data set instead of the recipe's (e.g. a folder from `net2net data make shapes`)")
    tr.set_defaults(func=run_train)


def _headline(metrics: dict) -> str:
    t = metrics.get("test", {})
    parts = []
    if "per_head_accuracy" in t:
        parts.append("test acc " + ", ".join(f"{a} {100 * v:.2f}%" for a, v in t["per_head_accuracy"].items()))
    elif "accuracy" in t:
        parts.append(f"test acc {100 * t['accuracy']:.2f}%")
    if "mse" in t:
        parts.append(f"test MSE {t['mse']:.4f}, PSNR {t['psnr']:.2f} dB")
    if "fid_classifier_fc1" in t:
        parts.append(f"FID(fc1) {t['fid_classifier_fc1']:.2f}, class acc of samples {100 * t['generated_accuracy']:.1f}%")
    return "; ".join(parts) or "-"


def _translators() -> dict[str, dict]:
    from net2net.io import read_json
    from net2net.train.translators import translator_recipes
    from net2net.translator import available_translators, find_translator

    installed = set(available_translators())
    out = {}
    for name in sorted(installed | set(translator_recipes())):
        folder = find_translator(name)
        if folder is not None:
            m = read_json(folder / "translator.json")
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            opts = ",".join(f"{k}={v}" for k, v in m["query"].get("options", {}).items())
            query = f"{m['query']['name']}[{opts}]" if opts else m["query"]["name"]
            out[name] = {"installed": True, "query": query, "target": m["target"]["name"],
                         "task": m["info"].get("task", ""), "bytes": size, "metrics": m["info"].get("metrics", {})}
        else:
            out[name] = {"installed": False}
    return out


def run_list(args: argparse.Namespace) -> int:
    from net2net.zoo import list_zoo, zoo_folders, zoo_info

    folder = Path(args.dir) if args.dir else None  # None: the search path, $NET2NET_ZOO first
    names = list_zoo(folder)
    infos = {n: zoo_info(n, folder) for n in names}
    translators = _translators() if not args.dir else {}
    if args.json:
        print(json.dumps({"experts": {n: {"kind": i["kind"], "dim": _dim(i), "metrics": i["metrics"]} for n, i in infos.items()},
                          "translators": translators}, indent=2))
        return 0
    if not names:
        where = folder if folder is not None else ", ".join(map(str, zoo_folders()))
        print(f"no experts in {where}; train one with `net2net zoo train NAME`")
    else:
        print("experts:")
        width = max(len(n) for n in names)
        for n, i in infos.items():
            print(f"  {n:<{width}}  {i['kind']:<10}  dim {_dim(i):>4}  {i.get('bytes', 0) / 1e6:5.2f} MB  {_headline(i['metrics'])}")
    if translators:
        print("translators (query expert -> target expert):")
        width = max(len(n) for n in translators)
        for n, t in translators.items():
            if not t["installed"]:
                print(f"  {n:<{width}}  not installed: net2net zoo train {n}")
                continue
            nll = t["metrics"].get("val_nll_nats_per_dim")
            nll = f"training-run validation NLL {nll:.3f} nats/dim" if isinstance(nll, float) else ""
            print(f"  {n:<{width}}  {t['query']} -> {t['target']}  {t['bytes'] / 1e6:5.2f} MB  {nll}")
    return 0


def _dim(info: dict) -> int:
    c = info["config"]
    if info["kind"] == "classifier":
        return c["hidden"]
    if info["kind"] == "gan":
        return c["z_dim"] + c["embed_dim"]
    return c["latent_dim"]


def run_train(args: argparse.Namespace) -> int:
    from net2net.train.translators import train_zoo_translator, translator_recipes
    from net2net.zoo.train import train_expert

    if args.name in translator_recipes():
        if args.epochs is not None or args.train_limit is not None or args.eval_limit is not None:
            raise ValueError("translators take --steps, not --epochs/--train-limit/--eval-limit")
        metrics = train_zoo_translator(args.name, out=args.out, install=args.out is None, steps=args.steps,
                                       device=None if args.device == "cpu" else args.device, dataset=args.dataset)
        print(json.dumps({k: v for k, v in metrics.items() if k != "history"}, indent=2))
        return 0

    metrics = train_expert(args.name, args.out, device=args.device, steps=args.steps, epochs=args.epochs,
                           train_limit=args.train_limit, eval_limit=args.eval_limit, dataset=args.dataset)
    print(json.dumps(metrics, indent=2))
    from net2net.zoo.store import WEIGHTS_DIR

    print(f"{_headline(metrics)}\nweights written to {Path(args.out) if args.out else WEIGHTS_DIR}")
    return 0
