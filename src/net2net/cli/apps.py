"""The application commands: ``sample``, ``translate``, ``edit``, ``exemplar``, ``diagnose``.

Each writes ``000.png``, ``001.png``, ... and ``grid.png`` into ``--out`` and is
deterministic for a ``--seed``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def _common(p: argparse.ArgumentParser, *, n_default: int = 8) -> None:
    p.add_argument("-n", type=int, default=n_default, help=f"samples per query (default: {n_default})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="scale of the residual v (default: 1.0)")
    p.add_argument("--out", required=True, help="folder for the PNGs")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")


def _check_n(args: argparse.Namespace) -> None:
    if not 1 <= args.n <= 256:
        raise ValueError(f"-n must be between 1 and 256, got {args.n}")
    if not 0 <= args.temperature <= 10:
        raise ValueError(f"--temperature must be between 0 and 10, got {args.temperature}")
    if hasattr(args, "rerank"):  # rerank x n candidates are decoded and scored: bounded before any allocation
        from net2net.preflight import check_rerank

        check_rerank(args.rerank, args.n)


def _image(path: str, translator=None):
    from net2net.applications import read_image_for

    return read_image_for(translator, path)


def _write(images, args: argparse.Namespace, info: dict, nrow: int | None = None) -> int:
    from net2net.imageio import save_images

    paths = save_images(images, args.out, nrow=nrow)
    print(json.dumps({**info, "images": len(paths), "out": str(Path(args.out))}, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="images from a text prompt or a class")
    p.add_argument("name", help="translator: a zoo name (see `net2net zoo list`) or a folder")
    p.add_argument("--prompt", help="the text query (text translators); a class name for class translators")
    p.add_argument("--class", dest="label", help="the class query (class translators)")
    p.add_argument("--rerank", type=int, default=1, metavar="K",
                   help="draw K×n candidates and keep the n the query's expert agrees with most "
                        "(K×n is at most 4096)")
    p.add_argument("--no-complete", dest="complete", action="store_false",
                   help="sample the prompt as given; by default a translator with a prompt completer "
                        "(shapes-text2img) draws, per image, every attribute the prompt leaves out")
    _common(p)
    p.set_defaults(func=run_sample)

    p = sub.add_parser("translate", help="images from an image query (sketch, low-res, masked, silhouette)")
    p.add_argument("name")
    p.add_argument("--image", required=True, help="the query image (any size or mode)")
    p.add_argument("--derive", action="store_true", help="the image is a plain photo: compute the query domain from it")
    p.add_argument("--rerank", type=int, default=1, metavar="K", help="as for sample")
    _common(p)
    p.set_defaults(func=run_translate)

    p = sub.add_parser("edit", help="change one attribute (a class, a colour, a style, ...) of an image, keep the rest")
    p.add_argument("name", help="an editing translator (its query reads named columns: fmnist-attr, shapes-attr, "
                                "shapes-style, or one trained on your own columns), a zoo name or a folder")
    p.add_argument("--image", required=True)
    p.add_argument("--set", dest="assign", required=True, action="append", metavar="NAME=VALUE",
                   help="what to change; repeat for several: class=dress (fmnist-attr); shape=, colour=, size=, "
                        "position=, style= (shapes-attr, e.g. colour=red); your own columns (fg=blue)")
    p.add_argument("--from", dest="source", action="append", metavar="NAME=VALUE",
                   help="the image's current value of a column (a bare VALUE for one-column translators); "
                        "repeat for several; columns not given are read by the classifier the translator names")
    _common(p, n_default=1)
    p.set_defaults(func=run_edit)

    p = sub.add_parser("exemplar", help="the query of one image, the style (residual) of another")
    p.add_argument("name")
    p.add_argument("--image", help="the query image (image translators)")
    p.add_argument("--prompt", help="the query text (text translators) or class (class translators)")
    p.add_argument("--exemplar", required=True, help="the image whose residual v is kept")
    p.add_argument("--derive", action="store_true", help="derive the query domain from --image")
    _common(p, n_default=1)
    p.set_defaults(func=run_exemplar)

    p = sub.add_parser("diagnose", help="what each layer of the zoo classifier keeps (the paper's Fig. 5)")
    p.add_argument("--image", required=True)
    _common(p)
    p.set_defaults(func=run_diagnose)


def run_sample(args: argparse.Namespace) -> int:
    from net2net.applications import make_query
    from net2net.translator import load
    from net2net.zoo.scoring import scorer_for

    _check_n(args)
    t = load(args.name, args.device)
    if t.query_kind == "image":
        raise ValueError(f"{args.name} reads images: use `net2net translate {args.name} --image PATH`")
    query = make_query(t, prompt=args.prompt, label=args.label)
    images = t.sample(query, n=args.n, temperature=args.temperature, seed=args.seed, rerank=args.rerank, scorer=scorer_for(t),
                      complete=args.complete)
    completed = bool(args.complete and t.completer is not None)
    said = {"translator": args.name, "query": query[0], "completed": completed}
    if completed and args.rerank == 1:  # what each image was drawn from, in file order
        said["prompts"] = t.completions(query, n=args.n, seed=args.seed)
    return _write(images, args, said)


def run_translate(args: argparse.Namespace) -> int:
    from net2net.applications import make_query
    from net2net.translator import load
    from net2net.zoo.scoring import scorer_for

    _check_n(args)
    t = load(args.name, args.device)
    if t.query_kind != "image":
        raise ValueError(f"{args.name} reads {t.query_kind}, not images: use `net2net sample {args.name} --prompt ...`")
    query = make_query(t, image=_image(args.image, t), derive=args.derive)
    images = t.sample(query, n=args.n, temperature=args.temperature, seed=args.seed, rerank=args.rerank, scorer=scorer_for(t))
    return _write(images, args, {"translator": args.name, "query": args.image})


def run_edit(args: argparse.Namespace) -> int:
    from net2net.applications import edit
    from net2net.translator import load

    _check_n(args)
    t = load(args.name, args.device)
    images, change = edit(t, _image(args.image, t), args.assign, source=args.source, n=args.n,
                          temperature=args.temperature, seed=args.seed)
    return _write(images, args, {"translator": args.name, **change})


def run_exemplar(args: argparse.Namespace) -> int:
    from net2net.applications import make_query, query_of
    from net2net.translator import load

    _check_n(args)
    t = load(args.name, args.device)
    query = make_query(t, prompt=args.prompt, image=_image(args.image, t) if args.image else None, derive=args.derive)
    exemplar = _image(args.exemplar, t)
    images = t.exemplar(query, exemplar, query_of(t, exemplar), n=args.n, temperature=args.temperature, seed=args.seed)
    return _write(images, args, {"translator": args.name, "exemplar": args.exemplar})


def run_diagnose(args: argparse.Namespace) -> int:
    from net2net.applications import diagnose

    _check_n(args)
    images, layers = diagnose(_image(args.image), n=args.n, seed=args.seed, temperature=args.temperature, device=args.device)
    return _write(images, args, {"layers": layers, "rows": "one row per layer, shallow to deep"}, nrow=args.n)
