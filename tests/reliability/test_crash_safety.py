"""SIGKILL at random moments: training resumes exactly, no file is ever half-written."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from net2net.cli import main
from net2net.io import load_tensors, read_json
from net2net.models import read_folder

RECIPE = {
    "name": "kill-toy",
    "data": {"source": "toy-linear-gaussian", "dim": 4, "cond_dim": 2, "n_train": 512, "n_val": 64},
    "model": {"kind": "cinn", "n_blocks": 2, "hidden": 8, "embed_dim": 4, "embed_hidden": 8},
    "train": {"steps": 300, "batch_size": 32, "warmup_steps": 5, "eval_every": 0, "ckpt_every": 4,
              "keep_checkpoints": 2, "device": "cpu"},
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _check_checkpoints(run: Path) -> int:
    """Every invariant a reader relies on after a kill; returns the step `latest` names (0: none)."""
    latest = run / "checkpoints" / "latest"
    if not latest.exists():
        return 0
    ckpt = latest.parent / latest.read_text()
    assert sorted(p.name for p in ckpt.iterdir()) == ["model", "optimizer.safetensors", "trainer.json"]
    state = read_json(ckpt / "trainer.json")  # whole JSON, never half of one
    read_folder(ckpt / "model").state()  # a whole, checksummed model folder, never half of one
    load_tensors(ckpt / "optimizer.safetensors")
    assert state["step"] == int(ckpt.name.split("-")[1])
    return state["step"]


def _kill_and_resume(tmp_path: Path, kills: int, seed: int, kill_mid_checkpoint) -> None:
    """Trains with a SIGKILL inside a checkpoint write (certain: the trainer is paused
    there) and `kills` more at random moments, each run resuming the last; then finishes
    and checks the weights equal an uninterrupted run's, bit for bit."""
    torch.set_num_threads(1)  # the subprocesses' setting: same kernels, same bits
    (tmp_path / "r.json").write_text(json.dumps(RECIPE))
    rng = random.Random(seed)
    run = tmp_path / "run"
    temp = kill_mid_checkpoint(["train", "r.json", "--out", "run"], tmp_path, step=8, env=ENV)
    assert temp.parent == run / "checkpoints" and _check_checkpoints(run) == 4  # latest still names step 4
    done = 4
    for _ in range(kills):
        cmd = [sys.executable, "-m", "net2net.cli", "train", "r.json", "--out", "run", "--resume"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        # Wait for progress past the last checkpoint, then kill at a random moment:
        # mid-step, mid-checkpoint, mid-rename or mid-prune.
        while proc.poll() is None and _safe_step(run) <= done and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.1))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode in (-signal.SIGKILL, 0), err.decode()
        new = _check_checkpoints(run)
        assert new >= done
        assert not temp.exists(), "the resumed run removes the killed writer's temporary"
        done = new
    assert 0 < done < RECIPE["train"]["steps"], "every run was killed before its first checkpoint, or none was"
    # Checkpoint frequency changes no number, only how much a kill loses: finish (and
    # train the reference) without the fsync-heavy intermediate checkpoints, for speed.
    (tmp_path / "r.json").write_text(json.dumps(dict(RECIPE, train=dict(RECIPE["train"], ckpt_every=0))))
    assert main(["train", str(tmp_path / "r.json"), "--out", str(run), "--resume"]) == 0
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "ref")]) == 0
    got, ref = load_tensors(run / "model" / "model.safetensors"), load_tensors(tmp_path / "ref" / "model" / "model.safetensors")
    assert got.keys() == ref.keys()
    for k in ref:
        assert torch.equal(got[k], ref[k]), f"{k} differs from the uninterrupted run's"
    assert read_json(run / "metrics.json")["history"]["train_nll"] == read_json(tmp_path / "ref" / "metrics.json")["history"]["train_nll"]


def _safe_step(run: Path) -> int:
    try:
        return int((run / "checkpoints" / "latest").read_text().split("-")[1])
    except (OSError, ValueError, IndexError):
        return 0


def test_sigkill_mid_checkpoint_and_twice_more_then_resume_equals_an_uninterrupted_run(tmp_path, kill_mid_checkpoint) -> None:
    _kill_and_resume(tmp_path, kills=2, seed=0, kill_mid_checkpoint=kill_mid_checkpoint)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_many_times_then_resume_equals_an_uninterrupted_run(tmp_path, seed, kill_mid_checkpoint) -> None:
    _kill_and_resume(tmp_path, kills=6, seed=seed, kill_mid_checkpoint=kill_mid_checkpoint)
