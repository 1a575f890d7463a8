"""The zoo's networks as frozen experts: classifier (with layer taps), autoencoder, generator.

Each wraps a trained network from :mod:`net2net.zoo.nets` in a
:class:`~net2net.experts.base.TorchExpert`: eval mode, no gradients, inference mode,
``encode -> (B, dim)`` and, for image experts, ``decode(z) -> (B, C, H, W)`` in [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from net2net.experts.base import TorchExpert
from net2net.zoo.nets import (
    CLASSIFIER_LAYERS,
    VAE,
    ClassifierConfig,
    ConvClassifier,
    GANConfig,
    Generator,
    VAEConfig,
)

__all__ = ["KINDS", "AutoencoderExpert", "ClassifierExpert", "GeneratorExpert"]


def _check_images(x: Any, size: int, name: str, channels: int = 1) -> Tensor:
    if isinstance(x, Tensor) and x.dim() == 4 and x.shape[-1] == x.shape[-2] and x.shape[-1] % size == 0 and x.shape[-1] > size:
        # A larger, blocky rendering of a small image (e.g. the 7x7 query shown at 28x28):
        # area-averaging by the integer factor recovers the small image exactly.
        x = torch.nn.functional.avg_pool2d(x.float(), x.shape[-1] // size)
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != channels or tuple(x.shape[-2:]) != (size, size):
        raise ValueError(
            f"{name}: expects images as a float tensor (B, {channels}, {size}, {size}) in [0, 1], got "
            f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}; "
            "convert other images with net2net.data.convert.convert_images"
        )
    return x.float()


class ClassifierExpert(TorchExpert):
    """A Fashion-MNIST classifier; ``encode`` gives its penultimate (fc1) features.

    Any named layer is a tap: ``expert.tap(x, "conv2")`` returns that layer's
    activation flattened to ``(B, D)``; ``layer_dim("conv2")`` gives ``D``.

    Example:
        >>> from net2net.zoo import load_expert
        >>> f = load_expert("fmnist-classifier")
        >>> x = torch.rand(2, 1, 28, 28)
        >>> tuple(f.encode(x).shape), tuple(f.tap(x, "conv3").shape), f.layer_dim("conv3")
        ((2, 128), (2, 4704), 4704)
    """

    layers = CLASSIFIER_LAYERS

    def __init__(self, config: ClassifierConfig, name: str = "classifier") -> None:
        super().__init__()
        self.config = config
        self.name = name
        self.net = ConvClassifier(config)
        self.dim = config.hidden
        self.channels = config.in_channels
        s, (c1, c2, c3) = config.image_size, config.channels
        self._dims = {"conv1": c1 * s * s, "conv2": c2 * (s // 2) ** 2, "conv3": c3 * (s // 4) ** 2,
                      "fc1": config.hidden, "logits": config.num_classes}
        self.freeze()

    def layer_dim(self, layer: str) -> int:
        if layer not in self._dims:
            raise ValueError(f"unknown layer {layer!r}; choose one of {', '.join(self.layers)}")
        return self._dims[layer]

    def tap(self, x: Tensor, layer: str) -> Tensor:
        """The activation of ``layer`` for images ``x``, flattened to ``(B, layer_dim(layer))``."""
        self.layer_dim(layer)
        x = _check_images(x, self.config.image_size, self.name, self.channels)
        with torch.inference_mode():
            return self.net.features(x.to(self.device), upto=layer)[layer].flatten(1).float()

    def at_layer(self, layer: str, pool: str = "flatten") -> TorchExpert:
        """This classifier as an expert whose ``encode`` is ``layer`` (``pool``: flatten, avg, max)."""
        from net2net.experts.tap import LayerTap

        self.layer_dim(layer)
        c = {"conv1": self.config.channels[0], "conv2": self.config.channels[1], "conv3": self.config.channels[2]}
        if layer in c and pool.startswith("grid"):
            dim = c[layer] * int(pool[4:]) ** 2
        else:
            dim = c[layer] if pool != "flatten" and layer in c else self.layer_dim(layer)
        return LayerTap(self.net, layer, pool=pool, dim=dim, name=f"{self.name}:{layer}", device=self.device)

    def logits(self, x: Tensor) -> Tensor:
        return self.tap(x, "logits")

    def predict(self, x: Tensor) -> Tensor:
        """Class indices ``(B,)`` (a classifier with attribute heads: see :meth:`predict_attributes`)."""
        if self.config.heads:
            raise ValueError(f"{self.name} has one head per attribute; use predict_attributes")
        return self.logits(x).argmax(dim=1)

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        """attribute -> its value names (empty for a plain classifier)."""
        return {a: v for a, v in self.config.heads}

    def attribute_logits(self, x: Tensor) -> dict[str, Tensor]:
        """attribute -> logits ``(B, n_values)``."""
        if not self.config.heads:
            raise ValueError(f"{self.name} has no attribute heads; use predict")
        return self.net.split_heads(self.logits(x))

    def predict_attributes(self, x: Tensor) -> dict[str, list[str]]:
        """attribute -> the value name the classifier sees in each image."""
        return {a: [self.heads[a][i] for i in lg.argmax(1).tolist()] for a, lg in self.attribute_logits(x).items()}

    def _encode(self, batch: Any) -> Tensor:
        return self.net.features(_check_images(batch, self.config.image_size, self.name, self.channels),
                                 upto="fc1")["fc1"]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "config": self.config.to_dict()}


class AutoencoderExpert(TorchExpert):
    """``g = Λ∘Θ``: ``encode`` is the posterior mean ``(B, latent_dim)``, ``decode`` an image."""

    def __init__(self, config: VAEConfig, name: str = "autoencoder") -> None:
        super().__init__()
        self.config = config
        self.name = name
        self.net = VAE(config)
        self.dim = config.latent_dim
        self.channels = config.in_channels
        self.freeze()

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mean, logvar)``, each ``(B, dim)``."""
        x = _check_images(x, self.config.image_size, self.name, self.channels)
        with torch.inference_mode():
            return self.net.posterior(x.to(self.device))

    def _encode(self, batch: Any) -> Tensor:
        return self.net.posterior(_check_images(batch, self.config.image_size, self.name, self.channels))[0]

    def _decode(self, z: Tensor) -> Tensor:
        return self.net.decode(z.float())

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "config": self.config.to_dict()}


