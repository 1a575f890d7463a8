"""Ablation-only variants of τ for benchmarks/real_pairs.py (``--ablate``): ideas measured
for learning more, or spending less, per step that the library does not ship.

- ``cond_whiten``: the condition is whitened (PCA, eigenvalues shrunk by ``eps`` times the
  largest) by a fixed linear map fitted on the training conditions before the embedder.
- ``cond_scale``: the condition is only centred and divided by its RMS norm (one number).
- ``shared_cond``: every coupling net reads the condition as one embedding of the hidden
  width shared by all nets, gated per net (``h = act(W x + b + g * e)``), instead of a
  projection of its own from the 64-wide embedding; more than half of τ's matrix products
  are those projections.
- ``z_whiten``: the targets are first whitened by a fixed linear map (Cholesky of their
  training covariance), a constant log-det.

The data-dependent ones are fitted by ``model.fit_on_train(pairs)``, which
:func:`real_pairs.race` calls and charges to the model's CPU time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from net2net.flow import ConditionalINN
from net2net.flow.layers import ConditionalAffineCoupling, InvertibleLayer
from net2net.train.fit import Pairs

__all__ = ["ablated_tau"]


class _CondMap(nn.Module):
    """A fixed affine map of the condition, ``(c - mean) @ P``, fitted on training conditions."""

    def __init__(self, cond_dim: int, mode: str, eps: float) -> None:
        super().__init__()
        self.mode, self.eps = mode, eps
        self.register_buffer("mean", torch.zeros(cond_dim))
        self.register_buffer("proj", torch.eye(cond_dim))

    @torch.no_grad()
    def fit(self, cond: Tensor) -> None:
        x = cond.double() - cond.double().mean(0)
        if self.mode == "scale":
            proj = torch.eye(x.shape[1], dtype=torch.float64) / x.pow(2).sum(1).mean().sqrt()
        else:
            ev, vec = torch.linalg.eigh(x.T @ x / len(x))
            proj = vec / torch.sqrt(ev.clamp_min(0) + self.eps * ev.max())
        self.mean.copy_(cond.mean(0))
        self.proj.copy_(proj.float())

    def forward(self, c: Tensor) -> Tensor:
        return (c - self.mean) @ self.proj


class _TargetWhitening(InvertibleLayer):
    """``y = (z - mean) @ A.T`` with ``A = L^-1``, ``L L^T`` the targets' covariance."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("a", torch.eye(dim))
        self.register_buffer("log_det", torch.zeros(1))

    @torch.no_grad()
    def fit(self, z: Tensor) -> None:
        x = z.double() - z.double().mean(0)
        a = torch.linalg.inv(torch.linalg.cholesky(x.T @ x / len(x)))
        self.mean.copy_(z.mean(0))
        self.a.copy_(a.float())
        self.log_det.copy_(torch.log(torch.diagonal(a)).sum().float())

    def transform(self, x: Tensor, c: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        if not reverse:
            return (x - self.mean) @ self.a.T, self.log_det
        return torch.linalg.solve_triangular(self.a, x.T, upper=False).T + self.mean, self.log_det


class _SharedCondCoupling(ConditionalAffineCoupling):
    """τ's coupling of both halves with one hidden layer whose condition input is the shared
    embedding ``e`` (width ``hidden``) times a gain of its own: ``act(W x + b + g * e)``."""

    def __init__(self, dim: int, hidden: int, clamp: float, slope: float) -> None:
        nn.Module.__init__(self)
        self.dim_a, self.dim_b = dim // 2, dim - dim // 2
        self.clamp, self.slope, self.split_nets = clamp, slope, False
        self.in_b, self.out_b = nn.Linear(self.dim_a, hidden), nn.Linear(hidden, 2 * self.dim_b)
        self.in_a, self.out_a = nn.Linear(self.dim_b, hidden), nn.Linear(hidden, 2 * self.dim_a)
        self.gain_b, self.gain_a = nn.Parameter(torch.ones(hidden)), nn.Parameter(torch.ones(hidden))

    def _scale_shift(self, half: str, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        h = torch.addcmul(getattr(self, "in_" + half)(x), c, getattr(self, "gain_" + half))
        h = F.leaky_relu(h, self.slope, inplace=True)
        s, t = getattr(self, "out_" + half)(h).chunk(2, dim=1)
        return self.clamp * torch.tanh(s / self.clamp), t


def ablated_tau(dim: int, cond_dim: int, *, cond_whiten: float = 0.0, cond_scale: bool = False,
                shared_cond: bool = False, z_whiten: bool = False, **kw) -> ConditionalINN:
    """τ (``ConditionalINN(dim, cond_dim, **kw)``) with the ablations named; ``cond_whiten``
    is the eigenvalue shrinkage (0: off)."""
    if shared_cond:
        kw = {**kw, "embed_dim": kw.get("hidden", 384)}
    model = ConditionalINN(dim, cond_dim, **kw)
    cfg = model.config
    fits: list = []
    if cond_whiten or cond_scale:
        cond_map = _CondMap(cond_dim, "scale" if cond_scale else "whiten", cond_whiten)
        model.embedder = nn.Sequential(cond_map, *model.embedder)
        fits.append(lambda pairs: cond_map.fit(pairs.cond))
    if shared_cond:
        for i, layer in enumerate(model.layers):
            if isinstance(layer, ConditionalAffineCoupling):
                model.layers[i] = _SharedCondCoupling(dim, cfg.hidden, cfg.clamp, cfg.slope)
    if z_whiten:
        white = _TargetWhitening(dim)
        model.layers = nn.ModuleList([white, *model.layers])
        fits.append(lambda pairs: white.fit(pairs.target))

    def fit_on_train(pairs: Pairs) -> None:
        for fit in fits:
            fit(pairs)

    model.fit_on_train = fit_on_train  # type: ignore[attr-defined]
    return model
