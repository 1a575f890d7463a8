"""Does MiniLM carry a held-out word's meaning? The ceiling of any translator that reads it.

    python benchmarks/new_words.py --out docs/new-words.md

Issue 23 asks ``shapes-text2img`` to follow colour, size, position and style words that no
training caption uses (``net2net.data.shapes.HELDOUT_WORDS``: "crimson", "enormous", "up
and to the left", "line-drawn"). τ sees a prompt only through the frozen sentence encoder,
so it can follow a new word only as far as MiniLM puts it where the training words of the
same value are. Two measurements of that, with no τ involved:

1. **Linear probes.** A multinomial logistic regression (L-BFGS, L2 1e-3) from the MiniLM
   embedding of a training caption to each attribute, fitted on the first ``--train``
   training rows of one caption column, then read on the first ``--test`` test rows: their
   held-out phrasings (column ``text_heldout``, training words) and their held-out
   vocabulary (column ``text_newword``). The probe of the caption columns a translator
   trains on bounds what a linear read-out of MiniLM finds.
2. **Nearest word.** Each held-out word in a neutral frame ("a crimson object", "an object
   up and to the left") against every training word of the attribute in the same frame
   (cosine similarity of the embeddings): is the nearest one a word of the same value?

Benchmarks are not tests: nothing here asserts an accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from net2net.data import shapes as S
from net2net.experts.registry import get_expert

#: The caption columns a probe is fitted on, and the test columns it is read on.
TRAIN_COLUMNS = ("text", "text_varied", "text_synonyms")
TEST_COLUMNS = ("text_heldout", "text_newword")
#: The attributes the held-out vocabulary renames, then the shape (renamed by nothing: a control).
PROBED = ("colour", "size", "position", "style", "shape")


def _frame(attr: str, word: str) -> str:
    return f"an object {word}" if attr == "position" else f"a {word} object"


def encode(expert, texts: list[str], chunk: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([expert.encode(texts[i:i + chunk]) for i in range(0, len(texts), chunk)])


def probe(x: torch.Tensor, y: torch.Tensor, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression, L2 1e-3, L-BFGS: the weights and bias."""
    w = torch.zeros(x.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 1e-3 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def nearest_word(expert) -> dict[str, dict]:
    """Per renamed attribute: for each held-out word, the nearest training word and whether it names the same value."""
    out = {}
    for attr, renamed in S.HELDOUT_WORDS.items():
        train = [(v, w) for v in S.VOCAB[attr] for w in S.TRAIN_WORDS[attr][v]]
        e_train = torch.nn.functional.normalize(encode(expert, [_frame(attr, w) for _, w in train]), dim=1)
        e_new = torch.nn.functional.normalize(encode(expert, [_frame(attr, renamed[v]) for v in S.VOCAB[attr]]), dim=1)
        sim = e_new @ e_train.T
        rows = []
        for i, v in enumerate(S.VOCAB[attr]):
            j = int(sim[i].argmax())
            same = max(float(sim[i, k]) for k, (u, _) in enumerate(train) if u == v)
            rows.append({"value": v, "word": renamed[v], "nearest": train[j][1], "nearest_value": train[j][0],
                         "right": train[j][0] == v, "similarity_nearest": float(sim[i, j]), "similarity_same": same})
        out[attr] = {"rows": rows, "accuracy": sum(r["right"] for r in rows) / len(rows)}
    return out


def run(n_train: int, n_test: int) -> dict:
    expert = get_expert("minilm")
    _, train = S.items("train", n_train, seed=0)
    _, test = S.items("test", n_test, seed=0)
    t0 = time.perf_counter()
    x = {c: encode(expert, [r[c] for r in train]) for c in TRAIN_COLUMNS}
    t = {c: encode(expert, [r[c] for r in test]) for c in TEST_COLUMNS}
    probes: dict[str, dict[str, dict[str, float]]] = {}
    for attr in PROBED:
        values = S.VOCAB[attr]
        y = torch.tensor([values.index(r[attr]) for r in train])
        yt = torch.tensor([values.index(r[attr]) for r in test])
        probes[attr] = {}
        for col in TRAIN_COLUMNS:
            w, b = probe(x[col], y, len(values))
            probes[attr][col] = {tc: float(((t[tc] @ w + b).argmax(1) == yt).float().mean()) for tc in TEST_COLUMNS}
        print(attr, json.dumps(probes[attr]), flush=True)
    return {"n_train": n_train, "n_test": n_test, "probes": probes, "nearest": nearest_word(expert),
            "wall_s": time.perf_counter() - t0}


def table(result: dict, command: str) -> str:
    lines = ["# New words: how far MiniLM carries a held-out word", "",
             f"Written by `benchmarks/new_words.py` (issue 23): `{command}`. No τ is involved: these are "
             "ceilings of any translator that reads the frozen MiniLM embedding.", "",
             f"**Linear probes.** A logistic regression from the MiniLM embedding of a training caption to each "
             f"attribute, fitted on the first {result['n_train']:,} training rows of one caption column, read on "
             f"the first {result['n_test']:,} test rows: their held-out phrasings (`text_heldout`, training words) "
             "and their held-out vocabulary (`text_newword`: colour, size, position and style said by words no "
             "training caption uses; the shape keeps its training words, a control). Columns: `text` (six "
             "templates), `text_varied` (the grammar `shapes-text2img` trains on), `text_synonyms` (the grammar "
             "with three more words per colour, size and style and two more per position, none held out).", "",
             "| attribute | " + " | ".join(f"fitted on `{c}`: held-out phrasing / new words" for c in TRAIN_COLUMNS)
             + " |", "|---|" + "---|" * len(TRAIN_COLUMNS)]
    for attr, cols in result["probes"].items():
        lines.append(f"| {attr} | " + " | ".join(f"{cols[c]['text_heldout']:.3f} / {cols[c]['text_newword']:.3f}"
                                                  for c in TRAIN_COLUMNS) + " |")
    lines += ["", "**Nearest word.** Each held-out word in a neutral frame (\"a crimson object\", \"an object up "
              "and to the left\") against every training word of its attribute in the same frame: the nearest one "
              "by cosine similarity of the MiniLM embeddings, and the similarity to the nearest word of the right "
              "value.", "",
              "| attribute | nearest word names the same value | held-out word → nearest training word (its value; "
              "similarity, best of the right value) |", "|---|---|---|"]
    for attr, r in result["nearest"].items():
        cells = "; ".join(f"{x['word']} → {x['nearest']} ({'✓' if x['right'] else x['nearest_value']}; "
                          f"{x['similarity_nearest']:.2f}, {x['similarity_same']:.2f})" for x in r["rows"])
        lines.append(f"| {attr} | {sum(x['right'] for x in r['rows'])} of {len(r['rows'])} | {cells} |")
    varied = result["probes"]
    lines += ["", "**What it means for τ.** A probe fitted on `text_varied`, the captions `shapes-text2img` trains "
              f"on, names the held-out word's value for colour in {varied['colour']['text_varied']['text_newword']:.2f}, "
              f"position {varied['position']['text_varied']['text_newword']:.2f} and style "
              f"{varied['style']['text_varied']['text_newword']:.2f} of test captions (chance 0.12, 0.11, 0.5), and "
              f"size in {varied['size']['text_varied']['text_newword']:.2f}: MiniLM places \"emerald\", \"cobalt\", "
              "\"lemon\" and \"fuchsia\" nearer the word orange than the colour they name. These are linear "
              "read-outs: τ reads the same embedding non-linearly and can do better (the shipped τ names a held-out "
              "position far more often than the probe, docs/results.md), but for colour, where the words themselves "
              "land near other colours, issue 23's goal for new words (0.85 of named attributes) is probably above "
              "what the frozen embedding carries. More words per value in training (`text_synonyms`) moves the "
              "probes little, and τ trained on them did no better (docs/follow-words.md).",
              "", f"Wall time {result['wall_s'] / 60:.1f} min on one torch thread.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=6000, help="training rows the probes are fitted on")
    p.add_argument("--test", type=int, default=1500, help="test rows they are read on")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="docs/new-words.md")
    p.add_argument("--render", action="store_true", help="only rewrite --out from the JSON beside it")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    json_path = Path(args.out).with_suffix(".json")
    result = json.loads(json_path.read_text()) if args.render else run(args.train, args.test)
    command = "python benchmarks/new_words.py" + ("" if (args.train, args.test) == (6000, 1500)
                                                 else f" --train {args.train} --test {args.test}") + f" --out {args.out}"
    Path(args.out).write_text(table(result, command))
    json_path.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result, command))
    return result


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
