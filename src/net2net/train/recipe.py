"""Recipes: a JSON file that says which pairs, which model and how to fit.

    {
      "name": "toy",
      "data":  {"source": "toy-linear-gaussian", "dim": 8, "cond_dim": 4},
      "model": {"kind": "cinn", "n_blocks": 4, "hidden": 128},
      "train": {"steps": 2000, "batch_size": 256, "lr": 1e-3},
      "out": "runs/toy"
    }

Data sources are chosen by key from :data:`DATA_SOURCES` (never by import strings);
``model.dim`` and ``model.cond_dim`` default to the data's. Every error names the field
it is about, e.g. ``recipe.train.lr``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from net2net.data.toy import LinearGaussianToy
from net2net.io import load_tensors, read_json
from net2net.models import MODELS
from net2net.train.fit import Pairs, TrainConfig, fit
from net2net.train.runs import claim_run_folder

__all__ = ["Recipe", "DATA_SOURCES", "features_source", "register_data_source", "load_recipe", "parse_recipe",
           "run_recipe", "train"]

#: A data source turns the recipe's validated ``data`` fields (and the recipe's folder,
#: for relative paths) into ``(train, val, provenance)``.
DataSource = Callable[[dict[str, Any], Path], tuple[Pairs, Pairs | None, dict[str, Any]]]
#: ``{field: (allowed types, default)}``; a default of ``...`` marks a required field,
#: ``None`` an optional one that is left out when absent.
FieldSpec = dict[str, tuple[type | tuple[type, ...], Any]]
#: name -> (field spec, loader). Fields are checked when the recipe is parsed, so a
#: typo fails before any data is read.
DATA_SOURCES: dict[str, tuple[FieldSpec, DataSource]] = {}


def register_data_source(name: str, fields: FieldSpec) -> Callable[[DataSource], DataSource]:
    """Registers ``fn(fields, base) -> (train, val, provenance)`` under ``name``."""
    def deco(fn: DataSource) -> DataSource:
        DATA_SOURCES[name] = (fields, fn)
        return fn
    return deco


def _take(fields: dict[str, Any], spec: FieldSpec, where: str) -> dict[str, Any]:
    """Checks ``fields`` against ``{name: (types, default)}``; a default of ... means required."""
    unknown = sorted(set(fields) - set(spec) - {"source"})
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; valid: {sorted(spec)}")
    out = {}
    for name, (types, default) in spec.items():
        if name not in fields:
            if default is ...:
                raise ValueError(f"{where}.{name}: required field is missing")
            if default is not None:  # None marks an optional field: absent stays absent
                out[name] = default
            continue
        v = fields[name]
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,))):
            raise ValueError(f"{where}.{name}: expected {getattr(types, '__name__', types)}, got {v!r}")
        out[name] = v
    return out


@register_data_source("toy-linear-gaussian", {
    "dim": (int, 8), "cond_dim": (int, 4), "seed": (int, 0), "noise": ((int, float), 0.5),
    "n_train": (int, 20000), "n_val": (int, 5000),
})
def _toy_source(f: dict[str, Any], base: Path) -> tuple[Pairs, Pairs, dict[str, Any]]:
    toy = LinearGaussianToy(f["dim"], f["cond_dim"], f["seed"], float(f["noise"]))
    train = Pairs(*toy.sample(f["n_train"], seed=f["seed"] + 1))
    val = Pairs(*toy.sample(f["n_val"], seed=f["seed"] + 2))
    return train, val, {"source": "toy-linear-gaussian", **f, "entropy_nats_per_dim": toy.entropy_per_dim()}


def _read_pairs(path: Path, where: str) -> Pairs:
    t = load_tensors(path)
    if set(t) != {"cond", "target"}:
        raise ValueError(f"{where}: {path} must hold exactly the tensors 'cond' and 'target', found {sorted(t)}")
    return Pairs(t["cond"].float(), t["target"].float())


@register_data_source("pairs", {"train": (str, ...), "val": (str, None)})
def _pairs_source(f: dict[str, Any], base: Path) -> tuple[Pairs, Pairs | None, dict[str, Any]]:
    """Your own pairs, computed elsewhere: ``{"source": "pairs", "train": FILE, "val": FILE}``.

    Each file (a path relative to the recipe) is a safetensors file holding exactly two
    tensors: ``cond`` ``(N, cond_dim)`` (``z_Φ``, the query side) and ``target``
    ``(N, dim)`` (``z_Θ``), row ``i`` of one paired with row ``i`` of the other; ``val``
    is optional. Write one with ``net2net.io.save_tensors(path, {"cond": c, "target": z})``.
    """
    train = _read_pairs(base / f["train"], "recipe.data.train")
    val = _read_pairs(base / f["val"], "recipe.data.val") if "val" in f else None
    return train, val, {"source": "pairs", **f}


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. ``base`` is the folder relative paths are read from."""

    name: str
    data: dict[str, Any]
    model: dict[str, Any]
    train: TrainConfig
    out: str
    base: Path
    translator: dict[str, Any] | None = None

    def run(self, *, resume: bool = False, out: str | os.PathLike | None = None, progress: bool | None = None,
            overwrite: bool = False) -> dict[str, Any]:
        return run_recipe(self, resume=resume, out=out, progress=progress, overwrite=overwrite)


