"""``net2net train RECIPE [--resume] [--out DIR] [--devices N]``: fit τ from a recipe file.

Under ``torchrun`` every process runs this same command and trains data-parallel;
``--devices N`` starts N local processes through ``torch.distributed.run`` for you.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fit a translator from a recipe file", description=__doc__)
    p.add_argument("recipe", help="path to a recipe JSON file")
    p.add_argument("--out", help="run folder (default: the recipe's 'out')")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="train into a non-empty folder that is not a net2net run (its checkpoints/, model/, best/, "
                        "translator/ and metrics.json are replaced); refused without it")
    p.add_argument("--steps", type=int, help="override train.steps")
    p.add_argument("--device", help="override train.device (auto, cpu, cuda, ...)")
    p.add_argument("--keep", choices=("best", "last"),
                   help="which model the run ships as model/ and translator/: the one of lowest validation NLL "
                        "(best, the default) or the last; the other is kept beside it")
    p.add_argument("--devices", type=int, default=1,
                   help="data-parallel processes on this machine (one per GPU; default 1); see docs/scaling.md")
    p.set_defaults(func=run)


def _launch(args: argparse.Namespace) -> int:
    """``torchrun --standalone --nproc_per_node=N -m net2net.cli train ...`` without --devices."""
    from torch.distributed.run import main as torchrun

    argv = [args.recipe] + (["--resume"] if args.resume else []) + (["--overwrite"] if args.overwrite else [])
    for flag, value in (("--out", args.out), ("--steps", args.steps), ("--device", args.device), ("--keep", args.keep)):
        if value is not None:
            argv += [flag, str(value)]
    top = ["--threads", str(args.threads)] if args.threads is not None else []
    torchrun(["--standalone", f"--nproc_per_node={args.devices}", "-m", "net2net.cli", *top, "train", *argv])
    return 0


def run(args: argparse.Namespace) -> int:
    from net2net.train import distributed as D
    from net2net.train.recipe import train

    if args.devices < 1:
        raise ValueError(f"--devices must be >= 1, got {args.devices}")
    if args.devices > 1 and D.env_world_size() == 1:
        return _launch(args)

    metrics = train(args.recipe, out=args.out, steps=args.steps, device=args.device, resume=args.resume,
                    keep=args.keep, overwrite=args.overwrite)
    if not D.setup().is_main:  # every rank returns rank 0's metrics; one prints them
        D.shutdown()
        return 0
    D.shutdown()
    summary = {k: metrics[k] for k in ("steps", "train_pairs", "val_nll_nats_per_dim", "val_nll_bits_per_dim", "shipped")
               if k in metrics}
    print(json.dumps(summary, indent=2))
    shipped = metrics.get("shipped")
    which = f" (the {shipped['which']} model, step {shipped['step']})" if shipped else ""
    print(f"model written to {metrics['out']}/model{which}")
    if "translator" in metrics:
        print(f"translator written to {metrics['translator']} (net2net sample {metrics['translator']} --prompt ...)")
    if "other_translator" in metrics:
        print(f"the other one is in {metrics['other_translator']}")
    return 0
