"""The data layer under bad folders and files changing underneath (issues 24 and 27): one line, exit 2, nothing stored.

Every message here is quoted in docs/reliability.md, section "Data layer"
(``test_the_doc_quotes_what_the_data_layer_says``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from net2net.cli import main
from net2net.features import FeatureStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def make(root: Path, n: int = 8, size: int = 12) -> Path:
    """``root/train`` with ``n`` grey squares and a metadata.jsonl (file_name, text, big)."""
    (root / "train").mkdir(parents=True)
    rows = []
    for i in range(n):
        a = np.random.default_rng(i).integers(0, 255, (size, size), dtype=np.uint8)
        Image.fromarray(a).save(root / "train" / f"{i:03d}.png")
        rows.append({"file_name": f"{i:03d}.png", "text": f"square number {i}", "big": i % 2})
    write_rows(root, rows)
    return root


def rows_of(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "train" / "metadata.jsonl").read_text().splitlines()]


def write_rows(root: Path, rows: list[dict]) -> None:
    (root / "train" / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def extract(folder: Path, store: Path, *extra: str, expert: str = "rel-tiny-ae") -> int:
    return main(["extract", "--expert", expert, "--dataset", str(folder), "--split", "train", "--root", str(store),
                 "--no-progress", *extra])


def _edit(root: Path, what: str) -> list[str]:
    """Breaks ``root`` as a user would; returns extra flags for the command."""
    train = root / "train"
    rows = rows_of(root)
    if what == "dotdot":
        shutil.copy(train / "000.png", root.parent / "x.png")
        rows[2]["file_name"] = "../../x.png"
    elif what == "absolute":
        rows[2]["file_name"] = str(train / "001.png")
    elif what == "empty caption":
        rows[3]["text"] = "  "
        write_rows(root, rows)
        return ["--column", "text", "--expert", "rel-hash-text"]
    elif what == "non-text caption":
        rows[3]["text"] = 5
    elif what == "missing value":
        del rows[4]["big"]
        write_rows(root, rows)
        return ["--column", "big", "--expert", "onehot"]
    elif what == "link outside":
        shutil.copy(train / "003.png", root.parent / "outside.png")
        (train / "003.png").unlink()
        (train / "003.png").symlink_to(root.parent / "outside.png")
    elif what == "split without metadata":
        (root / "test").mkdir()
        shutil.copy(train / "000.png", root / "test" / "000.png")
        return ["--split", "test"]
    elif what == "huge file":
        (train / "001.png").unlink()
        with open(train / "001.png", "wb") as f:
            f.truncate(1_500_000_000)  # sparse: 1.5 GB listed, nothing on disk
    write_rows(root, rows)
    return []


CASES = [
    ("dotdot", "row 3 names '../../x.png', a path outside the data set folder; file names are relative to the "
               "metadata file and stay inside the folder"),
    ("absolute", "a path outside the data set folder"),
    ("empty caption", "row 4 (train/003.png) has an empty caption in column 'text'; fix the row, or pass "
                      "--skip-bad-rows to leave such rows out"),
    ("non-text caption", "row 4 (train/003.png) has a non-text caption in column 'text' (5)"),
    ("missing value", "row 5 (train/004.png) has no value in column 'big'"),
    ("link outside", "row 4 (train/003.png) is a symbolic link to"),
    ("split without metadata", "test/ holds images but no metadata.jsonl or metadata.csv, unlike train/; add one "
                               "(file_name plus your columns) or move the folder out"),
    ("huge file", "split 'train', row 1 (train/001.png): 1500000000 bytes is too large; the limit is 20971520 bytes"),
]


@pytest.mark.parametrize(("what", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_folders_are_one_line_naming_row_and_file(tmp_path, capsys, what, message) -> None:
    folder = make(tmp_path / "data")
    extra = _edit(folder, what)
    argv = ["extract", "--expert", "rel-tiny-ae", "--dataset", str(folder), "--split", "train",
            "--root", str(tmp_path / "store"), "--no-progress"]
    for k in range(0, len(extra), 2):  # later flags replace earlier ones
        if extra[k] in argv:
            argv[argv.index(extra[k]) + 1] = extra[k + 1]
        else:
            argv += extra[k:k + 2]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("net2net extract: error: ") and message in err and err.count("\n") == 1, err
    assert "Traceback" not in err and "DatasetGenerationError" not in err
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_skip_bad_rows_counts_them_and_follow_links_reads_the_target(tmp_path, capsys, caplog) -> None:
    folder = make(tmp_path / "data")
    _edit(folder, "empty caption")
    assert extract(folder, tmp_path / "store", "--column", "text", "--skip-bad-rows", expert="rel-hash-text") == 0
    assert "rows: 7  dim: 6" in capsys.readouterr().out
    assert "skipped 1 of 8 rows (--skip-bad-rows); the first: " in caplog.text
    other = make(tmp_path / "linked")
    _edit(other, "link outside")
    assert extract(other, tmp_path / "store", "--follow-links") == 0
    key = capsys.readouterr().out.splitlines()[0]
    Image.new("L", (12, 12), 99).save(tmp_path / "outside.png")  # the target's bytes are in the fingerprint
    assert extract(other, tmp_path / "store", "--follow-links") == 0
    assert capsys.readouterr().out.splitlines()[0] != key


def test_class_folders_non_utf8_and_linked(tmp_path, capsys) -> None:
    root = tmp_path / "classes"
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (10, 10), 30 * i).save(root / c / f"{i}.png")
    weird = os.fsencode(root) + b"/caf\xe9"
    os.makedirs(weird)
    Image.new("L", (10, 10)).save(weird + b"/a.png")
    assert extract(root, tmp_path / "store", "--transform", "labels", expert="onehot") == 2
    assert f"{root}: the folder name b'caf\\xe9' is not UTF-8; rename it" in capsys.readouterr().err
    shutil.rmtree(weird)
    shutil.move(str(root / "dog"), tmp_path / "dog")
    (root / "dog").symlink_to(tmp_path / "dog")  # a class folder that lives elsewhere: was skipped (4 of 8 rows)
    assert extract(root, tmp_path / "store", "--transform", "labels", expert="onehot") == 2
    assert (f"{root / 'dog'}: a symbolic link to {tmp_path / 'dog'}, outside the data set folder; pass "
            "--follow-links to read it") in capsys.readouterr().err
    assert extract(root, tmp_path / "store", "--transform", "labels", "--follow-links", expert="onehot") == 0
    assert "rows: 8  dim: 10" in capsys.readouterr().out


def test_a_folder_that_is_no_data_set_is_refused_before_hashing(tmp_path, capsys, monkeypatch) -> None:
    """``--dataset /usr``: sub-folders, no metadata, no images beside them: refused without reading a file."""
    import net2net.data.folder as F

    for d in ("bin", "lib/x", "share/pixmaps"):
        (tmp_path / "usr" / d).mkdir(parents=True)
    Image.new("L", (4, 4)).save(tmp_path / "usr" / "share" / "pixmaps" / "icon.png")
    (tmp_path / "usr" / "bin" / "tool").write_bytes(b"\x7fELF")
    monkeypatch.setattr(F, "scan_folder", lambda *a, **k: pytest.fail("hashed"))
    assert extract(tmp_path / "usr", tmp_path / "store") == 2
    assert ("no metadata.jsonl or metadata.csv (file_name plus your columns), and no class sub-folders"
            in capsys.readouterr().err)
    monkeypatch.setattr(F, "MAX_FILES", 3)
    with pytest.raises(ValueError, match="more than 3 files under the folder; point --dataset at the data set's own"):
        F._walk(make(tmp_path / "many"), False)


def test_an_image_replaced_during_extraction_is_refused_and_never_cached(tmp_path, capsys, monkeypatch) -> None:
    """Issue 27: train/003.png replaced while extract runs: the entry was keyed by the new content but
    held the old image's features. Now: refused, nothing stored; the next run encodes the new image."""
    from net2net.data.folder import FolderSplit

    folder = make(tmp_path / "data")
    real = FolderSplit._raw

    def replaced_first(self, i):
        if i == 3 and not getattr(replaced_first, "done", False):
            replaced_first.done = True
            Image.new("L", (12, 12), 200).save(folder / "train" / "003.png")  # mid-write, before its read
        return real(self, i)

    monkeypatch.setattr(FolderSplit, "_raw", replaced_first)
    assert extract(folder, tmp_path / "store") == 2
    err = capsys.readouterr().err
    assert ("split 'train', row 3 (train/003.png): the file changed while the data set was read (its bytes differ "
            "from when it was fingerprinted); nothing was stored - run the command again") in err
    assert not any((tmp_path / "store").iterdir())
    monkeypatch.setattr(FolderSplit, "_raw", real)
    assert extract(folder, tmp_path / "store") == 0
    (entry,) = FeatureStore(tmp_path / "store").entries()
    from net2net.experts.registry import get_expert
    new = torch.full((1, 1, 28, 28), 200 / 255.0)  # the new image, resized 12 -> 28 (constant: exact)
    np.testing.assert_allclose(entry.array()[3], get_expert("rel-tiny-ae").encode(new)[0].numpy(), atol=1e-5)


