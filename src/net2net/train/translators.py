"""The zoo's translators: trained from the recipes in ``zoo/translator_recipes/``.

``train_zoo_translator("fmnist-text2img")`` extracts any missing features (cached in
the feature store), fits τ with the core trainer, joins it with its experts, and with
``install=True`` puts the translator folder into the package so that
``net2net.load("fmnist-text2img")`` finds it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

from net2net.io import atomic_directory
from net2net.train.recipe import Recipe, load_recipe
from net2net.translator import TRANSLATORS_DIR

__all__ = ["RECIPES_DIR", "translator_recipes", "zoo_translator_recipe", "train_zoo_translator"]

RECIPES_DIR = Path(__file__).resolve().parent.parent / "zoo" / "translator_recipes"


def translator_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def zoo_translator_recipe(name: str) -> Recipe:
    names = translator_recipes()
    if name not in names:
        raise ValueError(f"no translator recipe {name!r}; choose one of {', '.join(names)}")
    return load_recipe(RECIPES_DIR / f"{name}.json")


def train_zoo_translator(name: str, *, out: str | os.PathLike | None = None, install: bool = False,
                         steps: int | None = None, device: str | None = None, resume: bool = False,
                         progress: bool | None = None, dataset: str | os.PathLike | None = None) -> dict[str, Any]:
    """Trains one zoo translator from its recipe; returns the metrics.

    Args:
        name: a recipe name (see :func:`translator_recipes`).
        out: the run folder (default: the recipe's ``runs/NAME``); it must be new unless ``resume``.
        install: copy the resulting translator into the package's zoo.
        steps, device: override the recipe's ``train.steps`` / ``train.device``.
        dataset: read every feature query from this data set (a name, or a folder) instead of the recipe's.
    """
    recipe = zoo_translator_recipe(name)
    if dataset is not None:
        path = Path(dataset).expanduser()
        ref = str(path.resolve()) if path.is_dir() else str(dataset)
        data = {k: ({**v, "dataset": ref} if isinstance(v, dict) and "expert" in v else v) for k, v in recipe.data.items()}
        recipe = dataclasses.replace(recipe, data=data)
    overrides = {k: v for k, v in (("steps", steps), ("device", device)) if v is not None}
    if overrides:
        recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, **overrides))
    run = Path(out) if out is not None else Path(recipe.out)
    if run.exists() and not resume and (run / "checkpoints").exists():
        raise ValueError(f"{run} holds an earlier run of {name}; pass --resume, or remove it, or choose --out")
    metrics = recipe.run(resume=resume, out=run, progress=progress)
    if install:
        with atomic_directory(TRANSLATORS_DIR / name) as tmp:
            shutil.copytree(run / "translator", tmp, dirs_exist_ok=True)
        metrics["installed"] = str(TRANSLATORS_DIR / name)
    return metrics
