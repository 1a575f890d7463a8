"""Experts by name: a plain dict of factories, filled explicitly.

A factory is any callable ``factory(*, device="cpu", layer=None, **options) -> Expert``.
Built-in experts are registered below with factories that import their heavy
dependencies only when called. Other parts of the project (the zoo) register theirs
with :func:`register_expert` when imported; :func:`get_expert` imports the modules in
:data:`PROVIDERS` once, on the first name it does not know, so that
``get_expert("fmnist-ae")`` works without the caller importing the zoo first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from net2net.experts.base import Expert

__all__ = ["EXPERTS", "PROVIDERS", "ExpertFactory", "available_experts", "get_expert", "register_expert"]

ExpertFactory = Callable[..., Expert]

#: name -> factory. Plain dict: read it, or add to it with :func:`register_expert`.
EXPERTS: dict[str, ExpertFactory] = {}

#: modules that register experts when imported (tried once, in order, on an unknown name).
PROVIDERS: list[str] = ["net2net.zoo", "net2net.experts.dequant"]
_providers_loaded = False


def register_expert(name: str, factory: ExpertFactory, *, overwrite: bool = False) -> ExpertFactory:
    """Makes ``get_expert(name)`` call ``factory``. Re-registering a name needs ``overwrite=True``."""
    if not isinstance(name, str) or not name or any(c in name for c in "/\\ "):
        raise ValueError(f"expert name must be a non-empty string without '/', '\\' or spaces, got {name!r}")
    if name in EXPERTS and EXPERTS[name] is not factory and not overwrite:
        raise ValueError(f"an expert named {name!r} is already registered; pass overwrite=True to replace it")
    EXPERTS[name] = factory
    return factory


def _load_providers() -> None:
    global _providers_loaded
    if _providers_loaded:
        return
    _providers_loaded = True
    for mod in PROVIDERS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # a provider that exists but fails to import is a real error
                raise


def available_experts() -> list[str]:
    """Every registered name, providers included."""
    _load_providers()
    return sorted(EXPERTS)


def get_expert(name: str, *, device: str = "cpu", layer: str | None = None, **options: Any) -> Expert:
    """Builds the expert registered as ``name`` (``layer`` is passed on only when given)."""
    if name not in EXPERTS:
        _load_providers()
    if name not in EXPERTS:
        raise ValueError(f"no expert named {name!r}; choose one of {', '.join(sorted(EXPERTS))} "
                         "or register your own with net2net.experts.registry.register_expert")
    if layer is not None:
        options["layer"] = layer
    return EXPERTS[name](device=device, **options)


def _minilm(*, device: str = "cpu", **options: Any) -> Expert:
    from net2net.experts.text import SentenceTransformerExpert

    if "layer" in options:
        raise ValueError("the text expert 'minilm' has no layers to choose from; drop --layer")
    return SentenceTransformerExpert(device=device, **options)


def _onehot(*, device: str = "cpu", **options: Any) -> Expert:
    from net2net.experts.labels import OneHotExpert

    if "layer" in options:
        raise ValueError("the label expert 'onehot' has no layers to choose from; drop --layer")
    return OneHotExpert(device=device, **options)


def _random_conv(*, device: str = "cpu", layer: str | None = None, seed: int = 0, pool: str = "avg") -> Expert:
    # A small randomly initialised conv net tapped at a layer: a stand-in image expert
    # (random features are a legitimate, if weak, representation) until the zoo ships
    # trained ones.
    import torch
    from torch import nn

    from net2net.experts.tap import LayerTap

    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
    )
    with torch.no_grad():  # seeded init, independent of the global RNG
        for p in net.parameters():
            if p.dim() == 1:
                p.zero_()
            else:  # uniform with fan-in scaling, like PyTorch's default but seeded locally
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / (p[0].numel() ** 0.5))
    return LayerTap(net, layer if layer is not None else "7", pool=pool, example=torch.zeros(1, 1, 28, 28),
                    name=f"random-conv{seed}", device=device)


register_expert("minilm", _minilm)
register_expert("onehot", _onehot)
register_expert("random-conv", _random_conv)
