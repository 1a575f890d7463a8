"""A plain implementation of the paper's τ block, the baseline the benchmarks compare with.

Written for this project from the paper's description (Rombach et al., arXiv:2005.13580,
Sec. 3 and Fig. 3), in the straightforward style of its era, on purpose:

- ActNorm whose data-dependent initialisation is decided by reading an ``initialized``
  buffer on the host every call (``.item()``: a device sync on GPU);
- an affine coupling of both halves with SEPARATE scale and shift networks (tanh on
  the scale), each fed ``torch.cat([half, embedding])``;
- a fixed shuffle, with a log-det of zeros allocated for it;
- the same condition embedder, sizes and loss (NLL with the Gaussian constant) as
  :class:`net2net.flow.ConditionalINN`, trained with plain ``torch.optim.Adam``.

It is not used by the library; only ``benchmarks/run.py`` imports it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["PlainActNorm", "PlainCINN", "PlainCoupling", "PlainShuffle"]

LOG_2PI = math.log(2.0 * math.pi)


def plain_mlp(in_dim: int, out_dim: int, hidden: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.LeakyReLU(0.1)]
    for _ in range(depth - 1):
        layers += [nn.Linear(hidden, hidden), nn.LeakyReLU(0.1)]
    layers.append(nn.Linear(hidden, out_dim))
    nn.init.zeros_(layers[-1].weight)  # start as the identity, like ours
    nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)


class PlainActNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, dim))
        self.scale = nn.Parameter(torch.ones(1, dim))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        self.loc.copy_(-x.mean(dim=0, keepdim=True))
        self.scale.copy_(1.0 / (x.std(dim=0, keepdim=True) + 1e-6))
        self.initialized.fill_(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not self.initialized.item():  # host read, every call
            self.initialize(x)
        log_det = torch.sum(torch.log(torch.abs(self.scale))) * torch.ones(x.shape[0], device=x.device)
        return self.scale * (x + self.loc), log_det

    def reverse(self, y: Tensor) -> Tensor:
        return y / self.scale - self.loc


class PlainCoupling(nn.Module):
    """``b <- b·exp(s1(a,c)) + t1(a,c)``, then ``a <- a·exp(s2(b,c)) + t2(b,c)``."""

    def __init__(self, dim: int, cond_dim: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.da = dim // 2
        self.db = dim - self.da
        self.s = nn.ModuleList([plain_mlp(self.da + cond_dim, self.db, hidden, depth),
                                plain_mlp(self.db + cond_dim, self.da, hidden, depth)])
        self.t = nn.ModuleList([plain_mlp(self.da + cond_dim, self.db, hidden, depth),
                                plain_mlp(self.db + cond_dim, self.da, hidden, depth)])

    def forward(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x[:, : self.da], x[:, self.da :]
        h = torch.cat([a, c], dim=1)
        s1 = torch.tanh(self.s[0](h))
        b = b * torch.exp(s1) + self.t[0](h)
        h = torch.cat([b, c], dim=1)
        s2 = torch.tanh(self.s[1](h))
        a = a * torch.exp(s2) + self.t[1](h)
        return torch.cat([a, b], dim=1), torch.sum(s1, dim=1) + torch.sum(s2, dim=1)

    def reverse(self, y: Tensor, c: Tensor) -> Tensor:
        a, b = y[:, : self.da], y[:, self.da :]
        h = torch.cat([b, c], dim=1)
        a = (a - self.t[1](h)) * torch.exp(-torch.tanh(self.s[1](h)))
        h = torch.cat([a, c], dim=1)
        b = (b - self.t[0](h)) * torch.exp(-torch.tanh(self.s[0](h)))
        return torch.cat([a, b], dim=1)


class PlainShuffle(nn.Module):
    def __init__(self, dim: int, seed: int) -> None:
        super().__init__()
        perm = torch.randperm(dim, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("forward_shuffle_idx", perm)
        self.register_buffer("backward_shuffle_idx", torch.argsort(perm))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[:, self.forward_shuffle_idx], torch.zeros(x.shape[0], device=x.device)

    def reverse(self, y: Tensor) -> Tensor:
        return y[:, self.backward_shuffle_idx]


class PlainCINN(nn.Module):
    """Same constructor arguments and sizes as :class:`net2net.flow.ConditionalINN`."""

    def __init__(self, dim: int, cond_dim: int, n_blocks: int = 8, hidden: int = 256, depth: int = 2,
                 embed_dim: int = 128, embed_hidden: int = 256, seed: int = 0, **_: object) -> None:
        super().__init__()
        self.dim = dim
        self.embedder = nn.Sequential(nn.Linear(cond_dim, embed_hidden), nn.LeakyReLU(0.1),
                                      nn.Linear(embed_hidden, embed_dim))
        self.norms = nn.ModuleList([PlainActNorm(dim) for _ in range(n_blocks)])
        self.couplings = nn.ModuleList([PlainCoupling(dim, embed_dim, hidden, depth) for _ in range(n_blocks)])
        self.shuffles = nn.ModuleList([PlainShuffle(dim, seed * 1_000_003 + k) for k in range(n_blocks)])

    def forward(self, z: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        c = self.embedder(cond)
        log_det = torch.zeros(z.shape[0], device=z.device)
        for norm, coupling, shuffle in zip(self.norms, self.couplings, self.shuffles):
            z, ld = norm(z)
            log_det = log_det + ld
            z, ld = coupling(z, c)
            log_det = log_det + ld
            z, ld = shuffle(z)
            log_det = log_det + ld
        return z, log_det

    @torch.no_grad()
    def sample(self, cond: Tensor, generator: torch.Generator | None = None) -> Tensor:
        c = self.embedder(cond)
        v = torch.randn(cond.shape[0], self.dim, generator=generator, device=cond.device)
        for norm, coupling, shuffle in zip(reversed(self.norms), reversed(self.couplings), reversed(self.shuffles)):
            v = norm.reverse(coupling.reverse(shuffle.reverse(v), c))
        return v

    def log_prob(self, z: Tensor, cond: Tensor) -> Tensor:
        v, log_det = self(z, cond)
        return -0.5 * (v * v).sum(dim=1) - 0.5 * self.dim * LOG_2PI + log_det

    def nll(self, z: Tensor, cond: Tensor) -> Tensor:
        """The training loss: mean NLL in nats per dimension."""
        return -self.log_prob(z, cond).mean() / self.dim