_EXPERT_SPEC: FieldSpec = {"name": (str, ...), "options": (dict, None)}
_TRANSLATOR_SPEC: FieldSpec = {"query": (dict, ...), "target": (dict, ...), "info": (dict, None), "complete": (dict, None)}
#: ``translator.complete``: fit a prompt completer (net2net.completion) on the grammar's captions.
_COMPLETE_SPEC: FieldSpec = {"grammar": (str, ...), "captions": (int, 3000), "steps": (int, 2000),
                             "threshold": ((int, float), 0.2), "seed": (int, 0)}


def _check_translator(obj: Any) -> dict[str, Any]:
    """``translator``: the experts τ connects, so the run also writes ``out/translator``.

    Each expert is ``{"name": ..., "options": {...}}`` or just its name (``"minilm"``);
    the returned copy has the object form.
    """
    if not isinstance(obj, dict):
        raise ValueError("recipe.translator: expected an object with 'query' and 'target' experts")
    obj = {k: ({"name": v} if k in ("query", "target") and isinstance(v, str) else v) for k, v in obj.items()}
    _take(obj, _TRANSLATOR_SPEC, "recipe.translator")
    for role in ("query", "target"):
        _take(obj[role], _EXPERT_SPEC, f"recipe.translator.{role}")
    if "complete" in obj:
        from net2net.completion import CompleterConfig, grammars

        c = obj["complete"] = _take(obj["complete"], _COMPLETE_SPEC, "recipe.translator.complete")
        if c["grammar"] not in grammars():
            raise ValueError(f"recipe.translator.complete.grammar: no caption grammar {c['grammar']!r}; "
                             f"known: {', '.join(grammars())}")
        for name in ("captions", "steps"):
            if c[name] < 1:
                raise ValueError(f"recipe.translator.complete.{name}: must be >= 1, got {c[name]}")
        try:
            CompleterConfig(cond_dim=1, grammar=c["grammar"], threshold=c["threshold"])
        except ValueError as e:
            raise ValueError(f"recipe.translator.complete: {e}") from None
    return obj


def parse_recipe(obj: dict[str, Any], base: str | os.PathLike = ".") -> Recipe:
    """Validates a recipe dict; raises ``ValueError`` naming the first bad field."""
    if not isinstance(obj, dict):
        raise ValueError(f"recipe: expected a JSON object, got {type(obj).__name__}")
    allowed = {"name", "data", "model", "train", "out", "description", "translator"}
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ValueError(f"recipe: unknown field(s) {unknown}; valid: {sorted(allowed)}")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("recipe.name: required, a non-empty string")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise ValueError("recipe.data: required, an object with a 'source' field")
    if data.get("source") not in DATA_SOURCES:
        # Data sources of plug-ins (the zoo's "gan-captions") register when the expert
        # providers load, as their experts do: this module never imports the zoo.
        from net2net.experts.registry import available_experts

        available_experts()
    if data.get("source") not in DATA_SOURCES:
        raise ValueError(f"recipe.data.source: {data.get('source')!r} is not a data source; choose one of {sorted(DATA_SOURCES)}")
    data = {"source": data["source"], **_take(data, DATA_SOURCES[data["source"]][0], "recipe.data")}
    model = obj.get("model", {"kind": "cinn"})
    if not isinstance(model, dict):
        raise ValueError("recipe.model: expected an object")
    if model.get("kind", "cinn") not in MODELS:
        raise ValueError(f"recipe.model.kind: {model.get('kind')!r} is not a model kind; choose one of {sorted(MODELS)}")
    train_fields = obj.get("train", {})
    if not isinstance(train_fields, dict):
        raise ValueError("recipe.train: expected an object")
    model_lr = getattr(MODELS[model.get("kind", "cinn")][1], "LR", None)
    if model_lr is not None and "lr" not in train_fields:  # the model kind's own rate (τ: FlowConfig.LR)
        train_fields = {**train_fields, "lr": model_lr}
    try:
        train = TrainConfig.from_dict(train_fields)
    except (ValueError, TypeError) as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith("train.") else f"recipe.train: {msg}") from None
    translator = obj.get("translator")
    if translator is not None:
        translator = _check_translator(translator)
    out = obj.get("out", f"runs/{name}")
    if not isinstance(out, str) or not out:
        raise ValueError("recipe.out: expected a folder path")
    return Recipe(name=name, data=dict(data), model=dict(model), train=train, out=out, base=Path(base),
                  translator=translator)


