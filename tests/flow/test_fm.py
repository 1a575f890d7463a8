"""The flow-matching τ: an ODE both ways, an exact (normalised) likelihood, trained by the trainer."""

from __future__ import annotations

import pytest
import torch

from net2net.data import LinearGaussianToy
from net2net.flow import ConditionalFlowMatching, FlowMatchingConfig, is_invertible
from net2net.flow.protocol import transport
from net2net.models import load_model, save_model
from net2net.train.fit import Pairs, TrainConfig, fit


def small(dim: int = 4, cond_dim: int = 3, **kw) -> ConditionalFlowMatching:
    torch.manual_seed(0)
    return ConditionalFlowMatching(dim, cond_dim, hidden=32, depth=2, embed_dim=8, embed_hidden=16, **kw).double()


def test_it_is_an_invertible_tau_whose_round_trip_is_the_identity_up_to_the_solver() -> None:
    flow = small().eval()
    assert is_invertible(flow)
    z, c = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    v = flow.residual(z, c)
    assert (v - z).abs().max() > 1e-2  # a map that does something
    err = (transport(flow, v, c) - z).abs().max()
    assert err < 1e-3
    z2, log_det = flow.inverse(v, c)
    assert torch.allclose(z2, z, atol=1e-3) and log_det.shape == (16,)
    fine = small(ode_steps=64).eval()  # the error is the solver's: it shrinks with the step
    assert (transport(fine, fine.residual(z, c), c) - z).abs().max() < err / 5


def test_the_log_det_is_that_of_the_solved_map() -> None:
    """``forward``'s exact-divergence log-det (standardisation included) against autograd's
    Jacobian of ``residual``."""
    flow = small(3, 2, standardize=True).eval()
    flow.fit_standardization(torch.randn(500, 3, dtype=torch.float64) * torch.tensor([0.1, 1.0, 3.0]) + 2)
    assert flow.standardizer.scale[0] < 0.2  # the saved buffers hold the targets' spread
    z, c = torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    _, log_det = flow(z, c)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(
            lambda x, i=i: flow._solve(flow._to_path(x[None])[0], flow.embedder(c[i:i + 1]), reverse=True)[0], z[i])
        assert torch.allclose(log_det[i], torch.linalg.slogdet(jac)[1], atol=1e-4)


def test_the_likelihood_is_a_normalised_density() -> None:
    flow = small(2, 1).eval()
    c = torch.tensor([[0.7]], dtype=torch.float64)
    s = flow.sample(c.expand(2000, 1), generator=torch.Generator().manual_seed(0))
    lo, hi = s.min(0).values - 3 * s.std(0), s.max(0).values + 3 * s.std(0)
    n = 120
    xs = [torch.linspace(float(lo[k]), float(hi[k]), n, dtype=torch.float64) for k in range(2)]
    grid = torch.cartesian_prod(*xs)
    with torch.no_grad():
        p = flow.log_prob(grid, c.expand(len(grid), 1)).exp()
    cell = (xs[0][1] - xs[0][0]) * (xs[1][1] - xs[1][0])
    assert abs(float(p.sum() * cell) - 1.0) < 0.03


def test_the_trainer_fits_it_to_the_linear_gaussian_toy_and_it_saves_and_loads(tmp_path) -> None:
    toy = LinearGaussianToy(dim=4, cond_dim=2, seed=0, noise=0.5)
    train, val = Pairs(*toy.sample(8000, seed=1)), Pairs(*toy.sample(300, seed=2))
    cfg = TrainConfig(steps=600, batch_size=256, lr=3e-3, warmup_steps=50, eval_every=0, ckpt_every=0)
    model = dict(dim=4, cond_dim=2, hidden=64, depth=2, embed_dim=16, embed_hidden=32, ode_steps=8)
    m = fit("flow-matching", model, train, val, cfg, tmp_path, progress=False)
    assert abs(m["val_nll_nats_per_dim"] - toy.entropy_per_dim()) < 0.2, m["val_nll_nats_per_dim"]  # the cINN: < 0.05
    flow = load_model(tmp_path / "model")
    assert isinstance(flow, ConditionalFlowMatching) and flow.config.ode_steps == 8
    c = torch.tensor([[1.5, -1.0]])
    z = flow.sample(c.expand(4000, 2), generator=torch.Generator().manual_seed(0)).double()
    assert (z.mean(0) - toy.mean(c)[0]).abs().max() < 0.1
    save_model(flow, tmp_path / "again")
    assert torch.equal(load_model(tmp_path / "again").sample(c, generator=torch.Generator().manual_seed(3)),
                       flow.sample(c, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("dim", 129, "dim <= 128"), ("solver", "dopri5", "solver must be one of rk4, midpoint, euler"),
    ("ode_steps", 0, "ode_steps must be a positive integer"),
])
def test_bad_configs_are_refused(field, value, message) -> None:
    fields = {"dim": 4, "cond_dim": 3, field: value}
    with pytest.raises(ValueError, match=message):
        FlowMatchingConfig(**fields)


def test_a_translator_with_a_flow_matching_tau_edits_and_takes_exemplars() -> None:
    """Inversion is deterministic, so ``Translator.edit`` keeps the residual: the edit to the
    source's own class is the source's reconstruction (to the solver's accuracy)."""
    from net2net.experts.labels import OneHotExpert
    from net2net.testing import TinyAutoencoder
    from net2net.translator import ExpertRef, Translator

    query, target = OneHotExpert(), TinyAutoencoder()
    torch.manual_seed(0)
    tau = ConditionalFlowMatching(target.dim, query.dim, hidden=16, depth=2, embed_dim=8, embed_hidden=16).eval()
    t = Translator(query, tau, target, query_ref=ExpertRef.of(query, "q"), target_ref=ExpertRef.of(target, "ae"))
    images = t.sample(["Dress", "Coat"], n=1, seed=0)
    same = t.edit(images, ["Dress", "Coat"], ["Dress", "Coat"])
    assert torch.allclose(same, t.decode(t.encode_target(images)), atol=1e-3)  # the reconstruction
    other = t.edit(images, ["Dress", "Coat"], ["Bag", "Bag"])
    assert not torch.allclose(other, images, atol=1e-3)
    assert t.exemplar(["Bag"], images[:1], ["Dress"]).shape == images[:1].shape