class GeneratorExpert(TorchExpert):
    """A class-conditional generator with BigGAN's latent ``[z̃, h]``, ``h = W·onehot(c)``.

    ``dim = z_dim + embed_dim``: the first ``z_dim`` entries are the noise ``z̃ ~ N(0, I)``,
    the last ``embed_dim`` the class embedding. As for the project's BigGAN adapter,
    ``encode((noise, classes))`` builds that vector (there is no image encoder) and
    ``decode`` generates from it.

    Example:
        >>> from net2net.zoo import load_expert
        >>> g = load_expert("fmnist-gan")
        >>> z = g.sample_latents(4, classes=torch.tensor([9, 9, 0, 0]), seed=0)
        >>> g.decode(z).shape
        torch.Size([4, 1, 28, 28])
    """

    def __init__(self, config: GANConfig, name: str = "generator") -> None:
        super().__init__()
        self.config = config
        self.name = name
        self.net = Generator(config)
        self.dim = config.latent_dim
        self.z_dim = config.z_dim
        self.num_classes = config.num_classes
        self.input_kind = "latent"  # what the feature store feeds it
        self.freeze()

    def _encode(self, batch: Any) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"{self.name}: encode takes (noise (B, {self.z_dim}), classes (B,) indices); "
                             "it is a generator and has no image encoder")
        noise, classes = (torch.as_tensor(b).to(self.device) for b in batch)
        if noise.dim() != 2 or noise.shape[1] != self.z_dim:
            raise ValueError(f"{self.name}: noise must be (B, {self.z_dim}), got {tuple(noise.shape)}")
        if classes.shape != (noise.shape[0],) or classes.dtype.is_floating_point:
            raise ValueError(f"{self.name}: classes must be (B,) integer indices, got {tuple(classes.shape)} {classes.dtype}")
        if classes.numel() and (classes.min() < 0 or classes.max() >= self.num_classes):
            raise ValueError(f"{self.name}: class indices must be in 0-{self.num_classes - 1}")
        return torch.cat([noise.float(), self.net.class_embedding(classes)], dim=1)

    def sample_latents(self, n: int, *, classes: Tensor | None = None, seed: int = 0,
                       generator: torch.Generator | None = None) -> Tensor:
        """``n`` latents ``[z̃, W c]``, ``z̃ ~ N(0, I)`` from ``seed`` (or ``generator``); random classes if None."""
        g = generator if generator is not None else torch.Generator().manual_seed(seed)
        noise = torch.randn(n, self.z_dim, generator=g)
        if classes is None:
            classes = torch.randint(0, self.num_classes, (n,), generator=g)
        return self.encode((noise, torch.as_tensor(classes)))

    def generate(self, classes: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Images ``(B, 1, 28, 28)`` of the given classes."""
        return self.decode(self.sample_latents(len(classes), classes=classes, generator=generator))

    def _decode(self, z: Tensor) -> Tensor:
        return self.net(z.float())

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "config": self.config.to_dict()}


#: kind (as written in recipes and weight JSONs) -> (config class, expert class).
KINDS: dict[str, tuple[type, type[TorchExpert]]] = {
    "classifier": (ClassifierConfig, ClassifierExpert),
    "vae": (VAEConfig, AutoencoderExpert),
    "gan": (GANConfig, GeneratorExpert),
}
