"""Condition noise and the auxiliary regression on fmnist-text2img, side by side (issue 23).

    python benchmarks/text_condition.py --out docs/text-condition.md

Every variant trains ``fmnist-text2img``'s recipe (MiniLM → fmnist-ae latent, 3,000 steps,
seed 0, the same batch and learning rate, one torch thread); only the τ fields the row
names change. Each is measured by :func:`net2net.evaluate.translators.evaluate_translator`
as ``net2net eval`` does (the first ``--queries`` test images, held-out phrasings, 4
samples each): held-out NLL, class accuracy of the samples, FID and diversity in the zoo
classifier's feature space. The table is the evidence for the shipped recipe's
``cond_noise`` and ``cond_regress``; the shapes side is ``benchmarks/follow_words.py``.

Benchmarks are not tests: nothing here asserts a figure.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from net2net.evaluate.translators import evaluate_translator
from net2net.train.recipe import train
from net2net.translator import Translator

#: name -> τ fields over the recipe's model (the text fields and the mixing reset first: the
#: sweep measured τ with fixed permutations, before the recipe took LU mixing).
VARIANTS: dict[str, dict[str, Any]] = {
    "no noise, no regression (the recipe before)": {},
    "regression 1, no noise": {"cond_regress": 1.0},
    "cond. noise 0.01": {"cond_noise": 0.01},
    "cond. noise 0.05": {"cond_noise": 0.05},
    "aux. regression 1 + cond. noise 0.01": {"cond_regress": 1.0, "cond_noise": 0.01},
    "aux. regression 1 + cond. noise 0.03": {"cond_regress": 1.0, "cond_noise": 0.03},
    "aux. regression 1 + cond. noise 0.05": {"cond_regress": 1.0, "cond_noise": 0.05},
    "aux. regression 1 + cond. noise 0.1": {"cond_regress": 1.0, "cond_noise": 0.1},
}
TEXT_FIELDS = ("cond_noise", "cond_regress", "mixing")


def recipe(tau: dict[str, Any]) -> dict[str, Any]:
    base = json.loads(resources.files("net2net.zoo").joinpath("translator_recipes/fmnist-text2img.json").read_text())
    r = copy.deepcopy(base)
    r["model"] = {k: v for k, v in r["model"].items() if k not in TEXT_FIELDS} | tau
    r["train"].update(eval_every=r["train"]["steps"], ckpt_every=r["train"]["steps"])
    return r


def table(rows: list[dict[str, Any]], queries: int) -> str:
    lines = ["# Condition noise and the auxiliary regression on fmnist-text2img", "",
             "Written by `benchmarks/text_condition.py` (issue 23):", "",
             "    python benchmarks/text_condition.py --out docs/text-condition.md", "",
             f"Each row: the `fmnist-text2img` recipe (3,000 steps, seed 0, one torch thread) with the τ fields it "
             f"names, then `net2net eval`'s measurements on the first {queries:,} test images (held-out phrasings, "
             "4 samples each). *aux. regression*: `cond_regress`; *cond. noise*: `cond_noise` (training only). "
             "CPU s: the training process's CPU time.", "",
             "| variant | held-out NLL ↓ | class accuracy ↑ | FID ↓ | diversity ↑ | CPU s |", "|---|---|---|---|---|---|"]
    for r in rows:
        m = r["metrics"]
        lines.append(f"| {r['name']} | {m['nll_nats_per_dim']:.3f} | {m['class_accuracy']:.3f} | {m['fid']:.2f} | "
                     f"{m['diversity']:.3f} | {r['train_cpu_s']:.0f} |")
    lines += ["", f"Load average when it finished: {os.getloadavg()[0]:.1f}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", action="append", help="run only the variants whose name starts with this (repeatable)")
    p.add_argument("--out", default="docs/text-condition.md")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    json_path = out.with_suffix(".json")
    done = {r["name"]: r for r in json.loads(json_path.read_text())} if json_path.is_file() and args.only else {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="text-condition-") as tmp:
        for i, (name, tau) in enumerate(VARIANTS.items()):
            if args.only and not any(name.startswith(o) for o in args.only):
                if name in done:
                    rows.append(done[name])
                continue
            cpu0 = time.process_time()
            m = train(recipe(tau), out=Path(tmp) / str(i), progress=False)
            cpu = time.process_time() - cpu0
            ev = evaluate_translator(Translator.from_pretrained(m["translator"]), n_queries=args.queries, seed=0)
            rows.append({"name": name, "model": tau, "train_cpu_s": cpu,
                         "metrics": {k: ev[k] for k in ("nll_nats_per_dim", "class_accuracy", "fid", "diversity")}})
            print(json.dumps({"name": name, **rows[-1]["metrics"]}), flush=True)
            json_path.write_text(json.dumps(rows, indent=2) + "\n")
            out.write_text(table(rows, args.queries))
    json_path.write_text(json.dumps(rows, indent=2) + "\n")
    out.write_text(table(rows, args.queries))
    print(table(rows, args.queries))
    return rows


if __name__ == "__main__":
    main()
