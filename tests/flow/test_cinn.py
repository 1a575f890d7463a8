"""The cINN and its layers: exact inverses, log-dets against autograd, likelihood, seeds."""

from __future__ import annotations

import math

import pytest
import torch

from net2net.baselines import MLPTranslator
from net2net.flow import ActNorm, ConditionalAffineCoupling, ConditionalINN, FlowConfig, Permutation
from net2net.flow.cinn import check_layers
from net2net.flow.layers import ConditionalAffine, InvertibleLayer, InvertibleLinear, Standardize, mlp


def small_flow(dim: int = 6, cond_dim: int = 3, **kw) -> ConditionalINN:
    torch.manual_seed(0)
    kw = {"embed_depth": 1, "embed_norm": "none", "zero_init": True, **kw}
    flow = ConditionalINN(dim, cond_dim, n_blocks=3, hidden=16, depth=2, embed_dim=5, embed_hidden=8, **kw)
    # Couplings start as the identity (zero last layer); perturb them so the tests
    # exercise real, non-trivial scales and shifts.
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return flow


def initialised(flow: ConditionalINN, dtype=torch.float32) -> ConditionalINN:
    flow = flow.to(dtype)
    flow.train()
    flow(torch.randn(64, flow.dim, dtype=dtype) * 3 + 1, torch.randn(64, flow.cond_dim, dtype=dtype))
    return flow.eval()


#: The new FlowConfig options, one at a time and all together (the new τ's settings).
VARIANTS = {
    "old": {},
    "split_nets": {"split_nets": True},
    "embed_layernorm": {"embed_depth": 3, "embed_norm": "layer"},
    "embed_actnorm": {"embed_depth": 2, "embed_norm": "actnorm"},
    "new": {"embed_depth": 3, "embed_norm": "layer", "clamp": 1.0, "zero_init": False, "slope": 0.01},
    "lu_mixing": {"mixing": "lu"},
}

LAYERS = {
    "actnorm": lambda d, c: ActNorm(d),
    "coupling": lambda d, c: ConditionalAffineCoupling(d, c, lambda i, o: mlp(i, o, 12, 2), clamp=1.5),
    "coupling_split": lambda d, c: ConditionalAffineCoupling(d, c, lambda i, o: mlp(i, o, 12, 2), split_nets=True),
    "permutation": lambda d, c: Permutation(d, seed=3),
    "invertible_linear": lambda d, c: InvertibleLinear(d, seed=3),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dim", [2, 5])
def test_layer_inverse_and_logdet(name: str, dim: int) -> None:
    torch.manual_seed(1)
    layer = LAYERS[name](dim, 4).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.5 * torch.randn_like(p))
    if isinstance(layer, ActNorm):
        layer(torch.randn(32, dim, dtype=torch.float64) * 2)  # data-dependent init
    layer.eval()
    x, c = torch.randn(7, dim, dtype=torch.float64), torch.randn(7, 4, dtype=torch.float64)
    y, ld = layer(x, c)
    x2, ld_inv = layer.inverse(y, c)
    assert ld.shape == (7,)
    assert (x2 - x).abs().max() < 1e-12
    assert (ld + ld_inv).abs().max() < 1e-12
    for i in range(7):
        J = torch.autograd.functional.jacobian(lambda r: layer(r[None], c[i : i + 1])[0][0], x[i])  # noqa: B023 - called at once
        assert math.isclose(float(torch.linalg.slogdet(J)[1]), float(ld[i].detach()), abs_tol=1e-10)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("dim", [2, 7])
