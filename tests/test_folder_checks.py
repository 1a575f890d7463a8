"""A translator folder is untrusted (issue 15, items 1, 2 and the config half of 9).

Its weights are checked against the sha256 in ``tau/config.json``; every size in the
config is checked against the weights' header before anything is built or allocated;
wrong types, non-finite numbers and unknown fields or options are one-line errors.
Each case goes through the command line, as a user downloading a folder would.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from net2net.cli import main
from net2net.translator import TRANSLATORS_DIR, load

SAMPLE = ["sample", "FOLDER", "--class", "dress", "-n", "1", "--out", "OUT"]


@pytest.fixture
def folder(tmp_path):
    # fmnist-attr: a class query (no sentence encoder to load), a cINN τ, the zoo autoencoder
    dst = tmp_path / "attr"
    shutil.copytree(TRANSLATORS_DIR / "fmnist-attr", dst)
    return dst


def edit_json(path, change) -> None:
    d = json.loads(path.read_text())
    change(d)
    path.write_text(json.dumps(d))


def one_line_error(folder, tmp_path, capsys) -> str:
    args = [str(folder) if a == "FOLDER" else str(tmp_path / "out") if a == "OUT" else a for a in SAMPLE]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return err


def test_the_unchanged_folder_samples(folder, tmp_path) -> None:
    assert main([str(folder) if a == "FOLDER" else str(tmp_path / "out") if a == "OUT" else a for a in SAMPLE]) == 0


@pytest.mark.parametrize("field, value, message", [
    ("n_blocks", 1_000_000_000, "config n_blocks = 1000000000 is larger than anything its weights hold"),
    ("hidden", 1_000_000_000, "config hidden = 1000000000 is larger than anything its weights hold"),
    ("clamp", float("inf"), "config.clamp must be a finite number, got inf"),
    ("clamp", "2", "FlowConfig.clamp must be a number, got '2'"),
    ("hidden", 64.0, "FlowConfig.hidden must be a positive integer, got 64.0"),
    ("hidden", 96, "weights do not match this model's config (shape of"),
    ("colour", 1, r"unknown FlowConfig field(s) ['colour']"),
])
def test_config_is_checked_against_the_weights_before_building(folder, tmp_path, capsys, field, value,
                                                               message) -> None:
    edit_json(folder / "tau" / "config.json", lambda d: d["config"].__setitem__(field, value))
    t0 = time.perf_counter()
    err = one_line_error(folder, tmp_path, capsys)
    assert message in err and "tau" in err
    assert time.perf_counter() - t0 < 20  # refused up front, not after growing a billion blocks


def test_flipped_bytes_in_the_weights_are_refused(folder, tmp_path, capsys) -> None:
    weights = folder / "tau" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    weights.write_bytes(bytes(data))
    err = one_line_error(folder, tmp_path, capsys)
    assert f"{weights}: sha256" in err and "does not match" in err and "recorded in config.json" in err


def test_truncated_weights_name_the_file(folder, tmp_path, capsys) -> None:
    weights = folder / "tau" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])
    err = one_line_error(folder, tmp_path, capsys)
    assert f"{weights}:" in err and "truncated or corrupt" in err


@pytest.mark.parametrize("change, message", [
    (lambda d: d["target"]["options"].__setitem__("colour", "red"), "expert 'fmnist-ae' takes no option(s) ['colour']"),
    (lambda d: d["target"].__setitem__("options", ["x"]), "options must be an object of plain values"),
    (lambda d: d["query"].__setitem__("dim", "ten"), "dim must be a non-negative integer, got 'ten'"),
    (lambda d: d["target"].__setitem__("name", "evil.py:run"), "names code to run"),
    (lambda d: d.__setitem__("info", []), "'info' must be an object"),
])
def test_translator_json_is_checked(folder, tmp_path, capsys, change, message) -> None:
    edit_json(folder / "translator.json", change)
    assert message in one_line_error(folder, tmp_path, capsys)


def test_an_old_folder_is_refused_with_the_upgrade_command_which_works(folder, tmp_path, capsys) -> None:
    before = (folder / "tau" / "model.safetensors").read_bytes()
    edit_json(folder / "tau" / "config.json", lambda d: (d.pop("weights"), d.__setitem__("version", 1)))
    err = one_line_error(folder, tmp_path, capsys)
    assert "records no checksum of its weights" in err and f"net2net convert {folder}" in err
    assert main(["convert", str(folder)]) == 0
    assert (folder / "tau" / "model.safetensors").read_bytes() == before
    assert load(folder).sample([3], n=1, seed=0).shape == (1, 1, 28, 28)
