"""Training shows progress (step, loss, learning rate, ETA), says when the validation NLL
keeps rising, and keeps the best model beside the last (issue 14)."""

from __future__ import annotations

import json
import logging
import re
import warnings

import pytest
import torch

from net2net.data import LinearGaussianToy
from net2net.models import load_model
from net2net.train import fit as fit_module
from net2net.train import progress as progress_module
from net2net.train.fit import OverfittingWarning, Pairs, TrainConfig, fit

TOY = LinearGaussianToy(dim=4, cond_dim=2, seed=0, noise=0.5)
SMALL = dict(dim=4, cond_dim=2, n_blocks=2, hidden=16, embed_dim=8, embed_hidden=16)
LINE = re.compile(r"fit cinn: step (\d+)/200  loss -?\d+\.\d{4} nats/dim  lr \d\.\d\de-\d\d( {2}val -?\d+\.\d{4})?"
                  r"  elapsed \d+:\d\d  ETA \d+:\d\d")


@pytest.fixture(scope="module")
def pairs() -> tuple[Pairs, Pairs]:
    return Pairs(*TOY.sample(2048, seed=1)), Pairs(*TOY.sample(256, seed=2))


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_off_a_terminal_progress_is_a_log_line_about_every_5_percent(pairs, tmp_path, caplog, monkeypatch) -> None:
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False)
    cfg = TrainConfig(steps=200, batch_size=64, warmup_steps=5, eval_every=100, ckpt_every=0)
    with caplog.at_level(logging.INFO, logger="net2net.train.fit"):
        fit("cinn", SMALL, *pairs, cfg, tmp_path / "run", progress=None)
    lines = [r.getMessage() for r in caplog.records if r.name == "net2net.train.fit"]
    assert lines and all(LINE.fullmatch(x) for x in lines), lines
    assert [int(LINE.fullmatch(x).group(1)) for x in lines] == [50, 100, 150, 200]  # every log_every=50 steps
    assert "val" in lines[1] and "val" not in lines[0]  # the validation NLL once there is one
    assert lines[-1].endswith("ETA 0:00")


def test_progress_false_is_silent_and_true_is_a_bar(pairs, tmp_path, caplog, capsys) -> None:
    cfg = TrainConfig(steps=50, batch_size=64, warmup_steps=5, eval_every=0, ckpt_every=0)
    with caplog.at_level(logging.INFO, logger="net2net.train.fit"):
        fit("cinn", SMALL, *pairs, cfg, tmp_path / "quiet", progress=False)
        assert not [r for r in caplog.records if r.name == "net2net.train.fit"]
        assert capsys.readouterr().err == ""
        fit("cinn", SMALL, *pairs, cfg, tmp_path / "bar", progress=True)
    err = capsys.readouterr().err
    assert "fit cinn" in err and "50/50" in err and re.search(r"nll=-?\d+\.\d{3}, lr=\d\.\de-\d\d", err), err[-500:]


def test_best_model_is_kept_beside_the_last(pairs, tmp_path) -> None:
    cfg = TrainConfig(steps=60, batch_size=64, warmup_steps=5, eval_every=20, ckpt_every=30)
    metrics = fit("cinn", SMALL, *pairs, cfg, tmp_path, progress=False)
    hist = metrics["history"]
    i = hist["val_nll"].index(min(hist["val_nll"]))
    assert metrics["best"] == {"step": hist["val_step"][i], "val_nll_nats_per_dim": hist["val_nll"][i], "folder": "best"}
    manifest = json.loads((tmp_path / "best" / "config.json").read_text())
    assert manifest["extra"]["best"] == {"step": hist["val_step"][i], "val_nll_nats_per_dim": hist["val_nll"][i]}
    best = load_model(tmp_path / "best")
    nll = fit_module.evaluate_nll(best, pairs[1], torch.device("cpu"))
    assert nll == pytest.approx(min(hist["val_nll"]), abs=1e-6), "best/ holds the weights that scored best"
    shipped_last = metrics["shipped"]["which"] == "last"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best", "checkpoints", *([] if shipped_last else ["last"]),
                                                          "metrics.json", "model", "run.json"]