def test_cinn_inverse_is_exact_in_float64(dim: int, variant: str) -> None:
    flow = initialised(small_flow(dim, 3, **VARIANTS[variant]), torch.float64)
    z, c = torch.randn(50, dim, dtype=torch.float64) * 2, torch.randn(50, 3, dtype=torch.float64)
    v, ld = flow(z, c)
    z2, ld_inv = flow.inverse(v, c)
    assert (z2 - z).abs().max() < 1e-9
    assert (ld + ld_inv).abs().max() < 1e-9
    assert ld.shape == (50,) and ld.dtype == torch.float64


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cinn_logdet_matches_autograd_jacobian(variant: str) -> None:
    flow = initialised(small_flow(5, 3, **VARIANTS[variant]), torch.float64)
    z, c = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    _, ld = flow(z, c)
    for i in range(4):
        J = torch.autograd.functional.jacobian(lambda r: flow(r[None], c[i : i + 1])[0][0], z[i])  # noqa: B023 - called at once
        assert abs(float(torch.linalg.slogdet(J)[1]) - float(ld[i].detach())) < 1e-9
    # and the sampling direction is the inverse map, with the negated log-det
    v = flow(z, c)[0]
    _, ld_inv = flow.inverse(v, c)
    J = torch.autograd.functional.jacobian(lambda r: flow.inverse(r[None], c[:1])[0][0], v[0])
    assert abs(float(torch.linalg.slogdet(J)[1]) - float(ld_inv[0].detach())) < 1e-9


def test_log_prob_is_a_normalised_density() -> None:
    """In 2-d, integrating exp(log_prob) over a grid gives 1 (the Gaussian constant is in)."""
    flow = initialised(small_flow(2, 1), torch.float64)
    c = torch.tensor([[0.7]], dtype=torch.float64)
    # find the mass: sample, then integrate on a grid covering the samples generously
    s = flow.sample(c.expand(4000, 1), generator=torch.Generator().manual_seed(0))
    lo, hi = s.min(0).values - 3 * s.std(0), s.max(0).values + 3 * s.std(0)
    n = 400
    xs = [torch.linspace(float(lo[k]), float(hi[k]), n, dtype=torch.float64) for k in range(2)]
    grid = torch.cartesian_prod(*xs)
    with torch.no_grad():
        p = flow.log_prob(grid, c.expand(len(grid), 1)).exp()
    cell = (xs[0][1] - xs[0][0]) * (xs[1][1] - xs[1][0])
    assert abs(float(p.sum() * cell) - 1.0) < 0.02


