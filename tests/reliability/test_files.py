"""Untrusted and damaged files, full disks, killed writers: nothing is lost or half-read."""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import net2net.io as nio
from net2net.cli import main
from net2net.io import load_tensors, save_tensors
from net2net.translator import Translator

# --- pickles ------------------------------------------------------------------------------


def test_pickle_is_refused_with_the_convert_command_to_run(tmp_path, capsys) -> None:
    torch.save({"w": torch.ones(2)}, tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"m.pt: refusing to read a pickle-based checkpoint \(it can run code\).*"
                                         r"net2net convert .*m.pt .*m.safetensors --trust-pickle"):
        load_tensors(tmp_path / "m.pt")
    assert main(["convert", str(tmp_path / "m.pt"), str(tmp_path / "m.safetensors")]) == 2
    assert "reading a pickle can run code; if you trust its source, pass --trust-pickle" in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()


def test_convert_flattens_nested_dicts_with_dots(tmp_path, capsys) -> None:
    w = torch.randn(3, 2)
    torch.save({"model": {"layer": {"w": w}, "b": torch.zeros(3)}, "step_buf": torch.tensor(7)}, tmp_path / "in.pt")
    assert main(["convert", str(tmp_path / "in.pt"), str(tmp_path / "out.safetensors"), "--trust-pickle"]) == 0
    got = load_tensors(tmp_path / "out.safetensors")
    assert sorted(got) == ["model.b", "model.layer.w", "step_buf"] and torch.equal(got["model.layer.w"], w)
    assert json.loads(capsys.readouterr().out)["tensors"] == 3


