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


@pytest.mark.parametrize("keep", [None, "last"])
def test_the_runs_translator_is_the_best_and_the_other_loads_by_path_too(tmp_path, keep) -> None:
    """Issue 24: translator/ holds the τ of lowest validation NLL (--keep last: the last),
    and translator-last/ (translator-best/) the other; both load with net2net.load."""
    import net2net

    g = torch.Generator().manual_seed(0)
    cond = torch.eye(10)[torch.randint(0, 10, (512,), generator=g)]
    target = cond @ torch.randn(10, 64, generator=g) + 0.3 * torch.randn(512, 64, generator=g)
    save_tensors(tmp_path / "train.safetensors", {"cond": cond, "target": target})
    save_tensors(tmp_path / "val.safetensors", {"cond": cond[:128], "target": target[:128] + 1.5})  # NLL rises late
    recipe = {"name": "best", "data": {"source": "pairs", "train": "train.safetensors", "val": "val.safetensors"},
              "model": {"kind": "cinn", "n_blocks": 2, "hidden": 32, "embed_dim": 8, "embed_hidden": 16},
              "train": {"steps": 120, "batch_size": 64, "lr": 3e-3, "warmup_steps": 5, "eval_every": 10, "ckpt_every": 0},
              "translator": {"query": "onehot", "target": {"name": "random-conv", "options": {"seed": 1}}}}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = net2net.train_translator(tmp_path / "r.json", out=tmp_path / "run", progress=False, keep=keep)
    vals = m["history"]["val_nll"]
    assert min(vals) < vals[-1]
    shipped, other = ("best", "last") if keep is None else ("last", "best")
    assert m["shipped"]["which"] == shipped and m["other_translator"] == str(tmp_path / "run" / f"translator-{other}")
    main, alt = net2net.load(tmp_path / "run" / "translator"), net2net.load(tmp_path / "run" / f"translator-{other}")
    want = {"best": min(vals), "last": vals[-1]}
    assert main.info["kept"] == shipped and main.info["metrics"]["val_nll_nats_per_dim"] == pytest.approx(want[shipped])
    assert alt.info["kept"] == other and alt.info["metrics"]["val_nll_nats_per_dim"] == pytest.approx(want[other])
    assert main.sample_latents(torch.eye(10)[:1], n=2).shape == (2, 64)
