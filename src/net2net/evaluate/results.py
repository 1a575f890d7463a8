"""``make results``: measure the installed zoo and write ``docs/results.md`` and ``docs/zoo.md``.

Every number in those two files comes from here: the experts' figures from the metrics
their training stored (and the GAN's independent edge judge, measured again here), every
translator's figures from :func:`evaluate_translator` on the test split, the text → image
descriptor effect sizes and the temperature trade-off measured below. The prose that
explains methods lives in this module's templates; any sentence holding a number is
built from the measurements. ``results.json`` beside the docs holds all of them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from net2net.data.captions import DESCRIPTORS, NOUNS, measure
from net2net.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist
from net2net.evaluate.results_text import BASELINES, TEXT, eval_command, results_md, zoo_md
from net2net.evaluate.translators import FEATURE_SPACE, evaluate_translator

__all__ = ["run_results", "render_results", "descriptor_effects", "temperature_sweep", "eval_command", "TEXT", "BASELINES"]

#: held-out template used for descriptor prompts (never seen in training)
DESCRIPTOR_TEMPLATE = "this is {}"
FULL = {"n_queries": 1000, "n_samples": 4, "n_desc": 48, "temp_queries": 300, "judge_per_class": 1000,
        "temperatures": (0.4, 0.6, 0.8, 1.0, 1.2)}
QUICK = {"n_queries": 40, "n_samples": 2, "n_desc": 6, "temp_queries": 30, "judge_per_class": 50,
         "temperatures": (0.5, 1.0)}


def _prompt(word: str, class_index: int) -> str:
    noun = NOUNS[CLASS_NAMES[class_index]][0]
    phrase = f"{word} {noun}"
    return DESCRIPTOR_TEMPLATE.format(("an " if phrase[0] in "aeiou" else "a ") + phrase)


@torch.no_grad()
def descriptor_effects(t: Any, *, n: int, seed: int = 0) -> dict[str, Any]:
    """How far each descriptor pair moves its measurement, the class held fixed.

    For each class and pair (e.g. dark/light), ``n`` samples of "this is a dark X" and of
    "this is a light X" are measured with :func:`net2net.data.captions.measure` (the
    same measurement that chose the caption words). The effect is the difference of
    means (high word minus low word), and, standardised, that difference divided by the
    standard deviation of the measurement among real test images of the class (so a
    deterministic baseline gets a finite effect size too). Averaged over classes; the
    right direction is positive.
    """
    x, y = load_fashion_mnist("test")
    real = measure(x)
    out: dict[str, Any] = {"n_per_prompt": n, "template": DESCRIPTOR_TEMPLATE}
    for key, (low, high) in DESCRIPTORS.items():
        diffs, ds = [], []
        for c in range(len(CLASS_NAMES)):
            lo = measure(t.sample([_prompt(low, c)], n=n, seed=seed).cpu())[key]
            hi = measure(t.sample([_prompt(high, c)], n=n, seed=seed + 1).cpu())[key]
            sd = float(np.std(real[key][y == c])) or 1.0
            diffs.append(float(hi.mean() - lo.mean()))
            ds.append(diffs[-1] / sd)
        out[key] = {"low": low, "high": high, "difference": float(np.mean(diffs)), "effect_size": float(np.mean(ds)),
                    "classes_right_way": int(sum(d > 0 for d in diffs)),
                    "per_class_effect_size": dict(zip(CLASS_NAMES, ds))}
    return out


def temperature_sweep(t: Any, temperatures: tuple[float, ...], *, n_queries: int, n_samples: int,
                      seed: int = 0) -> list[dict[str, float]]:
    """Class accuracy, diversity and FID of ``t``'s samples at each temperature."""
    rows = []
    for temp in temperatures:
        m = evaluate_translator(t, n_queries=n_queries, n_samples=n_samples, seed=seed, temperature=temp)
        rows.append({"temperature": temp, "class_accuracy": m["class_accuracy"], "diversity": m.get("diversity", 0.0),
                     "fid": m["fid"]})
    return rows