@pytest.mark.parametrize(("obj", "message"), [
    ({"w": torch.ones(1), "step": 3}, "step is a int, not a tensor"),
    ({"opt": {"lr": 0.1}}, "opt.lr is a float, not a tensor"),
    ([torch.ones(1)], "the file is a list, not a tensor"),
])
def test_convert_refuses_non_tensors(tmp_path, capsys, obj, message) -> None:
    torch.save(obj, tmp_path / "in.pt")
    assert main(["convert", str(tmp_path / "in.pt"), str(tmp_path / "out.safetensors"), "--trust-pickle"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("net2net convert: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out.safetensors").exists()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_convert_never_runs_code_even_with_trust_pickle(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    torch.save({"w": _Evil()}, tmp_path / "evil.pt", _use_new_zipfile_serialization=True)
    assert main(["convert", "evil.pt", "out.safetensors", "--trust-pickle"]) == 2
    assert "evil.pt: cannot read it as a checkpoint of plain tensors" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out.safetensors").exists()


def test_a_pickle_named_safetensors_is_not_unpickled(tmp_path) -> None:
    torch.save({"w": torch.ones(1)}, tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_tensors(tmp_path / "m.safetensors")


# --- translator folders: experts must be the ones τ was trained with ---------------------


def _edit(folder, role, **changes):
    manifest = json.loads((folder / "translator.json").read_text())
    manifest[role].update(changes)
    (folder / "translator.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("role", "changes", "message"), [
    ("query", {"dim": 11}, "query expert 'onehot' has dim 10, but τ was trained on dim 11"),
    ("target", {"name": "no-such-expert"}, "no expert named 'no-such-expert'"),
    ("target", {"fingerprint": "0" * 16}, "target expert 'rel-tiny-ae' is not the one τ was trained with"),
])
def test_translator_with_other_experts_says_which(translator_dirs, tmp_path, capsys, role, changes, message) -> None:
    folder = tmp_path / "t"
    shutil.copytree(translator_dirs["label"], folder)
    _edit(folder, role, **changes)
    with pytest.raises(ValueError, match=message):
        Translator.from_pretrained(folder)
    assert main(["sample", str(folder), "--class", "dress", "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "o").exists()


# --- full disk ----------------------------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch):
    """Every write through net2net.io fails as on a full disk."""
    real = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(nio.os, "fdopen", lambda fd, *a, **k: Full(real(fd, *a, **k)))


def _hidden(folder):
    return sorted(p.name for p in folder.rglob(".*"))


def test_full_disk_leaves_the_target_untouched_and_no_temporary(tmp_path, full_disk) -> None:
    target = tmp_path / "weights.safetensors"
    target.write_bytes(b"old contents")
    with pytest.raises(OSError, match="no space left on device while writing") as e:
        save_tensors(target, {"w": torch.ones(3)})
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert target.read_bytes() == b"old contents" and _hidden(tmp_path) == []


def test_full_disk_in_the_cli_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch, full_disk) -> None:
    recipe = {"name": "t", "data": {"source": "toy-linear-gaussian", "dim": 2, "cond_dim": 2, "n_train": 64, "n_val": 16},
              "model": {"kind": "linear"}, "train": {"steps": 1, "device": "cpu"}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.json").write_text("{}")
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "run"), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"net2net train: error: no space left on device while writing {tmp_path / 'run'}")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (tmp_path / "run" / "metrics.json").read_text() == "{}" and _hidden(tmp_path) == []


# --- killed writers leave only hidden temporaries, which readers ignore -------------------


def _store_entry(root, rows=5, dim=3, bad_row=None, expert="e"):
    """A valid feature-store entry written by hand (same layout as FeatureStore._write)."""
    from net2net.features import FORMAT, FeatureStore, _key, _npy_bytes

    z = np.arange(rows * dim, dtype=np.float32).reshape(rows, dim)
    if bad_row is not None:
        z[bad_row, 1] = np.nan
    spec = {"format": FORMAT, "expert": {"name": expert, "fingerprint": "f", "dim": dim, "settings": {}},
            "dataset": {"name": "d", "split": "train", "fingerprint": "x", "limit": rows},
            "transform": {"name": "identity", "kind": "image", "params": {}}}
    folder = FeatureStore(root).folder(spec)
    folder.mkdir(parents=True)
    # the store's record writer: a static method here, a module function once features/ is a package
    put = getattr(FeatureStore, "_put", None) or importlib.import_module("net2net.features.store")._put
    shards = [put(folder, "z-00000.npy", _npy_bytes(z), rows)]
    files = [put(folder, "labels.npy", _npy_bytes(np.zeros(rows, np.int64)), rows)]
    nio.atomic_write_json(folder / "manifest.json", {"key": _key(spec), "spec": spec, "rows": rows, "dim": dim,
                                                      "dtype": "float32", "shards": shards, "files": files})
    return folder


def test_readers_ignore_hidden_temporaries(tmp_path, translator_dirs, monkeypatch) -> None:
    from net2net import translator as tr
    from net2net.features import FeatureStore
    from net2net.train.fit import latest_checkpoint

    store = tmp_path / "store"
    entry = _store_entry(store)
    # what a killed atomic_write_bytes / atomic_directory leaves behind
    (entry / ".manifest.json.k2j3.tmp").write_text('{"half')
    (entry / ".z-00000.npy.x9.tmp").write_bytes(b"\x93NUM")
    ghost = store / f".{entry.name}.tmp-abcd1234"
    shutil.copytree(entry, ghost)
    assert [e.path for e in FeatureStore(store).entries()] == [entry]
    assert FeatureStore(store).open(entry.name.rsplit("-", 1)[1]).path == entry
    assert FeatureStore(store).open({"expert": "e"}).path == entry

    zoo = tmp_path / "zoo"
    zoo.mkdir()
    shutil.copytree(translator_dirs["label"], zoo / ".fmnist-x.tmp-1234")
    monkeypatch.setattr(tr, "translator_folders", lambda: [zoo])
    assert tr.available_translators() == []

    ckpts = tmp_path / "run" / "checkpoints"
    (ckpts / ".step-00000008.tmp-zz").mkdir(parents=True)
    (ckpts / ".latest.ab.tmp").write_text("step-00000008")
    assert latest_checkpoint(tmp_path / "run") is None


def test_nan_in_a_store_entry_is_refused_with_its_row(tmp_path, capsys) -> None:
    cond = _store_entry(tmp_path / "store", expert="c")
    target = _store_entry(tmp_path / "store", expert="t", bad_row=3)
    recipe = {"name": "nan", "data": {"source": "features", "root": "store", "cond": cond.name,
                                      "target": target.name},
              "model": {"kind": "linear"}, "train": {"steps": 1, "device": "cpu"}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == ("net2net train: error: training target has NaN or inf values (first bad row: 3); "
                   "re-extract the features\n")
    assert not (tmp_path / "run").exists()


def test_a_manifest_without_shards_is_one_line(tmp_path, capsys) -> None:
    cond = _store_entry(tmp_path / "store", expert="c")
    target = _store_entry(tmp_path / "store", expert="t")
    manifest = json.loads((target / "manifest.json").read_text())
    manifest.update(shards=[], rows=0)
    (target / "manifest.json").write_text(json.dumps(manifest))
    recipe = {"name": "noshards", "data": {"source": "features", "root": "store", "cond": cond.name,
                                           "target": target.name},
              "model": {"kind": "linear"}, "train": {"steps": 1, "device": "cpu"}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("net2net train: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert f"{target / 'manifest.json'}: malformed manifest (no shards); delete the folder {target}" in err


@pytest.mark.slow
def test_killed_extraction_reruns_and_verifies(tmp_path) -> None:
    from net2net.data.fashion_mnist import find_fashion_mnist
    from net2net.features import FeatureStore

    try:
        find_fashion_mnist()
    except ValueError as e:
        pytest.skip(str(e))
    cmd = [sys.executable, "-m", "net2net.cli", "extract", "--expert", "random-conv", "--split", "test",
           "--limit", "3000", "--root", str(tmp_path / "store"), "--no-progress", "--batch-size", "64"]
    for delay in (3.0, 4.5):  # import + encoding: the kills land mid-encoding or mid-write
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (found,) = FeatureStore(tmp_path / "store").entries()
    entry = FeatureStore(tmp_path / "store").open(found.key)  # full sha256 verification
    assert len(entry) == 3000 and np.isfinite(entry.array()).all()
