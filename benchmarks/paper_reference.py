"""The paper's conditional flow, re-implemented from reading its public code, as the
reference of the real-pair benchmark (benchmarks/real_pairs.py).

What the paper's code (CompVis/net2net, ``ConditionalFlatCouplingFlow`` with
``activation="none"``) does, and this module does the same way:

- The condition goes through an embedder once per call: ``Linear -> BatchNorm ->
  LeakyReLU(0.01)``, then ``cond_depth`` times ``Linear -> BatchNorm -> LeakyReLU``, then
  a ``Linear`` to the embedding. So its ``conditioning_depth=2`` is three hidden layers.
- Each of ``n_flows`` blocks: ActNorm (parametrised by the scale itself, log-det
  ``sum log|scale|``, initialised on the first training batch with the unbiased std and
  ``scale = 1 / (std + 1e-6)``) -> an identity "activation" -> a double affine coupling
  -> a fixed random shuffle.
- The coupling has four networks: a scale net ending in ``tanh`` and a shift net for
  each half. Step 0 updates the second half from the first, step 1 swaps the halves and
  does the same. Every net is ``Linear -> LeakyReLU(0.01)``, then ``hidden_depth`` times
  ``Linear -> LeakyReLU``, then ``Linear``: its ``hidden_depth=1`` is two hidden layers
  (our ``depth=2``). All layers keep PyTorch's default initialisation.

The loss adds the Gaussian constant, which the paper's code leaves out, so NLLs are true
nats per dimension and compare with τ's.

References:
    Rombach, Esser, Ommer, "Network-to-Network Translation with Conditional Invertible
    Neural Networks", NeurIPS 2020 (arXiv:2005.13580).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["PaperCINN"]

LOG_2PI = math.log(2.0 * math.pi)


NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


def _fc(in_dim: int, out_dim: int, hidden: int, depth: int, *, norm: str | None = None,
        tanh: bool = False, zero_last: bool = False) -> nn.Sequential:
    """The paper's fully connected net: ``depth + 1`` hidden layers, LeakyReLU(0.01)."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth + 1):
        layers.append(nn.Linear(width, hidden))
        if norm is not None:
            layers.append(NORMS[norm](hidden))
        layers.append(nn.LeakyReLU())
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    if zero_last:
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
    if tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class _ActNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.scale = nn.Parameter(torch.ones(dim))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            if reverse:
                raise RuntimeError("ActNorm must be initialised by a forward pass on data first")
            with torch.no_grad():
                self.loc.copy_(-x.mean(0))
                self.scale.copy_(1.0 / (x.std(0) + 1e-6))
                self.initialized.fill_(True)
        log_det = torch.log(self.scale.abs()).sum()
        if reverse:
            return x / self.scale - self.loc, -log_det
        return self.scale * (x + self.loc), log_det


