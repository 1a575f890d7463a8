"""Training an image expert on your own folder: ``net2net expert train autoencoder|classifier``.

The zoo's proven nets and training loops (:mod:`net2net.zoo.train`) with a recipe made
from the colour domain's (``shapes-ae`` / ``shapes-classifier``), pointed at your data
set, sized by ``size`` and ``latent``. The result is an expert folder
(``config.json`` + checksummed ``model.safetensors``, the :mod:`net2net.models` format)
that every command takes by path in place of an expert name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from net2net.data.convert import FITS
from net2net.data.datasets import get_dataset
from net2net.zoo.store import RECIPES_DIR
from net2net.zoo.train import held_back_rows, load_zoo_recipe
from net2net.zoo.train import train_expert as _train_zoo_expert

__all__ = ["EXPERT_KINDS", "SIZES", "train_own_expert", "load_expert_folder"]

#: What ``net2net expert train`` builds -> the zoo recipe it starts from.
EXPERT_KINDS = {"autoencoder": "shapes-ae", "classifier": "shapes-classifier"}
#: The fewest steps a run takes when neither ``epochs`` nor ``steps`` is given: the
#: recipes' epochs were set for 20,000 images; a folder of 3,000 needs more passes (the
#: shapes autoencoder took 5,000 steps to reach 37 dB).
MIN_STEPS = {"autoencoder": 4000, "classifier": 1500}
SIZES = (32, 64, 128)


def _classifier_heads(dataset: str, column: str) -> list:
    split = get_dataset(dataset).load("train")
    if column not in split.columns:
        raise ValueError(f"{dataset}: no column {column!r}; its columns are {', '.join(sorted(split.columns))}")
    values = sorted({str(v) for v in split.columns[column]})
    if len(values) < 2:
        raise ValueError(f"{dataset}: column {column!r} has {len(values)} distinct value(s); a classifier needs at least 2")
    return [[column, values]]


def train_own_expert(kind: str, dataset: str | os.PathLike, out: str | os.PathLike, *, size: int = 32,
                     latent: int = 64, column: str | None = None, epochs: int | None = None,
                     steps: int | None = None, fit: str = "crop", device: str = "cpu",
                     progress: bool | None = None) -> dict[str, Any]:
    """Trains an image expert on ``dataset`` and writes it as the folder ``out``.

    Images of any size are fitted to ``size`` (``fit``: crop, pad or stretch, as
    ``net2net extract --fit``). 5 % of the training images (at most 500) are held back
    to keep the best weights (scored 10 times during training); the ``test`` split
    measures the kept ones. An autoencoder's folder also gets ``reconstructions.png``:
    test images (top row) above their reconstructions.

    Args:
        kind: ``"autoencoder"`` (an image expert ``g``: encode, decode) or ``"classifier"``
            (a label expert on ``column``).
        dataset: a data set name or a folder of images with ``metadata.jsonl``/``.csv``.
        out: the expert folder to write (its last part is the expert's name).
        size: the images' side in pixels (32, 64 or 128).
        latent: the autoencoder's code size.
        column: the classifier's label column.
        epochs, steps: the budget (default: the recipe's epochs, at least
            :data:`MIN_STEPS` steps).
        fit: how an image that is not square is made square.

    Returns:
        The metrics: held-out (``test`` split) PSNR or accuracy, training time, ...

    Example:
        >>> from net2net.zoo.own import train_own_expert                      # doctest: +SKIP
        >>> m = train_own_expert("autoencoder", "my-photos", "my-ae")
        >>> m["test"]["psnr"]
    """
    if kind not in EXPERT_KINDS:
        raise ValueError(f"unknown expert kind {kind!r}; choose one of {', '.join(EXPERT_KINDS)}")
    if size not in SIZES:
        raise ValueError(f"--size must be one of {', '.join(map(str, SIZES))}, got {size}")
    if latent < 1:
        raise ValueError(f"--latent must be at least 1, got {latent}")
    if fit not in FITS:
        raise ValueError(f"--fit must be one of {', '.join(FITS)}, got {fit!r}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not an empty folder; choose a new --out")
    path = Path(dataset).expanduser()
    ref = str(path.resolve()) if path.is_dir() else str(dataset)
    _check_splits(ref)
    r = load_zoo_recipe(RECIPES_DIR / f"{EXPERT_KINDS[kind]}.json")
    r = {**r, "name": out.name, "description": f"{kind} trained on {ref} by net2net expert train",
         "data": {"dataset": ref, "domain": "image", "splits": ["train"], "fit": fit},
         "model": {**r["model"], "image_size": size}, "train": {**r["train"], "keep_best": True}}
    if kind == "autoencoder":
        r["model"]["latent_dim"] = int(latent)
    else:
        if not column:
            raise ValueError("a classifier needs --column: the metadata column whose values it learns")
        r["model"]["heads"] = _classifier_heads(ref, column)
    if steps is None and epochs is None:
        n = len(get_dataset(ref).load("train"))
        per_epoch = max(1, (n - held_back_rows(n)) // r["train"]["batch_size"])
        steps = max(MIN_STEPS[kind], per_epoch * int(r["train"].get("epochs", 1)))
    metrics = _train_zoo_expert(r, out.parent if str(out.parent) else ".", device=device, steps=steps,
                                epochs=epochs, progress=progress)
    if kind == "autoencoder":
        metrics["reconstructions"] = str(_reconstruction_grid(out, ref, fit))
    return metrics


def _check_splits(ref: str) -> None:
    splits = get_dataset(ref).splits()
    missing = [s for s in ("train", "test") if s not in splits]
    if missing:
        raise ValueError(f"{ref}: an expert is trained on the 'train' split and measured on the 'test' split; "
                         f"this data set has no {' or '.join(map(repr, missing))} split (its splits: "
                         f"{', '.join(splits)}); put the images in train/ and test/ sub-folders")


def _reconstruction_grid(folder: Path, dataset: str, fit: str, n: int = 8) -> Path:
    """``folder/reconstructions.png``: the first ``n`` test images above their reconstructions."""
    from net2net.imageio import grid
    from net2net.zoo.train import domain_images

    expert = load_expert_folder(path=str(folder))
    x, _ = domain_images("test", "image", n, dataset=dataset, size=expert.config.image_size,
                         channels=expert.config.in_channels, fit=fit, progress=False)
    with torch.inference_mode():
        rec = expert.decode(expert.encode(x)).float().clamp(0, 1)
    path = folder / "reconstructions.png"
    grid(torch.cat([x, rec]), nrow=len(x)).save(path)
    return path


def load_expert_folder(*, path: str, device: str | torch.device = "cpu", layer: str | None = None,
                       pool: str = "flatten"):
    """An expert folder written by :func:`train_own_expert` (or a zoo expert's folder), frozen."""
    from net2net.zoo.experts import ClassifierExpert
    from net2net.zoo.store import load_from

    folder = Path(path).expanduser()
    expert = load_from(folder.parent, folder.name, device)
    if layer is None:
        return expert
    if not isinstance(expert, ClassifierExpert):
        raise ValueError(f"{folder} has no layer taps (only classifiers do); drop layer={layer!r}")
    return expert.at_layer(layer, pool)
