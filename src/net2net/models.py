"""Translator models by key, and their folders: ``config.json`` + ``model.safetensors``.

A folder holds everything needed to rebuild a model: the kind (a key of
:data:`MODELS`), its frozen config, and the weights. ``load_model(folder)`` needs
nothing else, and never reads a pickle.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from net2net.flow import ConditionalINN, FlowConfig, LinearConfig, LinearTranslator, MLPConfig, MLPTranslator
from net2net.io import atomic_directory, atomic_write_json, load_tensors, read_json, save_tensors

__all__ = ["MODELS", "register_model", "build_model", "save_model", "load_model", "model_kind", "config_from_dict"]

FORMAT = "net2net-model"
FORMAT_VERSION = 1

#: kind -> (model class, config dataclass). Classes have ``from_config`` and ``.config``.
MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "cinn": (ConditionalINN, FlowConfig),
    "mlp": (MLPTranslator, MLPConfig),
    "linear": (LinearTranslator, LinearConfig),
}


def register_model(kind: str, cls: type[nn.Module], config_cls: type) -> None:
    """Adds a model kind, so that recipes and folders can name it."""
    if kind in MODELS and MODELS[kind] != (cls, config_cls):
        raise ValueError(f"model kind {kind!r} is already registered to {MODELS[kind][0].__name__}")
    MODELS[kind] = (cls, config_cls)


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in MODELS.items():
        if type(model) is cls:
            return kind
    raise ValueError(f"{type(model).__name__} is not a registered model kind; see register_model")


def config_from_dict(cls: type, fields: dict[str, Any], what: str | None = None) -> Any:
    """``cls(**fields)`` for a config dataclass, naming unknown fields instead of a bare TypeError."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"unknown {what or cls.__name__} field(s) {unknown}; valid fields: {sorted(names)}")
    return cls(**fields)


def build_model(kind: str, config: dict[str, Any]) -> nn.Module:
    """Builds a fresh model of ``kind`` from a config dict, validating field names."""
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(MODELS)}")
    cls, config_cls = MODELS[kind]
    try:
        cfg = config_from_dict(config_cls, config, f"{kind} model")
    except TypeError as e:  # a missing required field
        raise ValueError(f"{kind} model config: {e}") from None
    return cls.from_config(cfg)


def save_model(model: nn.Module, folder: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Writes ``folder/config.json`` and ``folder/model.safetensors`` atomically."""
    folder = Path(folder)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": model_kind(model),
        "config": model.config.to_dict(),
        "extra": extra or {},
    }
    with atomic_directory(folder) as tmp:
        save_tensors(tmp / "model.safetensors", model.state_dict())
        atomic_write_json(tmp / "config.json", manifest)
    return folder


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; a saved model is a folder with config.json and model.safetensors")
    manifest = read_json(folder / "config.json")
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{folder / 'config.json'}: not a net2net model (format={manifest.get('format')!r})")
    if manifest.get("version", 0) > FORMAT_VERSION:
        raise ValueError(f"{folder}: written by a newer net2net (format version {manifest['version']}); upgrade net2net")
    return manifest


def load_state_checked(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Loads ``state`` into ``model``, or explains which tensors do not fit (changing nothing)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape of {k}: {tuple(state[k].shape)} in file, {tuple(own[k].shape)} in model")
        raise ValueError(
            f"{source}: weights do not match this model's config ({'; '.join(parts)}); "
            "they were saved from a different configuration"
        )
    model.load_state_dict(state)


def load_model(folder: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuilds a model from its folder alone, in eval mode."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    model = build_model(manifest["kind"], manifest["config"])
    load_state_checked(model, load_tensors(folder / "model.safetensors"), str(folder))
    return model.to(device).eval()
