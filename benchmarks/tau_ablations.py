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
- ``first_hidden``: the first coupling's nets are that wide (the others keep ``hidden``).
- ``spline_bins``: every coupling is a monotone rational-quadratic spline of each
  dimension on ``[-SPLINE_BOUND, SPLINE_BOUND]`` (identity outside) with that many bins,
  its knots from the coupling net (Durkan et al., "Neural Spline Flows", arXiv:1906.04032),
  in place of the affine map: more expressive per coupling, so fewer blocks may do.

- ``weight_scale``: every ``nn.Linear``'s weight and bias is stored as ``u = w / k`` and
  used as ``w = k · u`` (``torch.nn.utils.parametrize``): the same function, initialisation
  and parameter count. Adam's step is nearly blind to a gradient's scale, so ``w`` moves
  about ``k`` times as far per step as before: at learning rate ``η`` this τ trains its
  linear layers as the plain τ would at ``k·η``. A figure "at a matched learning rate"
  moves with ``k`` although nothing about the model changed; it is an ablation of the
  protocol, not of τ.

The data-dependent ones are fitted by ``model.fit_on_train(pairs)``, which
:func:`real_pairs.race` calls and charges to the model's CPU time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from net2net.flow import ConditionalINN
from net2net.flow.layers import ConditionalAffineCoupling, InvertibleLayer, mlp
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


class _Scaled(nn.Module):
    """The parametrisation ``w = k · u`` (``right_inverse``: ``u = w / k``)."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, u: Tensor) -> Tensor:
        return u * self.k

    def right_inverse(self, w: Tensor) -> Tensor:
        return w / self.k


def store_scaled(model: nn.Module, k: float) -> None:
    """Stores every ``nn.Linear`` weight and bias of ``model`` as ``1/k`` of itself, used times ``k``."""
    from torch.nn.utils import parametrize

    for module in list(model.modules()):
        if isinstance(module, nn.Linear):
            for name in ("weight", "bias"):
                if getattr(module, name) is not None:
                    parametrize.register_parametrization(module, name, _Scaled(k))


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


#: the spline's interval; ActNorm before every coupling keeps most of the mass inside it
SPLINE_BOUND = 3.0
_MIN_BIN, _MIN_SLOPE = 1e-3, 1e-3
#: shifts a zero net output to a knot slope of exactly 1 (a fresh spline with zero output is the identity)
_SLOPE_SHIFT = math.log(math.expm1(1.0 - _MIN_SLOPE))


def _knots(raw: Tensor, bound: float) -> tuple[Tensor, Tensor]:
    """Bin edges ``(..., K+1)`` from ``-bound`` to ``bound`` and bin sizes ``(..., K)``."""
    k = raw.shape[-1]
    size = _MIN_BIN + (1 - _MIN_BIN * k) * torch.softmax(raw, dim=-1)
    inner = (2 * bound) * torch.cumsum(size, dim=-1)[..., :-1] - bound
    edges = torch.cat([torch.full_like(size[..., :1], -bound), inner, torch.full_like(size[..., :1], bound)], dim=-1)
    return edges, edges[..., 1:] - edges[..., :-1]


def rq_spline(x: Tensor, params: Tensor, bound: float = SPLINE_BOUND,
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """The monotone rational-quadratic spline of every entry of ``x`` ``(B, d)``, its knots
    from ``params`` ``(B, d, 3K-1)`` (widths, heights, inner slopes), identity outside
    ``[-bound, bound]``. Returns the map (its inverse when ``reverse``) and the log of the
    *forward* map's derivative at the input (forward) or at the output (reverse)."""
    k = (params.shape[-1] + 1) // 3
    xe, w = _knots(params[..., :k], bound)
    ye, h = _knots(params[..., k:2 * k], bound)
    one = torch.ones_like(params[..., :1])
    slope = torch.cat([one, _MIN_SLOPE + F.softplus(params[..., 2 * k:] + _SLOPE_SHIFT), one], dim=-1)
    inside = (x > -bound) & (x < bound)
    xc = x.clamp(-bound, bound).unsqueeze(-1)
    edges = ye if reverse else xe
    idx = (torch.searchsorted(edges[..., 1:-1].contiguous(), xc.contiguous(), right=True)).clamp(0, k - 1)
    x0, w0, y0, h0 = xe.gather(-1, idx), w.gather(-1, idx), ye.gather(-1, idx), h.gather(-1, idx)
    d0, d1 = slope.gather(-1, idx), slope.gather(-1, idx + 1)
    delta = h0 / w0
    curve = d0 + d1 - 2 * delta
    if not reverse:
        theta = (xc - x0) / w0
    else:
        dy = xc - y0
        a = h0 * (delta - d0) + dy * curve
        b = h0 * d0 - dy * curve
        c = -delta * dy
        theta = (2 * c) / (-b - torch.sqrt((b * b - 4 * a * c).clamp_min(0)))
    t1 = theta * (1 - theta)
    den = delta + curve * t1
    out = (y0 + h0 * (delta * theta * theta + d0 * t1) / den) if not reverse else (x0 + theta * w0)
    log_d = (2 * torch.log(delta) + torch.log(d1 * theta * theta + 2 * delta * t1 + d0 * (1 - theta) ** 2)
             - 2 * torch.log(den))
    out, log_d = out.squeeze(-1), log_d.squeeze(-1)
    return torch.where(inside, out, x), torch.where(inside, log_d, torch.zeros_like(log_d))


