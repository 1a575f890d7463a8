"""Shipped translators and zoo experts are unchanged by how they are stored.

The reference values are τ's draws for fixed conditions and residuals, their
log-densities, and every zoo expert's fingerprint (a hash of its tensors and settings),
written by ``tests/zoo/data/make_reference.py`` from the shipped zoo. The first ones were
computed with the code of commit 0688975 (before the one on-disk format); the script is
rerun, and its output committed, only when the zoo is retrained on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from net2net.experts.registry import get_expert
from net2net.flow import is_invertible
from net2net.models import load_model
from net2net.translator import TRANSLATORS_DIR, available_translators

DATA = Path(__file__).parent / "data"
REFERENCE = load_file(DATA / "shipped_tau_samples.safetensors")
FINGERPRINTS = json.loads((DATA / "zoo_fingerprints.json").read_text())


def test_every_shipped_translator_has_a_reference() -> None:
    assert sorted(available_translators()) == sorted({k.rsplit(".", 1)[0] for k in REFERENCE})


@pytest.mark.parametrize("name", sorted({k.rsplit(".", 1)[0] for k in REFERENCE}))
def test_shipped_tau_draws_the_same(name: str) -> None:
    tau = load_model(TRANSLATORS_DIR / name / "tau")
    cond = torch.randn(4, tau.cond_dim, generator=torch.Generator().manual_seed(0))
    if is_invertible(tau):
        z = tau.inverse(torch.randn(4, tau.dim, generator=torch.Generator().manual_seed(1)), cond)[0]
    else:
        z = tau.sample(cond)
    # bit-identical on the machine that made the reference; a few ulps elsewhere (other CPU kernels)
    torch.testing.assert_close(z, REFERENCE[f"{name}.z"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(tau.log_prob(z, cond), REFERENCE[f"{name}.log_prob"], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", sorted(FINGERPRINTS))
def test_zoo_expert_fingerprints_are_unchanged(name: str) -> None:
    assert get_expert(name).fingerprint() == FINGERPRINTS[name]