def test_rising_validation_nll_warns_once_and_best_stays_early(pairs, tmp_path) -> None:
    train, _ = pairs
    # validation pairs from another distribution: the better τ fits training, the worse it scores them
    shifted = Pairs(train.cond[:256], train.target[:256] + 2.0)
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, warmup_steps=5, eval_every=10, ckpt_every=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = fit("cinn", SMALL, train, shifted, cfg, tmp_path, progress=False)
    over = [w for w in caught if issubclass(w.category, OverfittingWarning)]
    vals = metrics["history"]["val_nll"]
    rises = [b > a for a, b in zip(vals, vals[1:])]
    assert any(all(rises[j : j + 3]) for j in range(len(rises) - 2)), f"the setup should make val rise: {vals}"
    assert len(over) == 1, "warned once, not at every evaluation"
    msg = str(over[0].message)
    assert re.fullmatch(r"validation NLL has risen for 3 evaluations in a row \(-?\d+\.\d{4} -> -?\d+\.\d{4} nats/dim at "
                        r"step \d+\); the best model so far \(-?\d+\.\d{4} at step \d+\) is kept in .*best; fewer steps "
                        r"or more data may help", msg), msg
    assert metrics["best"]["step"] < metrics["history"]["val_step"][-1]
    assert metrics["best"]["val_nll_nats_per_dim"] == min(vals)


def test_falling_validation_nll_does_not_warn(pairs, tmp_path) -> None:
    cfg = TrainConfig(steps=100, batch_size=64, lr=3e-3, warmup_steps=5, eval_every=20, ckpt_every=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverfittingWarning)
        metrics = fit("cinn", SMALL, *pairs, cfg, tmp_path, progress=False)
    assert metrics["best"]["step"] == 100


def test_resume_keeps_the_best_so_far(pairs, tmp_path, monkeypatch) -> None:
    cfg = TrainConfig(steps=40, batch_size=64, warmup_steps=5, eval_every=10, ckpt_every=20)
    straight = fit("cinn", SMALL, *pairs, cfg, tmp_path / "straight", progress=False)
    real = fit_module.batch_indices

    def crash_at_25(step, n, c):
        if step == 25:
            raise KeyboardInterrupt
        return real(step, n, c)

    monkeypatch.setattr(fit_module, "batch_indices", crash_at_25)
    with pytest.raises(KeyboardInterrupt):
        fit("cinn", SMALL, *pairs, cfg, tmp_path / "split", progress=False)
    monkeypatch.setattr(fit_module, "batch_indices", real)
    resumed = fit("cinn", SMALL, *pairs, cfg, tmp_path / "split", resume=True, progress=False)
    assert resumed["best"] == straight["best"]
    a, b = (load_model(tmp_path / r / "best").state_dict() for r in ("straight", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("keep", ["best", "last"])
def test_the_run_ships_the_best_model_unless_told_last(pairs, tmp_path, keep) -> None:
    """Issue 24: with validation NLL rising late, out/model is the best model (the last
    one kept in out/last), or with keep="last" the last (the best kept in out/best)."""
    train, _ = pairs
    shifted = Pairs(train.cond[:256], train.target[:256] + 2.0)  # rises as τ fits training
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, warmup_steps=5, eval_every=10, ckpt_every=0, keep=keep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverfittingWarning)
        metrics = fit("cinn", SMALL, train, shifted, cfg, tmp_path, progress=False)
    vals = metrics["history"]["val_nll"]
    assert min(vals) < vals[-1], "the setup makes the last model worse than the best"
    shipped = fit_module.evaluate_nll(load_model(tmp_path / "model"), shifted, torch.device("cpu"))
    if keep == "best":
        assert metrics["shipped"] == {"which": "best", "step": metrics["best"]["step"], "val_nll_nats_per_dim": min(vals)}
        assert shipped == pytest.approx(min(vals), abs=1e-5)
        last = fit_module.evaluate_nll(load_model(tmp_path / "last"), shifted, torch.device("cpu"))
        assert last == pytest.approx(vals[-1], abs=1e-5)
    else:
        assert metrics["shipped"]["which"] == "last" and not (tmp_path / "last").exists()
        assert shipped == pytest.approx(vals[-1], abs=1e-5)
