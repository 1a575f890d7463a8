"""The deterministic baseline translator of the paper's Fig. 12: an MLP regression.

It has τ's call shape (``log_prob``, ``sample``) so that the trainer, the evaluation and
the applications treat both alike. Its density is an isotropic Gaussian around the
regression with one learned scale, so maximum likelihood is least squares and a held-out
NLL can be reported beside τ's; ``sample`` returns the regression itself, whatever the
seed or temperature: one answer per query, no diversity, which is the point of Fig. 12.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from net2net.flow.cinn import check_pair
from net2net.flow.protocol import ConditionalDensity

__all__ = ["MLPConfig", "MLPTranslator"]


@dataclass(frozen=True)
class MLPConfig:
    """Architecture of an :class:`MLPTranslator`."""

    dim: int
    cond_dim: int
    hidden: int = 512
    depth: int = 3

    def __post_init__(self) -> None:
        for name in ("dim", "cond_dim", "hidden", "depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MLPConfig.{name} must be a positive integer, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class MLPTranslator(nn.Module, ConditionalDensity):
    """``z ≈ μ(cond)``, trained by Gaussian maximum likelihood with a learned scalar σ.

    Not invertible (``invertible = False``): it has no residual to keep or swap.

    Example:
        >>> m = MLPTranslator(4, 3, hidden=16, depth=1)
        >>> c = torch.randn(5, 3)
        >>> torch.equal(m.sample(c), m.sample(c))
        True
    """

    invertible = False
    description = "an MLP regression baseline"

    def __init__(self, dim: int, cond_dim: int, **kwargs) -> None:
        super().__init__()
        self.config = MLPConfig(dim=dim, cond_dim=cond_dim, **kwargs)
        cfg = self.config
        self.dim, self.cond_dim = cfg.dim, cfg.cond_dim
        self.check_finite = True
        layers: list[nn.Module] = [nn.Linear(cfg.cond_dim, cfg.hidden), nn.LeakyReLU(0.1)]
        for _ in range(cfg.depth - 1):
            layers += [nn.Linear(cfg.hidden, cfg.hidden), nn.LeakyReLU(0.1)]
        layers.append(nn.Linear(cfg.hidden, cfg.dim))
        self.net = nn.Sequential(*layers)
        self.log_sigma = nn.Parameter(torch.zeros(()))

    @classmethod
    def from_config(cls, config: MLPConfig) -> MLPTranslator:
        fields = config.to_dict()
        return cls(fields.pop("dim"), fields.pop("cond_dim"), **fields)

    def predict(self, cond: Tensor) -> Tensor:
        """The regression ``μ(cond)``, shape ``(B, dim)``."""
        return self.net(cond)

    def log_prob(self, z: Tensor, cond: Tensor) -> Tensor:
        """``log N(z; μ(cond), σ² I)`` in nats, shape ``(B,)``."""
        check_pair(z, cond, self.dim, self.cond_dim, finite=self.check_finite)
        r = (z - self.predict(cond)).float() if z.dtype != torch.float64 else z - self.predict(cond)
        log_sigma = self.log_sigma.to(r.dtype)
        return (
            -0.5 * (r * r).sum(dim=1) * torch.exp(-2 * log_sigma)
            - self.dim * log_sigma
            - 0.5 * self.dim * math.log(2 * math.pi)
        )

    @torch.no_grad()
    def sample(
        self,
        cond: Tensor,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The regression: deterministic, so ``temperature`` and ``generator`` are unused."""
        if cond.dim() != 2 or cond.shape[1] != self.cond_dim:
            raise ValueError(f"cond must have shape (B, {self.cond_dim}), got {tuple(cond.shape)}")
        return self.predict(cond)
