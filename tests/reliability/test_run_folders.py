"""Run folders are never destroyed (issue 27, item 1): `train --out DIR` and a recipe's
"out" refuse a non-empty folder that is not a net2net run, before any work, unless
--overwrite is given; files of the user's survive a run whatever happens around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import net2net.train.recipe as R
from net2net.cli import main
from net2net.train.runs import RUN_FILE, claim_run_folder, is_run_folder

TOY = {"name": "toy", "data": {"source": "toy-linear-gaussian", "dim": 4, "cond_dim": 2, "n_train": 256, "n_val": 64},
       "model": {"kind": "cinn", "n_blocks": 2, "hidden": 8, "embed_dim": 4, "embed_hidden": 8},
       "train": {"steps": 4, "batch_size": 32, "warmup_steps": 1, "eval_every": 2, "ckpt_every": 2}}


def _recipe(tmp_path: Path, **extra) -> Path:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**TOY, **extra}))
    return path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("net2net train: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("via", ["--out", "recipe.out"])
def test_a_users_folder_is_refused_and_left_byte_for_byte(tmp_path, capsys, via) -> None:
    """The issue's case: u/translator/ holds a user's file and u/metrics.json is theirs."""
    u = tmp_path / "u"
    (u / "translator").mkdir(parents=True)
    (u / "translator" / "notes.txt").write_text("mine")
    (u / "metrics.json").write_text('{"mine": 1}')
    before = _snapshot(u)
    argv = ["train", str(_recipe(tmp_path, out=str(u))) if via == "recipe.out" else str(_recipe(tmp_path))]
    argv += ["--out", str(u)] if via == "--out" else []
    assert main(argv) == 2
    err = _one_line(capsys)
    assert f"{via}: {u} is not empty (metrics.json, translator) and is not a net2net run folder" in err
    assert "pass --overwrite" in err
    assert _snapshot(u) == before


def test_a_checkpoints_folder_with_only_a_readme_is_not_an_earlier_run(tmp_path, capsys) -> None:
    c = tmp_path / "c"
    (c / "checkpoints").mkdir(parents=True)
    (c / "checkpoints" / "readme").write_text("hi")
    assert not is_run_folder(c)
    assert main(["train", str(_recipe(tmp_path)), "--out", str(c)]) == 2
    assert "is not a net2net run folder" in _one_line(capsys)
    assert (c / "checkpoints" / "readme").read_text() == "hi"


def test_overwrite_trains_and_keeps_files_of_other_names(tmp_path) -> None:
    u = tmp_path / "u"
    u.mkdir()
    (u / "metrics.json").write_text("{}")
    (u / "keep.txt").write_text("still here")
    assert main(["train", str(_recipe(tmp_path)), "--out", str(u), "--overwrite"]) == 0
    assert json.loads((u / RUN_FILE).read_text())["owner"] == "net2net train"
    assert "steps" in json.loads((u / "metrics.json").read_text())
    assert (u / "keep.txt").read_text() == "still here"


def test_a_new_or_empty_folder_is_claimed_and_a_second_run_needs_resume(tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    for out in ("empty", "new"):
        assert main(["train", str(_recipe(tmp_path)), "--out", str(tmp_path / out)]) == 0
        assert is_run_folder(tmp_path / out)
    capsys.readouterr()
    assert main(["train", str(_recipe(tmp_path)), "--out", str(tmp_path / "new")]) == 2
    assert "pass --resume" in _one_line(capsys)


def test_a_refused_folder_costs_no_extraction(tmp_path, capsys, monkeypatch) -> None:
    """Item 8: the run folder is checked before the recipe's features are extracted."""
    def boom(*a, **k):
        raise AssertionError("extracted before checking the run folder")

    monkeypatch.setattr(R, "resolve_feature_queries", boom)
    (tmp_path / "a-file").write_text("x")
    recipe = _recipe(tmp_path, data={"source": "features", "cond": {"expert": "onehot"}, "target": "nope"})
    assert main(["train", str(recipe), "--out", str(tmp_path / "a-file" / "out")]) == 2
    assert "cannot write to" in _one_line(capsys)
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "x").write_text("x")
    assert main(["train", str(recipe), "--out", str(tmp_path / "u")]) == 2
    assert "is not a net2net run folder" in _one_line(capsys)


def test_a_failed_check_leaves_no_run_record(tmp_path) -> None:
    with pytest.raises(ValueError):
        R.train({**TOY, "data": {"source": "toy-linear-gaussian", "dim": 0}}, out=tmp_path / "new")
    assert not (tmp_path / "new").exists()
    claim_run_folder(tmp_path / "checked", record=False)
    assert not (tmp_path / "checked").exists()


NAMES = st.sampled_from(["metrics.json", "translator", "model", "best", "checkpoints", "notes.txt", "data",
                         "run.json", "README"])
USER_FILES = st.lists(st.tuples(NAMES, st.sampled_from(["", "a.txt", "readme", "config.json"]), st.binary(max_size=16)),
                      max_size=4)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=USER_FILES, during=USER_FILES, at=st.integers(0, 12), overwrite=st.booleans())
def test_nothing_of_the_users_is_lost(tmp_path_factory, before, during, at, overwrite) -> None:
    """Property: files the user had in the folder survive unless they said --overwrite
    (then only the names training writes may change), and files the user adds while the
    run is under way, under names training does not write, survive in every case."""
    from net2net import io as nio
    from net2net.train.runs import WRITES

    root = tmp_path_factory.mktemp("run")
    out = root / "u"
    out.mkdir()

    def put(entries: list, where: Path) -> dict[str, bytes]:
        made = {}
        for name, inner, data in entries:
            path = where / name / inner if inner else where / name
            if path.exists() or any(p.is_file() for p in path.parents if p != where and where in p.parents):
                continue
            if path.parent != where and (where / name).is_file():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                continue
            path.write_bytes(data)
            made[str(path.relative_to(where))] = data
        return made

    mine = put(before, out)
    late: dict[str, bytes] = {}
    calls = {"n": 0}
    real = nio.atomic_write_json

    def meddling(path, obj):  # the user adds files at the at-th write of the run
        calls["n"] += 1
        if calls["n"] == at:
            late.update(put([(f"late-{n}", i, d) for n, i, d in during], out))
        return real(path, obj)

    import net2net.train.fit as F
    import net2net.train.runs as RN

    mp = pytest.MonkeyPatch()
    mp.setattr(F, "atomic_write_json", meddling)
    mp.setattr(RN, "atomic_write_json", meddling)
    try:
        try:
            R.train(TOY, out=out, overwrite=overwrite, progress=False)
            ran = True
        except ValueError as e:
            assert any(m in str(e) for m in ("is not a net2net run folder", "pass --resume", "where training writes"))
            ran = False
    finally:
        mp.undo()
    now = _snapshot(out)
    for rel, data in mine.items():
        if ran and rel.split("/")[0] in WRITES:
            assert overwrite or not mine, rel  # replaced only when the user allowed it
            continue
        assert now.get(rel) == data, f"lost {rel}"
    for rel, data in late.items():
        assert now.get(rel) == data, f"lost {rel}, added during the run"
