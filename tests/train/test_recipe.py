"""Recipe files: every bad field is named in the error."""

from __future__ import annotations

import json

import pytest
import torch

from net2net.io import save_tensors
from net2net.train.recipe import load_recipe, parse_recipe

GOOD = {
    "name": "t",
    "data": {"source": "toy-linear-gaussian", "dim": 4, "cond_dim": 2, "n_train": 300, "n_val": 100},
    "model": {"kind": "cinn", "n_blocks": 1, "hidden": 8},
    "train": {"steps": 3, "batch_size": 32, "eval_every": 0, "ckpt_every": 0},
}


def with_(path: str, value):
    obj = json.loads(json.dumps(GOOD))
    *parents, leaf = path.split(".")
    node = obj
    for p in parents:
        node = node[p]
    if value is KeyError:
        del node[leaf]
    else:
        node[leaf] = value
    return obj


@pytest.mark.parametrize("path, value, match", [
    ("train.lr", "fast", r"train.lr must be a number"),
    ("train.steps", 0, r"train.steps must be an integer >= 1"),
    ("train.betas", [0.9], r"train.betas must be two numbers"),
    ("train.lrr", 1e-3, r"unknown train field\(s\) \['lrr'\]"),
    ("data.source", "imagenet", r"recipe.data.source: 'imagenet' is not a data source"),
    ("data.dim", "four", r"recipe.data.dim: expected int"),
    ("data.colour", 1, r"recipe.data: unknown field\(s\) \['colour'\]"),
    ("model.kind", "gan", r"recipe.model.kind: 'gan' is not a model kind"),
    ("name", KeyError, r"recipe.name: required"),
    ("extra", 1, r"recipe: unknown field\(s\) \['extra'\]"),
])
def test_bad_fields_are_named(path, value, match) -> None:
    with pytest.raises(ValueError, match=match):
        parse_recipe(with_(path, value))


def test_bad_model_field_is_named_when_run(tmp_path) -> None:
    recipe = parse_recipe(with_("model.hidden", -3))
    with pytest.raises(ValueError, match=r"recipe.model: FlowConfig.hidden must be a positive integer"):
        recipe.run(out=tmp_path, progress=False)


def test_pairs_source_reads_relative_paths(tmp_path) -> None:
    save_tensors(tmp_path / "train.safetensors", {"cond": torch.randn(200, 2), "target": torch.randn(200, 3)})
    (tmp_path / "r.json").write_text(json.dumps({
        "name": "p", "data": {"source": "pairs", "train": "train.safetensors"},
        "model": {"kind": "mlp", "hidden": 8, "depth": 1}, "train": {"steps": 2, "batch_size": 16},
    }))
    metrics = load_recipe(tmp_path / "r.json").run(out=tmp_path / "run", progress=False)
    assert metrics["train_pairs"] == 200 and (tmp_path / "run" / "model" / "config.json").is_file()


def test_missing_and_malformed_recipe_files(tmp_path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        load_recipe(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        load_recipe(tmp_path / "bad.json")


def test_training_from_python_and_plain_expert_names(tmp_path) -> None:
    import net2net
    from net2net.train.recipe import parse_recipe

    recipe = {"name": "toy", "data": {"source": "toy-linear-gaussian", "n_train": 512, "n_val": 256},
              "model": {"kind": "cinn", "n_blocks": 2, "hidden": 16}, "train": {"steps": 20, "batch_size": 64}}
    m = net2net.train_translator(recipe, out=tmp_path / "run", progress=False)
    assert m["out"] == str(tmp_path / "run") and (tmp_path / "run" / "model").is_dir() and m["steps"] == 20
    assert "translator" not in m
    r = parse_recipe({**recipe, "translator": {"query": "onehot", "target": {"name": "random-conv", "options": {"seed": 1}}}})
    assert r.translator["query"] == {"name": "onehot"} and r.translator["target"]["options"] == {"seed": 1}
    with pytest.raises(ValueError, match=r"recipe.translator.query: expected"):
        parse_recipe({**recipe, "translator": {"query": 3, "target": "onehot"}})
