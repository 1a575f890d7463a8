"""``net2net convert``: a pickle checkpoint to safetensors, or an older folder to the current format.

    net2net convert IN.pt OUT.safetensors --trust-pickle
    net2net convert FOLDER

net2net reads weights from safetensors only: unpickling a file can run any code in it.
A checkpoint you trust (you made it, or it comes from a source you trust) is converted
once, explicitly, with ``--trust-pickle``; it is read by ``torch.load(weights_only=True)``
(plain containers of tensors, no arbitrary objects), nested dicts are flattened with
dots (``{"model": {"w": t}}`` -> ``model.w``), and anything but tensors is refused.

A folder written by net2net 0.1 (a translator folder, a model folder, or a folder of
zoo experts as ``NAME.json`` + ``NAME.safetensors``) records no sha256 of its weights;
``net2net convert FOLDER`` upgrades it in place to the one format of
:mod:`net2net.models` (the weights files are kept byte for byte). Do it only for
folders you trust: the checksum recorded now vouches for the weights as they are.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register", "run_convert", "upgrade"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a trusted pickle checkpoint (.pt) to safetensors, "
                                       "or upgrade an older net2net folder",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="the pickle checkpoint (.pt, .pth, .ckpt, .bin, .pkl), or a folder to upgrade")
    p.add_argument("output", nargs="?", help="the safetensors file to write (pickles only)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="read the pickle (only for files from a source you trust)")
    p.set_defaults(func=run_convert)


def upgrade(folder: str | Path) -> list[str]:
    """Upgrades a translator folder, a model folder or a folder of zoo experts in place; returns what changed."""
    from net2net.models import CONFIG_FILE, upgrade_folder
    from net2net.zoo.store import upgrade_legacy

    folder = Path(folder)
    changed: list[str] = []
    if (folder / "translator.json").is_file():
        if upgrade_folder(folder / "tau"):
            changed.append(str(folder / "tau"))
    elif (folder / CONFIG_FILE).is_file():
        if upgrade_folder(folder):
            changed.append(str(folder))
    else:
        changed += [str(folder / n) for n in upgrade_legacy(folder)]
        if not changed and not any(folder.glob("*/" + CONFIG_FILE)):
            raise ValueError(f"{folder}: neither a translator folder (translator.json), a model folder "
                             f"({CONFIG_FILE}) nor a folder of zoo experts (NAME.json + NAME.safetensors)")
    return changed


def run_convert(args: argparse.Namespace) -> int:
    from net2net.io import PICKLE_SUFFIXES, load_tensors, save_tensors

    src = Path(args.input)
    if src.is_dir():
        if args.output is not None or args.trust_pickle:
            raise ValueError(f"{src}: a folder is upgraded in place; drop the output and --trust-pickle")
        changed = upgrade(src)
        print(json.dumps({"upgraded": changed, "note": "already current" if not changed else ""}, indent=2))
        return 0
    if args.output is None:
        raise ValueError(f"{src}: give the safetensors file to write: net2net convert {src} OUT.safetensors --trust-pickle")
    dst = Path(args.output)
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