class _DoubleCoupling(nn.Module):
    def __init__(self, dim: int, embed_dim: int, hidden: int, depth: int, zero_last: bool = False,
                 fused: bool = False) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"the paper's conditional coupling needs an even dim, got {dim}")
        half = dim // 2
        self.fused = fused
        if fused:  # ablation: one net for scale and shift, as τ does
            self.st = nn.ModuleList([_fc(half + embed_dim, 2 * half, hidden, depth, zero_last=zero_last)
                                     for _ in range(2)])
        else:
            self.s = nn.ModuleList([_fc(half + embed_dim, half, hidden, depth, tanh=True, zero_last=zero_last)
                                    for _ in range(2)])
            self.t = nn.ModuleList([_fc(half + embed_dim, half, hidden, depth, zero_last=zero_last)
                                    for _ in range(2)])

    def forward(self, x: Tensor, c: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
        log_det = x.new_zeros(x.shape[0])
        steps = (1, 0) if reverse else (0, 1)
        for i in steps:
            if i == 1 and not reverse:
                x = torch.cat(x.chunk(2, dim=1)[::-1], dim=1)
            keep, change = x.chunk(2, dim=1)
            h = torch.cat([keep, c], dim=1)
            if self.fused:
                s, t = self.st[i](h).chunk(2, dim=1)
                s = torch.tanh(s)
            else:
                s, t = self.s[i](h), self.t[i](h)
            change = (change - t) * torch.exp(-s) if reverse else change * torch.exp(s) + t
            log_det = log_det + s.sum(dim=1)
            x = torch.cat([keep, change], dim=1)
            if i == 1 and reverse:
                x = torch.cat(x.chunk(2, dim=1)[::-1], dim=1)
        return x, -log_det if reverse else log_det


class PaperCINN(nn.Module):
    """The paper's ``ConditionalFlatCouplingFlow`` on flat vectors, with its log-density.

    Args:
        dim: size of ``z``.
        cond_dim: size of ``cond``.
        n_flows: blocks.
        hidden: width of the coupling nets.
        hidden_depth: the paper's count (hidden layers minus one) of the coupling nets.
        embed_dim: size of the condition embedding.
        cond_hidden: width of the embedder.
        cond_depth: the paper's count (hidden layers minus one) of the embedder.
        cond_bn: batch norm in the embedder (the paper's ``conditioner_use_bn``).
        seed: seeds the shuffles (the paper's code draws them from the global RNG).
        cond_norm: ablation: "batch" (the paper), "layer" or None; overrides ``cond_bn``.
        zero_last: ablation: the couplings' last layers start at zero (as τ's do).
        fused: ablation: one net for scale and shift per half (as τ's).
    """

    def __init__(self, dim: int, cond_dim: int, *, n_flows: int = 6, hidden: int = 128, hidden_depth: int = 1,
                 embed_dim: int = 64, cond_hidden: int = 128, cond_depth: int = 2, cond_bn: bool = True,
                 seed: int = 0, cond_norm: str | None = "default", zero_last: bool = False,
                 fused: bool = False) -> None:
        super().__init__()
        self.dim, self.cond_dim = dim, cond_dim
        norm = ("batch" if cond_bn else None) if cond_norm == "default" else cond_norm
        self.embedder = _fc(cond_dim, embed_dim, cond_hidden, cond_depth, norm=norm)
        self.norms = nn.ModuleList([_ActNorm(dim) for _ in range(n_flows)])
        self.couplings = nn.ModuleList([_DoubleCoupling(dim, embed_dim, hidden, hidden_depth, zero_last, fused)
                                        for _ in range(n_flows)])
        g = torch.Generator().manual_seed(seed)
        perms = torch.stack([torch.randperm(dim, generator=g) for _ in range(n_flows)])
        self.register_buffer("perms", perms)
        self.register_buffer("inv_perms", torch.argsort(perms, dim=1))

    def forward(self, z: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        c = self.embedder(cond)
        log_det = z.new_zeros(z.shape[0])
        for k in range(len(self.norms)):
            z, ld = self.norms[k](z)
            log_det = log_det + ld
            z, ld = self.couplings[k](z, c)
            log_det = log_det + ld
            z = z[:, self.perms[k]]
        return z, log_det

    def inverse(self, v: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        c = self.embedder(cond)
        log_det = v.new_zeros(v.shape[0])
        for k in reversed(range(len(self.norms))):
            v = v[:, self.inv_perms[k]]
            v, ld = self.couplings[k](v, c, reverse=True)
            log_det = log_det + ld
            v, ld = self.norms[k](v, reverse=True)
            log_det = log_det + ld
        return v, log_det

    def log_prob(self, z: Tensor, cond: Tensor) -> Tensor:
        """``log p(z | cond)`` in nats, Gaussian constant included."""
        v, log_det = self(z, cond)
        return -0.5 * (v * v).sum(dim=1) - 0.5 * self.dim * LOG_2PI + log_det
