"""``probe``: what each layer of an expert keeps of a target, measured with τ (the paper's Sec. 4.2).

For every candidate layer: extract its features once (the feature store caches them,
keyed like every extraction), fit a small τ from the layer to the target's code under
an equal share of one fixed budget, and measure it on held-out data
(:mod:`net2net.probing.measure`). One more τ, conditioned on nothing, fitted under the same
share, gives ``H(z_Θ)``; each layer's information is the difference of held-out NLLs.

The run folder makes the probe resumable: ``probe.json`` (the settings; another probe in
the same folder is refused), and per τ ``taus/KEY/`` with ``plan.json`` (its steps),
``run/`` (the trainer's folder: a killed fit continues from its checkpoint) and
``result.json`` (its figures: a finished τ is never redone). The report
(:mod:`net2net.probing.report`) is written at the end from those files alone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from net2net.data.datasets import get_dataset
from net2net.experts.registry import get_expert
from net2net.features import FeatureStore
from net2net.io import atomic_write_json, read_json
from net2net.models import build_model, load_model
from net2net.probing import measure as M
from net2net.probing.layers import expert_layers, tap_layer
from net2net.train.checkpoints import latest_checkpoint
from net2net.train.fit import Pairs, TrainConfig, batch_indices, fit, make_optimizer, train_step

__all__ = ["MIN_STEPS", "TAU", "ProbeSettings", "probe"]

log = logging.getLogger("net2net.probing")

#: τ of the probe: the architecture of the shipped fmnist-diagnose-* translators.
TAU: dict[str, Any] = {"n_blocks": 4, "hidden": 288, "depth": 1, "embed_dim": 48, "embed_hidden": 96,
                       "embed_depth": 3, "embed_norm": "layer", "zero_init": False}
#: fewer optimiser steps per τ than this cannot be told from noise: the budget is refused.
MIN_STEPS = 100
UNCOND = "unconditional"


@dataclass(frozen=True)
class ProbeSettings:
    """Everything that determines a probe's figures (saved as ``probe.json``).

    Attributes:
        query, target: expert names or specs (``file.py:factory``); ``query`` has layers.
        layers: the candidate layers, input to output.
        dataset: a registered data set or a folder; its ``train`` split trains τ, its
            ``test`` (else ``validation``) split is held out (else the last 10 % of train).
        columns: label columns to judge (default: every categorical column).
        budget_minutes: process CPU minutes for all τs together, split evenly (``budget_steps`` instead).
        budget_steps: optimiser steps for all τs together, split evenly.
        max_dim: the widest a pooled layer may be (pools: flatten, grid7, grid4, grid2, avg).
        limit: training rows (default: the whole split); heldout_limit: held-out rows.
        queries, samples: held-out queries and samples per query behind diversity and labels kept.
        grid_queries: queries shown in the sample grid.
        judge: a classifier expert that reads decoded samples (``predict``/``predict_attributes``);
            columns it cannot read are judged by a linear probe on the target's codes.
        tau: τ's architecture (:data:`TAU`).
        query_column: the data set's column the query expert reads (e.g. captions for a
            text expert; default: the images); heldout_query_column: the held-out rows'
            column (default: ``query_column``), e.g. captions in wordings training never uses.
    """

    query: str
    target: str
    layers: tuple[str, ...]
    dataset: str
    columns: tuple[str, ...] | None = None
    budget_minutes: float | None = None
    budget_steps: int | None = None
    max_dim: int = 1024
    limit: int | None = None
    heldout_limit: int | None = 5000
    queries: int = 200
    samples: int = 8
    grid_queries: int = 4
    seed: int = 0
    judge: str | None = None
    batch_size: int = 256
    lr: float = 2e-3
    tau: dict[str, Any] = field(default_factory=lambda: dict(TAU))
    query_column: str | None = None
    heldout_query_column: str | None = None

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("give at least one layer to probe (e.g. --layers conv1,fc1)")
        if len(set(self.layers)) != len(self.layers):
            raise ValueError(f"layers repeat: {', '.join(self.layers)}")
        if (self.budget_minutes is None) == (self.budget_steps is None):
            raise ValueError("give one budget: budget_minutes (CPU minutes) or budget_steps (optimiser steps)")
        n = len(self.layers) + 1
        if self.budget_steps is not None and self.budget_steps // n < MIN_STEPS:
            raise ValueError(f"a budget of {self.budget_steps} steps gives {self.budget_steps // n} per τ "
                             f"({len(self.layers)} layers + the unconditional τ); at least {MIN_STEPS} are needed "
                             f"to learn anything: give --budget-steps {MIN_STEPS * n} or more")
        if self.budget_minutes is not None and not self.budget_minutes * 60 / n >= 3:
            raise ValueError(f"a budget of {self.budget_minutes} CPU minutes gives {self.budget_minutes * 60 / n:.1f} s "
                             f"per τ; at least 3 s are needed: give --budget-minutes {n * 3 / 60:.2f} or more")
        for name in ("queries", "samples", "grid_queries", "max_dim", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < (2 if name == "samples" else 1):
                raise ValueError(f"{name} must be an integer >= {2 if name == 'samples' else 1}, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        for name in ("query_column", "heldout_query_column"):  # probes saved before these fields resume
            if d[name] is None:
                del d[name]
        return d


def _key(layer: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", layer) or "output"


class _Loaded:
    """A data set whose splits are loaded once per probe (every extraction reads the same rows)."""

    def __init__(self, ds: Any) -> None:
        self._ds, self.name = ds, ds.name
        self.generated_captions = bool(getattr(ds, "generated_captions", False))
        self._splits: dict[str, Any] = {}

    def splits(self) -> list[str]:
        return self._ds.splits()

    def load(self, split: str) -> Any:
        if split not in self._splits:
            self._splits[split] = self._ds.load(split)
        return self._splits[split]


class _Data:
    """The split rows of one probe: which split trains, which is held out, and their labels."""

    def __init__(self, s: ProbeSettings, data_dir: str | None) -> None:
        ds = self.ds = _Loaded(get_dataset(s.dataset, data_dir))
        splits = ds.splits()
        self.train_split = "train" if "train" in splits else splits[0]
        held = [x for x in ("test", "validation", "val") if x in splits and x != self.train_split]
        self.held_split = held[0] if held else None
        self.train = ds.load(self.train_split)
        self.held = ds.load(self.held_split) if self.held_split else self.train
        n = len(self.train) if s.limit is None else min(s.limit, len(self.train))
        if self.held_split is None:  # the last 10 % of the training rows are held out
            cut = n - max(1, n // 10)
            self.train_rows, self.held_rows = slice(0, cut), slice(cut, n)
        else:
            m = len(self.held) if s.heldout_limit is None else min(s.heldout_limit, len(self.held))
            self.train_rows, self.held_rows = slice(0, n), slice(0, m)
        if self.train_rows.stop - self.train_rows.start < 2 or self.held_rows.stop - self.held_rows.start < 2:
            raise ValueError(f"data set {ds.name!r} is too small to probe: it needs at least 2 training and 2 held-out rows")
        cols = M.label_columns(self.held.columns, self.held.labels, self.held.class_names)
        if s.columns is not None:
            missing = [c for c in s.columns if c not in cols]
            if missing:
                raise ValueError(f"no label column {', '.join(missing)} in {ds.name!r}; its label columns: "
                                 f"{', '.join(cols) or '(none)'}")
            cols = {c: cols[c] for c in s.columns}
        tcols = M.label_columns(self.train.columns, self.train.labels, self.train.class_names)
        self.columns = {c: (tcols[c][self.train_rows], v[self.held_rows]) for c, v in cols.items() if c in tcols}

    def extract(self, store: FeatureStore, expert: Any, progress: bool | None, s: ProbeSettings,
                data_dir: str | None, query: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Training and held-out features of ``expert`` (from the store; extracted on a miss);
        a ``query`` expert reads the settings' query columns where they are given."""
        column = s.query_column if query else None
        held_column = (s.heldout_query_column or s.query_column) if query else None
        if held_column is not None and self.held_split is None and held_column != column:
            raise ValueError(f"a held-out query column needs a held-out split; {self.ds.name!r} has only "
                             f"{self.train_split!r}: drop --heldout-query-column")

        def get(split: str, col: str | None, limit: int | None) -> Any:
            return store.extract(expert, dataset=self.ds, split=split, limit=limit, data_dir=data_dir,
                                 progress=progress, column=col, transform=None if col else "identity")

        tr = get(self.train_split, column, s.limit)
        a = torch.from_numpy(np.asarray(tr.array()))
        if self.held_split is None:
            return a[self.train_rows], a[self.held_rows]
        whole = self.held_rows.stop >= len(self.held)  # then the entry is the plain extraction's (no limit)
        he = get(self.held_split, held_column, None if whole else self.held_rows.stop)
        return a[self.train_rows], torch.from_numpy(np.asarray(he.array()))[self.held_rows]


