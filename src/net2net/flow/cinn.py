"""The conditional invertible network τ of network-to-network translation.

``v = τ⁻¹(z_Θ | z_Φ)`` maps a target representation to a standard normal residual given
the query's representation; ``z_Θ = τ(v | z_Φ)`` samples. In this module ``forward`` is
the density direction (``z -> v``) and ``inverse`` the sampling direction (``v -> z``),
as in the normalising-flow literature.

References:
    Rombach, Esser, Ommer, "Network-to-Network Translation with Conditional Invertible
    Neural Networks", NeurIPS 2020 (arXiv:2005.13580), Sec. 3 and Fig. 3.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from net2net.flow.layers import (
    ActNorm,
    ConditionalAffine,
    ConditionalAffineCoupling,
    InvertibleLayer,
    InvertibleLinear,
    Permutation,
    Standardize,
    acc_dtype,
    mlp,
)

__all__ = ["FlowConfig", "ConditionalINN", "check_layers", "check_pair", "embedder"]

LOG_2PI = math.log(2.0 * math.pi)


class _FeatureActNorm(ActNorm):
    """ActNorm as a plain feature normalisation (no log-det): the embedder's hidden
    units leave the first training batch with zero mean and unit variance, and the
    affine map is an ordinary parameter after that. Unlike batch norm, the output of a
    row never depends on the other rows of its batch, in training or at inference."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        return self.normalize(x)


EMBED_NORMS = {"none": None, "layer": nn.LayerNorm, "actnorm": _FeatureActNorm}
#: What mixes the dimensions between couplings (FlowConfig.mixing).
MIXINGS = {"permute": Permutation, "lu": InvertibleLinear}


