"""Writes the reference values of ``tests/zoo/test_shipped_samples.py`` from the installed zoo.

Run it only when the zoo is retrained on purpose (``net2net zoo train NAME``), and commit
its output with the new weights: between retrains the test proves that refactors leave
every shipped translator's draws and every expert's fingerprint unchanged.

    python tests/zoo/data/make_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from net2net.experts.registry import get_expert
from net2net.flow import is_invertible
from net2net.models import load_model
from net2net.translator import TRANSLATORS_DIR, available_translators
from net2net.zoo import list_zoo

DATA = Path(__file__).parent


def draws(name: str) -> dict[str, torch.Tensor]:
    """τ's draws for fixed conditions and residuals, and their log-densities (what the test recomputes)."""
    tau = load_model(TRANSLATORS_DIR / name / "tau")
    cond = torch.randn(4, tau.cond_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        if is_invertible(tau):
            z = tau.inverse(torch.randn(4, tau.dim, generator=torch.Generator().manual_seed(1)), cond)[0]
        else:
            z = tau.sample(cond)
        return {f"{name}.z": z.contiguous(), f"{name}.log_prob": tau.log_prob(z, cond).contiguous()}


def main() -> None:
    torch.set_num_threads(1)
    tensors: dict[str, torch.Tensor] = {}
    for name in available_translators():
        tensors.update(draws(name))
    save_file(tensors, str(DATA / "shipped_tau_samples.safetensors"))
    names = [*list_zoo(), "fmnist-gan-dequant"]
    fingerprints = {n: get_expert(n).fingerprint() for n in sorted(names)}
    (DATA / "zoo_fingerprints.json").write_text(json.dumps(fingerprints, indent=2) + "\n")
    print(f"wrote the draws of {len(tensors) // 2} translators and {len(fingerprints)} fingerprints to {DATA}")


if __name__ == "__main__":
    main()
