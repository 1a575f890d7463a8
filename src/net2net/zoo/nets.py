"""The zoo's trainable networks and the frozen configs that rebuild them.

These are plain ``nn.Module``s that train normally; :mod:`net2net.zoo.experts` wraps a
trained one in a frozen :class:`~net2net.experts.base.TorchExpert`. Every network is
built from a frozen dataclass alone, so a weights file plus its JSON rebuild it.

Images are ``(B, C, H, W)`` in ``[0, 1]`` (``C`` 1, or 3 for the colour experts); vectors are ``(B, D)``.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = [
    "CLASSIFIER_LAYERS",
    "VAE",
    "ClassifierConfig",
    "ConvClassifier",
    "GANConfig",
    "Generator",
    "ProjectionDiscriminator",
    "VAEConfig",
]

#: The classifier's named layers, input to output: the taps other code may read.
CLASSIFIER_LAYERS: tuple[str, ...] = ("conv1", "conv2", "conv3", "fc1", "logits")


def _positive(owner: str, **values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{owner}.{name} must be a positive integer, got {v!r}")


class _Config:
    #: Fields added after the first zoo was saved, with the value that keeps the old
    #: behaviour. At that value they are left out of :meth:`to_dict`, so the saved
    #: configs and the experts' fingerprints (which translators check) stay as they were.
    LATER: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in d.items() if not (k in self.LATER and v == self.LATER[k])}


# --------------------------------------------------------------------- classifier
@dataclass(frozen=True)
class ClassifierConfig(_Config):
    """A three-block CNN with named layers.

    Attributes:
        channels: output channels of conv1, conv2, conv3.
        hidden: width of fc1 (the penultimate features, what ``encode`` returns).
        num_classes: logits.
        dropout: before the logits, in training only.
        image_size: input height and width.
        in_channels: 1 (grey) or 3 (RGB) input channels.
        heads: ``((attribute, (value, ...)), ...)``: one classification head per attribute
            (the logits are the heads' logits side by side, and ``num_classes`` is set to
            their total); empty for one plain head of ``num_classes``.
    """

    channels: tuple[int, int, int] = (32, 64, 128)
    hidden: int = 128
    num_classes: int = 10
    dropout: float = 0.3
    image_size: int = 28
    in_channels: int = 1
    heads: tuple[tuple[str, tuple[str, ...]], ...] = ()
    LATER: ClassVar[dict[str, Any]] = {"in_channels": 1, "heads": ()}

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "heads", _check_heads(self.heads))
        if self.heads:
            object.__setattr__(self, "num_classes", sum(len(v) for _, v in self.heads))
        if self.in_channels not in (1, 3):
            raise ValueError(f"ClassifierConfig.in_channels must be 1 or 3, got {self.in_channels!r}")
        if len(self.channels) != 3:
            raise ValueError(f"ClassifierConfig.channels needs 3 entries (conv1-3), got {self.channels}")
        _positive("ClassifierConfig", hidden=self.hidden, num_classes=self.num_classes, image_size=self.image_size,
                  **{f"channels[{i}]": c for i, c in enumerate(self.channels)})
        if self.image_size % 4:
            raise ValueError(f"ClassifierConfig.image_size must be divisible by 4 (two 2x poolings), got {self.image_size}")


def _check_heads(heads: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``heads`` as nested tuples, each a distinct attribute name with at least two distinct value names."""
    if not isinstance(heads, (list, tuple)):
        raise ValueError(f"ClassifierConfig.heads must be a list of [attribute, [values...]] pairs, got {heads!r}")
    out = []
    for h in heads:
        if (not isinstance(h, (list, tuple)) or len(h) != 2 or not isinstance(h[0], str) or not h[0]
                or not isinstance(h[1], (list, tuple)) or len(h[1]) < 2
                or not all(isinstance(v, str) and v for v in h[1]) or len(set(h[1])) != len(h[1])):
            raise ValueError(f"ClassifierConfig.heads: each head is [attribute, [two or more distinct values]], got {h!r}")
        out.append((h[0], tuple(h[1])))
    if len({a for a, _ in out}) != len(out):
        raise ValueError("ClassifierConfig.heads: attribute names must be distinct")
    return tuple(out)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ConvClassifier(nn.Module):
    """conv1 (28²) → pool → conv2 (14²) → pool → conv3 (7²) → pool (3²) → fc1 → logits."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels
        self.conv1 = _conv_block(config.in_channels, c1)
        self.conv2 = _conv_block(c1, c2)
        self.conv3 = _conv_block(c2, c3)
        side = config.image_size // 4 // 2
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(c3 * side * side, config.hidden), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(config.dropout)
        self.logits = nn.Linear(config.hidden, config.num_classes)

    def features(self, x: Tensor, upto: str = "logits") -> dict[str, Tensor]:
        """Activations of every named layer up to ``upto`` (conv maps unflattened)."""
        if upto not in CLASSIFIER_LAYERS:
            raise ValueError(f"unknown layer {upto!r}; choose one of {', '.join(CLASSIFIER_LAYERS)}")
        out: dict[str, Tensor] = {}
        h = out["conv1"] = self.conv1(x)
        if upto != "conv1":
            h = out["conv2"] = self.conv2(F.max_pool2d(h, 2))
        if upto not in ("conv1", "conv2"):
            h = out["conv3"] = self.conv3(F.max_pool2d(h, 2))
        if upto in ("fc1", "logits"):
            h = out["fc1"] = self.fc1(F.max_pool2d(h, 2))
        if upto == "logits":
            out["logits"] = self.logits(self.drop(h))
        return out

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)["logits"]

    def split_heads(self, logits: Tensor) -> dict[str, Tensor]:
        """attribute -> its logits ``(B, n_values)``; one entry ``"class"`` without heads."""
        if not self.config.heads:
            return {"class": logits}
        return dict(zip([a for a, _ in self.config.heads],
                        logits.split([len(v) for _, v in self.config.heads], dim=1), strict=True))


# ---------------------------------------------------------------------------- VAE
@dataclass(frozen=True)
class VAEConfig(_Config):
    """A Gaussian-posterior autoencoder.

    Attributes:
        latent_dim: size of ``z`` (what ``encode`` returns: the posterior mean).
        image_size: 28, 32, 64 or 128 (conv nets) or a small size such as 7 (MLPs).
        arch: "conv" for 28x28 to 128x128 images, "mlp" for tiny ones.
        channels: conv widths (encoder; the decoder mirrors them) - or, for "mlp", hidden widths.
        init_log_gamma: start of the learned log output scale γ.
        in_channels: 1 (grey) or 3 (RGB).
    """

    latent_dim: int = 64
    image_size: int = 28
    arch: str = "conv"
    channels: tuple[int, ...] = (32, 64, 128)
    init_log_gamma: float = 0.0
    in_channels: int = 1
    LATER: ClassVar[dict[str, Any]] = {"in_channels": 1}

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        _positive("VAEConfig", latent_dim=self.latent_dim, image_size=self.image_size)
        if self.arch not in ("conv", "mlp"):
            raise ValueError(f"VAEConfig.arch must be 'conv' or 'mlp', got {self.arch!r}")
        if self.arch == "conv" and (self.image_size not in (28, 32, 64, 128) or len(self.channels) != 3):
            raise ValueError("VAEConfig: arch='conv' needs image_size 28, 32, 64 or 128 and 3 channels; "
                             "use arch='mlp' for small images")
        if self.in_channels not in (1, 3):
            raise ValueError(f"VAEConfig.in_channels must be 1 or 3, got {self.in_channels!r}")
        if not self.channels:
            raise ValueError("VAEConfig.channels must not be empty")


class VAE(nn.Module):
    """Θ: image → (mean, log-variance); Λ: z → image in [0, 1]; plus the learned log γ."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        d, s, ci = config.latent_dim, config.image_size, config.in_channels
        if config.arch == "conv" and s in (32, 64, 128):
            c1, c2, c3 = config.channels
            # 64 and 128: one or two more halvings at width c1 first (and doublings last);
            # at 32 the layers (and so the saved weights' names) are the first net's.
            extra = {32: 0, 64: 1, 128: 2}[s]
            down = [m for _ in range(extra) for m in (nn.Conv2d(c1, c1, 4, 2, 1), _act())]
            up = [m for _ in range(extra) for m in (nn.ConvTranspose2d(c1, c1, 4, 2, 1), _act())]
            self.encoder = nn.Sequential(
                nn.Conv2d(ci, c1, 4, 2, 1), _act(), *down,      # 16
                nn.Conv2d(c1, c1, 3, 1, 1), _act(),
                nn.Conv2d(c1, c2, 4, 2, 1), _act(),             # 8
                nn.Conv2d(c2, c3, 4, 2, 1), _act(),             # 4
                nn.Flatten(), nn.Linear(c3 * 16, 2 * d),
            )
            self.decoder = nn.Sequential(
                nn.Linear(d, c3 * 16), _act(), nn.Unflatten(1, (c3, 4, 4)),
                nn.ConvTranspose2d(c3, c2, 4, 2, 1), _act(),    # 8
                nn.ConvTranspose2d(c2, c1, 4, 2, 1), _act(),    # 16
                nn.Conv2d(c1, c1, 3, 1, 1), _act(), *up,
                nn.ConvTranspose2d(c1, ci, 4, 2, 1),           # 32 (64, 128)
            )
        elif config.arch == "conv":
            c1, c2, c3 = config.channels
            self.encoder = nn.Sequential(
                nn.Conv2d(ci, c1, 4, 2, 1), _act(),             # 14
                nn.Conv2d(c1, c2, 4, 2, 1), _act(),             # 7
                nn.Conv2d(c2, c3, 3, 2, 1), _act(),             # 4
                nn.Flatten(), nn.Linear(c3 * 16, 2 * d),
            )
            self.decoder = nn.Sequential(
                nn.Linear(d, c3 * 16), _act(), nn.Unflatten(1, (c3, 4, 4)),
                nn.ConvTranspose2d(c3, c2, 3, 2, 1), _act(),    # 7
                nn.ConvTranspose2d(c2, c1, 4, 2, 1), _act(),    # 14
                # Straight to one channel at 28x28: a wide layer at full resolution
                # would triple the cost of a CPU training step.
                nn.ConvTranspose2d(c1, ci, 4, 2, 1),           # 28
            )
        else:
            widths = [ci * s * s, *config.channels]
            enc: list[nn.Module] = [nn.Flatten()]
            for a, b in itertools.pairwise(widths):
                enc += [nn.Linear(a, b), nn.LeakyReLU(0.2, inplace=True)]
            self.encoder = nn.Sequential(*enc, nn.Linear(widths[-1], 2 * d))
            rev = [d, *reversed(config.channels)]
            dec: list[nn.Module] = []
            for a, b in itertools.pairwise(rev):
                dec += [nn.Linear(a, b), nn.LeakyReLU(0.2, inplace=True)]
            self.decoder = nn.Sequential(*dec, nn.Linear(rev[-1], ci * s * s), nn.Unflatten(1, (ci, s, s)))
        # One scalar for the whole image, as in Dai & Wipf (arXiv:1903.05789): the
        # reconstruction/KL balance is then learned instead of tuned.
        self.log_gamma = nn.Parameter(torch.tensor(float(config.init_log_gamma)))

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Returns ``(reconstruction, mean, logvar)`` with a reparameterised sample."""
        mean, logvar = self.posterior(x)
        eps = torch.randn(mean.shape, generator=generator, device=generator.device if generator else mean.device)
        z = mean + eps.to(mean.device) * (0.5 * logvar).exp()
        return self.decode(z), mean, logvar


# ---------------------------------------------------------------------------- GAN
@dataclass(frozen=True)
class GANConfig(_Config):
    """A class-conditional generator with BigGAN's input: ``[z̃, W c]``.

    Attributes:
        z_dim: size of the noise ``z̃ ~ N(0, I)``.
        embed_dim: size of the class embedding ``h = W c`` (``W``: Linear(num_classes, embed_dim, bias=False)).
        num_classes: classes of ``c`` (one-hot).
        channels: generator widths at 7x7 and 14x14 (the discriminator uses them reversed).
    """

    z_dim: int = 32
    embed_dim: int = 16
    num_classes: int = 10
    channels: tuple[int, int] = (128, 64)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        _positive("GANConfig", z_dim=self.z_dim, embed_dim=self.embed_dim, num_classes=self.num_classes)
        if len(self.channels) != 2:
            raise ValueError(f"GANConfig.channels needs 2 entries (7x7 and 14x14 widths), got {self.channels}")

    @property
    def latent_dim(self) -> int:
        return self.z_dim + self.embed_dim


class Generator(nn.Module):
    """``G([z̃, h])``: 48-d (by default) latent → ``(B, 1, 28, 28)`` in [0, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        # BigGAN's class input: a bias-free linear map of the one-hot class.
        self.embed = nn.Linear(config.num_classes, config.embed_dim, bias=False)
        self.net = nn.Sequential(
            nn.Linear(config.latent_dim, c1 * 49), nn.Unflatten(1, (c1, 7, 7)), nn.BatchNorm2d(c1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c1, c2, 4, 2, 1), nn.BatchNorm2d(c2), nn.ReLU(inplace=True),  # 14
            nn.ConvTranspose2d(c2, 1, 4, 2, 1),  # 28: one channel, to keep CPU steps cheap
        )

    def class_embedding(self, labels: Tensor) -> Tensor:
        """``h = W c`` for integer labels ``(B,)``: ``(B, embed_dim)``."""
        return self.embed(F.one_hot(labels.long(), self.config.num_classes).float())

    def forward(self, latent: Tensor) -> Tensor:
        return torch.sigmoid(self.net(latent))


class ProjectionDiscriminator(nn.Module):
    """Spectrally normalised CNN with a projection head (Miyato & Koyama, arXiv:1802.05637)."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        c2, c1 = config.channels[1], config.channels[0]
        self.body = nn.Sequential(
            spectral_norm(nn.Conv2d(1, c2, 4, 2, 1)), _act(),    # 14
            spectral_norm(nn.Conv2d(c2, c1, 4, 2, 1)), _act(),   # 7
            spectral_norm(nn.Conv2d(c1, c1, 3, 1, 1)), _act(),   # 7
        )
        self.linear = spectral_norm(nn.Linear(c1, 1))
        self.project = spectral_norm(nn.Embedding(config.num_classes, c1))

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        h = self.body(x * 2 - 1).sum(dim=(2, 3))
        return self.linear(h).squeeze(1) + (self.project(labels) * h).sum(dim=1)
