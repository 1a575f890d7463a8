"""``net2net extract --expert NAME [--dataset NAME_OR_FOLDER] [--transform T | --column C] [--split S]``.

Fills the feature store: the expert's features of a data set, computed once. The data
set is a registered name (``fashion-mnist``, the default) or a folder of your images
(``metadata.jsonl``/``metadata.csv`` with ``file_name`` and your columns, or class
sub-folders, or a saved Hugging Face data set); see docs/data.md. ``--transform``
picks a query domain of the images (edges, low resolution, ...), ``--column`` one of
your columns instead (``text``: your captions; ``a,b,c``: 0/1 attributes as flags).
Images may differ in size and mode: each is fitted to the expert's declared size
(``--fit crop|pad|stretch``); a column is read without opening any image.

Prints the entry's key and folder and whether it was a cache hit (nothing encoded).
Under ``torchrun`` each rank encodes its slice of the rows and rank 0 prints.
"""

from __future__ import annotations

import argparse
import time

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    from net2net.data.domains import DOMAINS

    p = sub.add_parser("extract", help="compute an expert's features of a data set, once", description=__doc__)
    p.add_argument("--expert", required=True, help="a registered expert name (e.g. minilm, onehot, random-conv)")
    p.add_argument("--dataset", default="fashion-mnist",
                   help="a data set name or a folder of your images (default: fashion-mnist)")
    p.add_argument("--split", default="train", help="the split: train or test, or your folder's (default: train)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--transform", "--domain", dest="transform", choices=sorted(DOMAINS), metavar="T",
                      help=f"query domain: {', '.join(DOMAINS)} (default: identity)")
    what.add_argument("--column", metavar="C",
                      help="a column of your data set instead (text for captions; a,b,c for 0/1 attributes)")
    p.add_argument("--layer", help="the expert's layer to tap, for experts that have layers")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--device", default="cpu", help="where the expert runs (default: cpu)")
    p.add_argument("--batch-size", type=int, default=256, help="items per forward pass (default: 256)")
    p.add_argument("--root", help="store folder (default: $NET2NET_CACHE or ~/.cache/net2net/features)")
    p.add_argument("--data-dir", help="folder with a registered data set's files (default: searched)")
    p.add_argument("--fit", choices=("crop", "pad", "stretch"), default="crop",
                   help="how an image becomes the expert's square: keep the centre (crop, default), add black "
                        "borders (pad) or resize the sides unequally (stretch)")
    p.add_argument("--follow-links", action="store_true",
                   help="read symbolic links that point outside the data set folder (refused otherwise)")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="leave out metadata rows with a missing value or an empty caption (counted) instead of refusing")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from net2net.experts.registry import get_expert
    from net2net.features import FeatureStore
    from net2net.train import distributed as D

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    device = str(D.rank_device(torch.device(args.device)))  # cuda -> cuda:LOCAL_RANK under torchrun
    main_rank = D.setup(device).is_main  # joins torchrun's process group, if any
    expert = get_expert(args.expert, device=device, layer=args.layer)
    t0 = time.perf_counter()
    transform = args.transform if args.transform is not None or args.column is not None else "identity"
    try:
        entry = FeatureStore(args.root).extract(
            expert, dataset=args.dataset, split=args.split, transform=transform, column=args.column,
            limit=args.limit, data_dir=args.data_dir, batch_size=args.batch_size,
            progress=False if args.no_progress else None, fit=args.fit, follow_links=args.follow_links,
            skip_bad_rows=args.skip_bad_rows,
        )
    finally:
        D.shutdown()
    if not main_rank:
        return 0
    spec = entry.manifest["spec"]
    print(f"key: {entry.key}")
    print(f"path: {entry.path}")
    print(f"rows: {len(entry)}  dim: {entry.dim}")
    print(f"data: {spec['dataset']['name']} {spec['dataset']['split']}  domain: {spec['transform']['name']}"
          + (f"  converted: {'; '.join(spec['convert'])}" if spec.get("convert") else ""))
    print(f"cache: {'hit' if entry.hit else 'miss'} ({time.perf_counter() - t0:.1f} s)")
    return 0
