"""The invertible layers of τ: ActNorm, a conditional double affine coupling, and the
mixing between couplings (a fixed permutation, or a learned invertible linear map in LU
form).

Every layer follows one rule (the FrEIA block rule): ``forward(x, c) -> (y, log_det)``
and ``inverse(y, c) -> (x, log_det)``, with ``log_det`` of shape ``(B,)`` and the two
log-dets negatives of each other. Both are built on the one call every layer answers,
:meth:`InvertibleLayer.transform` ``(x, c, reverse) -> (y, s)``, where ``s`` is the
layer's log-scale in the forward sign before any sum: ``(B, k)`` when it depends on the
row, ``(k,)`` when it does not, ``None`` for volume-preserving layers. A flow collects the
``s`` of all its layers and sums them once (:class:`~net2net.flow.cinn.ConditionalINN`).
Log-dets are accumulated in float32 (or float64 when the input is float64) even if the
matmuls run in lower precision.

References:
    Kingma & Dhariwal, "Glow" (arXiv:1807.03039) for ActNorm and the LU-decomposed
    invertible linear map.
    Dinh et al., "Density estimation using Real NVP" (arXiv:1605.08803) for coupling.
    Rombach et al., "Network-to-Network Translation" (arXiv:2005.13580), Fig. 3.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["ActNorm", "ConditionalAffine", "ConditionalAffineCoupling", "InvertibleLayer", "InvertibleLinear", "Permutation",
           "Standardize",
           "acc_dtype", "mlp"]


def acc_dtype(x: Tensor) -> torch.dtype:
    """The dtype log-dets are summed in: float64 stays, everything else is float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def mlp(in_dim: int, out_dim: int, hidden: int, depth: int, *, slope: float = 0.1,
        zero_init: bool = True) -> nn.Sequential:
    """A fully connected net: ``depth`` hidden layers of width ``hidden``, LeakyReLU.

    With ``zero_init`` the last layer starts at zero, so that a fresh coupling is the
    identity map; without it every layer keeps PyTorch's default initialisation (as the
    paper's code does), so the hidden layers get gradients from the first step on. The
    activations work in place on their Linear's fresh output (which that Linear's
    backward does not need): one buffer fewer per layer, which measurably shortens a CPU
    training step whose saved activations overflow the cache (docs/benchmarks.md).
    """
    if depth < 1:
        raise ValueError(f"mlp depth must be >= 1, got {depth}")
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.LeakyReLU(slope, inplace=True)]
    for _ in range(depth - 1):
        layers += [nn.Linear(hidden, hidden), nn.LeakyReLU(slope, inplace=True)]
    last = nn.Linear(hidden, out_dim)
    if zero_init:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class InvertibleLayer(nn.Module):
    """The one call every layer of a flow answers, and the block rule built on it.

    Subclasses implement :meth:`transform`; ``forward`` and ``inverse`` sum its
    log-scale into the ``(B,)`` log-det of the FrEIA block rule.
    """

    def transform(self, x: Tensor, c: Tensor | None, reverse: bool = False) -> tuple[Tensor, Tensor | None]:
        """``(y, s)``: the map (inverse when ``reverse``) and its log-scale, forward sign.

        ``s`` is ``(B, k)`` when the scale depends on the row, ``(k,)`` when it does not,
        or ``None`` when the layer preserves volume; ``log|det| = ±s.sum()`` per row.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement transform(x, c, reverse)")

    def forward(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y, s = self.transform(x, c)
        return y, _row_log_det(s, x)

    def inverse(self, y: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, s = self.transform(y, c, reverse=True)
        return x, -_row_log_det(s, y)


def _row_log_det(s: Tensor | None, x: Tensor) -> Tensor:
    acc = acc_dtype(x)
    if s is None:
        return x.new_zeros(x.shape[0], dtype=acc)
    if s.dim() == 1:
        return s.to(acc).sum().expand(x.shape[0])
    return s.to(acc).sum(dim=1)


class ActNorm(InvertibleLayer):
    """Per-dimension affine normalisation, initialised from the first training batch.

    ``y = (x + loc) * exp(log_scale)``. On the first forward call in training mode,
    ``loc`` and ``log_scale`` are set so that the batch leaves with zero mean and unit
    variance. Whether that happened is kept twice: in the ``initialized`` buffer (so it
    is saved and loaded with the weights) and in a Python flag mirrored from it at load
    time, so no call ever reads a device tensor to decide (no host-device sync).

    Initialising from the inverse direction is refused: the data-dependent statistics
    only make sense for data, not for samples of the base distribution.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))
        self._is_initialized = False
        self._register_load_state_dict_pre_hook(self._mirror_flag_on_load)

    def _mirror_flag_on_load(self, state_dict, prefix, *args, **kwargs) -> None:
        flag = state_dict.get(prefix + "initialized")
        if flag is not None:
            self._is_initialized = bool(flag)

    @torch.no_grad()
    def _initialize(self, x: Tensor) -> None:
        # float64 statistics: a batch of thousands of float32 rows loses digits otherwise.
        x64 = x.detach().to(torch.float64)
        mean = x64.mean(dim=0)
        std = x64.std(dim=0, unbiased=False) if x.shape[0] > 1 else torch.ones_like(mean)
        self.loc.copy_(-mean)
        self.log_scale.copy_(-torch.log(std.clamp_min(1e-6)))
        self.initialized.fill_(True)
        self._is_initialized = True

    def normalize(self, x: Tensor, reverse: bool = False) -> Tensor:
        """The map without its log-det (which is ``±log_scale.sum()`` for every row)."""
        if not self._is_initialized and self.training:
            if reverse:
                raise RuntimeError(
                    "ActNorm must be initialised by a forward pass on data before it is "
                    "inverted; call forward(z, cond) on a training batch first, or load "
                    "trained weights."
                )
            self._initialize(x)
        if reverse:
            return x * torch.exp(-self.log_scale) - self.loc
        scale = torch.exp(self.log_scale)
        return torch.addcmul(self.loc * scale, x, scale)  # (x + loc) * scale in one pass over x

    def transform(self, x: Tensor, c: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        return self.normalize(x, reverse), self.log_scale


class ConditionalAffineCoupling(InvertibleLayer):
    """Affine coupling of both halves, each conditioned on an embedding ``c``.

    With ``x = [a, b]``: first ``b <- b * exp(s1(a, c)) + t1(a, c)``, then
    ``a <- a * exp(s2(b, c)) + t2(b, c)``. By default each of ``(s1, t1)`` and
    ``(s2, t2)`` comes from one fused network (one matmul chain for scale and shift);
    with ``split_nets`` scale and shift get a network each, as in the paper's code, which
    doubles the coupling's parameters and cost. Scales are soft-clamped,
    ``s = clamp * tanh(s_raw / clamp)``, so ``|s| < clamp`` always and training cannot
    overflow ``exp`` (``clamp=1`` is the paper's plain ``tanh``).

    Args:
        dim: size of ``x``.
        cond_dim: size of the condition embedding ``c``.
        subnet: ``subnet(in_dim, out_dim) -> nn.Module``; builds the scale/shift nets.
        clamp: bound on the log-scale of every dimension.
        split_nets: separate scale and shift networks instead of one fused network.
    """

    def __init__(
        self,
        dim: int,
        cond_dim: int,
        subnet: Callable[[int, int], nn.Module],
        clamp: float = 2.0,
        split_nets: bool = False,
    ) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"coupling needs dim >= 2 to split into halves, got {dim}")
        if clamp <= 0:
            raise ValueError(f"clamp must be positive, got {clamp}")
        self.dim_a = dim // 2
        self.dim_b = dim - self.dim_a
        self.clamp = clamp
        self.split_nets = split_nets
        if split_nets:
            self.scale_b = subnet(self.dim_a + cond_dim, self.dim_b)  # updates b from a
            self.shift_b = subnet(self.dim_a + cond_dim, self.dim_b)
            self.scale_a = subnet(self.dim_b + cond_dim, self.dim_a)  # updates a from b
            self.shift_a = subnet(self.dim_b + cond_dim, self.dim_a)
        else:
            self.net_b = subnet(self.dim_a + cond_dim, 2 * self.dim_b)  # updates b from a
            self.net_a = subnet(self.dim_b + cond_dim, 2 * self.dim_a)  # updates a from b

    def _scale_shift(self, half: str, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        xc = torch.cat([x, c], dim=1)
        if self.split_nets:
            s, t = getattr(self, "scale_" + half)(xc), getattr(self, "shift_" + half)(xc)
        else:
            s, t = getattr(self, "net_" + half)(xc).chunk(2, dim=1)
        s = self.clamp * torch.tanh(s / self.clamp)
        return s, t

    def couple(self, x: Tensor, c: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
        """The coupling without the final sum: ``(y, s)`` with ``s`` the ``(B, dim)``
        log-scales of the forward direction, so ``log_det = ±s.sum(1)``.

        :class:`~net2net.flow.cinn.ConditionalINN` collects the ``s`` of all blocks and
        sums them once, instead of two reductions and an add per block.
        """
        a, b = x.split([self.dim_a, self.dim_b], dim=1)
        if not reverse:
            s1, t1 = self._scale_shift("b", a, c)
            b = torch.addcmul(t1, b, torch.exp(s1))
            s2, t2 = self._scale_shift("a", b, c)
            a = torch.addcmul(t2, a, torch.exp(s2))
        else:
            s2, t2 = self._scale_shift("a", b, c)
            a = (a - t2) * torch.exp(-s2)
            s1, t1 = self._scale_shift("b", a, c)
            b = (b - t1) * torch.exp(-s1)
        return torch.cat([a, b], dim=1), torch.cat([s2, s1], dim=1)

    def transform(self, x: Tensor, c: Tensor | None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        if c is None:
            raise ValueError("ConditionalAffineCoupling needs its condition embedding c, got None")
        return self.couple(x, c, reverse)


class Permutation(InvertibleLayer):
    """A fixed, randomly drawn permutation of the dimensions (volume preserving).

    The indices are buffers, so they are saved with the weights; they are drawn from a
    local ``torch.Generator`` seeded by ``seed``: same seed, same permutation anywhere.
    """

    def __init__(self, dim: int, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(dim, generator=g)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def permute(self, x: Tensor, reverse: bool = False) -> Tensor:
        # index_select: its backward is one index_add, cheaper than advanced indexing's.
        return x.index_select(1, self.inv_perm if reverse else self.perm)

    def transform(self, x: Tensor, c: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, None]:
        return self.permute(x, reverse), None


class InvertibleLinear(InvertibleLayer):
    """A learned invertible linear map of the dimensions, in LU form (Glow's "invertible
    1×1 convolution" for vectors): ``W = P L (U + diag(sign · exp(log_s)))`` with ``P`` a
    fixed permutation, ``L`` unit lower triangular and ``U`` strictly upper triangular.

    ``y = x Wᵀ``, log-scale ``log_s`` (shared by every row), so the log-det is exact and
    costs nothing; the inverse is a permutation and two triangular solves. ``L`` and ``U``
    share one square parameter (below and above its diagonal), and ``P`` is kept as indices,
    so a layer stores little more than one ``dim × dim`` matrix. It starts as a random
    rotation drawn from a local ``torch.Generator`` seeded by ``seed`` (like
    :class:`Permutation`, which it replaces where ``FlowConfig.mixing`` is ``"lu"``), so a
    fresh layer mixes every dimension into both halves of the next coupling and then learns
    which mixing helps.

    Example:
        >>> mix = InvertibleLinear(4, seed=0)
        >>> x = torch.randn(3, 4)
        >>> y, log_det = mix(x)
        >>> bool(torch.allclose(mix.inverse(y)[0], x, atol=1e-5)), log_det.shape
        (True, torch.Size([3]))
    """

    def __init__(self, dim: int, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        diag = torch.diagonal(upper)
        perm = p.argmax(dim=1)  # P[i, perm[i]] = 1, so W = (L U)[perm] and y = (x (L U)ᵀ)[:, perm]
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))
        self.register_buffer("sign", torch.sign(diag).to(torch.float32))
        self.register_buffer("lower_mask", torch.tril(torch.ones(dim, dim), -1), persistent=False)
        self.lu = nn.Parameter((torch.tril(lower, -1) + torch.triu(upper, 1)).to(torch.float32))
        self.log_s = nn.Parameter(torch.log(diag.abs()).to(torch.float32))

    def _factors(self) -> tuple[Tensor, Tensor]:
        eye = torch.eye(self.lu.shape[0], device=self.lu.device, dtype=self.lu.dtype)
        lower = self.lu * self.lower_mask + eye
        upper = self.lu * self.lower_mask.T + torch.diag(self.sign * torch.exp(self.log_s))
        return lower, upper

    def weight(self) -> Tensor:
        """``W``, the matrix of the density direction (``y = x Wᵀ``)."""
        lower, upper = self._factors()
        return (lower @ upper).index_select(0, self.perm)

    def transform(self, x: Tensor, c: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        lower, upper = self._factors()
        if not reverse:
            return (x @ (lower @ upper).to(x.dtype).T).index_select(1, self.perm), self.log_s
        # x = W⁻¹ y, i.e. rows: xᵀ = U⁻¹ L⁻¹ Pᵀ yᵀ, and Pᵀ yᵀ is y's columns in inv_perm order
        t = x.index_select(1, self.inv_perm).to(lower.dtype).T
        t = torch.linalg.solve_triangular(lower, t, upper=False, unitriangular=True)
        t = torch.linalg.solve_triangular(upper, t, upper=True)
        return t.T.to(x.dtype), self.log_s


class ConditionalAffine(InvertibleLayer):
    """A conditional base: ``z = μ(c) + σ(c)·u``, elementwise, so the layers after it
    model only the residual ``u`` around a learned conditional mean.

    The density direction is ``u = (z - μ(c)) / σ(c)``, log-scale ``-log σ(c)`` per
    row. ``μ`` and ``log σ`` come from one small network of the condition embedding
    whose last layer starts at zero (a fresh layer is the identity); ``log σ`` is
    softly bounded by ``clamp`` as in the couplings.

    Args:
        dim: size of ``z``.
        cond_dim: size of the condition embedding ``c``.
        hidden: width of the network's hidden layer.
        clamp: bound on ``|log σ|``.
        slope: negative slope of its LeakyReLU.
    """

    def __init__(self, dim: int, cond_dim: int, hidden: int, clamp: float = 2.0, slope: float = 0.1) -> None:
        super().__init__()
        if clamp <= 0:
            raise ValueError(f"clamp must be positive, got {clamp}")
        self.clamp = clamp
        self.net = mlp(cond_dim, 2 * dim, hidden, 1, slope=slope, zero_init=True)

    def transform(self, x: Tensor, c: Tensor | None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        if c is None:
            raise ValueError("ConditionalAffine needs its condition embedding c, got None")
        mu, a = self.net(c).chunk(2, dim=1)
        log_sigma = self.clamp * torch.tanh(a / self.clamp)
        if reverse:
            return torch.addcmul(mu, x, torch.exp(log_sigma)), -log_sigma
        return (x - mu) * torch.exp(-log_sigma), -log_sigma


class Standardize(InvertibleLayer):
    """``(z - mean) / scale`` with fixed per-dimension statistics kept as buffers.

    The buffers start as the identity (0 and 1); :meth:`fit` sets them from the
    training targets. Being buffers, they are saved with the weights, so sampling,
    inverting and editing all see the same standardisation.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    @torch.no_grad()
    def fit(self, z: Tensor, eps: float = 1e-6) -> None:
        """Sets the statistics from the rows of ``z`` (float64 accumulation)."""
        z64 = z.detach().to(torch.float64)
        self.mean.copy_(z64.mean(0).to(self.mean.dtype))
        self.scale.copy_(z64.std(0).clamp_min(eps).to(self.scale.dtype))

    def transform(self, x: Tensor, c: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
        s = -torch.log(self.scale)
        if reverse:
            return torch.addcmul(self.mean, x, self.scale), s
        return (x - self.mean) / self.scale, s