def test_log_prob_of_identity_flow_is_standard_normal() -> None:
    """A fresh flow (zero-initialised couplings, unit ActNorm) is the identity: log N(z; 0, I)."""
    flow = ConditionalINN(4, 2, n_blocks=2, hidden=8, zero_init=True).double()
    flow.eval()  # ActNorm not initialised from data: loc 0, scale 1
    z, c = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    assert torch.allclose(flow.log_prob(z, c), expected, atol=1e-12)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_gradient_reaches_every_parameter(variant: str) -> None:
    flow = small_flow(6, 3, **VARIANTS[variant])
    flow.train()
    z, c = torch.randn(16, 6), torch.randn(16, 3)
    flow(z, c)  # ActNorm init
    loss = -flow.log_prob(z, c).mean()
    loss.backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_same_seed_same_samples_and_temperature() -> None:
    flow = initialised(small_flow())
    c = torch.randn(8, 3)
    a = flow.sample(c, generator=torch.Generator().manual_seed(7))
    b = flow.sample(c, generator=torch.Generator().manual_seed(7))
    d = flow.sample(c, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, d)
    # temperature 0 gives the mode of the residual: v = 0, for any seed
    flow, c = flow.double(), c.double()
    m1 = flow.sample(c, temperature=0.0, generator=torch.Generator().manual_seed(1))
    m2 = flow.sample(c, temperature=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(m1, m2)
    assert flow(m1, c)[0].abs().max() < 1e-9


def test_permutations_are_seeded_buffers() -> None:
    a, b = ConditionalINN(9, 2, n_blocks=2, seed=1), ConditionalINN(9, 2, n_blocks=2, seed=1)
    pa = [m.perm for m in a.modules() if isinstance(m, Permutation)]
    pb = [m.perm for m in b.modules() if isinstance(m, Permutation)]
    assert all(torch.equal(x, y) for x, y in zip(pa, pb))
    assert not torch.equal(pa[0], pa[1])
    # the legacy layout (no standardisation, no conditional base) keeps its keys
    assert "layers.2.perm" in ConditionalINN(9, 2, **{**FlowConfig.LEGACY, "n_blocks": 2}).state_dict()
    assert "layers.4.perm" in ConditionalINN(9, 2, n_blocks=2, cond_base=True, standardize=True,
                                             mixing="permute").state_dict()
    assert "layers.2.log_s" in ConditionalINN(9, 2, n_blocks=2, mixing="lu").state_dict()


def test_actnorm_initialises_from_data_once_and_refuses_inverse_first() -> None:
    an = ActNorm(3)
    x = torch.randn(500, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([2.0, -1.0, 0.0])
    with pytest.raises(RuntimeError, match="initialised by a forward pass"):
        an.inverse(x)
    y, _ = an(x)
    assert torch.allclose(y.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.std(0, unbiased=False), torch.ones(3), atol=1e-4)
    loc = an.loc.detach().clone()
    an(x * 10)  # a second batch does not re-initialise
    assert torch.equal(an.loc.detach(), loc)
    fresh = ActNorm(3)
    fresh.load_state_dict(an.state_dict())
    fresh(x * 10)
    assert torch.equal(fresh.loc.detach(), loc), "the loaded flag must stop re-initialisation"


def test_scales_are_soft_clamped() -> None:
    layer = ConditionalAffineCoupling(4, 2, lambda i, o: mlp(i, o, 8, 1), clamp=0.5)
    with torch.no_grad():
        for p in layer.parameters():
            p.fill_(50.0)
    _, ld = layer(torch.ones(3, 4), torch.ones(3, 2))
    assert torch.isfinite(ld).all() and (ld.abs() <= 0.5 * 4 + 1e-6).all()


@pytest.mark.parametrize("bad, match", [
    (lambda f: f(torch.randn(4, 6), torch.randn(4, 2)), r"cond must have shape \(B, 3\)"),
    (lambda f: f(torch.randn(4, 5), torch.randn(4, 3)), r"z must have shape \(B, 6\)"),
    (lambda f: f(torch.randn(4, 6), torch.randn(3, 3)), "same batch size"),
    (lambda f: f(torch.randn(0, 6), torch.randn(0, 3)), "empty batch"),
    (lambda f: f(torch.full((2, 6), float("nan")), torch.randn(2, 3)), "NaN or inf"),
    (lambda f: f.log_prob(torch.randn(2, 6), torch.tensor([[1.0, float("inf"), 0.0]] * 2)), "NaN or inf"),
    (lambda f: f.sample(torch.randn(2, 3), temperature=-1.0), "temperature"),
    (lambda f: f(torch.randint(0, 3, (2, 6)), torch.randn(2, 3)), "floating-point"),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(bad, match) -> None:
    flow = small_flow()
    flow.train()
    before = {k: v.clone() for k, v in flow.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        bad(flow)
    after = flow.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a rejected call must not initialise ActNorm"


def test_a_layer_without_the_block_call_is_refused_at_construction() -> None:
    class Half(InvertibleLayer):  # forgot transform
        pass

    for bad in (torch.nn.Linear(2, 2), Half()):
        with pytest.raises(ValueError, match="must subclass net2net.flow.layers.InvertibleLayer and implement transform"):
            check_layers([ActNorm(2), bad])
    assert check_layers([ActNorm(2), Permutation(2, seed=0)])


def test_every_layer_answers_the_same_call() -> None:
    """transform gives the log-scale in the forward sign: (B, k), (k,) or None."""
    torch.manual_seed(0)
    x, c = torch.randn(5, 4), torch.randn(5, 3)
    coupling = ConditionalAffineCoupling(4, 3, lambda i, o: mlp(i, o, 8, 1, zero_init=False))
    an = ActNorm(4)
    for layer, shape in ((an, (4,)), (coupling, (5, 4)), (Permutation(4, seed=1), None)):
        y, s = layer.transform(x, c)
        x2, s2 = layer.transform(y, c, reverse=True)
        assert torch.allclose(x2, x, atol=1e-5)
        assert (s is None and s2 is None) if shape is None else (s.shape == shape and torch.allclose(s, s2, atol=1e-5))


def test_layernorm_embedding_does_not_depend_on_the_batch() -> None:
    """A query alone gets the embedding it gets inside a batch, in training mode too."""
    flow = small_flow(4, 3, embed_depth=3, embed_norm="layer").train()
    c = torch.randn(16, 3)
    assert torch.allclose(flow.embedder(c)[:1], flow.embedder(c[:1]), atol=1e-6)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="FlowConfig.embed_norm must be one of"):
        ConditionalINN(4, 2, embed_norm="batch")
    with pytest.raises(ValueError, match="FlowConfig.split_nets must be true or false"):
        ConditionalINN(4, 2, split_nets=1)
    with pytest.raises(ValueError, match="FlowConfig.embed_depth must be a positive integer"):
        ConditionalINN(4, 2, embed_depth=0)
    with pytest.raises(ValueError, match="FlowConfig.hidden must be a positive integer"):
        ConditionalINN(4, 2, hidden=0)
    with pytest.raises(ValueError, match="FlowConfig.dim must be >= 2"):
        ConditionalINN(1, 2)
    with pytest.raises(ValueError, match="FlowConfig.mixing must be one of permute, lu"):
        ConditionalINN(4, 2, mixing="glow")


def test_mlp_baseline_is_deterministic_with_a_gaussian_likelihood() -> None:
    m = MLPTranslator(3, 2, hidden=8, depth=2).double()
    c, z = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    s1 = m.sample(c, generator=torch.Generator().manual_seed(0))
    s2 = m.sample(c, temperature=2.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2)
    with torch.no_grad():
        m.log_sigma.fill_(math.log(0.7))
    expected = torch.distributions.Normal(m.predict(c), 0.7).log_prob(z).sum(1)
    assert torch.allclose(m.log_prob(z, c), expected, atol=1e-12)


@pytest.mark.parametrize("layer", ["cond_affine", "standardize"])
def test_base_layers_inverse_and_logdet(layer: str) -> None:
    torch.manual_seed(3)
    if layer == "cond_affine":
        m = ConditionalAffine(5, 4, hidden=12, clamp=1.5).double()
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.5 * torch.randn_like(p))
    else:
        m = Standardize(5).double()
        m.fit(torch.randn(200, 5, dtype=torch.float64) * torch.arange(1, 6) + 3)
    x, c = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 4, dtype=torch.float64)
    y, ld = m(x, c)
    back, ld_inv = m.inverse(y, c)
    assert torch.allclose(back, x, atol=1e-12) and torch.allclose(ld, -ld_inv, atol=1e-12)
    for i in range(3):
        J = torch.autograd.functional.jacobian(lambda r, i=i: m(r[None], c[i:i + 1])[0][0], x[i])
        assert abs(float(torch.linalg.slogdet(J)[1]) - float(ld[i].detach())) < 1e-9


def test_conditional_base_and_standardisation_in_the_flow() -> None:
    flow = ConditionalINN(6, 3, n_blocks=2, hidden=16, embed_dim=5, embed_hidden=8, cond_base=True, standardize=True)
    assert isinstance(flow.layers[0], Standardize) and isinstance(flow.layers[1], ConditionalAffine)
    z = torch.randn(300, 6, dtype=torch.float64) * 4 + 2
    flow = flow.double()
    flow.fit_standardization(z)
    assert torch.allclose(flow.layers[0].mean, z.mean(0)) and "layers.0.scale" in flow.state_dict()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.2 * torch.randn_like(p))
    flow = initialised(flow, torch.float64)
    c = torch.randn(300, 3, dtype=torch.float64)
    v, ld = flow(z, c)
    back, ld_inv = flow.inverse(v, c)
    assert torch.allclose(back, z, atol=1e-9) and torch.allclose(ld, -ld_inv, atol=1e-9)
    J = torch.autograd.functional.jacobian(lambda r: flow(r[None], c[:1])[0][0], z[0])
    assert abs(float(torch.linalg.slogdet(J)[1]) - float(ld[0].detach())) < 1e-8


def test_condition_noise_only_in_training() -> None:
    flow = initialised(small_flow(cond_noise=0.5))
    z, c = torch.randn(4, 6), torch.randn(4, 3)
    assert torch.equal(flow.log_prob(z, c), flow.log_prob(z, c))  # eval: deterministic
    flow.train()
    assert not torch.equal(flow.log_prob(z, c), flow.log_prob(z, c))
    with pytest.raises(ValueError, match="cond_noise"):
        ConditionalINN(6, 3, cond_noise=-1.0)


def test_auxiliary_regression_trains_the_embedder_and_is_no_part_of_the_density() -> None:
    """``cond_regress``: the training loss is the NLL plus the weighted regression of ``z``
    from the condition embedding; log_prob, sampling and inversion never touch the head."""
    torch.manual_seed(0)
    plain = initialised(small_flow())
    aux = initialised(small_flow(cond_regress=0.5))
    aux.load_state_dict({**plain.state_dict(), **{k: v for k, v in aux.state_dict().items() if k.startswith("regress.")}})
    z, c = torch.randn(64, 6), torch.randn(64, 3)
    assert torch.equal(plain.log_prob(z, c), aux.log_prob(z, c)), "the head changes no density"
    nll = -plain.log_prob(z, c).mean() / 6
    assert torch.allclose(plain.training_loss(z, c), nll)
    scale = z.var(dim=0, unbiased=False) + 1e-6
    regression = ((aux.regress(aux.embedder(c)) - z) ** 2 / scale).mean()
    assert torch.allclose(aux.training_loss(z, c), nll + 0.5 * regression, atol=1e-6)
    aux.training_loss(z, c).backward()
    assert aux.regress.weight.grad.abs().sum() > 0 and aux.embedder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="cond_regress"):
        ConditionalINN(6, 3, cond_regress=-0.1)