def _experts(judge_per_class: int, seed: int) -> dict[str, Any]:
    """Stored test figures of every zoo expert, plus the GAN's edge judge measured now."""
    from net2net.data.domains import derive
    from net2net.evaluate import zoo_metrics as zm
    from net2net.zoo import list_zoo, load_expert, zoo_info

    out: dict[str, Any] = {}
    for name in list_zoo():
        info = zoo_info(name)
        out[name] = {"kind": info.get("kind", ""), "metrics": info.get("metrics", {}),
                     "bytes": int(info["bytes"])}  # the weights file's size, recorded (and verified) in its folder
    if "fmnist-ae" in out and "fmnist-classifier" in out:
        from net2net.data.fashion_mnist import load_fashion_mnist, to_float

        x, y = load_fashion_mnist("test")
        out["fmnist-ae"]["classifier_on_reconstructions"] = zm.reconstruction_accuracy(
            load_expert("fmnist-ae"), load_expert("fmnist-classifier"), to_float(x), torch.as_tensor(y))
    if "shapes-ae" in out and "shapes-classifier" in out:
        from net2net.evaluate.shapes import ShapesTest, reconstruction_readings

        test, ae, clf = ShapesTest.generated(3000), load_expert("shapes-ae"), load_expert("shapes-classifier")
        real = reconstruction_readings(lambda x: x, test, clf)
        recon = reconstruction_readings(lambda x: ae.decode(ae.encode(x)), test, clf)
        out["shapes-ae"]["judge_on_reconstructions"] = {"n": len(test), "per_attribute": {
            a: {"real": float(np.mean(real[a])), "reconstructions": float(np.mean(recon[a]))} for a in test.attrs}}
    if "fmnist-gan" in out and "fmnist-edge-classifier" in out:
        gan, edge = load_expert("fmnist-gan"), load_expert("fmnist-edge-classifier")
        judged = zm.generated_class_accuracy(gan, lambda im: edge.logits(derive("edges", im)),
                                             per_class=judge_per_class, seed=seed)
        out["fmnist-gan"]["edge_judge"] = {"accuracy": judged["generated_accuracy"], "n": judge_per_class * 10}
    return out


def _fmt(v: Any, spec: str = ".3f") -> str:
    return format(v, spec) if isinstance(v, float) else "–"


def _plots(res: dict[str, Any], img: Path) -> None:
    import matplotlib.pyplot as plt

    from net2net.evaluate.plots import _save, diversity_bars, nll_curve, per_class_bars

    tr = res["translators"]
    if TEXT in tr:
        names = [TEXT, *[b for b in BASELINES if b in tr]]
        diversity_bars({n.replace("fmnist-text2img", "τ") or n: tr[n].get("diversity", 0.0) for n in names},
                       img / "diversity_text2img.png")
        per_class_bars({n: tr[n]["class_accuracy_per_class"] for n in names}, img / "per_class_text2img.png")
    if res.get("temperature"):
        rows = res["temperature"]
        fig, ax = plt.subplots(1, 2, figsize=(8, 3))
        ts = [r["temperature"] for r in rows]
        ax[0].plot(ts, [r["class_accuracy"] for r in rows], "o-", label="τ class accuracy")
        ax[0].plot(ts, [r["diversity"] for r in rows], "s-", label="τ diversity")
        for b in BASELINES:
            if b in tr:
                ax[0].axhline(tr[b]["class_accuracy"], ls="--", lw=0.8, c="gray")
        ax[0].set_xlabel("temperature")
        ax[0].legend(fontsize=8)
        ax[1].plot([r["diversity"] for r in rows], [r["class_accuracy"] for r in rows], "o-", label="τ")
        for r in rows:
            ax[1].annotate(f"T={r['temperature']}", (r["diversity"], r["class_accuracy"]), fontsize=7)
        for b in BASELINES:
            if b in tr:
                ax[1].plot([tr[b].get("diversity", 0.0)], [tr[b]["class_accuracy"]], "x", label=b.rsplit("-", 1)[1])
        ax[1].axvline(0.7, ls=":", c="k", lw=0.8)
        ax[1].set_xlabel("diversity")
        ax[1].set_ylabel("class accuracy")
        ax[1].legend(fontsize=8)
        _save(fig, img / "temperature_text2img.png")
    if res.get("descriptors"):
        fig, ax = plt.subplots(figsize=(6, 3))
        keys = list(DESCRIPTORS)
        for i, (name, eff) in enumerate(res["descriptors"].items()):
            ax.bar([k + i * 0.4 for k in range(len(keys))], [eff[k]["effect_size"] for k in keys], width=0.4, label=name)
        ax.set_xticks([k + 0.2 for k in range(len(keys))], [f"{DESCRIPTORS[k][0]}→{DESCRIPTORS[k][1]}" for k in keys])
        ax.axhline(0, c="k", lw=0.8)
        ax.set_ylabel("effect size (class s.d.)")
        ax.legend(fontsize=8)
        _save(fig, img / "descriptors_text2img.png")
    histories = {}
    for n in (TEXT, "fmnist-edge2img", "fmnist-superres"):
        h = res.get("histories", {}).get(n)
        if h and h.get("val_nll"):
            histories[n] = h
    if histories:
        nll_curve(histories, img / "nll_curves.png")


