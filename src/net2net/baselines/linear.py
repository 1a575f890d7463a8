"""A closed-form linear translator: least squares, fitted in one solve.

``z ≈ W c + b``; its density is the Gaussian of the residuals, ``N(W c + b, Σ)`` with
``Σ`` their full covariance, so a held-out NLL sits beside τ's. Like the MLP baseline,
``sample`` returns the regression (one answer per query). It is the cheapest possible
translator and the honest lower bar for τ: no peer ships this comparison.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from net2net.flow.cinn import check_pair
from net2net.flow.layers import acc_dtype as _acc_dtype
from net2net.flow.protocol import ConditionalDensity

__all__ = ["LinearConfig", "LinearTranslator"]


@dataclass(frozen=True)
class LinearConfig:
    """Architecture of a :class:`LinearTranslator` (``ridge`` regularises the solve)."""

    dim: int
    cond_dim: int
    ridge: float = 1e-4

    def __post_init__(self) -> None:
        for name in ("dim", "cond_dim"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"LinearConfig.{name} must be a positive integer, got {v!r}")
        if not self.ridge >= 0:
            raise ValueError(f"LinearConfig.ridge must be >= 0, got {self.ridge!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class LinearTranslator(nn.Module, ConditionalDensity):
    """``p(z | c) = N(W c + b, L Lᵀ)``, fitted in closed form by :meth:`fit_closed_form`.

    Example:
        >>> c = torch.randn(500, 3); z = c @ torch.randn(3, 2) + 0.1 * torch.randn(500, 2)
        >>> lin = LinearTranslator(2, 3); lin.fit_closed_form(c, z)
        >>> float((lin.sample(c) - z).pow(2).mean()) < 0.02
        True
    """

    closed_form = True  # the trainer solves instead of stepping
    invertible = False
    description = "a least-squares linear baseline"

    def __init__(self, dim: int, cond_dim: int, **kwargs) -> None:
        super().__init__()
        self.config = LinearConfig(dim=dim, cond_dim=cond_dim, **kwargs)
        self.dim, self.cond_dim = dim, cond_dim
        self.check_finite = True
        self.register_buffer("weight", torch.zeros(dim, cond_dim))
        self.register_buffer("bias", torch.zeros(dim))
        self.register_buffer("scale_tril", torch.eye(dim))

    @classmethod
    def from_config(cls, config: LinearConfig) -> LinearTranslator:
        f = config.to_dict()
        return cls(f.pop("dim"), f.pop("cond_dim"), **f)

    @torch.no_grad()
    def fit_closed_form(self, cond: Tensor, target: Tensor) -> None:
        """Ridge least squares in float64 on centred data; Σ from the residuals."""
        check_pair(target, cond, self.dim, self.cond_dim)
        c, z = cond.double(), target.double()
        cm, zm = c.mean(0), z.mean(0)
        cc, zc = c - cm, z - zm
        gram = cc.T @ cc + self.config.ridge * len(c) * torch.eye(self.cond_dim, dtype=torch.float64)
        W = torch.linalg.solve(gram, cc.T @ zc).T
        r = zc - cc @ W.T
        cov = r.T @ r / max(1, len(r) - 1) + 1e-6 * torch.eye(self.dim, dtype=torch.float64)
        self.weight.copy_(W)
        self.bias.copy_(zm - W @ cm)
        self.scale_tril.copy_(torch.linalg.cholesky(cov))

    def predict(self, cond: Tensor) -> Tensor:
        return cond @ self.weight.to(cond.dtype).T + self.bias.to(cond.dtype)

    def log_prob(self, z: Tensor, cond: Tensor) -> Tensor:
        """``log N(z; W c + b, L Lᵀ)`` in nats, shape ``(B,)``."""
        check_pair(z, cond, self.dim, self.cond_dim, finite=self.check_finite)
        L = self.scale_tril.double()
        r = (z.double() - self.predict(cond.double()))
        w = torch.linalg.solve_triangular(L, r.T, upper=False).T
        return (-0.5 * (w * w).sum(1) - L.diagonal().log().sum() - 0.5 * self.dim * math.log(2 * math.pi)).to(_acc_dtype(z))

    @torch.no_grad()
    def sample(self, cond: Tensor, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """The regression ``W c + b`` (deterministic, like the MLP baseline)."""
        if cond.dim() != 2 or cond.shape[1] != self.cond_dim:
            raise ValueError(f"cond must have shape (B, {self.cond_dim}), got {tuple(cond.shape)}")
        return self.predict(cond)