def embedder(cfg: FlowConfig) -> nn.Sequential:
    """The condition embedder: ``embed_depth`` hidden layers (Linear, norm, LeakyReLU)."""
    layers: list[nn.Module] = []
    width = cfg.cond_dim
    for _ in range(cfg.embed_depth):
        layers.append(nn.Linear(width, cfg.embed_hidden))
        norm = EMBED_NORMS[cfg.embed_norm]
        if norm is not None:
            layers.append(norm(cfg.embed_hidden))
        layers.append(nn.LeakyReLU(cfg.slope))
        width = cfg.embed_hidden
    layers.append(nn.Linear(width, cfg.embed_dim))
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class FlowConfig:
    """Everything that determines the architecture of a :class:`ConditionalINN`.

    Attributes:
        dim: size of the target representation ``z_Θ``.
        cond_dim: size of the query representation ``z_Φ``.
        n_blocks: number of (ActNorm, coupling, mixing) blocks.
        hidden: width of the coupling networks.
        depth: hidden layers per coupling network.
        embed_dim: size of the condition embedding fed to every coupling.
        embed_hidden: width of the condition embedder.
        clamp: soft bound on every log-scale.
        seed: seed of the fixed permutations and of the LU mixings' initial rotations.
        embed_depth: hidden layers of the condition embedder.
        embed_norm: normalisation after each hidden layer of the embedder: "none",
            "layer" (LayerNorm) or "actnorm" (a per-unit affine map initialised from
            the first training batch, then an ordinary parameter).
        split_nets: separate scale and shift networks in every coupling.
        zero_init: the couplings' last layers start at zero (a fresh flow is the
            identity), instead of PyTorch's default initialisation.
        slope: negative slope of the LeakyReLUs of the couplings and the embedder.
        cond_base: the first transform (density direction) is a conditional affine
            map ``z = μ(c) + σ(c)·u`` (:class:`~net2net.flow.layers.ConditionalAffine`),
            so the couplings model only the residual around a learned mean.
        standardize: ``z`` is first standardised with per-dimension statistics of the
            training targets, kept as buffers (set by the trainer through
            :meth:`ConditionalINN.fit_standardization`).
        cond_noise: standard deviation of Gaussian noise added to the condition in
            training mode only (a regulariser against memorising the training
            captions); evaluation, sampling and inversion never see it.
        cond_regress: weight of an auxiliary loss in training: a linear head predicts ``z``
            from the condition embedding (squared error, each dimension scaled by the
            batch's variance), so the embedding must carry what a regression from the
            query finds, e.g. a shape's position, for the couplings to use. The head is
            not part of the density: ``log_prob``, sampling and inversion never use it.
        mixing: what follows every coupling: ``"permute"``, a fixed random permutation
            (:class:`~net2net.flow.layers.Permutation`), or ``"lu"``, a learned invertible
            linear map in LU form (:class:`~net2net.flow.layers.InvertibleLinear`).

    The defaults are the τ every zoo translator ships (6 blocks, one hidden layer of 384,
    a three-layer LayerNorm condition embedder, no zero initialisation, fixed permutations;
    ``shapes-text2img``, ``fmnist-text2img`` and ``shapes-style`` ship ``mixing="lu"``), trained at
    :attr:`LR`; ``FlowConfig(dim, cond_dim)`` and a recipe's bare ``{"kind": "cinn"}``
    build it. A config *loaded from a file* that lacks a field gets :attr:`LEGACY` (see
    :func:`net2net.models.config_from_dict`): what the field's absence meant when the
    file was written, the first τ's value, so every saved τ rebuilds bit for bit.
    (``cond_base``, ``standardize`` and ``cond_noise`` stay off: the one retrain with them
    on, together with caption dropout, followed the words worse: issue 23.)
    """

    dim: int
    cond_dim: int
    n_blocks: int = 6
    hidden: int = 384
    depth: int = 1
    embed_dim: int = 64
    embed_hidden: int = 128
    clamp: float = 2.0
    seed: int = 0
    embed_depth: int = 3
    embed_norm: str = "layer"
    split_nets: bool = False
    zero_init: bool = False
    slope: float = 0.1
    cond_base: bool = False
    standardize: bool = False
    cond_noise: float = 0.0
    cond_regress: float = 0.0
    mixing: str = "permute"

    #: What a saved config without a field meant: the τ of before that field existed.
    LEGACY: ClassVar[dict[str, Any]] = {"n_blocks": 8, "hidden": 256, "depth": 2, "embed_dim": 128,
                                        "embed_hidden": 256, "embed_depth": 1, "embed_norm": "none",
                                        "zero_init": True, "cond_base": False, "standardize": False,
                                        "cond_noise": 0.0, "cond_regress": 0.0, "mixing": "permute"}
    #: The peak learning rate the shipped τ trains at: a recipe that gives no
    #: ``train.lr`` for a ``cinn`` model gets it.
    LR: ClassVar[float] = 2e-3

    def __post_init__(self) -> None:
        for name in ("dim", "cond_dim", "n_blocks", "hidden", "depth", "embed_dim", "embed_hidden", "embed_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"FlowConfig.{name} must be a positive integer, got {value!r}")
        if self.dim < 2:
            raise ValueError(f"FlowConfig.dim must be >= 2 (couplings split it in halves), got {self.dim}")
        if not self.clamp > 0:
            raise ValueError(f"FlowConfig.clamp must be positive, got {self.clamp!r}")
        if self.embed_norm not in EMBED_NORMS:
            raise ValueError(f"FlowConfig.embed_norm must be one of {sorted(EMBED_NORMS)}, got {self.embed_norm!r}")
        for name in ("cond_noise", "cond_regress"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < math.inf:
                raise ValueError(f"FlowConfig.{name} must be a number >= 0, got {value!r}")
        for name in ("split_nets", "zero_init", "cond_base", "standardize"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"FlowConfig.{name} must be true or false, got {getattr(self, name)!r}")
        if self.mixing not in MIXINGS:
            raise ValueError(f"FlowConfig.mixing must be one of {', '.join(MIXINGS)}, got {self.mixing!r}")
        if not 0 <= self.slope < 1:
            raise ValueError(f"FlowConfig.slope must be in [0, 1), got {self.slope!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def check_pair(z: Tensor, cond: Tensor, dim: int, cond_dim: int, *, finite: bool = True) -> None:
    """Raises ``ValueError`` unless ``z`` is ``(B, dim)`` and ``cond`` is ``(B, cond_dim)``.

    ``finite=True`` also rejects NaN and inf; it reads the tensors on the host, so hot
    loops over data that was checked once pass ``finite=False``.
    """
    for name, t, d in (("z", z, dim), ("cond", cond, cond_dim)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 2 or t.shape[1] != d:
            raise ValueError(f"{name} must have shape (B, {d}), got {tuple(t.shape)}")
        if not t.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if z.shape[0] != cond.shape[0]:
        raise ValueError(
            f"z and cond need the same batch size, got {z.shape[0]} and {cond.shape[0]}"
        )
    if z.shape[0] == 0:
        raise ValueError("empty batch: z and cond have no rows")
    if finite:
        for name, t in (("z", z), ("cond", cond)):
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN or inf values")


def check_layers(layers: list[nn.Module]) -> list[nn.Module]:
    """Refuses a layer that does not answer the one call of the block rule."""
    for i, layer in enumerate(layers):
        if not isinstance(layer, InvertibleLayer) or type(layer).transform is InvertibleLayer.transform:
            raise ValueError(
                f"layer {i} ({type(layer).__name__}) must subclass net2net.flow.layers.InvertibleLayer "
                "and implement transform(x, c, reverse) -> (y, log_scale or None)"
            )
    return layers


class ConditionalINN(nn.Module):
    """A conditional normalising flow ``p(z | cond)`` built as in the paper's Fig. 3.

    Each block is ActNorm → affine coupling of both halves (conditioned on an
    embedding of ``cond``) → mixing (``FlowConfig.mixing``: a learned LU map, or a fixed permutation). The embedding is computed once per call
    by a small MLP and shared by all blocks.

    Args:
        dim: size of ``z``.
        cond_dim: size of ``cond``.
        **kwargs: the other fields of :class:`FlowConfig`.

    Example:
        >>> flow = ConditionalINN(4, 3, n_blocks=2, hidden=16)
        >>> z, c = torch.randn(8, 4), torch.randn(8, 3)
        >>> v, log_det = flow(z, c)
        >>> flow.log_prob(z, c).shape
        torch.Size([8])
        >>> flow.sample(c, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([8, 4])
    """

    def __init__(self, dim: int, cond_dim: int, **kwargs) -> None:
        super().__init__()
        self.config = FlowConfig(dim=dim, cond_dim=cond_dim, **kwargs)
        cfg = self.config
        self.dim, self.cond_dim = cfg.dim, cfg.cond_dim
        # Validate NaN/inf on every public call unless a caller (the trainer, after
        # checking its data once) turns it off to avoid a host sync per step.
        self.check_finite = True
        self.embedder = embedder(cfg)

        def subnet(i: int, o: int) -> nn.Module:
            return mlp(i, o, cfg.hidden, cfg.depth, slope=cfg.slope, zero_init=cfg.zero_init)

        layers: list[nn.Module] = []
        if cfg.standardize:
            layers.append(Standardize(cfg.dim))
        if cfg.cond_base:
            layers.append(ConditionalAffine(cfg.dim, cfg.embed_dim, cfg.hidden, cfg.clamp, cfg.slope))
        for k in range(cfg.n_blocks):
            layers.append(ActNorm(cfg.dim))
            layers.append(ConditionalAffineCoupling(cfg.dim, cfg.embed_dim, subnet, cfg.clamp, cfg.split_nets))
            layers.append(MIXINGS[cfg.mixing](cfg.dim, seed=cfg.seed * 1_000_003 + k))
        self.layers = nn.ModuleList(check_layers(layers))
        # the auxiliary regression head of training (FlowConfig.cond_regress); no part of the density
        self.regress = nn.Linear(cfg.embed_dim, cfg.dim) if cfg.cond_regress > 0 else None

    @torch.no_grad()
    def fit_standardization(self, z: Tensor) -> None:
        """Sets the standardisation of ``z`` (``FlowConfig.standardize``) from training targets; a no-op without it."""
        for layer in self.layers:
            if isinstance(layer, Standardize):
                layer.fit(z)

    @classmethod
    def from_config(cls, config: FlowConfig) -> ConditionalINN:
        fields = config.to_dict()
        return cls(fields.pop("dim"), fields.pop("cond_dim"), **fields)

    def _embed(self, x: Tensor, cond: Tensor) -> Tensor:
        check_pair(x, cond, self.dim, self.cond_dim, finite=self.check_finite)
        if self.training and self.config.cond_noise > 0:
            cond = cond + self.config.cond_noise * torch.randn_like(cond)
        return self.embedder(cond)

    def _run(self, x: Tensor, cond: Tensor, reverse: bool, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if c is None:
            c = self._embed(x, cond)
        # The log-det is summed once at the end: every layer hands back its log-scale in
        # the forward sign, per row (B, k) or shared by all rows (k,), or None.
        rows: list[Tensor] = []
        shared: list[Tensor] = []
        for layer in (reversed(self.layers) if reverse else self.layers):
            x, s = layer.transform(x, c, reverse)
            if s is not None:
                (rows if s.dim() == 2 else shared).append(s)
        acc = acc_dtype(x)
        if rows:
            log_det = torch.cat(rows, dim=1).to(acc).sum(dim=1)
        else:
            log_det = x.new_zeros(x.shape[0], dtype=acc)
        if shared:
            log_det = log_det + torch.cat(shared).to(acc).sum()
        return x, -log_det if reverse else log_det

    def forward(self, z: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """``z -> v``; returns ``(v, log|det ∂v/∂z|)`` with the log-det of shape ``(B,)``."""
        return self._run(z, cond, reverse=False)

    def inverse(self, v: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """``v -> z``; returns ``(z, log|det ∂z/∂v|)``, the negative of the forward log-det."""
        return self._run(v, cond, reverse=True)

    def log_prob(self, z: Tensor, cond: Tensor, c: Tensor | None = None) -> Tensor:
        """``log p(z | cond)`` in nats, shape ``(B,)``, Gaussian constant included
        (``c``: the condition's embedding, where the caller has it already)."""
        v, log_det = self._run(z, cond, reverse=False, c=c)
        v = v.to(log_det.dtype)
        return -0.5 * (v * v).sum(dim=1) - 0.5 * self.dim * LOG_2PI + log_det

    def training_loss(self, z: Tensor, cond: Tensor) -> Tensor:
        """What the trainer minimises: the NLL in nats/dim, plus ``cond_regress`` times the
        auxiliary regression loss where the config asks for it."""
        c = self._embed(z, cond)
        nll = -self.log_prob(z, cond, c).mean() / self.dim
        if self.regress is None:
            return nll
        scale = z.detach().var(dim=0, unbiased=False) + 1e-6
        return nll + self.config.cond_regress * ((self.regress(c) - z) ** 2 / scale).mean()

    @torch.no_grad()
    def sample(
        self,
        cond: Tensor,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draws one ``z ~ p(z | cond)`` per row of ``cond``.

        The residual ``v ~ N(0, temperature² I)`` is drawn on ``generator``'s device
        (the CPU when none is given), so a seeded generator gives the same samples on
        any machine.
        """
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature!r}")
        if cond.dim() != 2:
            raise ValueError(f"cond must have shape (B, {self.cond_dim}), got {tuple(cond.shape)}")
        device = generator.device if generator is not None else torch.device("cpu")
        v = torch.randn(cond.shape[0], self.dim, generator=generator, device=device)
        v = (v * temperature).to(device=cond.device, dtype=cond.dtype)
        return self.inverse(v, cond)[0]

    def residual(self, z: Tensor, cond: Tensor) -> Tensor:
        """``v = τ⁻¹(z | cond)``: what ``z`` holds that ``cond`` does not explain."""
        return self(z, cond)[0]
