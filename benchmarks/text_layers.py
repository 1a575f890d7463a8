"""Which layer of MiniLM should τ read? Linear probes of every layer on the shapes captions.

Issue 23: ``shapes-text2img`` put "a … on the left" on the right in one held-out wording.
This measures where that is lost, without training any τ: for each layer of the text
expert (``minilm`` with ``layer=``: the token states of that block, mean-pooled, the same
features a recipe reads) a logistic-regression probe is fitted on the training captions
(column ``text_varied``) to each attribute, and scored on the test split's held-out
phrasings (``text_heldout``: templates no training caption uses) and held-out words
(``text_newword``). The last layer, pooled, is MiniLM's sentence embedding (what every
text translator read before). Then, for the last layer and the chosen one, position
accuracy per held-out template and side. Writes a markdown table and a JSON file beside it.

    python benchmarks/text_layers.py --out docs/text-layers.md

A linear probe is a floor on what the layer holds, not a ceiling; the τ trained on each
candidate is in docs/follow-words.md (the rows *MiniLM layer…*). Benchmarks are not
tests: nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from net2net.data.shapes import ATTRIBUTES, items
from net2net.experts.registry import get_expert

#: Layers joined as one feature (each a unit vector over √k), measured beside the single layers.
COMBOS = ("layer5+layer6", "embeddings+layer6")


def encode_all(texts: list[str], layers: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every layer of ``layers`` pooled, unit-norm, from one pass of the expert over all of them."""
    expert = get_expert("minilm", layer="+".join(layers))
    z = torch.cat([expert.encode(texts[i:i + 500]) for i in range(0, len(texts), 500)]).numpy()
    k, width = len(layers), z.shape[1] // len(layers)
    return {name: z[:, j * width:(j + 1) * width] * k ** 0.5 for j, name in enumerate(layers)}


def joined(feats: dict[str, np.ndarray], combo: str) -> np.ndarray:
    parts = combo.split("+")
    return np.concatenate([feats[p] for p in parts], axis=1) / len(parts) ** 0.5


def template(text: str) -> str:
    """The held-out template a ``text_heldout`` caption comes from (its opening words)."""
    t = text.lower()
    if t.startswith("you can see"):
        return "you can see … coloured …"
    if t.startswith("an image with"):
        return "an image with … that is …"
    return "bare adjectives (…)"


