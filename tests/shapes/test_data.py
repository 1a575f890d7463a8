"""The shapes generator: deterministic files, the held-out split, captions, pixels and their measurement."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from net2net.data import shapes as S
from net2net.data.shapes import (
    COLOURS,
    HELDOUT_COMBOS,
    POSITIONS,
    SHAPES,
    SIZES,
    STYLES,
    TEMPLATES,
    VOCAB,
    ShapesSpec,
    make_shapes,
    measure,
    render,
)

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"file_name", "shape", "colour", "size", "position", "style", "combo", "text", "text_heldout",
        "named", "text_partial", "text_partial_heldout", "text_newword", "text_varied", "named_varied",
        "text_varied_partial", "text_synonyms"}
#: Column text_varied of training item 0, seed 0, as data version 4 wrote it.
V4_TEXT_VARIED_0 = "at the upper right, a picture of a magenta plus sign solid, which is medium-sized"
TINY = ShapesSpec(n_train=30, n_test=40, n_judge=20, size=32, seed=3)


def _rows(folder: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (folder / split / "metadata.jsonl").read_text().splitlines()]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_shapes(tmp_path_factory.mktemp("tiny") / "shapes", TINY, progress=False)


# -- the generator ---------------------------------------------------------------------------

def test_make_shapes_is_deterministic_and_the_seed_matters(tiny, tmp_path):
    again = make_shapes(tmp_path / "again", TINY, progress=False)
    assert _files(again) == _files(tiny)
    other = make_shapes(tmp_path / "other", ShapesSpec(n_train=30, n_test=40, n_judge=20, seed=4), progress=False)
    a, b = _files(tiny), _files(other)
    assert a.keys() == b.keys()
    assert a["train/00000.png"] != b["train/00000.png"]
    assert a["train/metadata.jsonl"] != b["train/metadata.jsonl"]


def test_layout_and_metadata_rows(tiny):
    assert sorted(p.name for p in tiny.iterdir()) == ["shapes.json", "test", "train", "validation"]
    info = json.loads((tiny / "shapes.json").read_text())
    assert info["generator"] == "net2net.data.shapes" and info["n_train"] == 30 and info["seed"] == 3
    for split, n in (("train", 30), ("test", 40), ("validation", 20)):
        rows = _rows(tiny, split)
        assert len(rows) == n
        assert sorted(p.name for p in (tiny / split).glob("*.png")) == [f"{i:05d}.png" for i in range(n)]
        for i, row in enumerate(rows):
            assert set(row) == KEYS
            assert row["file_name"] == f"{i:05d}.png"
            for attr, values in VOCAB.items():
                assert row[attr] in values
            assert row["combo"] in ("seen", "heldout")
            assert row["text"] and row["text_heldout"] and row["text"] != row["text_heldout"]
    from PIL import Image

    with Image.open(tiny / "train" / "00000.png") as im:
        assert im.mode == "RGB" and im.size == (32, 32)


def test_heldout_combos_only_in_test_and_marked(tmp_path):
    folder = make_shapes(tmp_path / "s", ShapesSpec(n_train=200, n_test=120, n_judge=10, seed=0), progress=False)
    train = _rows(folder, "train")
    assert not [r for r in train if (r["colour"], r["shape"]) in HELDOUT_COMBOS]
    assert {r["combo"] for r in train} == {"seen"}
    test = _rows(folder, "test")
    for r in test:
        assert r["combo"] == ("heldout" if (r["colour"], r["shape"]) in HELDOUT_COMBOS else "seen")
    assert any(r["combo"] == "heldout" for r in test) and any(r["combo"] == "seen" for r in test)


def _words(table: dict) -> str:
    return "(?:" + "|".join(re.escape(w) for words in table.values() for w in words) + ")"


#: each template field -> every word the generator may put there
FIELDS = {"size": _words(S._SIZE_WORDS), "style": _words(S._STYLE_WORDS), "shape": _words(S._SHAPE_WORDS),
          "pos": _words(S._POSITION_WORDS), "colour": "(?:" + "|".join(COLOURS) + ")"}


def _pattern(template: str) -> re.Pattern:
    """A template as a regex: each field any of its words, ``a`` possibly ``an``, first letter any case."""
    parts = re.split(r"(\{\w+\})", template)
    body = "".join(FIELDS[p[1:-1]] if p.startswith("{") else re.escape(p).replace("a\\ ", "an?\\ ") for p in parts)
    return re.compile(body, re.IGNORECASE)


def test_phrasing_sets_are_disjoint(tmp_path):
    assert set(TEMPLATES) == {"train", "heldout"}
    assert not set(TEMPLATES["train"]) & set(TEMPLATES["heldout"])
    folder = make_shapes(tmp_path / "s", ShapesSpec(n_train=150, n_test=150, n_judge=10, seed=1), progress=False)
    rows = _rows(folder, "train") + _rows(folder, "test")
    train_pats = [_pattern(t) for t in TEMPLATES["train"]]
    held_pats = [_pattern(t) for t in TEMPLATES["heldout"]]
    for r in rows:
        assert any(p.fullmatch(r["text"]) for p in train_pats), r["text"]
        assert any(p.fullmatch(r["text_heldout"]) for p in held_pats), r["text_heldout"]
        assert not any(p.fullmatch(r["text_heldout"]) for p in train_pats), r["text_heldout"]
        assert not any(p.fullmatch(r["text"]) for p in held_pats), r["text"]
    # every template is used at this size
    assert all(any(p.fullmatch(r["text"]) for r in rows) for p in train_pats)
    assert all(any(p.fullmatch(r["text_heldout"]) for r in rows) for p in held_pats)


def test_caption_rejects_unknown_phrasing():
    attrs = {"shape": "star", "colour": "red", "size": "small", "position": "top", "style": "filled"}
    with pytest.raises(ValueError, match="phrasing must be one of train, heldout"):
        S.caption(attrs, np.random.default_rng(0), "casual")


# -- pixels ----------------------------------------------------------------------------------

def test_render_colour_inside_background_outside():
    img = render("square", COLOURS["blue"], "large", "centre", "filled", side=64, background=(0.2, 0.0, 0.0))
    assert img.dtype == np.float32 and img.shape == (64, 64, 3)
    # the square's half side is 0.8 * 0.215 * 64 = 11 px around the centre (32)
    inside = img[24:40, 24:40].reshape(-1, 3)
    np.testing.assert_array_equal(inside, np.broadcast_to(np.float32(COLOURS["blue"]), inside.shape))
    for corner in (img[:16, :16], img[:16, -16:], img[-16:, :16], img[-16:, -16:]):
        np.testing.assert_array_equal(corner, np.full_like(corner, np.float32(0.2)))


def test_outlined_has_a_hole():
    bg = (0.2, 0.0, 0.0)
    filled = render("square", COLOURS["red"], "large", "centre", "filled", side=64, background=bg)
    outlined = render("square", COLOURS["red"], "large", "centre", "outlined", side=64, background=bg)
    np.testing.assert_array_equal(outlined[28:36, 28:36], np.full((8, 8, 3), np.float32(0.2)))
    np.testing.assert_array_equal(filled[28:36, 28:36, 0], np.full((8, 8), np.float32(COLOURS["red"][0])))
    # the outline itself is the colour: one row just inside the left edge (x = 32 - 11 + 1)
    np.testing.assert_array_equal(outlined[30, 22], np.float32(COLOURS["red"]))
    assert (np.abs(outlined - 0.2).max(axis=2) > 0.5).sum() < (np.abs(filled - 0.2).max(axis=2) > 0.5).sum()


@pytest.mark.parametrize("position", POSITIONS)
def test_position_moves_the_centroid_to_its_cell(position):
    img = render("circle", COLOURS["white"], "small", position, "filled", side=48, background=(0.1, 0.0, 0.0))
    ys, xs = np.nonzero(np.abs(img - 0.1).max(axis=2) > 0.5)
    cy, cx = (ys.mean() + 0.5) / 48, (xs.mean() + 0.5) / 48
    row, col = divmod(POSITIONS.index(position), 3)
    assert abs(cy - (0.28, 0.5, 0.72)[row]) < 0.02 and abs(cx - (0.28, 0.5, 0.72)[col]) < 0.02


def test_measure_recovers_every_combination_rendered_without_jitter():
    combos = list(itertools.product(SHAPES, COLOURS, SIZES, POSITIONS, STYLES))
    images = np.stack([render(s, COLOURS[c], z, p, st) for s, c, z, p, st in combos]).transpose(0, 3, 1, 2)
    got = measure(images, [c[0] for c in combos])
    wrong = {a: [(combo, got[a][i]) for i, combo in enumerate(combos) if got[a][i] != combo[k]]
             for a, k in (("colour", 1), ("size", 2), ("position", 3))}
    assert wrong == {"colour": [], "size": [], "position": []}
    assert measure(images[:3])["size"] == [None, None, None]  # no shapes given: no size


def test_measure_reads_the_data_sets_jittered_images(tiny):
    from PIL import Image

    rows = _rows(tiny, "test")
    x = np.stack([np.asarray(Image.open(tiny / "test" / r["file_name"]), dtype=np.float32) / 255 for r in rows])
    got = measure(x.transpose(0, 3, 1, 2), [r["shape"] for r in rows])
    assert got["colour"] == [r["colour"] for r in rows]
    assert got["position"] == [r["position"] for r in rows]
    assert sum(g == r["size"] for g, r in zip(got["size"], rows, strict=True)) >= 0.9 * len(rows)


def test_measure_blank_image_and_bad_shape():
    blank = np.full((2, 3, 32, 32), 0.2, dtype=np.float32)
    assert measure(blank, ["star", "star"]) == {"colour": [None, None], "position": [None, None], "size": [None, None]}
    with pytest.raises(ValueError, match=r"measure reads RGB images \(N, 3, H, W\)"):
        measure(np.zeros((2, 1, 32, 32), dtype=np.float32))


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_train": 0}, "n_train must be an integer from 1 to 1,000,000, got 0"),
    ({"n_test": -1}, "n_test must be an integer from 1 to 1,000,000, got -1"),
    ({"n_train": True}, "n_train must be an integer from 1 to 1,000,000, got True"),
    ({"size": 8}, "size must be an integer from 16 to 256, got 8"),
    ({"size": 512}, "size must be an integer from 16 to 256, got 512"),
    ({"seed": -1}, r"seed must be an integer in \[0, 2\*\*32\), got -1"),
])
def test_bad_spec_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShapesSpec(**kwargs)


def test_unknown_shape_and_size_are_refused_with_the_valid_values():
    with pytest.raises(ValueError, match="unknown shape 'hexagon'; choose one of circle, square, triangle, star, cross"):
        render("hexagon", COLOURS["red"], "small", "centre", "filled")
    with pytest.raises(ValueError, match="unknown size 'huge'; choose one of small, medium, large"):
        render("star", COLOURS["red"], "huge", "centre", "filled")
    with pytest.raises(ValueError, match="unknown style 'dotted'; choose one of filled, outlined"):
        render("star", COLOURS["red"], "small", "centre", "dotted")


def test_make_shapes_refuses_a_non_empty_folder_and_leaves_it_alone(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="already exists and is not an empty folder"):
        make_shapes(out, ShapesSpec(n_train=2, n_test=2, n_judge=2), progress=False)
    assert _files(out) == {"mine.txt": b"keep me"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no temporary left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    assert make_shapes(empty, ShapesSpec(n_train=2, n_test=2, n_judge=2), progress=False) == empty
    assert len(_rows(empty, "train")) == 2


# -- the CLI and the registered name ----------------------------------------------------------

def _cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "net2net", "--threads", "1", *argv], capture_output=True,
                          text=True, env=env, timeout=300)


def test_cli_data_make_shapes(tmp_path):
    out = tmp_path / "d"
    r = _cli("data", "make", "shapes", "--out", str(out), "--n-train", "20", "--n-test", "10", "--n-judge", "5")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info == {"dataset": "shapes", "out": str(out), "n_train": 20, "n_test": 10, "n_judge": 5, "size": 32,
                    "seed": 0}
    assert len(_rows(out, "train")) == 20 and len(_rows(out, "test")) == 10 and len(_rows(out, "validation")) == 5
    r = _cli("data", "make", "shapes", "--out", str(out), "--n-train", "20", "--n-test", "10")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "already exists and is not an empty folder" in r.stderr
    r = _cli("data", "make", "shapes", "--out", str(tmp_path / "e"), "--n-train", "0")
    assert r.returncode == 2 and "--n-train must be an integer from 1 to 1,000,000" in r.stderr
    assert not (tmp_path / "e").exists()


def test_registered_name_reads_a_made_folder(tiny, tmp_path, monkeypatch):
    from net2net.data.datasets import get_dataset

    monkeypatch.setenv("NET2NET_DATA", str(tmp_path / "default-root"))
    ds = get_dataset("shapes", data_dir=tiny)
    assert ds.name == "shapes"
    assert sorted(ds.splits()) == ["test", "train", "validation"]
    train = ds.load("train")
    assert train.images.shape == (30, 32, 32, 3) and train.images.dtype == np.uint8
    rows = _rows(tiny, "train")
    for col in ("shape", "colour", "size", "position", "style", "text", "text_heldout"):
        assert train.columns[col] == [r[col] for r in rows]
    assert not (tmp_path / "default-root").exists()  # the default folder was not made


def test_registered_name_refuses_a_folder_that_is_not_shapes(tmp_path, monkeypatch):
    from net2net.data.datasets import get_dataset

    monkeypatch.setenv("NET2NET_DATA", str(tmp_path / "default-root"))
    other = tmp_path / "other"
    (other / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"not a shapes data set \(no shapes.json\); make one with "
                                         r"`net2net data make shapes --out "):
        get_dataset("shapes", data_dir=other)
    assert not (tmp_path / "default-root").exists()


# -- caption dropout and the held-out vocabulary ----------------------------------------------

def test_partial_captions_name_one_to_five_attributes_and_only_those(tmp_path):
    folder = make_shapes(tmp_path / "s", ShapesSpec(n_train=300, n_test=60, n_judge=10, seed=2), progress=False)
    rows = _rows(folder, "train")
    counts = {len(r["named"].split(",")) for r in rows}
    assert counts == {1, 2, 3, 4, 5}
    for r in rows:
        named = r["named"].split(",")
        assert set(named) <= set(S.ATTRIBUTES)
        text = r["text_partial"]
        assert (r["colour"] in text) == ("colour" in named), (r, text)
        for attr in ("size", "style", "shape", "position"):
            words = {"size": S._SIZE_WORDS, "style": S._STYLE_WORDS, "shape": S._SHAPE_WORDS,
                     "position": S._POSITION_WORDS}[attr][r[attr]]
            if attr in named:
                assert any(w in text for w in words), (attr, text)
    # the full-caption columns and the pixels are those of the version before dropout
    _, again = S.items("train", 3, seed=2)
    assert [r["text"] for r in rows[:3]] == [r["text"] for r in again]


def test_heldout_vocabulary_is_in_no_training_caption(tmp_path):
    folder = make_shapes(tmp_path / "s", ShapesSpec(n_train=400, n_test=50, n_judge=10, seed=0), progress=False)
    train_text = " ".join(r[c] for r in _rows(folder, "train")
                          for c in ("text", "text_partial", "text_varied", "text_varied_partial",
                                    "text_synonyms")).lower()
    for values in S.HELDOUT_WORDS.values():
        for word in values.values():
            assert word not in train_text, word
    for r in _rows(folder, "test"):
        assert S.HELDOUT_WORDS["colour"][r["colour"]] in r["text_newword"]
        assert S.HELDOUT_WORDS["position"][r["position"]] in r["text_newword"]


def test_varied_captions_name_all_five_in_many_word_orders_and_no_heldout_template(tmp_path):
    folder = make_shapes(tmp_path / "s", ShapesSpec(n_train=400, n_test=20, n_judge=10, seed=1), progress=False)
    rows = _rows(folder, "train")
    for r in rows:
        text = r["text_varied"]
        assert r["colour"] in text, text
        for attr, words in (("size", S._SIZE_WORDS), ("style", S._STYLE_WORDS), ("shape", S._SHAPE_WORDS),
                            ("position", S._POSITION_WORDS)):
            assert any(w in text for w in words[r[attr]]), (attr, text)
        for held_out in ("an image with", "you can see", "coloured", "that is", "("):
            assert held_out not in text, (held_out, text)

    def skeleton(r: dict) -> str:  # the word order: every attribute's words replaced by its name
        text = r["text_varied"]
        for attr, words in (("position", S._POSITION_WORDS), ("size", S._SIZE_WORDS), ("style", S._STYLE_WORDS),
                            ("shape", S._SHAPE_WORDS)):
            for w in sorted(words[r[attr]], key=len, reverse=True):
                text = text.replace(w, f"<{attr}>")
        return text.replace(r["colour"], "<colour>")

    assert len({skeleton(r) for r in rows}) > 200  # six templates give six


def test_the_grammar_names_only_the_named_attributes_and_its_synonyms_are_no_heldout_words(tmp_path):
    folder = make_shapes(tmp_path / "s", ShapesSpec(n_train=300, n_test=10, n_judge=10, seed=4), progress=False)
    rows = _rows(folder, "train")
    assert {len(r["named_varied"].split(",")) for r in rows} == {1, 2, 3, 4, 5}
    for r in rows:
        named, text = r["named_varied"].split(","), r["text_varied_partial"]
        for attr in ("size", "style", "colour", "position"):
            said = any(re.search(rf"\b{re.escape(w)}\b", text) for w in S.TRAIN_WORDS[attr][r[attr]])
            assert said == (attr in named), (attr, named, text)
        assert any(w in text for w in S._SHAPE_WORDS[r["shape"]]) or "shape" not in named, text
        if "shape" not in named:
            assert re.search(r"\b(shape|object|thing)\b", text), text
        synonyms = r["text_synonyms"]
        for attr in ("size", "style", "colour", "position"):
            assert any(w in synonyms for w in S.SYNONYMS[attr][r[attr]]), (attr, synonyms)
    said = {w for r in rows for a in ("colour", "size") for w in S.SYNONYMS[a][r[a]] if w in r["text_synonyms"]}
    assert said - {w for a in ("colour", "size") for ws in S.TRAIN_WORDS[a].values() for w in ws}, \
        "the synonym column says words the templates never use"
    for values in S.SYNONYMS.values():
        for words in values.values():
            assert not {w for held in S.HELDOUT_WORDS.values() for w in held.values()} & set(words)
    # the new columns draw from streams of their own: text_varied is that of data version 4
    # (written by the generator at commit 772efdf for seed 0)
    assert S.items("train", 1, seed=0)[1][0]["text_varied"] == V4_TEXT_VARIED_0


def test_partial_caption_rejects_an_empty_or_unknown_subset():
    attrs = {"shape": "star", "colour": "red", "size": "small", "position": "top", "style": "filled"}
    rng = np.random.default_rng(0)
    assert S.partial_caption(attrs, ["colour"], rng) in ("a red shape", "a red object", "there is a red shape",
                                                         "there is a red object", "a picture of a red shape",
                                                         "a picture of a red object", "one red shape", "one red object",
                                                         "a shape in red", "an object in red")
    for bad in ([], ["weight"]):
        with pytest.raises(ValueError, match="non-empty subset"):
            S.partial_caption(attrs, bad, rng)
