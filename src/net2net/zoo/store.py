"""Where the zoo's experts live on disk, and how one is written and read back.

An expert is two files in one folder: ``NAME.safetensors`` (the network's weights) and
``NAME.json`` (its kind, frozen config, the recipe that made it, the metrics measured
on the test split, and the sha256 of the weights file). Reading checks the sha256
before anything is built, so a corrupt or swapped file is an error, never a silently
different expert.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from net2net.experts.base import TorchExpert
from net2net.io import atomic_write_json, load_tensors, read_json, save_tensors, sha256_file
from net2net.models import load_state_checked
from net2net.zoo.experts import KINDS
from net2net.zoo.nets import config_from_dict

__all__ = ["FORMAT", "RECIPES_DIR", "WEIGHTS_DIR", "entries", "load_from", "read_entry", "save_expert", "sha256_file"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
FORMAT = "net2net-zoo-expert"
FORMAT_VERSION = 1


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
    """Writes ``folder/NAME.safetensors`` then ``folder/NAME.json`` (both atomically).

    The JSON is written last, so an interrupted save leaves the previous JSON, whose
    sha256 no longer matches: loading then fails loudly rather than mixing versions.
    """
    folder = Path(folder)
    weights = folder / f"{name}.safetensors"
    save_tensors(weights, state, metadata={"format": FORMAT, "name": name, "kind": kind})
    atomic_write_json(folder / f"{name}.json", {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": name,
        "kind": kind,
        "config": config.to_dict(),
        "recipe": recipe.get("name", name),
        "recipe_spec": recipe,
        "metrics": metrics,
        "weights": weights.name,
        "sha256": sha256_file(weights),
        "bytes": weights.stat().st_size,
        "torch": torch.__version__,
    })
    return weights


def read_entry(folder: str | os.PathLike, name: str) -> dict[str, Any]:
    path = Path(folder) / f"{name}.json"
    entry = read_json(path)
    if entry.get("format") != FORMAT:
        raise ValueError(f"{path}: not a net2net zoo expert (format={entry.get('format')!r})")
    if entry.get("version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: written by a newer net2net (format version {entry['version']}); upgrade net2net")
    if entry.get("kind") not in KINDS:
        raise ValueError(f"{path}: unknown expert kind {entry.get('kind')!r}; known: {sorted(KINDS)}")
    return entry


def entries(folder: str | os.PathLike) -> list[str]:
    """Names of the experts in ``folder`` (those with both a JSON and a weights file)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.safetensors").is_file())


def load_from(folder: str | os.PathLike, name: str, device: str | torch.device = "cpu") -> TorchExpert:
    """Rebuilds expert ``name`` from ``folder``, verifying its weights' sha256 first."""
    folder = Path(folder)
    entry = read_entry(folder, name)
    weights = folder / entry.get("weights", f"{name}.safetensors")
    if not weights.is_file():
        raise ValueError(f"{weights}: missing; retrain it with `net2net zoo train {name}`")
    digest = sha256_file(weights)
    if digest != entry.get("sha256"):
        raise ValueError(
            f"{weights}: sha256 {digest[:12]}... does not match {entry.get('sha256', '?')[:12]}... recorded in "
            f"{name}.json; the file is corrupt or from another run - reinstall net2net or retrain with "
            f"`net2net zoo train {name}`"
        )
    config_cls, expert_cls = KINDS[entry["kind"]]
    expert = expert_cls(config_from_dict(config_cls, entry["config"]), name=name)
    load_state_checked(expert.net, load_tensors(weights), str(weights))
    expert.metrics = dict(entry.get("metrics", {}))  # type: ignore[attr-defined]
    return expert.to(device).freeze()