def _reference(state: Path, expert: str, extra: list[str]) -> tuple[str, np.ndarray] | None:
    """(key, features) of an uninterrupted extraction of a copy of ``state``; None if it fails."""
    with tempfile.TemporaryDirectory() as t:
        copy = Path(t) / state.name
        shutil.copytree(state, copy, symlinks=True)
        if extract(copy, Path(t) / "store", *extra, expert=expert) != 0:
            return None
        (e,) = FeatureStore(Path(t) / "store").entries()
        return e.key, e.array().copy()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.integers(0, 20), action=st.sampled_from(["edit", "delete", "caption"]), row=st.integers(0, 5),
       column=st.booleans())
def test_files_changed_at_random_moments_never_give_an_entry_whose_key_disagrees(monkeypatch, capsys, at, action, row,
                                                                              column) -> None:
    """Property (issue 27): whatever file changes at whatever moment of ``extract``, every entry in the
    store holds exactly what an uninterrupted extraction of the data its key names holds."""
    import net2net.data.folder as F

    expert, extra = ("rel-hash-text", ["--column", "text"]) if column else ("rel-tiny-ae", [])
    with tempfile.TemporaryDirectory() as t:
        folder = make(Path(t) / "data", n=6)
        store = Path(t) / "store"
        states = [_reference(folder, expert, extra)]
        real = F._read_bytes
        calls = {"n": 0}

        def mutate() -> None:
            name = folder / "train" / f"{row:03d}.png"
            if action == "edit":
                Image.new("L", (12, 12), 7 * row + 1).save(name)
            elif action == "delete":
                name.unlink(missing_ok=True)
            else:
                rows = rows_of(folder)
                rows[row]["text"] = f"changed caption {row}"
                write_rows(folder, rows)

        def read(path, where):
            calls["n"] += 1
            if calls["n"] == at + 1:
                mutate()
            return real(path, where)

        monkeypatch.setattr(F, "_read_bytes", read)
        rc = extract(folder, store, *extra, expert=expert)
        monkeypatch.setattr(F, "_read_bytes", real)
        if calls["n"] <= at:
            mutate()  # a column entry reads no image: change the folder right after instead
        states.append(_reference(folder, expert, extra))
        capsys.readouterr()
        known = {s[0]: s[1] for s in states if s is not None}
        entries = FeatureStore(store).entries() if store.exists() else []
        assert rc in (0, 2) and (rc == 0) == bool(entries)
        for e in entries:
            assert e.key in known, "an entry whose key names no state the folder was in"
            np.testing.assert_array_equal(e.array(), known[e.key])
        # and the next run never hits a stale entry
        if extract(folder, store, *extra, expert=expert) == 0:
            newest = [e for e in FeatureStore(store).entries() if e.key == states[-1][0]]
            assert newest and np.array_equal(newest[0].array(), states[-1][1])
        capsys.readouterr()


def test_the_doc_quotes_what_the_data_layer_says() -> None:
    doc = DOC.read_text()
    section = doc[doc.index("## Data layer"):]
    for _, message in CASES:
        assert message in section, f"docs/reliability.md, ## Data layer, does not quote: {message}"
    for message in ["the folder name b'caf\\xe9' is not UTF-8; rename it",
                    "a symbolic link to", "outside the data set folder; pass --follow-links to read it",
                    "the file changed while the data set was read (its bytes differ from when it was fingerprinted); "
                    "nothing was stored - run the command again",
                    "no metadata.jsonl or metadata.csv (file_name plus your columns), and no class sub-folders",
                    "skipped 1 of 8 rows (--skip-bad-rows)"]:
        assert message in section, f"docs/reliability.md, ## Data layer, does not quote: {message}"
