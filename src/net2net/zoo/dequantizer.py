"""A generator whose class embedding is dequantised, as the paper does for BigGAN (Sec. 4.1).

BigGAN's latent is ``[z̃, h]`` with ``h = W c`` for a one-hot class ``c``: ``h`` takes
only as many values as there are classes, and a normalising flow cannot put a density
on a finite set. A small VAE on ``h`` fixes that: its posterior ``q(u | h)`` turns each
class embedding into a Gaussian blob in a continuous ``u``-space, and its decoder maps
``u`` back to ``h``. The expert's latent is ``[z̃, u]``; ``decode`` runs
``G([z̃, dec(u)])``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from net2net.experts.base import TorchExpert
from net2net.models import CONFIG_FILE, config_from_dict, load_checked, read_folder, write_folder

__all__ = [
    "KIND",
    "WEIGHTS",
    "ClassEmbeddingVAE",
    "DequantConfig",
    "DequantizedGenerator",
    "is_installed",
    "load_dequantized_generator",
    "save_dequantizer",
    "train_dequantizer",
]

#: the shipped dequantiser of the zoo generator: a model folder (net2net.models)
WEIGHTS = Path(__file__).resolve().parent / "dequant" / "fmnist-gan-dequant"
#: its kind in config.json
KIND = "class-embedding-vae"


@dataclass(frozen=True)
class DequantConfig:
    """``embed_dim``: size of ``h``; ``latent_dim``: size of ``u``; ``hidden``: MLP width;
    ``decoder_std``: the Gaussian decoder's fixed scale (small: ``h`` must come back exactly)."""

    embed_dim: int = 16
    latent_dim: int = 4
    hidden: int = 64
    decoder_std: float = 0.05

    def __post_init__(self) -> None:
        for name in ("embed_dim", "latent_dim", "hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"DequantConfig.{name} must be a positive integer, got {v!r}")
        if not isinstance(self.decoder_std, (int, float)) or not (0 < self.decoder_std < math.inf):
            raise ValueError(f"DequantConfig.decoder_std must be a positive finite number, got {self.decoder_std!r}")


class ClassEmbeddingVAE(nn.Module):
    """``q(u | h) = N(μ(h), σ(h)²)``, ``h ≈ dec(u)``."""

    def __init__(self, cfg: DequantConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.enc = nn.Sequential(nn.Linear(cfg.embed_dim, cfg.hidden), nn.LeakyReLU(0.1), nn.Linear(cfg.hidden, 2 * cfg.latent_dim))
        self.dec = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden), nn.LeakyReLU(0.1), nn.Linear(cfg.hidden, cfg.embed_dim))

    def posterior(self, h: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.enc(h).chunk(2, dim=1)
        return mean, logvar.clamp(-12, 4)

    def sample(self, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        mean, logvar = self.posterior(h)
        eps = torch.randn(mean.shape, generator=generator).to(mean.device)
        return mean + (0.5 * logvar).exp() * eps

    def loss(self, h: Tensor, generator: torch.Generator) -> Tensor:
        mean, logvar = self.posterior(h)
        u = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=generator)
        rec = (self.dec(u) - h).pow(2).sum(1) / (2 * self.cfg.decoder_std ** 2)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return (rec + kl).mean()


def _class_table(generator: Any) -> Tensor:
    """``W`` as a ``(num_classes, embed_dim)`` table: the embedding of every class."""
    with torch.no_grad():
        return generator.net.class_embedding(torch.arange(generator.num_classes, device=generator.device)).float().cpu()


def train_dequantizer(generator: Any, cfg: DequantConfig, *, steps: int = 3000, seed: int = 0) -> tuple[ClassEmbeddingVAE, dict[str, float]]:
    """Fits the VAE on the generator's class embeddings; returns it and its accuracy.

    Accuracy: how often ``dec(u)`` for ``u ~ q(u | h_c)`` is nearest to ``h_c`` among all
    classes (1.0 means the class survives the round trip).
    """
    n_classes = generator.num_classes
    table = _class_table(generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = ClassEmbeddingVAE(cfg)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    with torch.enable_grad():  # callers may be inside no_grad (pair generation is)
        for _ in range(steps):
            h = table[torch.randint(0, n_classes, (256,), generator=g)]
            loss = vae.loss(h, g)
            opt.zero_grad()
            loss.backward()
            opt.step()
    vae.eval()
    with torch.no_grad():
        labels = torch.arange(n_classes).repeat(100)
        back = vae.dec(vae.sample(table[labels], torch.Generator().manual_seed(seed + 1)))
        nearest = torch.cdist(back, table).argmin(1)
    return vae, {"class_round_trip_accuracy": float((nearest == labels).float().mean()), "final_loss": float(loss.detach())}


class DequantizedGenerator(TorchExpert):
    """The zoo generator with latent ``[z̃, u]`` instead of ``[z̃, W c]``.

    It has no encoder: translator pairs come from sampling (:meth:`sample_latent`).
    """

    def __init__(self, generator: Any, vae: ClassEmbeddingVAE, name: str = "fmnist-gan-dequant") -> None:
        super().__init__()
        self.input_kind = "latent"
        self.name = name
        self.generator = generator
        self.vae = vae
        self.z_dim = generator.z_dim
        self.image_size = 28
        self.dim = self.z_dim + vae.cfg.latent_dim
        self.freeze()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "dequant": asdict(self.vae.cfg)}

    def sample_latent(self, labels: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """``[z̃, u]`` with ``z̃ ~ N(0, I)`` and ``u ~ q(u | W c)``, drawn on the CPU."""
        labels = torch.as_tensor(labels).long()
        if labels.dim() != 1 or (labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < self.generator.num_classes):
            raise ValueError(f"{self.name}: labels must be (B,) class indices in 0-{self.generator.num_classes - 1}")
        with torch.no_grad():
            h = _class_table(self.generator)[labels]
            z = torch.randn(len(h), self.z_dim, generator=generator)
            return torch.cat([z, self.vae.sample(h, generator)], dim=1).to(self.device)

    def _encode(self, batch: Any) -> Tensor:
        raise NotImplementedError(f"{self.name} is a generator and has no encoder; use sample_latent")

    def _decode(self, z: Tensor) -> Tensor:
        z_tilde, u = z.float().split([self.z_dim, self.vae.cfg.latent_dim], dim=1)
        h = self.vae.dec(u)
        return self.generator._decode(torch.cat([z_tilde, h], dim=1))


def save_dequantizer(vae: ClassEmbeddingVAE, folder: str | Path, metrics: dict[str, Any],
                     generator: str = "fmnist-gan") -> Path:
    """Writes the dequantiser as a model folder (``config.json`` + ``model.safetensors``)."""
    return write_folder(folder, kind=KIND, config=asdict(vae.cfg), state=vae.state_dict(),
                        extra={"metrics": metrics, "generator": generator})


def is_installed(folder: str | Path = WEIGHTS) -> bool:
    """Whether a dequantiser folder is there (not whether it verifies: loading says that)."""
    return (Path(folder) / CONFIG_FILE).is_file()


def load_dequantized_generator(folder: str | Path = WEIGHTS, device: str = "cpu") -> DequantizedGenerator:
    """The zoo generator with its dequantiser from ``folder``, verified like every model folder."""
    from net2net.zoo.catalogue import load_expert

    saved = read_folder(folder)
    if saved.kind != KIND:
        raise ValueError(f"{Path(folder) / CONFIG_FILE}: kind {saved.kind!r} is not a dequantiser ({KIND!r})")
    cfg = config_from_dict(DequantConfig, saved.config)
    generator = saved.extra.get("generator", "fmnist-gan")
    if not isinstance(generator, str):
        raise ValueError(f"{Path(folder) / CONFIG_FILE}: extra.generator must be a zoo expert name, got {generator!r}")
    vae = load_checked(saved, lambda: ClassEmbeddingVAE(cfg))
    return DequantizedGenerator(load_expert(generator, device), vae).to(device)


@lru_cache(maxsize=2)
def _load(device: str) -> DequantizedGenerator:
    return load_dequantized_generator(WEIGHTS, device)


def expert_factory(*, device: str = "cpu") -> DequantizedGenerator:
    """The registry's factory for ``fmnist-gan-dequant`` (takes no options)."""
    if not is_installed():
        raise ValueError("fmnist-gan-dequant is not trained yet: run `net2net zoo train fmnist-text2gan`")
    return _load(str(device))
