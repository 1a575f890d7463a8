"""The zoo's catalogue: its experts by name, looked up along one search path.

The search path (:mod:`net2net.search_path`) is ``$NET2NET_ZOO`` first, then the
package; the same one finds translators by name (:func:`net2net.translator.load`).
The zoo's own modules import their lookups from here, not from the package's
``__init__`` (which imports them), so no two modules import each other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from net2net.experts.base import TorchExpert
from net2net.search_path import expert_folders
from net2net.zoo.store import entries, load_from, read_entry

__all__ = ["list_zoo", "load_expert", "zoo_folders", "zoo_info"]


def zoo_folders() -> list[Path]:
    """Where experts are looked up, first match wins: ``$NET2NET_ZOO`` (a folder that
    ``net2net zoo train NAME --out DIR`` wrote), then the package's weights. A
    ``$NET2NET_ZOO`` that is not such a folder is a ``ValueError`` (see :mod:`net2net.search_path`)."""
    return expert_folders()


def list_zoo(folder: str | os.PathLike | None = None) -> list[str]:
    """Names of the available experts (or of those in ``folder``)."""
    if folder is not None:
        return entries(folder)
    return sorted({name for f in zoo_folders() for name in entries(f)})


def _find(name: str, folder: str | os.PathLike | None) -> Path:
    """The folder that holds expert ``name``; an unknown name lists the valid ones."""
    folders = [Path(folder)] if folder is not None else zoo_folders()
    for f in folders:
        if name in entries(f):
            return f
    names = sorted({n for f in folders for n in entries(f)})
    raise ValueError(f"unknown zoo expert {name!r}; choose one of "
                     f"{', '.join(names) or '(none shipped in ' + ', '.join(map(str, folders)) + ')'}")


def zoo_info(name: str, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The JSON beside an expert's weights: kind, config, recipe, metrics, sha256."""
    return read_entry(_find(name, folder), name)


def load_expert(name: str, device: str | torch.device = "cpu", *, folder: str | os.PathLike | None = None) -> TorchExpert:
    """Loads a zoo expert by name, frozen, on ``device``.

    The weights' sha256 is checked against the JSON beside them before anything is built.

    Args:
        name: one of :func:`list_zoo`.
        device: where the expert runs.
        folder: read from this folder instead of :func:`zoo_folders` (e.g. a ``net2net zoo train --out`` folder).

    Raises:
        ValueError: unknown name (the message lists the valid ones), or weights that do
            not match their recorded sha256.
    """
    return load_from(_find(name, folder), name, device)
