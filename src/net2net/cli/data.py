"""``net2net data make shapes --out DIR``: write a generated data set as an image folder.

The folder (``train/``, ``test/`` and ``validation/``, PNGs plus ``metadata.jsonl``) is what every
command reading ``--dataset`` takes; see docs/data.md and docs/shapes.md.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]

#: data sets this command can make -> one line for --help.
GENERATORS = {"shapes": "RGB shapes with known shape, colour, size, position and style, and captions"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="make a generated data set (an image folder with metadata.jsonl)",
                       description=__doc__)
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    mk = dsub.add_parser("make", help="write a generated data set into --out")
    mk.add_argument("kind", choices=sorted(GENERATORS), help="; ".join(f"{k}: {v}" for k, v in GENERATORS.items()))
    mk.add_argument("--out", required=True, help="a new (or empty) folder")
    mk.add_argument("--n-train", type=int, default=20000, help="training images (default: 20000)")
    mk.add_argument("--n-test", type=int, default=3000, help="test images (default: 3000)")
    mk.add_argument("--n-judge", type=int, default=5000,
                    help="images of the validation split: every colour-shape pair, it trains the attribute classifier "
                         "that judges the translators (default: 5000)")
    mk.add_argument("--size", type=int, default=32, help="image side in pixels (default: 32)")
    mk.add_argument("--seed", type=int, default=0, help="the same seed writes the same files (default: 0)")
    mk.set_defaults(func=run_make)


def run_make(args: argparse.Namespace) -> int:
    from net2net.data.shapes import ShapesSpec, make_shapes

    try:
        spec = ShapesSpec(n_train=args.n_train, n_test=args.n_test, n_judge=args.n_judge, size=args.size, seed=args.seed)
    except ValueError as e:  # the spec names its field; the user typed the flag
        field, _, rest = str(e).partition(" ")
        raise ValueError(f"--{field.replace('_', '-')} {rest}") from None
    out = make_shapes(args.out, spec)
    print(json.dumps({"dataset": args.kind, "out": str(out), **spec.__dict__}, indent=2))
    return 0