def _grids(img: Path, seed: int, *, shapes_only: bool = False) -> None:
    """The sample grids of the demo (same sections, same seed), copied into ``img``;
    ``shapes_only``: only the colour domain's section (its grids, nothing else)."""
    from net2net.demo import Report, run_demo, section_shapes

    with tempfile.TemporaryDirectory() as tmp:
        if shapes_only:
            with torch.no_grad():
                section_shapes(Report(Path(tmp), n=8, seed=seed))
        else:
            run_demo(tmp, seed=seed, metrics=False)
        for png in Path(tmp).glob("*.png"):
            shutil.copyfile(png, img / png.name)


def _previous(docs: Path, res: dict[str, Any]) -> dict[str, Any]:
    """The existing ``docs/results.json``, checked to have been made with the same settings and seed."""
    path = docs / "results.json"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: run scripts/results.py without --only first")
    old = json.loads(path.read_text(encoding="utf-8"))
    for key in ("settings", "seed", "quick"):
        if old.get(key) != res[key]:
            raise ValueError(f"{path} was made with other {key} ({old.get(key)!r}); rerun scripts/results.py "
                             "without --only")
    return old


def render_results(docs: str | Path = "docs") -> dict[str, Any]:
    """Rewrites ``docs/results.md`` and ``docs/zoo.md`` from ``docs/results.json`` without
    measuring anything (e.g. after the methods text, ``zoo_methods.md``, changed)."""
    path = Path(docs) / "results.json"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: run scripts/results.py first")
    res = json.loads(path.read_text(encoding="utf-8"))
    (Path(docs) / "results.md").write_text(results_md(res), encoding="utf-8")
    (Path(docs) / "zoo.md").write_text(zoo_md(res), encoding="utf-8")
    return res


def run_results(docs: str | Path = "docs", *, quick: bool = False, seed: int = 0, grids: bool = True,
                translators: list[str] | None = None, merge: bool = False) -> dict[str, Any]:
    """Measures everything and writes ``docs/results.md``, ``docs/zoo.md``, ``docs/results.json``, plots.

    Args:
        docs: the folder to write into (``img/`` inside it for plots and grids).
        quick: few queries and samples (for tests): the files are written the same way.
        seed: for every sample drawn.
        grids: also regenerate the sample grids (by the demo's sections).
        translators: only these (default: every installed translator).
        merge: re-measure only ``translators`` and keep every other figure of the
            existing ``docs/results.json`` (same settings and seed), e.g. after one
            translator is retrained; the experts' figures are kept too.
    """
    from net2net.translator import available_translators, load

    cfg = QUICK if quick else FULL
    docs = Path(docs)
    img = docs / "img"
    img.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res: dict[str, Any] = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                           "seed": seed, "quick": quick, "feature_space": FEATURE_SPACE}
    names = translators if translators is not None else available_translators()
    old = _previous(docs, res) if merge else None
    if old is not None:
        res = old
    else:
        res["experts"] = _experts(cfg["judge_per_class"], seed)
        res["translators"], res["histories"], res["stored"] = {}, {}, {}
    for name in names:
        t = load(name)
        res["translators"][name] = evaluate_translator(t, n_queries=cfg["n_queries"], n_samples=cfg["n_samples"],
                                                       seed=seed)
        res["stored"][name] = t.info.get("metrics", {})
        folder = Path(__file__).parents[1] / "zoo" / "translators" / name
        res.setdefault("translator_bytes", {})[name] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        if t.info.get("history"):
            res["histories"][name] = t.info["history"]
    res["descriptors"] = res.get("descriptors", {}) if merge else {}
    for name in (TEXT, BASELINES[0]):
        if name in names:
            res["descriptors"][name] = descriptor_effects(load(name), n=cfg["n_desc"], seed=seed)
    if TEXT in names:
        res["temperature"] = temperature_sweep(load(TEXT), cfg["temperatures"], n_queries=cfg["temp_queries"],
                                               n_samples=max(2, cfg["n_samples"]), seed=seed)
    if grids:
        _grids(img, seed, shapes_only=merge and all(n.startswith("shapes-") for n in names))
    _plots(res, img)
    seconds = time.perf_counter() - t0
    if merge:  # the full run's time stays; this run is listed beside it (its names leave earlier ones)
        earlier = [{"names": [n for n in r["names"] if n not in names], "seconds": r["seconds"]}
                   for r in res.get("remeasured", [])]
        res["remeasured"] = [r for r in earlier if r["names"]] + [{"names": list(names), "seconds": seconds}]
    else:
        res["seconds"] = seconds
        res.pop("remeasured", None)
    (docs / "results.md").write_text(results_md(res), encoding="utf-8")
    (docs / "zoo.md").write_text(zoo_md(res), encoding="utf-8")
    (docs / "results.json").write_text(json.dumps(res, indent=1, default=float), encoding="utf-8")
    return res
