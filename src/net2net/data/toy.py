"""A linear-Gaussian toy where ``p(z | c)`` is known in closed form.

``c ~ N(0, I)``, ``z = A c + b + L ε`` with ``ε ~ N(0, I)``, so
``p(z | c) = N(A c + b, L Lᵀ)`` and the conditional entropy is
``½ log det(2πe L Lᵀ)``, the best held-out NLL any model can reach. It is how the tests
and ``net2net demo`` check that τ's likelihood is a true density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LinearGaussianToy"]


@dataclass(frozen=True)
class LinearGaussianToy:
    """The toy problem, drawn from ``seed``.

    Example:
        >>> toy = LinearGaussianToy(dim=4, cond_dim=3, seed=0)
        >>> c, z = toy.sample(10, seed=1)
        >>> c.shape, z.shape
        (torch.Size([10, 3]), torch.Size([10, 4]))
    """

    dim: int = 8
    cond_dim: int = 4
    seed: int = 0
    noise: float = 0.5

    def __post_init__(self) -> None:
        if self.dim < 2 or self.cond_dim < 1:
            raise ValueError(f"toy needs dim >= 2 and cond_dim >= 1, got {self.dim} and {self.cond_dim}")
        if not self.noise > 0:
            raise ValueError(f"toy noise must be positive, got {self.noise}")
        g = torch.Generator().manual_seed(self.seed)
        A = torch.randn(self.dim, self.cond_dim, generator=g, dtype=torch.float64)
        b = torch.randn(self.dim, generator=g, dtype=torch.float64)
        # A random lower-triangular L with a positive diagonal: correlated noise, so a
        # model that treats dimensions independently cannot reach the entropy.
        L = torch.tril(torch.randn(self.dim, self.dim, generator=g, dtype=torch.float64)) * self.noise
        L.diagonal().copy_(torch.rand(self.dim, generator=g, dtype=torch.float64) * self.noise + 0.2 * self.noise)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "L", L)

    @property
    def cov(self) -> Tensor:
        """The conditional covariance ``L Lᵀ`` (it does not depend on ``c``)."""
        return self.L @ self.L.T

    def mean(self, c: Tensor) -> Tensor:
        """The conditional mean ``A c + b``."""
        return c.to(torch.float64) @ self.A.T + self.b

    def entropy_per_dim(self) -> float:
        """``H(z | c) / dim`` in nats: ``½ log(2πe) + log|det L| / dim``."""
        return 0.5 * math.log(2 * math.pi * math.e) + float(self.L.diagonal().log().sum()) / self.dim

    def sample(self, n: int, seed: int, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
        """``n`` pairs ``(c, z)`` drawn with a local generator seeded by ``seed``."""
        g = torch.Generator().manual_seed(seed)
        c = torch.randn(n, self.cond_dim, generator=g, dtype=torch.float64)
        eps = torch.randn(n, self.dim, generator=g, dtype=torch.float64)
        z = self.mean(c) + eps @ self.L.T
        return c.to(dtype), z.to(dtype)
