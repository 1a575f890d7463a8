"""`net2net train`: end to end through the console script, kill -9 and --resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from net2net.cli import main

RECIPE = {
    "name": "cli-toy",
    "data": {"source": "toy-linear-gaussian", "dim": 4, "cond_dim": 2, "n_train": 2000, "n_val": 500},
    "model": {"kind": "cinn", "n_blocks": 2, "hidden": 16, "embed_dim": 8, "embed_hidden": 16},
    "train": {"steps": 40, "batch_size": 64, "warmup_steps": 5, "eval_every": 20, "ckpt_every": 10, "device": "cpu"},
}


def net2net(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "net2net.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_train_writes_a_model_and_reports_nll(tmp_path) -> None:
    (tmp_path / "r.json").write_text(json.dumps(RECIPE))
    r = net2net("--threads", "1", "train", "r.json", "--out", "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout[: r.stdout.rindex("}") + 1])
    assert {"val_nll_nats_per_dim", "val_nll_bits_per_dim"} <= set(summary)
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["history"]["val_step"] == [20, 40]


def test_kill_9_mid_checkpoint_then_resume_finishes_and_cleans_up(tmp_path, kill_mid_checkpoint) -> None:
    recipe = dict(RECIPE, train=dict(RECIPE["train"], steps=100000, ckpt_every=25, eval_every=0))
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    temp = kill_mid_checkpoint(["train", "r.json", "--out", "run"], tmp_path, step=50)
    latest = tmp_path / "run" / "checkpoints" / "latest"
    assert latest.read_text() == "step-00000025", "the kill landed before `latest` moved to step 50"
    leftovers = sorted(p.name for p in latest.parent.iterdir() if p.name.startswith("."))
    assert leftovers == [temp.name] and temp.name.startswith(".step-00000050.tmp-")
    ckpt = latest.parent / latest.read_text()
    assert sorted(p.name for p in ckpt.iterdir()) == ["model", "optimizer.safetensors", "trainer.json"]
    r = net2net("train", "r.json", "--out", "run", "--resume", "--steps", "30", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    # the killed writer's checkpoint-sized temporary is gone, and nothing else hidden stays
    assert [p.name for p in latest.parent.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")] == []
    assert latest.read_text() == "step-00000030"


@pytest.mark.parametrize("args, message", [
    (["train", "missing.json"], "net2net train: error: missing.json: no such file"),
    (["train", "bad.json"], "net2net train: error: train.lr must be a number"),
])
def test_errors_are_one_line_with_exit_2(tmp_path, monkeypatch, capsys, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps(dict(RECIPE, train={"lr": "x"})))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().startswith(message) and err.count("\n") == 1


def test_threads_sets_torch_threads_and_refuses_zero(tmp_path, monkeypatch, capsys) -> None:
    import torch

    before = torch.get_num_threads()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.json").write_text(json.dumps(dict(RECIPE, train=dict(RECIPE["train"], steps=2, eval_every=2))))
    try:
        assert main(["--threads", "1", "train", "r.json", "--out", "run"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SystemExit) as e:
        main(["--threads", "0", "train", "r.json"])
    assert e.value.code == 2
    assert "--threads must be between 1 and 1024, got 0" in capsys.readouterr().err


def test_rising_validation_nll_is_one_warning_line_and_best_is_kept(tmp_path, capsys, monkeypatch) -> None:
    import torch

    from net2net.data import LinearGaussianToy
    from net2net.io import save_tensors

    toy = LinearGaussianToy(dim=4, cond_dim=2, seed=0, noise=0.5)
    c, z = toy.sample(2048, seed=1)
    save_tensors(tmp_path / "train.safetensors", {"cond": c, "target": z})
    # validation pairs from another distribution: the better τ fits training, the worse it scores them
    save_tensors(tmp_path / "val.safetensors", {"cond": c[:256], "target": z[:256] + 2.0})
    recipe = {"name": "over", "data": {"source": "pairs", "train": "train.safetensors", "val": "val.safetensors"},
              "model": RECIPE["model"],
              "train": {"steps": 150, "batch_size": 64, "lr": 3e-3, "warmup_steps": 5, "eval_every": 10,
                        "ckpt_every": 0, "device": "cpu"}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    try:
        assert main(["--threads", "1", "train", "r.json", "--out", "run"]) == 0
    finally:
        torch.set_num_threads(before)
    warned = [x for x in capsys.readouterr().err.splitlines() if "warning" in x]
    assert len(warned) == 1 and warned[0].startswith("net2net train: warning: validation NLL has risen for 3 "
                                                     "evaluations in a row"), warned
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["best"]["step"] < 150 and (tmp_path / "run" / "best" / "model.safetensors").is_file()