def load_recipe(path: str | os.PathLike) -> Recipe:
    """Reads and validates a recipe file."""
    path = Path(path)
    return parse_recipe(read_json(path), base=path.parent)


_EXTRACT_FIELDS = {"expert", "options", "transform", "column", "split", "limit", "dataset", "data_dir", "fit",
                   "follow_links", "skip_bad_rows"}


def _dataset_ref(name: str, base: Path) -> str:
    """A folder relative to the recipe's folder, else a data set name as it is.

    A folder beside the recipe wins over a registered name it happens to share (a
    ``shapes/`` folder of your own is not the generated ``shapes`` data set).
    """
    p = Path(name).expanduser()
    if not p.is_absolute() and (base / p).is_dir():
        return str(base / p)
    return name


#: a feature query's fields and the types they take (``column`` may also be a list of names).
_QUERY_TYPES: dict[str, tuple[type, ...]] = {"expert": (str,), "options": (dict,), "dataset": (str,), "split": (str,),
                                             "transform": (str,), "column": (str, list), "limit": (int,),
                                             "data_dir": (str,)}


def _check_query_types(q: dict[str, Any], where: str) -> None:
    """One line for a field of the wrong type, before anything is loaded."""
    for name, types in _QUERY_TYPES.items():
        if name not in q or (q[name] is None and name in ("transform", "column", "limit", "data_dir")):
            continue
        v = q[name]
        if name == "expert" and isinstance(v, dict):
            raise ValueError(f"{where}.expert: give the expert's name as a string and its settings beside it, e.g. "
                             '"expert": "fmnist-classifier", "options": {"layer": "fc1"}; got an object')
        ok = isinstance(v, types) and not isinstance(v, bool)
        if ok and name == "column" and isinstance(v, list):
            ok = bool(v) and all(isinstance(c, str) and c for c in v)
        if ok and name == "limit":
            ok = v >= 1
        if ok and isinstance(v, str):
            ok = bool(v.strip())
        if not ok:
            want = {"column": "a column name or a list of names", "limit": "a positive integer",
                    "options": "an object of the expert's settings"}.get(name, "a non-empty string")
            raise ValueError(f"{where}.{name}: expected {want}, got {json.dumps(v) if _jsonable(v) else repr(v)}")


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
    except (TypeError, ValueError):
        return False
    return True


def resolve_feature_queries(data: dict[str, Any], base: Path, *, progress: bool | None = None) -> dict[str, Any]:
    """Turns each entry query of a ``features`` data spec into an entry key, extracting on a miss.

    A query names how to make the features: ``expert`` (and its ``options`` such as a
    layer), ``dataset`` (a name or a folder, relative to the recipe), ``split``,
    ``transform`` or ``column`` (a column of your data: ``"text"``), ``limit``, and how
    the folder is read: ``fit`` (``crop``, ``pad``, ``stretch``), ``follow_links``,
    ``skip_bad_rows`` (as ``net2net extract``'s flags). The store
    computes them once and every later run is a cache hit. Keys given as strings are
    used as they are. A role may be a list of them: the entries are concatenated in order.
    """
    from net2net.features import FeatureStore

    store = FeatureStore(base / data["root"] if data.get("root") else None)
    out = dict(data)
    for role in ("cond", "target", "val_cond", "val_target"):
        q = data.get(role)
        if isinstance(q, list):
            out[role] = [_resolve_one(store, item, f"recipe.data.{role}[{i}]", base, progress)
                         for i, item in enumerate(_entry_list(q, f"recipe.data.{role}"))]
        elif isinstance(q, dict):
            out[role] = _resolve_one(store, q, f"recipe.data.{role}", base, progress)
    return out


