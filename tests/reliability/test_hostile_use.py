"""Issue 27's cases outside the data loader: bounds checked before work, tracebacks that
became one line, and no half-made entry left by any failure. Each fails on the code
before the issue."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from net2net.cli import main


def _one_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"net2net {command}: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err[len(f"net2net {command}: error: "):].rstrip("\n")


# -- data make ---------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["--n-train", "100000000000"], "--n-train must be an integer from 1 to 1,000,000, got 100000000000"),
    (["--n-test", "0"], "--n-test must be an integer from 1 to 1,000,000, got 0"),
    (["--seed", str(2**32)], "--seed must be an integer in [0, 2**32), got 4294967296"),
    (["--size", "4"], "--size must be an integer from 16 to 256, got 4"),
])
def test_data_make_bounds_name_the_flag(tmp_path, capsys, argv, message) -> None:
    assert main(["data", "make", "shapes", "--out", str(tmp_path / "d"), *argv]) == 2
    assert _one_line(capsys, "data") == message
    assert list(tmp_path.iterdir()) == []


def test_data_make_needs_the_disk_space_before_it_starts(tmp_path, capsys, monkeypatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    assert main(["data", "make", "shapes", "--out", str(tmp_path / "d"), "--n-train", "1000"]) == 2
    assert "GB free; make fewer images" in _one_line(capsys, "data")
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_killed_data_make_runs_are_swept(tmp_path) -> None:
    """A SIGKILL leaves the hidden temporary behind (no cleanup can run); the next run
    removes it when its process is gone, and leaves a live run's alone."""
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".d-tmp-{dead.pid}-abcd"
    (left / "train").mkdir(parents=True)
    (left / "train" / "00000.png").write_bytes(b"x" * 1000)
    live = tmp_path / f".d-tmp-{os.getpid()}-efgh"
    live.mkdir()
    assert main(["data", "make", "shapes", "--out", str(tmp_path / "d"), "--n-train", "2", "--n-test", "2",
                 "--n-judge", "2"]) == 0
    assert not left.exists() and live.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "d"]


# -- training bounds ---------------------------------------------------------------------

TOY = {"name": "toy", "data": {"source": "toy-linear-gaussian", "dim": 4, "cond_dim": 2, "n_train": 256, "n_val": 64},
       "model": {"kind": "cinn", "n_blocks": 2, "hidden": 8, "embed_dim": 4, "embed_hidden": 8}}


@pytest.mark.parametrize(("train", "message"), [
    ({"batch_size": 10**12}, "train.batch_size must be at most 1,048,576, got 1,000,000,000,000"),
    ({"steps": 10**18}, "train.steps must be at most 1,000,000,000, got 1,000,000,000,000,000,000"),
])
def test_absurd_steps_and_batches_are_one_line(tmp_path, capsys, train, message) -> None:
    (tmp_path / "r.json").write_text(json.dumps({**TOY, "train": train}))
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "run")]) == 2
    assert message in _one_line(capsys, "train")
    assert not (tmp_path / "run").exists()


def test_a_batch_larger_than_memory_is_refused_before_the_first_step(tmp_path, capsys, monkeypatch) -> None:
    real = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda k: 1024 if k == "SC_PHYS_PAGES" else real(k))  # 4 MiB of memory
    (tmp_path / "r.json").write_text(json.dumps({**TOY, "train": {"batch_size": 100000, "steps": 2}}))
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "run")]) == 2
    msg = _one_line(capsys, "train")
    assert msg.startswith("train.batch_size 100,000 (eval_batch_size 4,096) needs about") and "use at most" in msg
    assert not (tmp_path / "run" / "run.json").exists()


# -- recipe fields of the wrong type -----------------------------------------------------

@pytest.mark.parametrize(("query", "message"), [
    ({"expert": "onehot", "column": 5}, "recipe.data.cond.column: expected a column name or a list of names, got 5"),
    ({"expert": "onehot", "dataset": 7}, "recipe.data.cond.dataset: expected a non-empty string, got 7"),
    ({"expert": {"name": "onehot", "options": {}}}, "recipe.data.cond.expert: give the expert's name as a string"),
    ({"expert": "onehot", "options": [1]}, "recipe.data.cond.options: expected an object of the expert's settings"),
    ({"expert": "onehot", "limit": True}, "recipe.data.cond.limit: expected a positive integer, got true"),
])
def test_recipe_fields_of_the_wrong_type(tmp_path, capsys, query, message) -> None:
    recipe = {"name": "t", "data": {"source": "features", "cond": query, "target": {"expert": "onehot"},
                                    "root": "store"}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "run")]) == 2
    assert _one_line(capsys, "train").startswith(message)
    assert not (tmp_path / "store").exists() and not (tmp_path / "run").exists()