def test_auxiliary_regression_learns_what_the_condition_says() -> None:
    """On pairs where z's mean is a function of c, the head trained through the flow's
    loss predicts z far better than the mean does (the embedding carries it)."""
    torch.manual_seed(0)
    c = torch.randn(2048, 3)
    z = torch.cat([c @ torch.randn(3, 4), torch.randn(2048, 2) * 0.1], dim=1)
    flow = ConditionalINN(6, 3, n_blocks=2, hidden=16, embed_dim=8, embed_hidden=32, cond_regress=1.0).train()
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(500):
        idx = torch.randint(0, 2048, (128,))
        loss = flow.training_loss(z[idx], c[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = ((flow.regress(flow.embedder(c)) - z)[:, :4] ** 2).mean() / z[:, :4].var(dim=0).mean()
    assert float(err) < 0.1, float(err)


def test_lu_mixing_starts_as_a_seeded_rotation_and_learns() -> None:
    a, b = InvertibleLinear(6, seed=4), InvertibleLinear(6, seed=4)
    w = a.weight().detach().double()
    assert torch.allclose(w @ w.T, torch.eye(6, dtype=torch.float64), atol=1e-5)  # a rotation: log-det 0
    assert abs(float(a.log_s.detach().sum())) < 1e-5
    assert torch.equal(w, b.weight().detach().double())
    assert not torch.equal(w, InvertibleLinear(6, seed=5).weight().detach().double())
    flow = ConditionalINN(6, 3, n_blocks=2, hidden=16, mixing="lu")
    flow.train()
    z, c = torch.randn(32, 6), torch.randn(32, 3)
    flow.training_loss(z, c).backward()
    mixers = [m for m in flow.layers if isinstance(m, InvertibleLinear)]
    assert len(mixers) == 2 and not any(isinstance(m, Permutation) for m in flow.layers)
    for m in mixers:  # every factor gets a gradient; the fixed permutation and the masks are buffers
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in (m.lu, m.log_s))
        assert set(m.state_dict()) == {"lu", "log_s", "perm", "inv_perm", "sign"}  # the mask is rebuilt, not saved