class _Stages:
    """The bar across the whole probe (extractions, then one stage per τ); a log line per stage off a terminal."""

    def __init__(self, total: int, progress: bool | None) -> None:
        self.lines = progress is None and not os.isatty(2)
        self.bar = tqdm(total=total, desc="probe", unit="stage", disable=not (progress or (progress is None and os.isatty(2))),
                        dynamic_ncols=True)
        self.done, self.total = 0, total

    def set_description(self, what: str) -> None:
        self.bar.set_description(what)
        if self.lines:
            log.info("%s (stage %d/%d)", what, self.done + 1, self.total)

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def _calibrate(s: ProbeSettings, train: Pairs) -> float:
    """Process CPU seconds of one optimiser step of this τ on these pairs (20 timed steps)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        model = build_model("cinn", {"dim": train.target.shape[1], "cond_dim": train.cond.shape[1], **s.tau})
    cfg = TrainConfig(batch_size=s.batch_size, lr=s.lr / 10, seed=s.seed)
    opt = make_optimizer(model, cfg)
    model.check_finite = False
    for i in range(25):
        if i == 5:
            t0 = time.process_time()
        idx = batch_indices(i, len(train), cfg)
        train_step(model, opt, train.target[idx].float(), train.cond[idx].float(), cfg.grad_clip)
    return (time.process_time() - t0) / 20


def _plan(folder: Path, s: ProbeSettings, n_taus: int, train: Pairs) -> dict[str, Any]:
    """This τ's steps: read back on a resumed run, else from the budget (calibrated when it is in minutes)."""
    if (folder / "plan.json").is_file():
        return read_json(folder / "plan.json")
    if s.budget_steps is not None:
        plan = {"steps": s.budget_steps // n_taus, "budget": "steps"}
    else:
        per = s.budget_minutes * 60 / n_taus
        sec = _calibrate(s, train)
        steps = int(0.9 * per / sec)  # a tenth for validation, checkpoints and the calibration itself
        if steps < MIN_STEPS:
            raise ValueError(f"a budget of {s.budget_minutes} CPU minutes gives {steps} steps per τ here "
                             f"({sec * 1000:.1f} ms/step); at least {MIN_STEPS} are needed to learn anything: give "
                             f"--budget-minutes {MIN_STEPS * sec * n_taus / 0.9 / 60:.1f} or more")
        plan = {"steps": steps, "budget": "process_cpu_seconds", "cpu_seconds": per, "seconds_per_step": sec}
    atomic_write_json(folder / "plan.json", plan)
    return plan


def _judges(s: ProbeSettings, data: _Data, target: Any, train_codes: torch.Tensor, device: str) -> dict[str, Any]:
    """column -> (how it is judged, a function codes -> values): the named classifier where it reads the column."""
    judge = get_expert(s.judge, device=device) if s.judge else None
    heads = dict(getattr(judge, "heads", {}) or {}) if judge is not None else {}
    names = data.held.class_names
    out: dict[str, Any] = {}
    for col, (train_vals, _) in data.columns.items():
        if judge is not None and col in heads and hasattr(target, "decode"):
            out[col] = (s.judge, lambda z, c=col: judge.predict_attributes(target.decode(z))[c])
        elif judge is not None and col == "label" and not heads and hasattr(judge, "predict") and hasattr(target, "decode"):
            out[col] = (s.judge, lambda z: [names[i] if names else str(i) for i in judge.predict(target.decode(z)).tolist()])
        else:
            out[col] = ("linear probe on target codes", M.LinearProbe(train_codes, train_vals, seed=s.seed).predict)
    return out


def _measure(model: Any, cond: torch.Tensor, held: torch.Tensor, s: ProbeSettings, data: _Data,
             judges: dict[str, Any], target: Any, order: torch.Tensor) -> dict[str, Any]:
    q = order[: s.queries]
    g = torch.Generator().manual_seed(s.seed)  # the same v for every layer: the grid compares like with like
    c = cond[q].repeat_interleave(s.samples, dim=0)
    with torch.no_grad():
        z = model.sample(c, generator=g).reshape(len(q), s.samples, -1)
    out: dict[str, Any] = {"diversity": M.diversity(z, held, seed=s.seed), "labels_kept": {}}
    for col, (_, fn) in judges.items():
        truth = [data.columns[col][1][i] for i in q.tolist()]
        out["labels_kept"][col] = M.labels_kept(z, truth, fn)
    if hasattr(target, "decode"):
        k = min(s.grid_queries, len(q))
        imgs = target.decode(z[:k].reshape(-1, z.shape[-1])).clamp(0, 1)
        grid = (imgs.reshape(k, s.samples, *imgs.shape[1:]) * 255).round().to(torch.uint8).numpy()
        out["_grid"] = grid
    return out


def probe(query: str, target: str, layers: list[str] | tuple[str, ...], dataset: str, *, out: str | os.PathLike,
          budget_minutes: float | None = None, budget_steps: int | None = None, columns: list[str] | None = None,
          data_dir: str | None = None, store_root: str | os.PathLike | None = None, device: str = "cpu",
          progress: bool | None = None, **settings: Any) -> dict[str, Any]:
    """Probes ``query``'s ``layers`` against ``target`` on ``dataset``; writes ``out/report.{json,html}``.

    Args:
        query, target, layers, dataset, budget_minutes, budget_steps, columns: see :class:`ProbeSettings`
            (``budget_minutes`` defaults to 10 when neither budget is given).
        out: the run folder (resumable: rerun the same call to continue).
        data_dir: where a registered data set's files are. store_root: the feature store.
        progress: a bar over the whole probe (``None``: on a terminal).
        **settings: the other fields of :class:`ProbeSettings`.

    Returns:
        The report (also ``out/report.json``).

    Example:
        >>> net2net.probe("fmnist-classifier", "fmnist-ae", ["conv1", "logits"], "fashion-mnist",
        ...               out="probe-fmnist", budget_minutes=4)  # doctest: +SKIP
    """
    from net2net.probing.report import write_report

    if budget_minutes is None and budget_steps is None:
        budget_minutes = 10.0
    s = ProbeSettings(query=query, target=target, layers=tuple(layers), dataset=str(dataset),
                      columns=tuple(columns) if columns else None, budget_minutes=budget_minutes,
                      budget_steps=budget_steps, **settings)
    known = expert_layers(query, device=device)  # unknown layers fail here, before any work
    for layer in s.layers:
        if layer not in known:
            raise ValueError(f"expert {query!r} has no layer {layer!r}; its layers: {', '.join(known)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "probe.json").is_file() and read_json(out / "probe.json") != s.to_dict():
        raise ValueError(f"{out} holds a probe with other settings (see {out / 'probe.json'}); "
                         "rerun with those settings to resume, or choose a new --out")
    atomic_write_json(out / "probe.json", s.to_dict())
    keys = [UNCOND, *(_key(x) for x in s.layers)]
    if (out / "report.json").is_file() and all((out / "taus" / k / "result.json").is_file() for k in keys):
        # finished: the report is redrawn from the stored figures (nothing is extracted or fitted)
        results = {k: read_json(out / "taus" / k / "result.json") for k in keys}
        return write_report(out, s, results, read_json(out / "report.json")["context"])
    data = _Data(s, data_dir)
    store = FeatureStore(store_root)
    n_taus = len(s.layers) + 1
    bar = _Stages(1 + 2 * n_taus - 1, progress)
    inner = progress
    bar.set_description("probe: extract target")
    tgt = get_expert(target, device=device)
    tz, hz = data.extract(store, tgt, inner, s, data_dir)
    bar.update(1)
    taps = {}
    for layer in s.layers:
        bar.set_description(f"probe: extract {layer}")
        t = tap_layer(query, layer, max_dim=s.max_dim, device=device, known=known)
        taps[layer] = (t, *data.extract(store, t.expert, inner, s, data_dir, query=True))
        bar.update(1)
    judges = _judges(s, data, tgt, tz, device)
    order = torch.randperm(len(hz), generator=torch.Generator().manual_seed(s.seed))
    results: dict[str, dict[str, Any]] = {}
    for key, name in zip(keys, [None, *s.layers], strict=True):
        bar.set_description(f"probe: τ from {name or 'nothing'}")
        folder = out / "taus" / key
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "result.json").is_file():
            results[key] = read_json(folder / "result.json")
            bar.update(1)
            continue
        if name is None:
            tc, hc = torch.zeros(len(tz), 1), torch.zeros(len(hz), 1)
            tap = {"layer": None, "pool": None, "dim": 0}
        else:
            t, tc, hc = taps[name]
            tap = {"layer": name, "pool": t.pool, "dim": t.dim}
        train, val = Pairs(tc, tz), Pairs(hc, hz)
        plan = _plan(folder, s, n_taus, train)
        cfg = TrainConfig(steps=plan["steps"], batch_size=s.batch_size, lr=s.lr, warmup_steps=min(200, plan["steps"] // 10),
                          eval_every=0, ckpt_every=max(1, plan["steps"] // 4), seed=s.seed, device=device)
        run = folder / "run"
        t0 = time.process_time()
        if not (run / "metrics.json").is_file():
            fit("cinn", {"dim": tz.shape[1], "cond_dim": tc.shape[1], **s.tau}, train, val, cfg, run,
                resume=latest_checkpoint(run) is not None, progress=inner)
        cpu = time.process_time() - t0
        metrics = read_json(run / "metrics.json")
        model = load_model(run / "model", device)
        found = _measure(model, hc, hz, s, data, judges, tgt, order)
        grid = found.pop("_grid", None)
        if grid is not None:
            np.save(folder / "grid.npy", grid)
        nll = float(metrics["val_nll_nats_per_dim"])
        results[key] = {**tap, "key": key, "steps": plan["steps"], "plan": plan, "fit_cpu_seconds": cpu,
                        "heldout_nll_nats_per_dim": nll, "heldout_nll_bits_per_dim": nll / M.LN2, **found}
        atomic_write_json(folder / "result.json", results[key])
        bar.update(1)
    bar.close()
    held = {col: {"judge": j[0], "chance": max(np.unique(data.columns[col][1], return_counts=True)[1]) / len(data.columns[col][1]),
                  "on_real": M.labels_kept(hz[order[: s.queries]].unsqueeze(1).repeat(1, 2, 1),
                                           [data.columns[col][1][i] for i in order[: s.queries].tolist()], j[1])}
            for col, j in judges.items()}
    context = {"train_split": data.train_split, "heldout_split": data.held_split or "last 10 % of train",
               "train_rows": data.train_rows.stop - data.train_rows.start,
               "heldout_rows": data.held_rows.stop - data.held_rows.start, "target_dim": int(tz.shape[1]),
               "threads": torch.get_num_threads(), "labels": held}
    if hasattr(tgt, "decode"):  # the held-out images behind the grid's queries, (k, H, W, C) uint8
        rows = [data.held_rows.start + int(i) for i in order[: s.grid_queries]]
        np.save(out / "originals.npy", np.stack([np.asarray(data.held.images[r]) for r in rows]))
    return write_report(out, s, results, context)
