"""A run folder is checked before work starts and trusted no further than it must be:
--resume refuses another recipe, damaged checkpoint records and pointers are one-line
errors, and the temporaries of killed writers are cleaned once no live writer owns them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from net2net.data import LinearGaussianToy
from net2net.train import fit as fit_module
from net2net.train.checkpoints import RunLock, latest_checkpoint
from net2net.train.fit import Pairs, TrainConfig, fit

TOY = LinearGaussianToy(dim=4, cond_dim=2, seed=0, noise=0.5)
SMALL = dict(dim=4, cond_dim=2, n_blocks=2, hidden=8, embed_dim=4, embed_hidden=8)
CFG = TrainConfig(steps=10, batch_size=32, lr=1e-3, warmup_steps=1, eval_every=0, ckpt_every=5)


@pytest.fixture(scope="module")
def pairs() -> tuple[Pairs, Pairs]:
    return Pairs(*TOY.sample(512, seed=1)), Pairs(*TOY.sample(128, seed=2))


@pytest.fixture
def run(pairs, tmp_path):
    """A finished 10-step run with checkpoints at steps 5 and 10."""
    fit("cinn", SMALL, *pairs, CFG, tmp_path / "run", progress=False)
    return tmp_path / "run"


def _resume(pairs, out, cfg=CFG, model=SMALL):
    return fit("cinn", model, *pairs, cfg, out, resume=True, progress=False)


# --- item 4: --resume refuses a changed recipe --------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    ({"batch_size": 64}, "changed: train.batch_size 32 -> 64."),
    ({"lr": 2e-3}, "changed: train.lr 0.001 -> 0.002."),
    ({"seed": 1, "grad_clip": 1.0}, "changed: train.grad_clip 10.0 -> 1.0; train.seed 0 -> 1."),
    ({"precision": "bf16"}, "changed: train.precision 'fp32' -> 'bf16'."),
])
def test_resume_refuses_changed_training_settings_naming_them(pairs, run, change, message) -> None:
    cfg = TrainConfig(**{**CFG.to_dict(), "steps": 20, **change})
    with pytest.raises(ValueError, match="belongs to another recipe") as e:
        _resume(pairs, run, cfg)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert latest_checkpoint(run).name == "step-00000010"  # nothing was trained or written


def test_resume_refuses_other_data(pairs, run) -> None:
    other_train = Pairs(*TOY.sample(512, seed=7))
    with pytest.raises(ValueError, match=r"changed: data\.train \(the pairs' content\)\. Resume"):
        fit("cinn", SMALL, other_train, pairs[1], CFG, run, resume=True, progress=False)
    edited = Pairs(pairs[0].cond.clone(), pairs[0].target.clone())
    edited.target[100, 2] += 1e-3  # one value of one row
    with pytest.raises(ValueError, match=r"data\.train \(the pairs' content\)"):
        fit("cinn", SMALL, edited, pairs[1], CFG, run, resume=True, progress=False)
    with pytest.raises(ValueError, match=r"data\.val \(the pairs' content\)"):
        fit("cinn", SMALL, pairs[0], None, CFG, run, resume=True, progress=False)


def test_resume_accepts_more_steps_and_records_each_segment(pairs, run) -> None:
    more = TrainConfig(**{**CFG.to_dict(), "steps": 15, "ckpt_every": 0, "keep_checkpoints": 3, "eval_every": 5})
    metrics = _resume(pairs, run, more)
    assert metrics["segments"] == [{"start": 0, "steps": 10}, {"start": 10, "steps": 15}]
    assert json.loads((run / "model" / "config.json").read_text())["extra"]["train_config"]["steps"] == 15
    with pytest.raises(ValueError, match=r"is at step 15, past train.steps=10; raise --steps"):
        _resume(pairs, run, CFG)


# --- item 9: damaged checkpoint records and pointers ------------------------------------


@pytest.mark.parametrize(("damage", "message"), [
    (lambda s: s.pop("kind"), "trainer.json: malformed checkpoint record ('kind' is missing); delete "),
    (lambda s: s.update(step="ten"), "trainer.json: malformed checkpoint record ('step' is a str)"),
    (lambda s: s.update(history={"step": []}), "malformed checkpoint record (history.train_nll is not a list)"),
    (lambda s: s["optimizer"].update(param_groups=7), "the optimiser state does not fit this model (TypeError"),
])
def test_malformed_trainer_json_is_one_line_naming_the_file(pairs, run, damage, message) -> None:
    path = run / "checkpoints" / "step-00000010" / "trainer.json"
    state = json.loads(path.read_text())
    damage(state)
    path.write_text(json.dumps(state))
    with pytest.raises(ValueError) as e:
        _resume(pairs, run, TrainConfig(**{**CFG.to_dict(), "steps": 12}))
    assert message in str(e.value) and "\n" not in str(e.value)
    if "optimiser" not in message:
        assert str(path) in str(e.value)


@pytest.mark.parametrize(("pointer", "message"), [
    (b"\xff\xfe\x00\x81binary", r"checkpoints/latest: not a checkpoint name \(expected step-NNNNNNNN, got b'\\xff"),
    (b"../..", r"checkpoints/latest: not a checkpoint name \(expected step-NNNNNNNN, got b'../..'\)"),
    (b"step-00000005/../../../victim", "not a checkpoint name"),
    (b"/etc", "not a checkpoint name"),
])
def test_a_bad_latest_pointer_is_refused_never_followed(pairs, run, tmp_path, pointer, message) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "trainer.json").write_text("{}")  # what a followed `../..` could reach
    (run / "checkpoints" / "latest").write_bytes(pointer)
    with pytest.raises(ValueError, match=message):
        latest_checkpoint(run)
    with pytest.raises(ValueError, match="delete .*latest to resume from no checkpoint, or start a new run folder"):
        _resume(pairs, run, TrainConfig(**{**CFG.to_dict(), "steps": 12}))


def test_cli_reports_a_binary_latest_in_one_line_naming_the_file(run, tmp_path) -> None:
    recipe = {"name": "t", "data": {"source": "toy-linear-gaussian", "dim": 4, "cond_dim": 2, "n_train": 64, "n_val": 16},
              "model": {"kind": "cinn", **{k: v for k, v in SMALL.items() if k not in ("dim", "cond_dim")}},
              "train": {"steps": 4, "batch_size": 16, "warmup_steps": 1, "device": "cpu"}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    (run / "checkpoints" / "latest").write_bytes(b"\x89PNG\r\n\x1a\n")
    r = subprocess.run([sys.executable, "-m", "net2net.cli", "train", str(tmp_path / "r.json"), "--out", str(run),
                        "--resume"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith(f"net2net train: error: {run / 'checkpoints' / 'latest'}: not a checkpoint name")
    assert r.stderr.count("\n") == 1 and "codec" not in r.stderr


# --- item 3: an unwritable run folder is found before any work ----------------------------


def test_unwritable_run_folder_fails_before_training(pairs, tmp_path, monkeypatch) -> None:
    def no_training(*a, **k):
        raise AssertionError("trained before checking the run folder")

    monkeypatch.setattr(fit_module, "train_step", no_training)
    monkeypatch.setattr(fit_module, "build_model", no_training)
    (tmp_path / "a-file").write_text("x")
    cfg = TrainConfig(**{**CFG.to_dict(), "ckpt_every": 0})
    with pytest.raises(ValueError, match=r"^run folder: cannot write to .*a-file/run \(.*a-file is a file, not a folder\); "
                                         "choose a folder you can write to$"):
        fit("cinn", SMALL, *pairs, cfg, tmp_path / "a-file" / "run", progress=False)
    if os.geteuid() != 0:  # root writes anywhere: the permission case needs a normal user
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ValueError, match=r"cannot write to .*ro/run \(permission denied\)"):
            fit("cinn", SMALL, *pairs, cfg, ro / "run", progress=False)
    with pytest.raises(ValueError, match=r"cannot write to /proc/net2net-run \((permission denied|no such file|"
                                         r"operation not permitted|read-only file system)"):
        fit("cinn", SMALL, *pairs, cfg, "/proc/net2net-run", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "ro") == ["a-file"]  # no probe left behind


# --- item 10: temporaries of killed writers -----------------------------------------------


def _leave_temporaries(out) -> list:
    ckpts = out / "checkpoints"
    made = [ckpts / ".step-00000015.tmp-k1ll3d", ckpts / ".latest.x7y8z9.tmp", out / ".model.tmp-abcd",
            out / ".best.tmp-efgh", out / ".metrics.json.q1w2.tmp", ckpts / ".step-00000005.old-4242"]
    for p in made:
        if p.name.endswith(".tmp") and "tmp-" not in p.name:
            p.write_bytes(b"half a file")
        else:
            p.mkdir()
            (p / "model.safetensors").write_bytes(b"\0" * 4096)
    return made


def test_stale_temporaries_are_removed_on_the_next_run(pairs, run) -> None:
    made = _leave_temporaries(run)
    keep = [run / ".gitignore", run / "checkpoints" / ".notes"]  # hidden, but not ours: kept
    for p in keep:
        p.write_text("mine")
    _resume(pairs, run, TrainConfig(**{**CFG.to_dict(), "steps": 12}))
    assert not any(p.exists() for p in made)
    assert all(p.exists() for p in keep)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [".notes", "latest", "step-00000010", "step-00000012"]


def test_a_live_writer_keeps_its_temporaries_and_its_folder(pairs, run) -> None:
    made = _leave_temporaries(run)
    with RunLock(run):  # another process training into `run` right now
        with pytest.raises(ValueError, match=r"another process is training into this folder \(it holds .*\.lock\); "
                                             "wait for it to finish or choose another run folder"):
            _resume(pairs, run, TrainConfig(**{**CFG.to_dict(), "steps": 12}))
    assert all(p.exists() for p in made)
    assert latest_checkpoint(run).name == "step-00000010"


def test_a_killed_trainers_lock_is_free_again(pairs, run) -> None:
    """flock dies with its process: SIGKILL never leaves a folder locked."""
    code = ("import sys, time; from pathlib import Path; from net2net.train.checkpoints import RunLock\n"
            f"l = RunLock(Path({str(run)!r})).__enter__(); print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match="another process is training"), RunLock(run):
            pass
    finally:
        proc.kill()
        proc.wait()
    deadline = time.time() + 10
    while True:
        try:
            with RunLock(run):
                break
        except ValueError:
            assert time.time() < deadline
            time.sleep(0.1)


def test_a_checkpoint_holds_a_verified_model_folder(pairs, run) -> None:
    ckpt = run / "checkpoints" / "step-00000010"
    assert sorted(p.name for p in (ckpt / "model").iterdir()) == ["config.json", "model.safetensors"]
    weights = ckpt / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = bytes(64)  # flipped bytes at the end of the weights: same size, other content
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.safetensors: sha256 .* does not match"):
        _resume(pairs, run, TrainConfig(**{**CFG.to_dict(), "steps": 12}))
