"""``net2net expert train autoencoder|classifier --dataset DIR --out DIR``: an image expert of your own.

Trains one of the zoo's nets on your images, shows progress, measures it on the
held-out (``test``) split — PSNR for an autoencoder, accuracy for a classifier — and
writes an expert folder that every command takes by path in place of an expert name
(``net2net extract --expert DIR``, a recipe's ``"target": "DIR"``, ...).
"""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("expert", help="train an image expert on your own images", description=__doc__)
    actions = p.add_subparsers(dest="expert_command", metavar="ACTION", parser_class=type(p))
    actions.required = True
    t = actions.add_parser("train", help="train an autoencoder or a classifier on a data set", description=__doc__)
    t.add_argument("kind", choices=("autoencoder", "classifier"))
    t.add_argument("--dataset", required=True, help="an image folder (metadata.jsonl/csv) or a data set name")
    t.add_argument("--out", required=True, help="the expert folder to write (must be new)")
    t.add_argument("--size", type=int, default=32, choices=(32, 64, 128), help="image side in pixels (default 32)")
    t.add_argument("--latent", type=int, default=64, help="the autoencoder's code size (default 64)")
    t.add_argument("--column", help="the classifier's label column")
    t.add_argument("--epochs", type=int, help="override the number of epochs")
    t.add_argument("--steps", type=int, help="override the number of steps (wins over --epochs)")
    t.add_argument("--fit", default="crop", choices=("crop", "pad", "stretch"),
                   help="how an image that is not square is made square (default: crop the centre)")
    t.add_argument("--device", default="cpu", help="cpu, cuda, auto, ...")
    t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import net2net

    metrics = net2net.train_expert(args.kind, args.dataset, args.out, size=args.size, latent=args.latent,
                                   column=args.column, epochs=args.epochs, steps=args.steps, fit=args.fit,
                                   device=args.device)
    print(json.dumps(metrics, indent=2))
    test, kept = metrics["test"], metrics.get("kept", {})
    if "psnr" in test:
        print(f"held-out PSNR {test['psnr']:.2f} dB on {test['n']} test images (weights of step "
              f"{kept.get('best_step', '?')}, {metrics['train_seconds']:.0f} s); reconstructions: "
              f"{metrics['reconstructions']}")
    print(f"expert written to {args.out}: use it by path (net2net extract --expert {args.out}, "
          f"a recipe's \"target\": \"{args.out}\")")
    return 0
