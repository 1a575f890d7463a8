"""Flags every command shares and output folders are checked before any work starts:
one line naming the flag, exit 2, nothing loaded, nothing written (issue 15, items 3, 7, 9)."""

from __future__ import annotations

import json

import pytest
import torch

import net2net.translator
from net2net.cli import main
from net2net.preflight import MAX_CANDIDATES, MAX_SEED


@pytest.fixture
def nothing_loads(monkeypatch):
    """Any translator load is a test failure: the check must come first."""
    def boom(*a, **k):
        raise AssertionError("loaded a translator before checking the flags")

    monkeypatch.setattr(net2net.translator, "load", boom)


def _one_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"net2net {command}: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err[len(f"net2net {command}: error: "):].rstrip("\n")


@pytest.fixture
def blocked(tmp_path):
    """A path that cannot become a folder, for root too: its parent is a file."""
    (tmp_path / "a-file").write_text("x")
    return tmp_path / "a-file" / "out"


def _argv(cmd: str, dirs, tmp_path, out) -> list[str]:
    return {
        "sample": ["sample", str(dirs["label"]), "--class", "dress", "--out", str(out)],
        "translate": ["translate", str(dirs["label"]), "--image", "x.png", "--out", str(out)],
        "eval-json": ["eval", str(dirs["label"]), "--json", str(out / "m.json")],
        "eval-plots": ["eval", str(dirs["label"]), "--plots", str(out)],
        "demo": ["demo", "--out", str(out)],
        "extract": ["extract", "--expert", "onehot", "--root", str(out)],
        "train": ["train", str(tmp_path / "r.json"), "--out", str(out)],
        "convert": ["convert", str(tmp_path / "r.json"), str(out / "w.safetensors"), "--trust-pickle"],
    }[cmd]


@pytest.mark.parametrize(("cmd", "flag"), [
    ("sample", "--out"), ("translate", "--out"), ("eval-json", "--json"), ("eval-plots", "--plots"),
    ("demo", "--out"), ("extract", "--root"), ("train", "--out"), ("convert", "OUTPUT"),
])
def test_unwritable_outputs_fail_before_any_work(cmd, flag, translator_dirs, tmp_path, blocked, capsys, nothing_loads,
                                                 monkeypatch) -> None:
    import net2net.demo
    import net2net.experts.registry
    import net2net.train.recipe

    def boom(*a, **k):
        raise AssertionError("started work before checking the output folder")

    monkeypatch.setattr(net2net.demo, "run_demo", boom)
    monkeypatch.setattr(net2net.experts.registry, "get_expert", boom)
    monkeypatch.setattr(net2net.train.recipe, "load_recipe", boom)
    (tmp_path / "r.json").write_text("{}")
    assert main(_argv(cmd, translator_dirs, tmp_path, blocked)) == 2
    msg = _one_line(capsys, cmd.split("-")[0])
    assert msg == (f"{flag}: cannot write to {blocked} "  # a file's folder (--json, OUTPUT) or the folder itself
                   f"({tmp_path / 'a-file'} is a file, not a folder); choose a folder you can write to")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "r.json"]  # no probe, no folder left


def test_a_writable_new_folder_is_not_created_by_the_check(translator_dirs, tmp_path, capsys) -> None:
    out = tmp_path / "new" / "deeper"
    assert main(["sample", str(translator_dirs["label"]), "--class", "hat", "--out", str(out)]) == 2
    assert "unknown class 'hat'" in _one_line(capsys, "sample")
    assert list(tmp_path.iterdir()) == []  # a failed command leaves no empty folder


