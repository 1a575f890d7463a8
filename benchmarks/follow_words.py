"""Text → image that follows every word: variants of τ side by side at one CPU budget.

    python benchmarks/follow_words.py --steps 1500 --queries 300 --out docs/follow-words.md

Every variant trains ``shapes-text2img``'s recipe (MiniLM → shapes-ae latent) for the same
steps, seed, batch and learning rate, one after the other on one torch thread; only what
the variant names changes. The first variant is the recipe shipped before issue 23's
changes (full captions in six templates, column ``text``; τ without a conditional base,
standardisation, condition noise or auxiliary regression). Each is then measured
by :func:`net2net.evaluate.shapes.evaluate_shapes` on the first ``--queries`` test captions
(made in memory by the generator, identical to the files): per-attribute accuracy of the
samples on seen and held-out colour-shape pairs, partial prompts (named accuracy,
unnamed normalised entropy), the held-out vocabulary, and held-out NLL (the training run's
validation NLL on all held-out phrasings of the test split). CPU seconds are the training
process's own (``time.process_time``), so the shared machine's load inflates them less
than wall time.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from net2net.data.shapes import ATTRIBUTES
from net2net.evaluate.shapes import ShapesTest, evaluate_shapes
from net2net.train.recipe import train
from net2net.translator import Translator

#: The τ fields of the τ shipped before conditional bases and standardisation existed.
LEGACY_TAU = {"cond_base": False, "standardize": False}

#: name -> (caption column of the training split, τ fields over the recipe's model).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline (the recipe before: column text)": ("text", LEGACY_TAU),
    "cond. base": ("text", {"cond_base": True, "standardize": False}),
    "cond. base + standardise": ("text", {"cond_base": True, "standardize": True}),
    "caption dropout": ("text_partial", LEGACY_TAU),
    "dropout + cond. base": ("text_partial", {"cond_base": True, "standardize": False}),
    "base + std + cond. noise 0.02": ("text", {"cond_base": True, "standardize": True, "cond_noise": 0.02}),
    "full + dropout captions, base + std": ("text+text_partial", {"cond_base": True, "standardize": True}),
    "flow matching (8 RK4 steps)": ("text", {"kind": "flow-matching", "ode_steps": 8}),
    # a flow-matching step costs about a third of a coupling step (23.5 s against 76 s for
    # 1,500): 6,000 of them take about 1.2x the baseline's training CPU. The CPU s column also
    # holds each run's final held-out NLL, which is costly for flow matching (exact divergence).
    "flow matching, 6,000 steps": ("text", {"kind": "flow-matching", "ode_steps": 8, "steps": 6000}),
    "aux. regression 1": ("text", {**LEGACY_TAU, "cond_regress": 1.0}),
    "aux. regression 0.3": ("text", {**LEGACY_TAU, "cond_regress": 0.3}),
    "aux. regression 0.1": ("text", {**LEGACY_TAU, "cond_regress": 0.1}),
    "aux. regression 0.03": ("text", {**LEGACY_TAU, "cond_regress": 0.03}),
    # column text_varied: the same attributes in grammar-made word orders (data version 4)
    "varied captions": ("text_varied", LEGACY_TAU),
    "varied + aux. regression 1": ("text_varied", {**LEGACY_TAU, "cond_regress": 1.0}),
    "varied + aux. 1 + cond. noise 0.01": ("text_varied", {**LEGACY_TAU, "cond_regress": 1.0,
                                                                             "cond_noise": 0.01}),
    "varied + aux. 1 + cond. noise 0.02": ("text_varied", {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.02}),
    "varied + partial captions, aux. 1 + cond. noise 0.01": ("text_varied+text_partial", {
        **LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01}),
    "varied + aux. 1 + cond. noise 0.01, 4,500 steps": ("text_varied", {**LEGACY_TAU, "cond_regress": 1.0,
                                                                         "cond_noise": 0.01, "steps": 4500}),
    "varied + aux. 1 + cond. noise 0.01, 3,000 steps (the recipe before LU mixing)": ("text_varied", {**LEGACY_TAU, "cond_regress": 1.0,
                                                                         "cond_noise": 0.01, "steps": 3000}),
    # data version 5: column text_synonyms (the grammar with several words per value) and
    # column text_varied_partial (the grammar naming 1 to 5 attributes)
    "synonyms + aux. 1 + cond. noise 0.01": ("text_synonyms", {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01}),
    "varied + partial grammar, aux. 1 + cond. noise 0.01": ("text_varied+text_varied_partial", {
        **LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01}),
    # a learned invertible linear map (LU form) in place of each fixed permutation (FlowConfig.mixing)
    "varied + aux. 1 + cond. noise 0.01 + LU mixing": ("text_varied", {**LEGACY_TAU, "cond_regress": 1.0,
                                                                       "cond_noise": 0.01, "mixing": "lu"}),
    "varied + aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps (the recipe before the layer choice)": ("text_varied", {
        **LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000}),
    # which layer of MiniLM τ reads (``layer``: the expert's option; the recipe before read the
    # sentence embedding, i.e. the last layer mean-pooled): earlier layers keep "left" in
    # wordings where the last one loses it (benchmarks/text_layers.py, docs/text-layers.md)
    "MiniLM layer5, varied + aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps (the recipe as shipped)": (
        "text_varied", {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000,
                        "layer": "layer5"}),
    "MiniLM embeddings+layer6, varied + aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps": (
        "text_varied", {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000,
                        "layer": "embeddings+layer6"}),
    "MiniLM layer5+layer6, varied + aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps": (
        "text_varied", {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000,
                        "layer": "layer5+layer6"}),
    "MiniLM layer5, varied ×3 + partial grammar ×1, aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000, "layer": "layer5"}),
    "MiniLM layer5, varied ×7 + partial grammar ×1, aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps": (
        "+".join(["text_varied"] * 7 + ["text_varied_partial"]),
        {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000, "layer": "layer5"}),
    "MiniLM layer5, varied ×15 + partial grammar ×1, aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps": (
        "+".join(["text_varied"] * 15 + ["text_varied_partial"]),
        {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000, "layer": "layer5"}),
    # a flow-matching τ (an ODE, no coupling blocks) at layer 5: does it draw the many-mode
    # distributions of a partial prompt where the coupling flow hedges?
    "MiniLM layer5, flow matching (8 RK4 steps), varied, 6,000 steps": (
        "text_varied", {"kind": "flow-matching", "ode_steps": 8, "steps": 6000, "layer": "layer5"}),
    "MiniLM layer5, flow matching (8 RK4 steps), varied ×3 + partial grammar ×1, 6,000 steps": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {"kind": "flow-matching", "ode_steps": 8, "steps": 6000, "layer": "layer5"}),
    "MiniLM layer5, varied ×3 + partial grammar ×1, aux. 1 + cond. noise 0.01 + LU mixing, 6,000 steps": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 6000, "layer": "layer5"}),
    # the couplings draw a partial prompt's samples from a few modes whatever it names (samples of one
    # residual look alike across one-word prompts): does a learned conditional mean carry the named words?
    "MiniLM layer5, varied ×3 + partial grammar ×1, cond. base, aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000, "layer": "layer5",
         "cond_base": True}),
    # ... or more couplings (12 blocks: twice the CPU per step), or a longer-trained ODE?
    "MiniLM layer5, varied ×3 + partial grammar ×1, 12 blocks, aux. 1 + cond. noise 0.01 + LU mixing, 3,000 steps": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu", "steps": 3000, "layer": "layer5",
         "n_blocks": 12}),
    "MiniLM layer5, flow matching (8 RK4 steps), varied ×3 + partial grammar ×1, 12,000 steps": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {"kind": "flow-matching", "ode_steps": 8, "steps": 12000, "layer": "layer5"}),
    "MiniLM layer5, flow matching (8 RK4 steps), varied ×3 + partial grammar ×1, 24,000 steps": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {"kind": "flow-matching", "ode_steps": 8, "steps": 24000, "layer": "layer5"}),
    "varied ×3 + partial grammar ×1, aux. 1 + cond. noise 0.01 + LU mixing": (
        "text_varied+text_varied+text_varied+text_varied_partial",
        {**LEGACY_TAU, "cond_regress": 1.0, "cond_noise": 0.01, "mixing": "lu"}),
    "dropout + cond. base + standardise": ("text_partial", {"cond_base": True, "standardize": True}),
    "dropout + base + std + cond. noise 0.02": ("text_partial", {"cond_base": True, "standardize": True,
                                                                 "cond_noise": 0.02}),
}


def shipped_recipe() -> dict[str, Any]:
    text = resources.files("net2net.zoo").joinpath("translator_recipes/shapes-text2img.json").read_text()
    return json.loads(text)


def variant_recipe(base: dict[str, Any], column: str, tau: dict[str, Any], steps: int,
                   data_dir: str | None = None) -> dict[str, Any]:
    r = copy.deepcopy(base)
    if "+" in column:  # several caption columns, each paired with the same images (a list of entries)
        r["data"]["cond"] = [{**r["data"]["cond"], "column": c} for c in column.split("+")]
        r["data"]["target"] = [r["data"]["target"]] * len(r["data"]["cond"])
    else:
        r["data"]["cond"]["column"] = column
    if data_dir:
        for role in ("cond", "target", "val_cond", "val_target"):
            for q in r["data"][role] if isinstance(r["data"][role], list) else [r["data"][role]]:
                q["data_dir"] = data_dir
    tau = dict(tau)
    steps = tau.pop("steps", steps)  # a variant may take another number of steps (the same CPU time)
    layer = tau.pop("layer", None)  # the MiniLM layer τ reads, for training, validation and prompts alike
    for role in ("cond", "val_cond"):
        for q in r["data"][role] if isinstance(r["data"][role], list) else [r["data"][role]]:
            q.pop("options", None)
            if layer:
                q["options"] = {"layer": layer}
    r["translator"]["query"].pop("options", None)
    if layer:
        r["translator"]["query"]["options"] = {"layer": layer}
    if "kind" in tau:  # another kind of τ: its own config in place of the recipe's
        r["model"] = dict(tau)
    else:
        r["model"] = {k: v for k, v in r["model"].items()
                      if k not in ("cond_base", "standardize", "cond_noise", "cond_regress", "mixing")}
        r["model"].update(tau)
    r["train"].update(steps=steps, eval_every=steps, ckpt_every=steps)
    return r


def run_variant(name: str, recipe: dict[str, Any], test: ShapesTest, out: Path, n_samples: int) -> dict[str, Any]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    m = train(recipe, out=out, progress=False)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    t = Translator.from_pretrained(m["translator"])
    ev = evaluate_shapes(t, n_queries=len(test), n_samples=n_samples, seed=0, test=test)
    cond = recipe["data"]["cond"]
    return {"name": name, "steps": recipe["train"]["steps"], "column": "+".join(q["column"] for q in cond) if isinstance(cond, list) else cond["column"],
            "model": recipe["model"],
            "val_nll_nats_per_dim": m["val_nll_nats_per_dim"], "train_cpu_s": cpu, "train_wall_s": wall, "eval": ev,
            "load_average": os.getloadavg()[0], "target_fingerprint": t.target.fingerprint()}


def temperature_rows(temperatures: list[float], test: ShapesTest, n_samples: int) -> list[dict[str, Any]]:
    """The shipped ``shapes-text2img`` sampled at each temperature: does τ know the words
    and only spread its samples too wide (accuracy rises as T falls), or not know them?"""
    from net2net.translator import load

    t = load("shapes-text2img")
    rows = []
    for temp in temperatures:
        ev = evaluate_shapes(t, n_queries=len(test), n_samples=n_samples, seed=0, test=test, temperature=temp)
        rows.append({"name": f"shipped τ (3,000 steps), T = {temp:g}", "column": "text", "model": t.tau.config.to_dict(),
                     "val_nll_nats_per_dim": ev["nll_nats_per_dim"], "train_cpu_s": float("nan"), "eval": ev,
                     "target_fingerprint": t.target.fingerprint()})
        print(json.dumps({"name": rows[-1]["name"], "all_seen": ev["accuracy_all_seen"]}), flush=True)
    return rows


def _f(x: float) -> str:
    return "–" if x != x else f"{x + 0.0:.3f}"  # + 0.0: no "-0.000" for an entropy of -0.0


#: The ``shapes-ae`` every row read before rows recorded their target expert: 16 epochs, shipped
#: until the 32-epoch one replaced it (docs/zoo.md, methods).
_FIRST_AE = "the 16-epoch `shapes-ae` that shipped until 2026-12-06"


def _target_provenance(rows: list[dict[str, Any]]) -> str:
    """Which image codes the rows read: rows on different autoencoders compare only in part."""
    prints = Counter(r.get("target_fingerprint", "") for r in rows)
    parts = [f"{n} on {_FIRST_AE} (recorded before rows kept the fingerprint)" if not fp else
             f"{n} on the `shapes-ae` of fingerprint {fp[:12]}" for fp, n in prints.items()]
    note = "" if len(prints) == 1 else " Rows on different autoencoders compare only in part: their codes differ."
    return f"Target codes the rows read: {'; '.join(parts)}.{note}"


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = ["# Text → image that follows every word", "",
             "Written by `benchmarks/follow_words.py` (issue 23):", "",
             f"    python benchmarks/follow_words.py --steps {args.steps} --queries {args.queries} --out {args.out}"
             + (" --baseline-data DIR" if args.baseline_data else "")
             + ("" if not args.temperatures else
                f"\n    python benchmarks/follow_words.py --queries {args.queries} --temperatures {args.temperatures} "
                f"--out {args.out}"), "",
             *(["The variants were trained with the first command; the rows *shipped τ, T = ...* sample the "
                "shipped translator (trained 3,000 steps) at lower temperatures (the second): if accuracy rises as "
                "T falls, τ knows the words but spreads its samples too wide.", ""]
               if any(r["name"].startswith("shipped τ") for r in rows) else []),
             "One row alone: `--only NAME --out /tmp/x.md`; rows run apart (in parallel processes) join this page "
             "with `--merge /tmp/x.json ...`.", "",
             f"Each variant: the `shapes-text2img` recipe for **{args.steps} steps** unless its row says otherwise (seed 0, same batch and lr), one "
             f"torch thread, then {args.queries} test queries × {args.samples} samples judged by `shapes-classifier`. "
             "*seen* / *held-out*: colour-shape pairs the training split has / never has. *partial*: held-out "
             "phrasings naming 1–4 attributes (named accuracy; normalised entropy of each unnamed attribute over all "
             "samples, 1 = uniform). *new words*: every attribute named with synonyms no training caption uses. "
             "*NLL*: validation NLL (nats/dim) on the held-out phrasings of the whole test split. CPU s: the training "
             "process's CPU time on the shared 2-core machine (it includes extracting any feature not yet cached, "
             "e.g. the baseline's validation captions). *Diversity*: mean pairwise classifier-feature distance "
             "between one prompt's samples over that between fresh renderings of its description (1 = the data's own "
             "variation); wrong attributes inflate it, so the figure in brackets takes only the prompts whose samples "
             "all have every attribute right (runs from before that figure existed show –).", "",
             "*aux. regression λ*: `cond_regress` λ, a linear head predicts the target code from τ's condition "
             "embedding (training only). *varied*: the training captions are column `text_varied`, the same "
             "attributes in grammar-made word orders (`net2net.data.shapes.paraphrase`). The shipped `shapes-text2img` "
             "recipe is the row marked so (3,000 steps, as the recipe trains). *synonyms*: column `text_synonyms`, "
             "the grammar with several words per value (none of them held out; data version 5). *partial grammar*: "
             "column `text_varied_partial`, the grammar naming 1 to 5 attributes, as a second caption of every "
             "image beside `text_varied` (*varied ×3 + partial ×1*: three full captions to one partial). *LU mixing*: `FlowConfig.mixing = \"lu\"`, a learned invertible linear "
             "map after every coupling in place of the fixed permutation (issue 25). *MiniLM layer5* (and the other "
             "*MiniLM …* rows): τ reads that layer of the text expert, its token states mean-pooled (`minilm`'s "
             "`layer` option), for the training captions, validation and prompts alike; every other row reads "
             "MiniLM's sentence embedding, the same pooling of its last layer, `layer6` (docs/text-layers.md).", "",
             "| variant | steps | " + " | ".join(f"{a} seen / held-out" for a in ATTRIBUTES)
             + " | all five seen / held-out | partial named | partial unnamed entropy (min / mean) "
             "| new words (named) | new words: colour | diversity (all right) | NLL | CPU s |",
             "|---|---|" + "---|" * (len(ATTRIBUTES) + 9)]
    for r in rows:
        e = r["eval"]
        ent = [v for v in e.get("partial_unnamed_entropy", {}).values() if v == v]
        cells = [f"{_f(e[f'accuracy_{a}_seen'])} / {_f(e[f'accuracy_{a}_heldout'])}" for a in ATTRIBUTES]
        cells.append(f"{_f(e['accuracy_all_seen'])} / {_f(e['accuracy_all_heldout'])}")
        cells.append(_f(e.get("partial_named_accuracy", float("nan"))))
        cells.append(f"{_f(min(ent))} / {_f(sum(ent) / len(ent))}" if ent else "–")
        cells.append(_f(e.get("newword_accuracy_named", float("nan"))))
        cells.append(_f(e.get("newword_accuracy", {}).get("colour", float("nan"))))
        cells.append(f"{_f(e.get('diversity', float('nan')))} ({_f(e.get('diversity_all_right', float('nan')))})")
        cpu = r["train_cpu_s"]
        cells += [f"{r['val_nll_nats_per_dim']:.3f}", "–" if cpu != cpu else f"{cpu:.0f}"]
        steps = r.get("steps", 3000 if r["name"].startswith("shipped τ") else args.steps)
        lines.append(f"| {r['name']} | {steps:,} | " + " | ".join(cells) + " |")
    counted = [r for r in rows if r["eval"].get("partial_named_accuracy_by_count")]
    if counted:  # runs since the eval reported it
        lines += ["", "Partial prompts' named accuracy by how many attributes the prompt names (1 to 4):", ""]
        lines += [f"- {r['name']}: " + ", ".join(f"{k}: {_f(v)}" for k, v in r["eval"]["partial_named_accuracy_by_count"].items())
                  for r in counted]
    lines += ["", _target_provenance(rows)]
    loads = [r["load_average"] for r in rows if "load_average" in r]  # when each row finished (older rows: none)
    if loads:
        lines += ["", f"Load average (1 min) when a row finished: {min(loads):.1f} to {max(loads):.1f} "
                      f"({len(loads)} of {len(rows)} rows recorded it)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500, help="steps of a row that names none (default: 1500, as docs/follow-words.md)")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", action="append", help="run only the variants whose name starts with this (repeatable)")
    p.add_argument("--baseline-data", metavar="DIR",
                   help="a shapes folder of generator version 2 for the baseline (the same images and `text` column, "
                        "so its cached features are reused)")
    p.add_argument("--out", default="docs/follow-words.md")
    p.add_argument("--render", action="store_true", help="only rewrite the table from the JSON beside --out")
    p.add_argument("--temperatures", help="sample the shipped shapes-text2img at these temperatures, e.g. 0.5,0.7,1 "
                                          "(alone: no variant is trained, the last run's rows are kept)")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="rows of other runs (the JSON beside their --out, e.g. --only runs side by side in two "
                        "processes): they replace the rows of the same name beside --out, in the variants' order, "
                        "and the table is rewritten; nothing is trained")
    args = p.parse_args(argv)
    if args.render or args.merge:
        json_path = Path(args.out).with_suffix(".json")
        rows = json.loads(json_path.read_text())
        if args.merge:
            new = {r["name"]: r for f in args.merge for r in json.loads(Path(f).read_text())}
            names = [r["name"] for r in rows] + [n for n in new if n not in {r["name"] for r in rows}]
            order = {n: i for i, n in enumerate(VARIANTS)}
            names.sort(key=lambda n: order.get(n, len(order)))  # rows of no variant (temperatures) last
            old = {r["name"]: r for r in rows}
            rows = [new.get(n, old.get(n)) for n in names]
            json_path.write_text(json.dumps(rows, indent=2) + "\n")
        Path(args.out).write_text(table(rows, args))
        return rows
    torch.set_num_threads(args.threads)
    test = ShapesTest.generated(args.queries)
    base = shipped_recipe()
    out = Path(args.out)
    json_path = out.with_suffix(".json")
    keep = args.only or args.temperatures
    done = {r["name"]: r for r in json.loads(json_path.read_text())} if json_path.is_file() and keep else {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="follow-words-") as tmp:
        for i, (name, (column, tau)) in enumerate(VARIANTS.items()):
            selected = any(name.startswith(o) for o in args.only) if args.only else not args.temperatures
            if not selected:  # kept from the last run
                if name in done:
                    rows.append(done[name])
                continue
            data_dir = args.baseline_data if column == "text" else None
            rows.append(run_variant(name, variant_recipe(base, column, tau, args.steps, data_dir), test,
                                    Path(tmp) / str(i), args.samples))
            print(json.dumps({k: rows[-1][k] for k in ("name", "val_nll_nats_per_dim", "train_cpu_s")}), flush=True)
            json_path.write_text(json.dumps(rows, indent=2) + "\n")
            out.write_text(table(rows, args))
    swept = [r for n, r in done.items() if n not in VARIANTS]  # an earlier run's temperature rows
    rows += temperature_rows([float(x) for x in args.temperatures.split(",")], test, args.samples) \
        if args.temperatures else swept
    json_path.write_text(json.dumps(rows, indent=2) + "\n")
    out.write_text(table(rows, args))
    print(table(rows, args))
    return rows


if __name__ == "__main__":
    main()
