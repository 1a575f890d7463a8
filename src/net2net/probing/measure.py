"""The probe's figures for one trained τ: information, diversity, labels kept.

- **Information** ``I(z_Θ; layer) ≈ H(z_Θ) − H(z_Θ | layer)``: a held-out NLL is a
  cross-entropy, an estimate of an entropy (an upper bound on it, tight when τ fits), so
  the unconditional τ's held-out NLL minus the conditional one's, in nats per dimension
  times the dimension, is an estimate of the mutual information in nats. It is an
  estimate, not a bound: both terms carry their own fitting error.
- **Diversity**: mean pairwise distance between the samples of one query, divided by the
  mean pairwise distance between real held-out codes (an unconditional τ scores ~1, a
  deterministic map 0), in the target's code space: no other network is involved.
- **Labels kept**: how often a sample has its query's label, read by a judge. The default
  judge is a linear probe per label column fitted on the target's codes of the training
  split (its accuracy on real held-out codes is the ceiling, the majority class the floor).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["LN2", "LinearProbe", "diversity", "information", "label_columns", "labels_kept"]

LN2 = math.log(2.0)


def information(nll_uncond: float, nll_cond: float, dim: int) -> dict[str, float]:
    """``H(z_Θ) − H(z_Θ | layer)`` from two held-out NLLs in nats/dim: nats, bits, and per dimension."""
    per_dim = nll_uncond - nll_cond
    return {"nats": per_dim * dim, "bits": per_dim * dim / LN2, "nats_per_dim": per_dim}


def _mean_pairwise(x: Tensor) -> Tensor:
    """Mean distance over distinct pairs within each group: ``x`` is ``(G, S, D)`` -> ``(G,)``."""
    d = torch.cdist(x.double(), x.double())
    s = x.shape[1]
    return d.sum(dim=(1, 2)) / (s * (s - 1))


def diversity(samples: Tensor, reference: Tensor, *, seed: int = 0) -> float:
    """Mean within-query pairwise distance of ``samples`` ``(Q, S, D)`` over that of ``reference`` codes ``(N, D)``."""
    if samples.dim() != 3 or samples.shape[1] < 2:
        raise ValueError(f"samples must be (queries, >= 2 samples, dim), got {tuple(samples.shape)}")
    if len(reference) < 2:
        raise ValueError(f"reference needs at least 2 codes, got {len(reference)}")
    g = torch.Generator().manual_seed(seed)
    # groups of the samples' size where the reference has enough rows (the expected pairwise
    # distance does not depend on the group's size); whole groups only
    k = min(samples.shape[1], len(reference))
    n = min(len(reference), 64 * k) // k * k
    ref = reference[torch.randperm(len(reference), generator=g)[:n]].reshape(-1, k, reference.shape[1])
    base = float(_mean_pairwise(ref.float()).mean())
    return float(_mean_pairwise(samples.float()).mean()) / max(base, 1e-12)


def label_columns(columns: dict[str, Sequence[Any]], labels: Any = None, class_names: Sequence[str] | None = None,
                  *, max_values: int = 64) -> dict[str, list[str]]:
    """The categorical columns of a split (name -> one value per row, as strings).

    A column counts when it has 2 to ``max_values`` distinct values, each seen about five
    times or more on average: captions and file names are left out. ``labels`` (class
    indices) becomes the column ``label``, named by ``class_names`` when given.
    """
    out: dict[str, list[str]] = {}
    if labels is not None:
        names = list(class_names) if class_names else None
        out["label"] = [names[int(v)] if names else str(int(v)) for v in labels]
    for name, values in columns.items():
        if name in out:
            continue
        vals = ["" if v is None else str(v) for v in values]
        k = len(set(vals))
        if 2 <= k <= max_values and k * 5 <= len(vals):
            out[name] = vals
    return out


class LinearProbe(nn.Module):
    """Multinomial logistic regression on standardised codes: the default judge of a label column.

    Args:
        codes: ``(N, D)`` training codes.
        values: one label per row.
        steps: full-batch L-BFGS iterations.
        seed: nothing random is drawn but the row subsample (at most 20,000 rows).
    """

    def __init__(self, codes: Tensor, values: Sequence[str], *, steps: int = 100, seed: int = 0) -> None:
        super().__init__()
        self.classes = sorted(set(values))
        index = {c: i for i, c in enumerate(self.classes)}
        y = torch.tensor([index[v] for v in values])
        x = codes.float()
        if len(x) > 20_000:
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:20_000]
            x, y = x[keep], y[keep]
        self.register_buffer("mean", x.mean(0))
        self.register_buffer("std", x.std(0).clamp_min(1e-6))
        self.linear = nn.Linear(x.shape[1], len(self.classes))
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        xs = (x - self.mean) / self.std
        opt = torch.optim.LBFGS(self.linear.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(self.linear(xs), y) + 1e-4 * self.linear.weight.square().sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
        self.requires_grad_(False)

    def predict(self, codes: Tensor) -> list[str]:
        with torch.no_grad():
            idx = self.linear((codes.float() - self.mean) / self.std).argmax(1)
        return [self.classes[i] for i in idx.tolist()]


Judge = Callable[[Tensor], list[str]]


def labels_kept(samples: Tensor, truth: Sequence[str], judge: Judge) -> float:
    """How often ``judge`` gives a sample its query's value: ``samples`` ``(Q, S, D)``, ``truth`` ``Q`` values."""
    q, s, d = samples.shape
    pred = judge(samples.reshape(q * s, d))
    want = [t for t in truth for _ in range(s)]
    return float(np.mean([p == t for p, t in zip(pred, want, strict=True)]))