def _entry_list(items: list[Any], where: str) -> list[Any]:
    if not items or not all(isinstance(q, (str, dict)) for q in items):
        raise ValueError(f"{where}: a list of entries must hold one or more entry keys or queries, got {items!r}")
    return items


def _resolve_one(store: Any, q: Any, where: str, base: Path, progress: bool | None) -> str:
    """One entry query (or key) of a recipe as an entry key, extracting on a miss."""
    from net2net.experts.registry import get_expert

    if isinstance(q, dict):
        role = where.removeprefix("recipe.data.")
        unknown = sorted(set(q) - _EXTRACT_FIELDS)
        if unknown or "expert" not in q:
            raise ValueError(f"recipe.data.{role}: needs 'expert' and may have {sorted(_EXTRACT_FIELDS - {'expert'})}; "
                             f"unknown {unknown}" if unknown else f"recipe.data.{role}: 'expert' is missing")
        _check_query_types(q, f"recipe.data.{role}")
        try:
            expert = get_expert(q["expert"], **q.get("options", {}))
            entry = store.extract(expert, dataset=_dataset_ref(q.get("dataset", "fashion-mnist"), base),
                                  split=q.get("split", "train"), transform=q.get("transform"), column=q.get("column"),
                                  limit=q.get("limit"), data_dir=q.get("data_dir"), progress=progress,
                                  fit=q.get("fit", "crop"), follow_links=bool(q.get("follow_links", False)),
                                  skip_bad_rows=bool(q.get("skip_bad_rows", False)))
        except ValueError as e:
            raise ValueError(f"recipe.data.{role}: {e}") from None
        return entry.key
    return q


