"""Where the zoo's experts live on disk, and how one is written and read back.

An expert is a folder ``WEIGHTS_DIR/NAME/`` in net2net's one format for "config +
weights" (:mod:`net2net.models`): ``config.json`` (its kind, frozen config, and in
``extra`` the recipe that made it and the metrics measured on the test split, with the
size and sha256 of the weights) and ``model.safetensors``. Reading verifies the
sha256 and checks the config against the weights' header before anything is built,
so a corrupt or swapped file is an error, never a silently different expert.

Folders written by net2net 0.1 (``NAME.json`` + ``NAME.safetensors`` side by side)
are converted once by :func:`upgrade_legacy` (``net2net convert FOLDER``); the
weights file is moved, not rewritten, so fingerprints stay the same.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from net2net.experts.base import TorchExpert
from net2net.io import read_json, sha256_file
from net2net.models import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    adopt_weights,
    config_from_dict,
    load_checked,
    read_folder,
    write_folder,
)
from net2net.search_path import EXPERTS_DIR
from net2net.zoo.experts import KINDS

__all__ = ["RECIPES_DIR", "WEIGHTS_DIR", "entries", "load_from", "read_entry", "save_expert", "upgrade_legacy"]

WEIGHTS_DIR = EXPERTS_DIR
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
LEGACY_FORMAT = "net2net-zoo-expert"


def save_expert(
    folder: str | os.PathLike,
    name: str,
    kind: str,
    config: Any,
    state: dict[str, torch.Tensor],
    *,
    recipe: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    """Writes the expert's folder ``folder/NAME/`` (atomically, as a whole); returns it."""
    extra = {"name": name, "recipe": recipe.get("name", name), "recipe_spec": recipe, "metrics": metrics,
             "torch": torch.__version__}
    return write_folder(Path(folder) / name, kind=kind, config=config.to_dict(), state=state, extra=extra,
                        metadata={"name": name, "kind": kind})


def read_entry(folder: str | os.PathLike, name: str) -> dict[str, Any]:
    """The facts of expert ``name``: ``kind``, ``config``, ``sha256``, ``bytes`` and its ``extra``
    (``recipe``, ``recipe_spec``, ``metrics``), from a verified folder."""
    saved = _read(Path(folder), name)
    return {**saved.extra, "kind": saved.kind, "config": saved.config, "sha256": saved.manifest["weights"]["sha256"],
            "bytes": saved.manifest["weights"]["bytes"], "weights": f"{name}/{WEIGHTS_FILE}"}


def _read(folder: Path, name: str):
    path = folder / name
    if not (path / CONFIG_FILE).is_file() and (folder / f"{name}.json").is_file():
        raise ValueError(f"{folder / (name + '.json')}: written by net2net 0.1 (NAME.json + NAME.safetensors); "
                         f"upgrade the folder once with `net2net convert {folder}`")
    try:
        saved = read_folder(path)
    except ValueError as e:
        raise ValueError(f"{e} (or retrain it with `net2net zoo train {name}`)") from None
    if saved.kind not in KINDS:
        raise ValueError(f"{path / CONFIG_FILE}: unknown expert kind {saved.kind!r}; known: {sorted(KINDS)}")
    return saved


def entries(folder: str | os.PathLike) -> list[str]:
    """Names of the experts in ``folder`` (sub-folders with a config and a weights file)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and (p / CONFIG_FILE).is_file()
                  and (p / WEIGHTS_FILE).is_file())


def load_from(folder: str | os.PathLike, name: str, device: str | torch.device = "cpu") -> TorchExpert:
    """Rebuilds expert ``name`` from ``folder/NAME/``, verifying its weights first."""
    saved = _read(Path(folder), name)
    config_cls, expert_cls = KINDS[saved.kind]
    try:
        cfg = config_from_dict(config_cls, saved.config, config_cls.__name__)
    except ValueError as e:
        raise ValueError(f"{saved.folder / CONFIG_FILE}: {e}") from None
    expert = load_checked(saved, lambda: expert_cls(cfg, name=name), module=lambda e: e.net, device=device)
    expert.metrics = dict(saved.extra.get("metrics", {}))  # type: ignore[attr-defined]
    return expert.freeze()


def upgrade_legacy(folder: str | os.PathLike) -> list[str]:
    """Converts every ``NAME.json`` + ``NAME.safetensors`` pair in ``folder`` into ``folder/NAME/``.

    The recorded sha256 is checked first; the weights file is moved unchanged. Returns
    the names converted. Only for folders you trust.
    """
    folder = Path(folder)
    done = []
    for meta_path in sorted(folder.glob("*.json")):
        name = meta_path.stem
        weights = folder / f"{name}.safetensors"
        meta = read_json(meta_path)
        if meta.get("format") != LEGACY_FORMAT or not weights.is_file():
            continue
        if sha256_file(weights) != meta.get("sha256"):
            raise ValueError(f"{weights}: sha256 does not match {meta_path.name}; not converting a corrupt expert")
        extra = {k: v for k, v in meta.items() if k not in ("format", "version", "kind", "config", "weights",
                                                            "sha256", "bytes")}
        adopt_weights(folder / name, kind=meta["kind"], config=meta["config"], extra=extra, weights=weights)
        meta_path.unlink()
        done.append(name)
    return done
