"""Training τ: the linear-Gaussian toy against its closed form, the MLP baseline, resume."""

from __future__ import annotations

import math

import pytest
import torch

from net2net.data import LinearGaussianToy
from net2net.models import load_model
from net2net.train import fit as fit_module
from net2net.train.fit import Pairs, TrainConfig, fit, lr_at

TOY = LinearGaussianToy(dim=4, cond_dim=2, seed=0, noise=0.5)
#: a small τ of the first kind (one embedder layer, zero-initialised couplings): what these toy checks were sized for
CINN = dict(dim=4, cond_dim=2, n_blocks=4, hidden=64, depth=2, embed_dim=16, embed_hidden=64, embed_depth=1,
            embed_norm="none", zero_init=True)
FAST = dict(batch_size=256, lr=3e-3, warmup_steps=50, eval_every=0, ckpt_every=0)


@pytest.fixture(scope="module")
def toy_data() -> tuple[Pairs, Pairs]:
    return Pairs(*TOY.sample(20000, seed=1)), Pairs(*TOY.sample(5000, seed=2))


@pytest.fixture(scope="module")
def trained_cinn(toy_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("cinn")
    metrics = fit("cinn", CINN, *toy_data, TrainConfig(steps=600, **FAST), out, progress=False)
    return metrics, load_model(out / "model")


def test_heldout_nll_reaches_the_analytic_conditional_entropy(trained_cinn) -> None:
    metrics, _ = trained_cinn
    gap = metrics["val_nll_nats_per_dim"] - TOY.entropy_per_dim()
    assert abs(gap) < 0.05, f"held-out NLL {metrics['val_nll_nats_per_dim']:.4f} vs entropy {TOY.entropy_per_dim():.4f}"
    assert math.isclose(metrics["val_nll_bits_per_dim"], metrics["val_nll_nats_per_dim"] / math.log(2))


def test_samples_match_the_analytic_conditional_moments(trained_cinn) -> None:
    _, flow = trained_cinn
    for c in (torch.tensor([[0.0, 0.0]]), torch.tensor([[1.5, -1.0]])):
        z = flow.sample(c.expand(8000, 2), generator=torch.Generator().manual_seed(0)).double()
        mean_err = (z.mean(0) - TOY.mean(c)[0]).abs().max()
        cov_err = torch.linalg.norm(torch.cov(z.T) - TOY.cov) / torch.linalg.norm(TOY.cov)
        assert mean_err < 0.05, f"mean off by {mean_err:.3f}"
        assert cov_err < 0.1, f"covariance off by {cov_err:.3f} (relative Frobenius)"


def test_mlp_baseline_matches_the_mean_with_zero_spread(toy_data, tmp_path) -> None:
    metrics = fit("mlp", dict(dim=4, cond_dim=2, hidden=64, depth=2), *toy_data, TrainConfig(steps=400, **FAST), tmp_path, progress=False)
    mlp = load_model(tmp_path / "model")
    c = torch.tensor([[1.5, -1.0]]).expand(500, 2)
    samples = torch.stack([mlp.sample(c, generator=torch.Generator().manual_seed(s)) for s in range(3)])
    assert samples.std(dim=(0, 1)).max() == 0, "a deterministic regression has no spread"
    assert (samples[0, 0].double() - TOY.mean(c[:1])[0]).abs().max() < 0.1
    # a unimodal Gaussian with isotropic noise cannot reach the entropy of correlated noise
    assert metrics["val_nll_nats_per_dim"] > TOY.entropy_per_dim() + 0.05


def test_lr_schedule_warms_up_then_decays() -> None:
    cfg = TrainConfig(steps=1000, lr=1e-3, warmup_steps=100, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-5)
    assert lr_at(99, cfg) == pytest.approx(1e-3)
    assert lr_at(999, cfg) == pytest.approx(1e-4, rel=1e-3)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(100, 999))


def test_resume_continues_exactly(toy_data, tmp_path, monkeypatch) -> None:
    cfg = TrainConfig(steps=60, batch_size=64, lr=1e-3, warmup_steps=5, eval_every=0, ckpt_every=20)
    small = dict(CINN, hidden=16, embed_hidden=16)
    fit("cinn", small, *toy_data, cfg, tmp_path / "straight", progress=False)
    # an interrupted run: it crashes at step 45 (last checkpoint: step 40), then resumes
    real = fit_module.batch_indices

    def crash_at_45(step, n, c):
        if step == 45:
            raise KeyboardInterrupt
        return real(step, n, c)

    monkeypatch.setattr(fit_module, "batch_indices", crash_at_45)
    with pytest.raises(KeyboardInterrupt):
        fit("cinn", small, *toy_data, cfg, tmp_path / "split", progress=False)
    monkeypatch.setattr(fit_module, "batch_indices", real)
    assert (tmp_path / "split" / "checkpoints" / "latest").read_text() == "step-00000040"
    fit("cinn", small, *toy_data, cfg, tmp_path / "split", resume=True, progress=False)
    a = load_model(tmp_path / "straight" / "model").state_dict()
    b = load_model(tmp_path / "split" / "model").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_refuses_to_mix_runs(toy_data, tmp_path) -> None:
    cfg = TrainConfig(steps=10, batch_size=64, warmup_steps=1, eval_every=0, ckpt_every=5)
    small = dict(CINN, hidden=16, embed_hidden=16)
    with pytest.raises(ValueError, match="no checkpoint"):
        fit("cinn", small, *toy_data, cfg, tmp_path, resume=True, progress=False)
    fit("cinn", small, *toy_data, cfg, tmp_path, progress=False)
    with pytest.raises(ValueError, match="pass --resume"):
        fit("cinn", small, *toy_data, cfg, tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"belongs to another recipe; changed: model\.embed_hidden 16 -> 32; "
                                         r"model\.hidden 16 -> 32\. Resume with the recipe"):
        fit("cinn", dict(small, hidden=32, embed_hidden=32), *toy_data, cfg, tmp_path, resume=True, progress=False)


def test_bad_training_data_is_refused(tmp_path) -> None:
    c, z = TOY.sample(100, seed=0)
    z[17, 2] = float("nan")
    with pytest.raises(ValueError, match="training target has NaN or inf values \\(first bad row: 17\\)"):
        fit("cinn", CINN, Pairs(c, z), None, TrainConfig(steps=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="model expects target dim 4"):
        fit("cinn", CINN, Pairs(c, torch.randn(100, 5)), None, TrainConfig(steps=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="disagree in length"):
        Pairs(c, z[:50])
    with pytest.raises(ValueError, match="train.lr must be"):
        TrainConfig(lr=-1)
    assert not (tmp_path / "model").exists()


def test_linear_baseline_is_exact_on_the_linear_toy(toy_data, tmp_path) -> None:
    """Least squares with the residual covariance *is* the true model of the toy."""
    metrics = fit("linear", dict(dim=4, cond_dim=2), *toy_data, TrainConfig(steps=1), tmp_path, progress=False)
    assert abs(metrics["val_nll_nats_per_dim"] - TOY.entropy_per_dim()) < 0.02
    lin = load_model(tmp_path / "model")
    c = torch.tensor([[1.5, -1.0]])
    assert (lin.sample(c).double() - TOY.mean(c)).abs().max() < 0.05
    assert torch.equal(lin.sample(c, generator=torch.Generator().manual_seed(1)), lin.sample(c))