# -- experts given as file.py:factory ----------------------------------------------------

FACTORIES = '''
import torch

class NoFp:
    name, dim, input_kind = "nofp", 3, "text"
    def encode(self, batch): return torch.zeros(len(batch), 3)

class Neg(NoFp):
    dim = -3
    def fingerprint(self): return "neg"

class Broken(NoFp):
    def fingerprint(self): return "broken"
    def encode(self, batch): raise RuntimeError("encode broke")

def nofp(device="cpu"): return NoFp()
def number(device="cpu"): return 42
def negative(device="cpu"): return Neg()
def raises(device="cpu"): raise RuntimeError("kaput")
def broken(device="cpu"): return Broken()
'''


@pytest.fixture
def captioned(tmp_path):
    from PIL import Image

    (tmp_path / "d" / "train").mkdir(parents=True)
    rows = []
    for i in range(4):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / "d" / "train" / f"{i}.png")
        rows.append({"file_name": f"{i}.png", "text": f"item {i}"})
    (tmp_path / "d" / "train" / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "f.py").write_text(FACTORIES)
    (tmp_path / "syntax.py").write_text("def f(:\n")
    (tmp_path / "imports.py").write_text("import a_module_that_is_not_there\ndef f(device='cpu'): pass\n")
    return tmp_path


@pytest.mark.parametrize(("spec", "message"), [
    ("f.py:nofp", "expert spec '{d}/f.py:nofp' returned NoFp, not an expert: it lacks fingerprint"),
    ("f.py:number", "expert spec '{d}/f.py:number' returned int, not an expert: it lacks name, dim, encode, fingerprint"),
    ("f.py:negative", "expert spec '{d}/f.py:negative': the expert's dim must be a positive integer, got -3"),
    ("f.py:raises", "expert spec '{d}/f.py:raises': the factory raised RuntimeError: kaput"),
    ("syntax.py:f", "expert spec '{d}/syntax.py:f': importing {d}/syntax.py failed: SyntaxError (line 1)"),
    ("imports.py:f", "expert spec '{d}/imports.py:f': importing {d}/imports.py failed: ModuleNotFoundError"),
    ("f.py:broken", "extracting with expert 'nofp' failed: RuntimeError: encode broke"),
])
def test_factory_failures_are_one_line_and_leave_no_entry(captioned, capsys, spec, message) -> None:
    d = captioned
    store = d / "store"
    assert main(["extract", "--dataset", str(d / "d"), "--column", "text", "--expert", f"{d}/{spec}",
                 "--root", str(store)]) == 2
    assert _one_line(capsys, "extract").startswith(message.format(d=d))
    left = [p for p in store.rglob("*") if not p.name.startswith(".")] if store.exists() else []
    assert not [p for p in left if p.is_dir() and not any(p.iterdir())], f"empty entry folders: {left}"
    assert not [p for p in left if p.name == "manifest.json"]


def test_ci_run_exports_ci_true() -> None:
    """A skip for a missing package fails CI only if CI is set where the tests run."""
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "export CI=true" in ci


def test_docs_reliability_quotes_these_messages(tmp_path) -> None:
    """docs/reliability.md quotes what the code says (computed here, not retyped)."""
    from net2net.data.shapes import ShapesSpec
    from net2net.train.fit import TrainConfig
    from net2net.train.runs import claim_run_folder

    def said(fn, *a, **k) -> str:
        with pytest.raises(ValueError) as e:
            fn(*a, **k)
        return str(e.value)

    u = tmp_path / "u"
    (u / "translator").mkdir(parents=True)
    (u / "metrics.json").write_text("{}")
    refusal = said(claim_run_folder, u).replace(str(u), "u")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    for message in [
        refusal,
        said(ShapesSpec, n_train=100000000000).replace("n_train", "--n-train"),
        said(ShapesSpec, seed=2**32).replace("seed", "--seed", 1),
        said(TrainConfig, batch_size=10**12),
        said(TrainConfig, steps=10**18),
    ]:
        assert message in doc, f"docs/reliability.md does not quote: {message}"
