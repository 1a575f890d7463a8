"""``net2net extract --expert NAME [--transform T] [--split S]``: fill the feature store.

Prints the entry's key and folder and whether it was a cache hit (nothing encoded).
Under ``torchrun`` each rank encodes its slice of the rows and rank 0 prints.
"""

from __future__ import annotations

import argparse
import time

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    from net2net.data.transforms import TRANSFORMS

    p = sub.add_parser("extract", help="compute an expert's features of a data set, once", description=__doc__)
    p.add_argument("--expert", required=True, help="a registered expert name (e.g. minilm, onehot, random-conv)")
    p.add_argument("--dataset", default="fashion-mnist", help="data set (default: fashion-mnist)")
    p.add_argument("--split", default="train", help="train or test (default: train)")
    p.add_argument("--transform", default="identity", choices=sorted(TRANSFORMS), metavar="T",
                   help=f"query domain: {', '.join(TRANSFORMS)} (default: identity)")
    p.add_argument("--layer", help="the expert's layer to tap, for experts that have layers")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--device", default="cpu", help="where the expert runs (default: cpu)")
    p.add_argument("--batch-size", type=int, default=256, help="items per forward pass (default: 256)")
    p.add_argument("--root", help="store folder (default: $NET2NET_CACHE or ~/.cache/net2net/features)")
    p.add_argument("--data-dir", help="folder with the data set files (default: searched)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from net2net.experts.registry import get_expert
    from net2net.features import FeatureStore
    from net2net.train import distributed as D

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    import torch

    device = str(D.rank_device(torch.device(args.device)))  # cuda -> cuda:LOCAL_RANK under torchrun
    expert = get_expert(args.expert, device=device, layer=args.layer)
    t0 = time.perf_counter()
    entry = FeatureStore(args.root).extract(
        expert, dataset=args.dataset, split=args.split, transform=args.transform, limit=args.limit,
        data_dir=args.data_dir, batch_size=args.batch_size, progress=False if args.no_progress else None,
    )
    main_rank = D.setup(device).is_main
    D.shutdown()
    if not main_rank:
        return 0
    print(f"key: {entry.key}")
    print(f"path: {entry.path}")
    print(f"rows: {len(entry)}  dim: {entry.dim}")
    print(f"cache: {'hit' if entry.hit else 'miss'} ({time.perf_counter() - t0:.1f} s)")
    return 0
