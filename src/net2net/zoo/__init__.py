"""The zoo: the project's own pretrained Fashion-MNIST experts, loaded by name.

No pretrained image model can be downloaded on the project's machines, so the image
experts are trained here by the recipes in ``zoo/recipes/`` and shipped as small
safetensors files in ``zoo/weights/`` (each with a JSON of its config, recipe, test
metrics and sha256).

=========================  ====  ==========================================================
name                       dim   what
=========================  ====  ==========================================================
fmnist-classifier          128   CNN classifier; taps conv1, conv2, conv3, fc1, logits
fmnist-edge-classifier     128   same, trained on ``sobel_edges`` (shape-biased expert)
fmnist-ae                  32    VAE g: encode = posterior mean, decode -> (B, 1, 28, 28)
fmnist-lowres-ae           16    VAE of 7x7 images (``downsample(x, 7)``)
fmnist-gan                 48    generator, latent ``[z̃ (32), W·onehot(c) (16)]``
=========================  ====  ==========================================================

Example:
    >>> from net2net.zoo import load_expert, list_zoo
    >>> g = load_expert("fmnist-ae")
    >>> g.dim
    32
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from net2net.experts.base import TorchExpert
from net2net.zoo.experts import AutoencoderExpert, ClassifierExpert, GeneratorExpert
from net2net.zoo.store import WEIGHTS_DIR, entries, load_from, read_entry

__all__ = [
    "WEIGHTS_DIR",
    "AutoencoderExpert",
    "ClassifierExpert",
    "GeneratorExpert",
    "list_zoo",
    "load_expert",
    "register_experts",
    "zoo_info",
]


def list_zoo(folder: str | os.PathLike | None = None) -> list[str]:
    """Names of the shipped experts (or of those in ``folder``)."""
    return entries(folder if folder is not None else WEIGHTS_DIR)


def zoo_info(name: str, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """The JSON beside an expert's weights: kind, config, recipe, metrics, sha256."""
    folder = Path(folder) if folder is not None else WEIGHTS_DIR
    _check_name(name, folder)
    return read_entry(folder, name)


def _check_name(name: str, folder: Path) -> None:
    names = entries(folder)
    if name not in names:
        raise ValueError(
            f"unknown zoo expert {name!r}; choose one of {', '.join(names) or '(none shipped in ' + str(folder) + ')'}"
        )


def load_expert(name: str, device: str | torch.device = "cpu", *, folder: str | os.PathLike | None = None) -> TorchExpert:
    """Loads a zoo expert by name, frozen, on ``device``.

    The weights' sha256 is checked against the JSON beside them before anything is built.

    Args:
        name: one of :func:`list_zoo`.
        device: where the expert runs.
        folder: read from this folder instead of the package (e.g. a ``net2net zoo train --out`` folder).

    Raises:
        ValueError: unknown name (the message lists the valid ones), or weights that do
            not match their recorded sha256.
    """
    folder = Path(folder) if folder is not None else WEIGHTS_DIR
    _check_name(name, folder)
    return load_from(folder, name, device)


def _factory(name: str) -> Callable[..., TorchExpert]:
    def factory(*, device: str | torch.device = "cpu", layer: str | None = None, pool: str = "flatten") -> TorchExpert:
        expert = load_expert(name, device)
        if layer is None:
            return expert
        if not isinstance(expert, ClassifierExpert):
            raise ValueError(f"{name} has no layer taps (only the classifiers do); drop layer={layer!r}")
        return expert.at_layer(layer, pool)

    factory.__doc__ = f"Loads zoo expert {name!r}; ``layer`` taps a classifier layer."
    return factory


def register_experts(register: Callable[[str, Callable[..., TorchExpert]], Any]) -> list[str]:
    """Registers every shipped expert as ``register(name, factory)``; returns the names.

    This is the zoo's entry point (group ``net2net.expert_providers``, name
    ``net2net-zoo``): the expert registry calls it, the core never imports the zoo.
    ``factory(*, device="cpu", layer=None, pool="flatten")`` loads an expert; ``layer``
    (one of conv1, conv2, conv3, fc1, logits) turns a classifier into a tap at that
    layer. The dequantised generator ``fmnist-gan-dequant`` is registered too.
    """
    from net2net.zoo import dequantizer, gan_pairs  # noqa: F401 - gan_pairs registers its recipe data source

    names = list_zoo()
    for name in names:
        register(name, _factory(name))
    register("fmnist-gan-dequant", dequantizer.expert_factory)
    return [*names, "fmnist-gan-dequant"]