@pytest.mark.parametrize(("argv", "message"), [
    (["--device", "potato"], "--device: 'potato' is not a device; use 'cpu', 'cuda', 'cuda:N' or 'auto'"),
    (["--device", "cuda"], "--device: 'cuda' asked for, but this torch has no usable CUDA device (built with CUDA: "),
    (["--device", "cuda:3"], "--device: 'cuda:3' asked for, but this torch has no usable CUDA device"),
    (["--device", "meta"], "--device: 'meta' is not supported; use 'cpu', 'cuda', 'cuda:N' or 'auto'"),
    (["--seed", str(2**64)], f"--seed must be a whole number between 0 and {MAX_SEED} (2**63-1), got {2**64}"),
    (["--seed", "-1"], f"--seed must be a whole number between 0 and {MAX_SEED} (2**63-1), got -1"),
    (["--rerank", "1000000", "-n", "256"], f"--rerank 1000000 with -n 256 draws 256000000 candidates; the limit is "
                                           f"{MAX_CANDIDATES} (choose --rerank <= 16 for -n 256)"),
    (["--rerank", "0"], "--rerank must be a whole number >= 1, got 0"),
])
def test_bad_shared_flags_name_the_flag(argv, message, translator_dirs, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a GPU machine
    if "--rerank" not in argv:
        monkeypatch.setattr(net2net.translator, "load", lambda *a, **k: pytest.fail("loaded before the check"))
    out = tmp_path / "out"
    assert main(["sample", str(translator_dirs["label"]), "--class", "dress", *argv, "--out", str(out)]) == 2
    assert _one_line(capsys, "sample").startswith(message)
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["eval", "{label}", "--device", "potato"],
    ["extract", "--expert", "onehot", "--device", "potato"],
    ["serve", "--device", "potato"],
    ["demo", "--seed", str(2**64)],
    ["eval", "{label}", "--seed", str(2**64)],
])
def test_every_command_checks_device_and_seed(command, translator_dirs, capsys, nothing_loads, tmp_path,
                                              monkeypatch) -> None:
    monkeypatch.setenv("NET2NET_CACHE", str(tmp_path / "cache"))
    assert main([a.format(label=translator_dirs["label"]) for a in command]) == 2
    msg = _one_line(capsys, command[0])
    assert msg.startswith("--device: 'potato' is not a device" if "potato" in command else "--seed must be")


def test_train_device_in_a_recipe_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    recipe = {"name": "t", "data": {"source": "toy-linear-gaussian", "n_train": 64, "n_val": 16},
              "train": {"steps": 2, "device": "potato"}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    assert main(["train", str(tmp_path / "r.json"), "--out", str(tmp_path / "run")]) == 2
    assert _one_line(capsys, "train") == "train.device: 'potato' is not a device; use 'cpu', 'cuda', 'cuda:N' or 'auto'"
    assert main(["train", str(tmp_path / "r.json"), "--device", "cuda", "--out", str(tmp_path / "run")]) == 2
    assert _one_line(capsys, "train").startswith("--device: 'cuda' asked for, but this torch has no usable CUDA device")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("threads", ["100000", "0", "-3"])
def test_threads_out_of_range_is_one_line_before_torch_is_touched(threads, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch, "set_num_threads", lambda n: pytest.fail("set_num_threads was called"))
    with pytest.raises(SystemExit) as e:
        main(["--threads", threads, "zoo", "list"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"net2net: error: --threads must be between 1 and 1024, got {threads} (this machine has ")
    assert err.count("\n") == 1


def test_docs_reliability_lists_these_messages_exactly(monkeypatch, tmp_path) -> None:
    """docs/reliability.md quotes what the checks really say (computed here, not retyped)."""
    from pathlib import Path

    from net2net import preflight as pf
    from net2net.train.checkpoints import latest_checkpoint

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)

    def said(fn, *args) -> str:
        with pytest.raises(ValueError) as e:
            fn(*args)
        return str(e.value)

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest").write_bytes(b"../..")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    for message in [
        said(pf.check_device, "potato"),
        said(pf.check_device, "cuda"),
        said(pf.check_device, "potato", "train.device"),
        said(pf.check_seed, 2**64),
        said(pf.check_rerank, 1000000, 256),
        said(pf.check_threads, 100000).split(" (this machine")[0],
        said(latest_checkpoint, tmp_path).split(": ", 1)[1].split(";")[0],
        "choose a folder you can write to",
        "belongs to another recipe; changed: data.train (the pairs' content); train.batch_size 32 -> 64. Resume with "
        "the recipe that started the run (only ckpt_every, device, eval_batch_size, eval_every, keep_checkpoints, "
        "steps may change) or start a new run folder",
        "malformed checkpoint record ('kind' is missing)",
        "another process is training into this folder",
    ]:
        assert message in doc, f"docs/reliability.md does not quote: {message}"