def features_source(fields: dict[str, Any], base: Path) -> tuple[Pairs, Pairs | None, dict[str, Any]]:
    """The ``"features"`` recipe data source: pairs two feature-store entries row by row.

    Recipe fields: ``cond`` and ``target`` (entry keys, or queries such as
    ``{"expert": "minilm", "dataset": "my-images", "column": "text", "split": "train"}``,
    extracted on a miss by :func:`resolve_feature_queries`), optional ``val_cond`` and
    ``val_target`` (both or neither), optional ``root`` (store folder, relative to the
    recipe; default :func:`net2net.features.default_root`). The two entries of a pair
    must come from the same data (dataset, split, its fingerprint and limit).

    Example recipe ``data``::

        {"source": "features",
         "cond": {"expert": "minilm", "transform": "captions", "split": "train"},
         "target": {"expert": "fmnist-ae", "transform": "identity", "split": "train"},
         "val_cond": {"expert": "minilm", "transform": "captions", "split": "test"},
         "val_target": {"expert": "fmnist-ae", "transform": "identity", "split": "test"}}
    """
    from net2net.features import FeatureStore

    allowed = {"source", "cond", "target", "val_cond", "val_target", "root"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(f"recipe.data: unknown field(s) {unknown}; valid: {sorted(allowed - {'source'})}")
    for name in ("cond", "target"):
        if name not in fields:
            raise ValueError(f"recipe.data.{name}: required (an entry key or a query like "
                             '{"expert": "minilm", "transform": "captions", "split": "train"})')
    if ("val_cond" in fields) != ("val_target" in fields):
        raise ValueError("recipe.data: give both val_cond and val_target, or neither")
    root = fields.get("root")
    store = FeatureStore(base / root if root else None)

    def one(c: str, t: str, kc: str, kt: str) -> tuple[Pairs, dict[str, Any]]:
        entries = {}
        for name, key in ((c, kc), (t, kt)):
            try:
                entries[name] = store.open(key)
            except ValueError as e:
                raise ValueError(f"recipe.data.{name}: {e}") from None
        ec, et = entries[c], entries[t]
        dc, dt = ec.rows, et.rows
        if dc != dt:
            raise ValueError(f"recipe.data.{c}/{t}: the entries come from different data ({dc} vs {dt}); "
                             "extract both from the same dataset, split and limit")
        return Pairs(ec.tensor(), et.tensor()), {c: ec.key, t: et.key, f"{c}_path": str(ec.path), f"{t}_path": str(et.path)}

    def pair(c: str, t: str) -> tuple[Pairs, dict[str, Any]]:
        kc, kt = fields[c], fields[t]
        if not isinstance(kc, list) and not isinstance(kt, list):
            return one(c, t, kc, kt)
        kc, kt = (k if isinstance(k, list) else [k] for k in (kc, kt))
        if len(kc) != len(kt):
            raise ValueError(f"recipe.data.{c}/{t}: lists of entries pair one by one; {c} has {len(kc)} and "
                             f"{t} {len(kt)}")
        parts = [one(f"{c}[{i}]", f"{t}[{i}]", a, b) for i, (a, b) in enumerate(zip(kc, kt, strict=True))]
        prov = {k: [p[1][f"{role}[{i}]" + k[len(role):]] for i, p in enumerate(parts)]
                for role in (c, t) for k in (role, f"{role}_path")}
        return Pairs(torch.cat([p[0].cond for p in parts]), torch.cat([p[0].target for p in parts])), prov

    train, prov = pair("cond", "target")
    val = None
    if "val_cond" in fields:
        val, vprov = pair("val_cond", "val_target")
        prov.update(vprov)
    return train, val, {"source": "features", "root": str(store.root), **prov}


def run_recipe(recipe: Recipe, *, resume: bool = False, out: str | os.PathLike | None = None, progress: bool | None = None,
               overwrite: bool = False) -> dict[str, Any]:
    """Loads the recipe's pairs (extracting missing features first) and fits its model."""
    # The run folder first: a folder training may not write into must not cost an extraction.
    claim_run_folder(out or recipe.out, what="--out" if out else "recipe.out", overwrite=overwrite, record=False)
    data = recipe.data
    if data["source"] == "features":
        data = resolve_feature_queries(data, recipe.base, progress=progress)
    train, val, provenance = DATA_SOURCES[data["source"]][1](data, recipe.base)
    model = dict(recipe.model)
    kind = model.pop("kind", "cinn")
    model.setdefault("dim", train.target.shape[1])
    model.setdefault("cond_dim", train.cond.shape[1])
    try:
        metrics = fit(kind, model, train, val, recipe.train, out or recipe.out, resume=resume,
                      extra={"recipe": recipe.name, "data": provenance}, progress=progress, overwrite=overwrite)
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if not msg.startswith(("FlowConfig.", "MLPConfig.", "unknown ")) else f"recipe.model: {msg}") from None
    metrics["data"] = provenance
    if recipe.translator is not None:
        assemble_translator(recipe, Path(out or recipe.out), metrics)
    return metrics


def train(recipe: str | os.PathLike | dict[str, Any] | Recipe, *, out: str | os.PathLike | None = None,
          steps: int | None = None, device: str | None = None, resume: bool = False, keep: str | None = None,
          progress: bool | None = None, base: str | os.PathLike = ".", overwrite: bool = False) -> dict[str, Any]:
    """Trains τ from a recipe (a file, a dict, or a parsed :class:`Recipe`); what ``net2net train`` does.

    Args:
        recipe: a recipe file, or its contents as a dict (relative paths are read from ``base``).
        out: the run folder (default: the recipe's ``out``).
        steps, device, keep: override ``train.steps`` / ``train.device`` / ``train.keep``
            (``"best"``, the default, ships the model of lowest validation NLL as
            ``out/model`` and ``out/translator``; ``"last"`` the last one).
        resume: continue from the run folder's latest checkpoint.
        overwrite: train into a non-empty folder that is not a net2net run (its
            ``checkpoints/``, ``model/``, ``best/``, ``translator/`` and ``metrics.json``
            are replaced); without it such a folder is refused before any work.

    Returns:
        The metrics, with ``out`` (the run folder) and, when the recipe names its experts,
        ``translator`` (the folder ``net2net.load`` reads).

    Example:
        >>> import net2net                                             # doctest: +SKIP
        >>> m = net2net.train_translator({"name": "toy", "data": {"source": "toy-linear-gaussian"},
        ...                               "train": {"steps": 100}}, out="runs/toy")
        >>> m["val_nll_nats_per_dim"] < 1.5
        True
    """
    import dataclasses

    if isinstance(recipe, Recipe):
        r = recipe
    elif isinstance(recipe, dict):
        r = parse_recipe(recipe, base=base)
    else:
        r = load_recipe(recipe)
    overrides = {k: v for k, v in (("steps", steps), ("device", device), ("keep", keep)) if v is not None}
    if overrides:
        r = dataclasses.replace(r, train=dataclasses.replace(r.train, **overrides))
    run = Path(out) if out is not None else Path(r.out)  # like the CLI: relative to the working folder
    metrics = r.run(resume=resume, out=out, progress=progress, overwrite=overwrite)
    metrics["out"] = str(run)
    if r.translator is not None:
        metrics["translator"] = str(run / "translator")
        other = run / f"translator-{'last' if metrics.get('shipped', {}).get('which') == 'best' else 'best'}"
        if other.is_dir():
            metrics["other_translator"] = str(other)
    return metrics