def run(n_train: int, n_test: int, c: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    _, train = items("train", n_train, seed=0)
    _, test = items("test", n_test, seed=0)
    layers = get_expert("minilm").layers
    t0 = time.perf_counter()
    f_train = encode_all([r["text_varied"] for r in train], layers)
    f_held = encode_all([r["text_heldout"] for r in test], layers)
    f_new = encode_all([r["text_newword"] for r in test], layers)
    rows: dict[str, Any] = {}
    sides: dict[str, Any] = {}
    templates = [template(r["text_heldout"]) for r in test]
    for name in (*layers, *COMBOS):
        x_train, x_held, x_new = ((f[name] if name in layers else joined(f, name)) for f in (f_train, f_held, f_new))
        row: dict[str, Any] = {"held_out": {}, "new_words": {}}
        for a in ATTRIBUTES:
            probe = LogisticRegression(max_iter=3000, C=c).fit(x_train, [r[a] for r in train])
            want = np.array([r[a] for r in test])
            pred = probe.predict(x_held)
            row["held_out"][a] = float((pred == want).mean())
            row["new_words"][a] = float((probe.predict(x_new) == want).mean())
            if a == "position":
                per: dict[str, float] = {}
                for tpl in sorted(set(templates)):
                    for side in ("left", "right"):
                        sel = np.array([t == tpl and side in r["position"] for t, r in zip(templates, test, strict=True)])
                        per[f"{tpl}: {side}"] = float((pred[sel] == want[sel]).mean()) if sel.any() else float("nan")
                sides[name] = per
        rows[name] = row
    return {"n_train": n_train, "n_test": n_test, "C": c, "layers": list(layers), "rows": rows,
            "position_by_template": sides, "fmnist_class": fmnist_rows(layers, n_train, n_test, c),
            "seconds": time.perf_counter() - t0}


def fmnist_rows(layers: tuple[str, ...], n_train: int, n_test: int, c: float) -> dict[str, float]:
    """Per layer: a probe's class accuracy on Fashion-MNIST's held-out captions (fitted on the
    training captions of ``fmnist-text2img``: the ``captions`` domain of the train split)."""
    from sklearn.linear_model import LogisticRegression

    from net2net.data.domains import Items, get_domain
    from net2net.data.fashion_mnist import load_fashion_mnist, to_float

    def captions(split: str, domain: str, n: int) -> tuple[list[str], np.ndarray]:
        x, y = load_fashion_mnist(split)
        return list(get_domain(domain)(Items(to_float(x[:n]), y[:n], {}, start=0, total=len(x)))), y[:n]

    (tr, y_tr), (te, y_te) = captions("train", "captions", n_train), captions("test", "captions-heldout", n_test)
    f_tr, f_te = encode_all(tr, layers), encode_all(te, layers)
    return {name: float((LogisticRegression(max_iter=3000, C=c).fit(f_tr[name], y_tr).predict(f_te[name]) == y_te).mean())
            for name in layers}


def table(res: dict[str, Any], out: str) -> str:
    att = list(ATTRIBUTES)
    lines = ["# Which layer of MiniLM does τ read?", "",
             "Written by `benchmarks/text_layers.py` (issue 23):", "",
             f"    python benchmarks/text_layers.py --out {out}", "",
             f"Linear probes (logistic regression, C = {res['C']:g}) of each layer of the text expert `minilm`, "
             "the token states of that block mean-pooled and unit-normalised (`net2net extract --expert minilm "
             "--layer layer5`, or `\"options\": {\"layer\": \"layer5\"}` in a recipe). Fitted on "
             f"{res['n_train']:,} training captions (column `text_varied`, the grammar's wordings), scored on the "
             f"first {res['n_test']:,} test captions in **held-out wordings** (`text_heldout`, templates no training "
             "caption uses) and in **held-out words** (`text_newword`, synonyms no training caption uses). "
             "`layer6` pooled is MiniLM's sentence embedding, what every text translator read before; "
             "`a+b` is both layers side by side. A linear probe is a floor on what a layer holds.", "",
             "| layer | " + " | ".join(f"held-out wording: {a}" for a in att) + " | " +
             " | ".join(f"new words: {a}" for a in att) + " |",
             "|---|" + "---|" * (2 * len(att))]
    for name, row in res["rows"].items():
        lines.append(f"| `{name}` | " + " | ".join(f"{row['held_out'][a]:.3f}" for a in att) + " | "
                     + " | ".join(f"{row['new_words'][a]:.3f}" for a in att) + " |")
    lines += ["", "## Where the last layer loses the position", "",
              "Position accuracy of the probe per held-out template and side (positions whose name has "
              "*left* or *right*):", "",
              "| layer | " + " | ".join(next(iter(res["position_by_template"].values()))) + " |",
              "|---|" + "---|" * len(next(iter(res["position_by_template"].values())))]
    for name, per in res["position_by_template"].items():
        lines.append(f"| `{name}` | " + " | ".join(f"{v:.3f}" for v in per.values()) + " |")
    if "fmnist_class" in res:
        lines += ["", "## Fashion-MNIST captions", "",
                  "The same probes for `fmnist-text2img`'s captions: class accuracy on held-out captions "
                  "(the `captions-heldout` domain of the test split), fitted on the training captions:", "",
                  "| " + " | ".join(f"`{n}`" for n in res["fmnist_class"]) + " |",
                  "|" + "---|" * len(res["fmnist_class"]),
                  "| " + " | ".join(f"{v:.3f}" for v in res["fmnist_class"].values()) + " |"]
    last, rows = res["layers"][-1], res["rows"]
    best = max(res["layers"], key=lambda n: (sum(rows[n]["held_out"].values()), sum(rows[n]["new_words"].values())))
    worst = min(res["position_by_template"][last].items(), key=lambda kv: kv[1])
    lines += ["", f"The last layer reads the position from held-out wordings in {rows[last]['held_out']['position']:.3f} "
              f"of captions; its weakest cell is *{worst[0]}* at {worst[1]:.3f}. The single layer with the highest "
              f"held-out-wording accuracy summed over the five attributes (ties: new words) is `{best}` (position "
              f"{rows[best]['held_out']['position']:.3f}). A probe ranks what a layer holds; which one τ should read "
              "is decided by τs trained on the candidates (docs/follow-words.md, rows *MiniLM …*). New words are "
              "a different question: no layer names a held-out colour well (docs/new-words.md).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=6000, help="training captions the probes are fitted on")
    p.add_argument("--test", type=int, default=1000, help="test captions they are scored on")
    p.add_argument("--C", type=float, default=10.0, help="inverse L2 strength of the probes")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="docs/text-layers.md")
    p.add_argument("--render", action="store_true", help="only rewrite the table from the JSON beside --out")
    args = p.parse_args(argv)
    if args.render:
        res = json.loads(Path(args.out).with_suffix(".json").read_text())
        Path(args.out).write_text(table(res, args.out))
        return res
    torch.set_num_threads(args.threads)
    res = run(args.train, args.test, args.C)
    Path(args.out).with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    Path(args.out).write_text(table(res, args.out))
    print(table(res, args.out))
    return res


if __name__ == "__main__":
    main()
