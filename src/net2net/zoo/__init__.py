"""The zoo: the project's own pretrained experts (Fashion-MNIST and shapes), loaded by name.

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
shapes-classifier          128   RGB 32x32 attribute classifier: heads shape, colour, size, position, style
shapes-ae                  64    RGB VAE g of the shapes data set, decode -> (B, 3, 32, 32)
fmnist-garment             20    label expert: ``class=dress``, ``brightness=dark``, ``width=mid`` flags (no weights)
shapes-multihot            27    label expert: ``shape=star``, ``colour=red``, ... flags (no weights)
shapes-style-onehot        2     label expert: ``filled`` / ``outlined`` (no weights)
=========================  ====  ==========================================================

Example:
    >>> from net2net.zoo import load_expert, list_zoo
    >>> g = load_expert("fmnist-ae")
    >>> g.dim
    32
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from net2net.experts.base import TorchExpert
from net2net.experts.registry import FOLDER_EXPERT, register_expert_trainer
from net2net.zoo.catalogue import list_zoo, load_expert, zoo_folders, zoo_info
from net2net.zoo.experts import AutoencoderExpert, ClassifierExpert, GeneratorExpert
from net2net.zoo.store import WEIGHTS_DIR

__all__ = [
    "WEIGHTS_DIR",
    "AutoencoderExpert",
    "ClassifierExpert",
    "GeneratorExpert",
    "list_zoo",
    "load_expert",
    "register_experts",
    "zoo_folders",
    "zoo_info",
]


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
    from net2net.zoo.own import EXPERT_KINDS, load_expert_folder, train_own_expert

    register(FOLDER_EXPERT, load_expert_folder)
    for kind in EXPERT_KINDS:
        register_expert_trainer(kind, functools.partial(train_own_expert, kind), overwrite=True)
    register("fmnist-garment", _fmnist_garment)
    register("shapes-multihot", _shapes_multihot)
    register("shapes-style-onehot", _shapes_style)
    return [*names, "fmnist-gan-dequant", "fmnist-garment", "shapes-multihot", "shapes-style-onehot"]


def _fmnist_garment(*, device: str | torch.device = "cpu") -> TorchExpert:
    """A Fashion-MNIST garment's class and brightness and width levels as multi-hot flags."""
    from net2net.experts.labels import GarmentExpert

    return GarmentExpert(device=device)


def _shapes_multihot(*, device: str | torch.device = "cpu") -> TorchExpert:
    """The shapes data set's attributes as multi-hot flags: ``shape=star``, ``colour=red``, ..., ``style=filled``."""
    from net2net.data.shapes import ATTRIBUTES, VOCAB
    from net2net.experts.labels import MultiHotExpert

    return MultiHotExpert([f"{a}={v}" for a in ATTRIBUTES for v in VOCAB[a]], name="shapes-multihot", device=device)


def _shapes_style(*, device: str | torch.device = "cpu") -> TorchExpert:
    """The shapes data set's rendering style (filled, outlined) as a one-hot vector."""
    from net2net.data.shapes import STYLES
    from net2net.experts.labels import OneHotExpert

    return OneHotExpert(STYLES, name="shapes-style-onehot", device=device)
