"""``net2net convert IN.pt OUT.safetensors --trust-pickle``: a pickle checkpoint to safetensors.

net2net reads weights from safetensors only: unpickling a file can run any code in it.
A checkpoint you trust (you made it, or it comes from a source you trust) is converted
once, explicitly, with ``--trust-pickle``; it is read by ``torch.load(weights_only=True)``
(plain containers of tensors, no arbitrary objects), nested dicts are flattened with
dots (``{"model": {"w": t}}`` -> ``model.w``), and anything but tensors is refused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register", "run_convert"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a trusted pickle checkpoint (.pt) to safetensors",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="the pickle checkpoint (.pt, .pth, .ckpt, .bin, .pkl)")
    p.add_argument("output", help="the safetensors file to write")
    p.add_argument("--trust-pickle", action="store_true",
                   help="read the pickle (only for files from a source you trust)")
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from net2net.io import PICKLE_SUFFIXES, load_tensors, save_tensors

    src, dst = Path(args.input), Path(args.output)
    if not args.trust_pickle:
        raise ValueError(f"{src}: reading a pickle can run code; if you trust its source, "
                         "pass --trust-pickle to convert it")
    if src.suffix not in PICKLE_SUFFIXES:
        raise ValueError(f"{src}: expected a pickle checkpoint ending in one of {', '.join(sorted(PICKLE_SUFFIXES))}")
    if dst.suffix != ".safetensors":
        raise ValueError(f"{dst}: the output must end in .safetensors")
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: the output must not be the input")
    tensors = load_tensors(src, trust_pickle=True)
    save_tensors(dst, tensors)
    print(json.dumps({"tensors": len(tensors), "out": str(dst)}, indent=2))
    return 0
