"""Property tests: random argv, image bytes, recipes and store files fail only as designed."""

from __future__ import annotations

import io
import json
import shutil
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from net2net.cli import build_parser, main
from net2net.features import FeatureStore
from net2net.imageio import load_image
from net2net.train.recipe import Recipe, parse_recipe

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

COMMANDS = ["train", "extract", "zoo", "sample", "translate", "edit", "exemplar", "diagnose", "eval", "demo",
            "serve", "convert", "list", "--help", "--version", "--debug"]
FLAGS = ["--out", "--resume", "--steps", "--device", "--devices", "-n", "--seed", "--temperature", "--prompt",
         "--class", "--image", "--set", "--from", "--expert", "--limit", "--batch-size", "--port", "--host",
         "--trust-pickle", "--rerank", "--derive", "--max-queue", "--layer", "--root"]
token = st.one_of(st.sampled_from(COMMANDS + FLAGS), st.text(max_size=12),
                  st.integers(-10**6, 10**6).map(str), st.sampled_from(["nan", "inf", "-1", "0", "class=x", "class=dress"]))
argv = st.lists(token, max_size=6)


@FUZZ
@given(argv)
def test_parser_raises_only_system_exit(capsys, args) -> None:
    try:
        build_parser().parse_args(args)
    except SystemExit:
        pass
    capsys.readouterr()


# Commands that would start a server, train for real or read the zoo's big files are not run.
SAFE = ["sample", "translate", "edit", "exemplar", "diagnose", "convert", "train", "extract"]


@FUZZ
@given(st.sampled_from(SAFE), argv)
def test_main_returns_an_exit_code_without_a_traceback(tmp_path_factory, capsys, command, args) -> None:
    out = tmp_path_factory.mktemp("fuzz")
    try:
        code = main([command, *[a for a in args if a not in ("--help", "--version", "serve", "demo")],
                     "--out", str(out / "o")] if command not in ("convert", "extract") else [command, *args])
    except SystemExit as e:  # argparse: usage errors exit 2, --help 0
        code = e.code
    err = capsys.readouterr().err
    assert isinstance(code, int) and "Traceback" not in err, err


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_are_an_image_or_a_value_error(tmp_path_factory, data) -> None:
    path = tmp_path_factory.mktemp("img") / "x.png"
    path.write_bytes(data)
    with pytest.raises(ValueError):
        load_image(path)


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (20, 30), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@FUZZ
@given(st.integers(0, 3), st.data())
def test_truncated_or_flipped_pngs_give_only_value_errors(tmp_path_factory, seed, data) -> None:
    good = _png(seed)
    cut = data.draw(st.integers(0, len(good)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(1, 255)), max_size=3))
    bad = bytearray(good[:cut])
    for i, x in flips:
        if i < len(bad):
            bad[i] ^= x
    path = tmp_path_factory.mktemp("img") / "x.png"
    path.write_bytes(bytes(bad))
    try:
        x = load_image(path)
    except ValueError:
        return
    assert tuple(x.shape) == (1, 1, 28, 28)


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=True),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)
recipe_like = st.fixed_dictionaries({}, optional={
    "name": st.one_of(st.text(max_size=8), json_value),
    "data": st.one_of(json_value, st.fixed_dictionaries({"source": st.sampled_from(["toy-linear-gaussian", "pairs", "features", "x"])},
                                                        optional={"dim": json_value, "train": json_value, "cond": json_value})),
    "model": st.one_of(json_value, st.fixed_dictionaries({"kind": st.sampled_from(["cinn", "mlp", "linear", "y"])},
                                                         optional={"n_blocks": json_value, "hidden": json_value})),
    "train": st.one_of(json_value, st.dictionaries(st.sampled_from(["steps", "lr", "batch_size", "betas", "device", "zz"]),
                                                   json_value, max_size=3)),
    "out": json_value,
    "translator": json_value,
})


@FUZZ
@given(st.one_of(recipe_like, json_value))
def test_recipe_parser_gives_a_recipe_or_a_value_error(tmp_path_factory, obj) -> None:
    try:
        r = parse_recipe(obj, tmp_path_factory.getbasetemp())
    except ValueError:
        return
    assert isinstance(r, Recipe)




def _entry(root):
    from net2net.features import FORMAT, _key, _npy_bytes
    from net2net.io import atomic_write_json

    rows, dim = 6, 3
    spec = {"format": FORMAT, "expert": {"name": "e", "fingerprint": "f", "dim": dim, "settings": {}},
            "dataset": {"name": "d", "split": "train", "fingerprint": "x", "limit": rows},
            "transform": {"name": "identity", "kind": "image", "params": {}}}
    folder = FeatureStore(root).folder(spec)
    folder.mkdir(parents=True)
    shards = [FeatureStore._put(folder, "z-00000.npy", _npy_bytes(np.ones((rows, dim), np.float32)), rows)]
    files = [FeatureStore._put(folder, "labels.npy", _npy_bytes(np.zeros(rows, np.int64)), rows)]
    atomic_write_json(folder / "manifest.json", {"key": _key(spec), "spec": spec, "rows": rows, "dim": dim,
                                                 "dtype": "float32", "shards": shards, "files": files})
    return folder


@FUZZ
@given(st.sampled_from(["manifest.json", "z-00000.npy", "labels.npy"]), st.sampled_from(["full", "size"]), st.data())
def test_corrupt_store_files_give_only_value_errors(tmp_path_factory, name, verify, data) -> None:
    root = tmp_path_factory.mktemp("store")
    folder = _entry(root)
    f = folder / name
    good = f.read_bytes()
    how = data.draw(st.sampled_from(["truncate", "flip", "replace"]))
    if how == "truncate":
        bad = good[: data.draw(st.integers(0, len(good) - 1))]
    elif how == "flip":
        i = data.draw(st.integers(0, len(good) - 1))
        bad = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255))]) + good[i + 1:]
    else:
        bad = data.draw(st.one_of(st.binary(max_size=300), json_value.map(lambda v: json.dumps(v).encode()),
                                  st.text(alphabet=string.printable, max_size=200).map(str.encode)))
    f.write_bytes(bad)
    try:
        e = FeatureStore(root, verify=verify).open(folder.name)
        e.array()
        e.labels()
    except ValueError:
        pass
    finally:
        shutil.rmtree(root)