class _SplineCoupling(InvertibleLayer):
    """τ's coupling of both halves with a rational-quadratic spline (:func:`rq_spline`) in
    place of the affine map: ``b <- f(b; net_b(a, c))``, then ``a <- f(a; net_a(b, c))``."""

    def __init__(self, dim: int, cond_dim: int, hidden: int, depth: int, bins: int, slope: float) -> None:
        super().__init__()
        self.dim_a, self.dim_b, self.bins = dim // 2, dim - dim // 2, bins
        self.net_b = mlp(self.dim_a + cond_dim, self.dim_b * (3 * bins - 1), hidden, depth, slope=slope, zero_init=False)
        self.net_a = mlp(self.dim_b + cond_dim, self.dim_a * (3 * bins - 1), hidden, depth, slope=slope, zero_init=False)

    def _params(self, net: nn.Module, x: Tensor, c: Tensor, d: int) -> Tensor:
        return net(torch.cat([x, c], dim=1)).view(x.shape[0], d, 3 * self.bins - 1)

    def transform(self, x: Tensor, c: Tensor | None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        if c is None:
            raise ValueError("the spline coupling needs its condition embedding c, got None")
        a, b = x.split([self.dim_a, self.dim_b], dim=1)
        if not reverse:
            b, s1 = rq_spline(b, self._params(self.net_b, a, c, self.dim_b))
            a, s2 = rq_spline(a, self._params(self.net_a, b, c, self.dim_a))
        else:
            a, s2 = rq_spline(a, self._params(self.net_a, b, c, self.dim_a), reverse=True)
            b, s1 = rq_spline(b, self._params(self.net_b, a, c, self.dim_b), reverse=True)
        return torch.cat([a, b], dim=1), torch.cat([s2, s1], dim=1)


def ablated_tau(dim: int, cond_dim: int, *, cond_whiten: float = 0.0, cond_scale: bool = False,
                shared_cond: bool = False, z_whiten: bool = False, spline_bins: int = 0, first_hidden: int = 0,
                weight_scale: float = 1.0, **kw) -> ConditionalINN:
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
    if first_hidden:
        i = next(i for i, layer in enumerate(model.layers) if isinstance(layer, ConditionalAffineCoupling))
        model.layers[i] = ConditionalAffineCoupling(
            dim, cfg.embed_dim, lambda i, o: mlp(i, o, first_hidden, cfg.depth, slope=cfg.slope, zero_init=cfg.zero_init),
            cfg.clamp, cfg.split_nets)
    if spline_bins:
        for i, layer in enumerate(model.layers):
            if isinstance(layer, ConditionalAffineCoupling):
                model.layers[i] = _SplineCoupling(dim, cfg.embed_dim, cfg.hidden, cfg.depth, spline_bins, cfg.slope)
    if weight_scale != 1.0:
        store_scaled(model, weight_scale)
    if z_whiten:
        white = _TargetWhitening(dim)
        model.layers = nn.ModuleList([white, *model.layers])
        fits.append(lambda pairs: white.fit(pairs.target))

    def fit_on_train(pairs: Pairs) -> None:
        for fit in fits:
            fit(pairs)

    model.fit_on_train = fit_on_train  # type: ignore[attr-defined]
    return model
