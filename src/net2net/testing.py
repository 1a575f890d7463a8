"""Tiny experts and translators for tests and examples: built in milliseconds, no weights.

They follow the same protocols as the real ones, so code written against a zoo
translator can be exercised without it (the project's own tests use them).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from net2net.experts.base import Expert, TorchExpert
from net2net.flow import ConditionalINN
from net2net.translator import ExpertRef, Translator

__all__ = ["TinyAutoencoder", "tiny_translator"]


class TinyAutoencoder(TorchExpert):
    """A fixed random linear autoencoder of 28×28 images with a Gaussian posterior.

    Args:
        seed: draws the weights (same seed, same expert, same fingerprint).
        name: the expert's name.
        dim: latent size.
        decoder_scale: scale of the decoder weights (1.0 gives images with contrast).
    """

    image_size = 28

    def __init__(self, seed: int = 0, *, name: str = "tiny-ae", dim: int = 8, decoder_scale: float = 1.0,
                 device: str = "cpu") -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.name, self.dim = name, dim
        self.enc, self.dec = nn.Linear(784, dim), nn.Linear(dim, 784)
        with torch.no_grad():
            for p in self.enc.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            for p in self.dec.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * decoder_scale)
        self.to(device).freeze()

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        with torch.inference_mode():
            mean = self._encode(x.to(self.device))
            return mean, torch.full_like(mean, -4.0)

    def _encode(self, x: Tensor) -> Tensor:
        return self.enc(x.reshape(len(x), -1))

    def _decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.dec(z)).reshape(-1, 1, 28, 28)


def tiny_translator(query: Expert, *, seed: int = 0, target: Expert | None = None, query_name: str = "q",
                    target_name: str = "tiny-ae", info: dict | None = None) -> Translator:
    """A translator with a small, randomly perturbed τ between ``query`` and a tiny AE."""
    target = target if target is not None else TinyAutoencoder()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tau = ConditionalINN(target.dim, query.dim, n_blocks=2, hidden=16, embed_dim=8, embed_hidden=16)
        with torch.no_grad():
            for p in tau.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return Translator(query, tau.eval(), target, query_ref=ExpertRef.of(query, query_name),
                      target_ref=ExpertRef.of(target, target_name), info=info or {})