def assemble_translator(recipe: Recipe, out: Path, metrics: dict[str, Any]) -> Path:
    """Joins the fitted τ with the recipe's experts into ``out/translator``.

    The experts' fingerprints are recorded so that loading later detects an expert
    that changed since τ was trained.
    """
    from net2net.experts.registry import get_expert
    from net2net.models import load_model
    from net2net.translator import ExpertRef, Translator

    spec = recipe.translator or {}
    refs, experts = {}, {}
    for role in ("query", "target"):
        name, options = spec[role]["name"], spec[role].get("options", {})
        experts[role] = get_expert(name, **options)
        refs[role] = ExpertRef.of(experts[role], name, **options)
    from net2net.experts.labels import label_columns

    base_info = dict(spec.get("info", {}))
    columns = label_columns(experts["query"], base_info.get("query_column"))
    if columns and "attributes" not in base_info:  # what `edit --set NAME=VALUE` and `sample --class` work on
        base_info["attributes"] = [[c, list(v)] for c, v in columns.items()]  # a list: JSON objects lose order
    shipped = metrics.get("shipped", {}).get("which", "last")
    other = "last" if shipped == "best" else "best"
    # each model's NLL comes from the run's metrics: "val_nll" is the last model's, "best" the best's
    nll = {"last": metrics.get("val_nll_nats_per_dim"), "best": metrics.get("best", {}).get("val_nll_nats_per_dim")}
    # the other model is worth a folder only when it is a different one (fit() writes last/ only then)
    distinct = (out / other).is_dir() and not (other == "best" and metrics["best"]["step"] == metrics.get("steps"))
    if not distinct and (out / f"translator-{other}").is_dir():
        shutil.rmtree(out / f"translator-{other}")  # an earlier segment's, now stale
    completer = None
    if "complete" in spec:  # fitted once, on the query expert's features; every folder gets it
        from net2net.completion import fit_completer

        c = spec["complete"]
        completer = fit_completer(experts["query"].encode, experts["query"].dim, c["grammar"], n=c["captions"],
                                  steps=c["steps"], threshold=float(c["threshold"]), seed=c["seed"])
    made = []
    for folder, model, which in [("translator", "model", shipped)] + ([(f"translator-{other}", other, other)]
                                                                        if distinct else []):
        v = nll[which]
        info = {**base_info, "recipe": recipe.name, "history": metrics.get("history", {}), "kept": which,
                "metrics": {"steps": metrics.get("steps"), "train_pairs": metrics.get("train_pairs"),
                            **({} if v is None else {"val_nll_nats_per_dim": v, "val_nll_bits_per_dim": v / math.log(2)})}}
        translator = Translator(experts["query"], load_model(out / model), experts["target"],
                                query_ref=refs["query"], target_ref=refs["target"], info=info, completer=completer)
        made.append(translator.save_pretrained(out / folder))
    return made[0]


#: an entry key, a query like {"expert": ..., "transform": ..., "split": ...}, or a list of them
#: (several entries, e.g. two caption columns of one data set, concatenated in order)
_ENTRY = (str, dict, list)
register_data_source("features", {
    "cond": (_ENTRY, ...), "target": (_ENTRY, ...), "val_cond": (_ENTRY, None), "val_target": (_ENTRY, None), "root": (str, None),
})(features_source)
