"""Measuring the colour domain's translators attribute by attribute (the shapes data set).

Every image of the shapes test split has known shape, colour, size, position and style,
so each word of a prompt and each single-attribute edit can be checked on its own. The
judge is the zoo's attribute classifier ``shapes-classifier`` (one head per attribute);
colour, position and size are also read from pixels by :func:`net2net.data.shapes.measure`,
which involves no network at all.

- **text → image** (``shapes-text2img`` and its MLP baseline): samples of held-out
  phrasings of test captions; per-attribute accuracy, on seen and on held-out
  colour-shape pairs separately; diversity; FID in the judge's fc1 space.
- **partial prompts** (column ``text_partial_heldout``: held-out phrasings that name only
  the attributes in column ``named``): accuracy of the named attributes; for each
  unnamed one, the normalised entropy of the judge's reading over all samples (1 =
  every value equally often, 0 = one value always) and how often two samples of one
  prompt agree on it (chance: one over the number of values).
- **held-out vocabulary** (column ``text_newword``: every attribute named, colour,
  size, position and style with synonyms no training caption uses): per-attribute
  accuracy.
- **editing** (``shapes-attr``): each test image gets one content attribute changed to
  another value; the hit rate of that attribute, and how often every other attribute
  (style included) is kept.
- **style transfer** (``shapes-style``): each test image is rendered in the other style;
  the style hit rate, and how often shape, colour, size and position are all kept; beside
  them, by size, how often the judge reads the right style from the target expert's own
  reconstructions of the same images (about the most a transfer through it can hit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from net2net.applications import edit_attributes, style_transfer
from net2net.data.shapes import ATTRIBUTES, CONTENT, VOCAB, attribute_flags, examples, measure
from net2net.evaluate.zoo_metrics import frechet_distance
from net2net.translator import Translator
from net2net.zoo.domains import domain_of
from net2net.zoo.scoring import shapes_judge

__all__ = ["FEATURE_SPACE", "ShapesTest", "evaluate_shapes", "judge", "load_test", "newword_metrics", "partial_metrics"]

FEATURE_SPACE = "shapes-classifier fc1 (128-d)"
JUDGE = "shapes-classifier"
LN2 = math.log(2.0)
#: The columns of partial prompts and of the held-out vocabulary (optional: older folders lack them).
_WORD_COLUMNS = ("named", "text_partial_heldout", "text_newword")


@dataclass(frozen=True)
class ShapesTest:
    """The shapes test split in memory: images ``(N, 3, H, W)``, each attribute's values,
    both caption columns and whether the colour-shape pair is ``seen`` or ``heldout``."""

    images: Tensor
    attrs: dict[str, list[str]]
    text: list[str]
    text_heldout: list[str]
    combo: list[str]
    #: The partial and new-word columns (generator version 3); None for an older folder.
    named: list[str] | None = None
    text_partial_heldout: list[str] | None = None
    text_newword: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def generated(cls, n: int, *, seed: int = 0, size: int = 32) -> ShapesTest:
        """The first ``n`` items of the test split made in memory (identical to the files'; no folder needed)."""
        from net2net.data.shapes import items

        pixels, rows = items("test", n, seed=seed, size=size)
        images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
        return cls(images, {a: [r[a] for r in rows] for a in ATTRIBUTES}, [r["text"] for r in rows],
                   [r["text_heldout"] for r in rows], [r["combo"] for r in rows],
                   *([r[c] for r in rows] for c in _WORD_COLUMNS))

    def rows(self, idx: slice | list[int]) -> ShapesTest:
        pick = (lambda v: v[idx]) if isinstance(idx, slice) else (lambda v: [v[i] for i in idx])
        return ShapesTest(self.images[idx], {a: pick(v) for a, v in self.attrs.items()}, pick(self.text),
                          pick(self.text_heldout), pick(self.combo),
                          *(None if getattr(self, c) is None else pick(getattr(self, c)) for c in _WORD_COLUMNS))


def load_test(dataset: str = "shapes", split: str = "test") -> ShapesTest:
    """The split of a shapes data set (registered name or folder made by ``net2net data make shapes``)."""
    from net2net.data.datasets import get_dataset

    data = get_dataset(dataset).load(split)
    missing = [c for c in (*ATTRIBUTES, "text", "text_heldout", "combo") if c not in data.columns]
    if missing:
        raise ValueError(f"{dataset}: not a shapes data set (no column {missing[0]!r})")
    images = torch.from_numpy(np.array(data.images)).permute(0, 3, 1, 2).float() / 255.0
    return ShapesTest(images, {a: list(data.columns[a]) for a in ATTRIBUTES}, list(data.columns["text"]),
                      list(data.columns["text_heldout"]), list(data.columns["combo"]),
                      *(list(data.columns[c]) if c in data.columns else None for c in _WORD_COLUMNS))


def judge(device: str = "cpu", folder: str | None = None):
    """The attribute classifier every figure is judged by (from ``folder`` if given)."""
    from net2net.zoo import load_expert

    return load_expert(JUDGE, device, folder=folder) if folder else shapes_judge(device)


def _predict(clf: Any, images: Tensor, batch: int = 500) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {a: [] for a in clf.heads}
    for i in range(0, len(images), batch):
        for a, v in clf.predict_attributes(images[i:i + batch]).items():
            out[a] += v
    return out


def _rate(ok: list[bool] | np.ndarray) -> float:
    ok = np.asarray(ok, dtype=bool)
    return float(ok.mean()) if ok.size else float("nan")


def _encode(clf: Any, images: Tensor, batch: int = 500) -> Tensor:
    return torch.cat([clf.encode(images[i:i + batch]).cpu() for i in range(0, len(images), batch)])


def _pairwise(features: Tensor) -> Tensor:
    """Mean distance over distinct pairs within each group ``(G, k, d) -> (G,)``."""
    k = features.shape[1]
    d = torch.cdist(features.double(), features.double())
    return d.sum(dim=(1, 2)) / (k * (k - 1))


# -- the measurements ------------------------------------------------------------------------------

def _held_out_nll(t: Translator, queries: Any, images: Tensor) -> dict[str, float]:
    z_phi, z = t.encode_query(queries), t.encode_target(images)
    nll = float(-t.tau.log_prob(z, z_phi).double().mean()) / t.tau.dim
    return {"nll_nats_per_dim": nll, "nll_bits_per_dim": nll / LN2}


def text2img_metrics(t: Translator, test: ShapesTest, clf: Any, real: Tensor, *, n_samples: int, seed: int,
                     temperature: float = 1.0) -> dict[str, Any]:
    """Per-attribute accuracy of samples (judge and pixels), seen vs held-out pairs, diversity, FID."""
    n = len(test)
    gen = _sample(t, test.text_heldout, n_samples, seed, temperature)
    rep = lambda v: [x for x in v for _ in range(n_samples)]  # noqa: E731 - query-major, as the samples
    want = {a: rep(test.attrs[a]) for a in ATTRIBUTES}
    combo = np.asarray(rep(test.combo))
    pred = _predict(clf, gen)
    pixels = measure(gen, want["shape"])
    out: dict[str, Any] = {"n_queries": n, "n_samples": n_samples}
    every = np.all([np.asarray(pred[a]) == np.asarray(want[a]) for a in ATTRIBUTES], axis=0)  # all five right
    for group, sel in (("seen", combo == "seen"), ("heldout", combo == "heldout")):
        out[f"queries_{group}"] = int(sel.sum() // n_samples)
        for a in ATTRIBUTES:
            ok = np.asarray(pred[a]) == np.asarray(want[a])
            out[f"accuracy_{a}_{group}"] = _rate(ok[sel])
        for a in ("colour", "position", "size"):
            ok = np.asarray([p == w for p, w in zip(pixels[a], want[a], strict=True)])
            out[f"pixel_accuracy_{a}_{group}"] = _rate(ok[sel])
        out[f"accuracy_all_{group}"] = _rate(every[sel])
    real_pred = _predict(clf, test.images)
    out["judge_accuracy_on_real"] = {a: _rate(np.asarray(real_pred[a]) == np.asarray(test.attrs[a])) for a in ATTRIBUTES}
    out["fid"] = frechet_distance(clf.encode, clf.dim, real, gen)
    if n_samples > 1:
        feats = _encode(clf, gen).view(n, n_samples, -1)
        k = max(n_samples, 2)
        refs = torch.stack([torch.from_numpy(examples({a: test.attrs[a][i] for a in ATTRIBUTES}, k, seed=seed + i))
                            for i in range(n)])
        ref_feats = _encode(clf, refs.flatten(0, 1)).view(n, k, -1)
        out["diversity"] = float(_pairwise(feats).mean() / _pairwise(ref_feats).mean())
        # the same over the prompts whose every sample has all five attributes right: the
        # variation within a description, without the spread that wrong attributes add
        right = torch.from_numpy(every.reshape(n, n_samples).all(axis=1))
        out["diversity_all_right_queries"] = int(right.sum())
        if right.any():
            out["diversity_all_right"] = float(_pairwise(feats[right]).mean() / _pairwise(ref_feats[right]).mean())
    return out


def _sample(t: Translator, prompts: list[str], n_samples: int, seed: int, temperature: float,
            complete: bool = True) -> Tensor:
    """What the user gets: prompts completed where the translator has a completer, unless ``complete=False``."""
    return t.decode(t.prompt_latents(prompts, n=n_samples, temperature=temperature, seed=seed, shared=False,
                                     complete=complete)).cpu()


def _entropy(values: list[str], k: int) -> float:
    """Entropy of the empirical distribution of ``values`` over ``k`` possible values, divided by ``log k``."""
    if not values:
        return float("nan")
    _, counts = np.unique(np.asarray(values), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / math.log(k)) + 0.0  # + 0.0: one value gives 0.0, not -0.0


def partial_metrics(t: Translator, test: ShapesTest, clf: Any, *, n_samples: int, seed: int,
                    temperature: float = 1.0) -> dict[str, Any]:
    """Prompts that name only some attributes: the named ones' accuracy, the unnamed ones' spread.

    For a translator with a prompt completer the same figures without completion, τ's own
    answer to the bare prompt, are given too, under keys prefixed ``tau_alone_``.
    """
    if test.named is None or test.text_partial_heldout is None:
        return {}
    rows = [i for i, n in enumerate(test.named) if len(n.split(",")) < len(ATTRIBUTES)]
    if not rows:
        return {}
    out = _partial_metrics(t, test, rows, clf, n_samples=n_samples, seed=seed, temperature=temperature, complete=True)
    if getattr(t, "completer", None) is not None:
        alone = _partial_metrics(t, test, rows, clf, n_samples=n_samples, seed=seed, temperature=temperature,
                                 complete=False)
        out.update({f"tau_alone_{k}": v for k, v in alone.items() if k != "partial_queries"})
        out.update(_completer_reading(t, [test.text_partial_heldout[i] for i in rows],
                                      [set(test.named[i].split(",")) for i in rows], "partial"))
    return out


def _completer_reading(t: Translator, prompts: list[str], named: list[set[str]], what: str) -> dict[str, Any]:
    """How often the translator's completer reads which attributes the prompts name right:
    all of them at once, and each one."""
    got = t.completer.named(t.encode_query(prompts)).cpu().numpy()
    want = np.asarray([[a in n for a in t.completer.attributes] for n in named])
    ok = got == want
    return {f"completer_reads_{what}": _rate(ok.all(axis=1)),
            f"completer_reads_{what}_per_attribute": {a: _rate(ok[:, j]) for j, a in enumerate(t.completer.attributes)}}


def _partial_metrics(t: Translator, test: ShapesTest, rows: list[int], clf: Any, *, n_samples: int, seed: int,
                     temperature: float, complete: bool) -> dict[str, Any]:
    """:func:`partial_metrics` of the test rows ``rows`` (those whose prompt names 1-4 attributes)."""
    gen = _sample(t, [test.text_partial_heldout[i] for i in rows], n_samples, seed, temperature, complete)
    pred = _predict(clf, gen)
    named_ok: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
    by_count: dict[int, list[bool]] = {}  # how many attributes the prompt names -> named ones right
    unnamed: dict[str, list[str]] = {a: [] for a in ATTRIBUTES}
    agree: dict[str, list[float]] = {a: [] for a in ATTRIBUTES}
    for q, i in enumerate(rows):
        named = set(test.named[i].split(","))
        for a in ATTRIBUTES:
            got = pred[a][q * n_samples:(q + 1) * n_samples]
            if a in named:
                named_ok[a] += [g == test.attrs[a][i] for g in got]
                by_count.setdefault(len(named), []).extend(g == test.attrs[a][i] for g in got)
            else:
                unnamed[a] += got
                if n_samples > 1:
                    same = sum(x == y for j, x in enumerate(got) for y in got[j + 1:])
                    agree[a].append(same / (n_samples * (n_samples - 1) / 2))
    all_ok = [ok for v in named_ok.values() for ok in v]
    return {"partial_queries": len(rows), "partial_named_accuracy": _rate(all_ok),
            "partial_named_accuracy_per_attribute": {a: _rate(v) for a, v in named_ok.items()},
            "partial_named_accuracy_by_count": {str(k): _rate(v) for k, v in sorted(by_count.items())},
            "partial_unnamed_entropy": {a: _entropy(v, len(VOCAB[a])) for a, v in unnamed.items()},
            "partial_unnamed_agreement": {a: float(np.mean(v)) if v else float("nan") for a, v in agree.items()},
            "partial_unnamed_agreement_chance": {a: 1.0 / len(VOCAB[a]) for a in ATTRIBUTES}}


def newword_metrics(t: Translator, test: ShapesTest, clf: Any, *, n_samples: int, seed: int,
                    temperature: float = 1.0) -> dict[str, Any]:
    """Captions in the held-out vocabulary: every attribute's accuracy, and all five at once."""
    if test.text_newword is None:
        return {}
    gen = _sample(t, test.text_newword, n_samples, seed, temperature)
    pred = _predict(clf, gen)
    want = {a: [x for x in test.attrs[a] for _ in range(n_samples)] for a in ATTRIBUTES}
    ok = {a: np.asarray(pred[a]) == np.asarray(want[a]) for a in ATTRIBUTES}
    out = {"newword_accuracy": {a: _rate(v) for a, v in ok.items()},
           "newword_accuracy_named": _rate(np.concatenate(list(ok.values()))),
           "newword_accuracy_all": _rate(np.all(list(ok.values()), axis=0))}
    if getattr(t, "completer", None) is not None:
        out.update(_completer_reading(t, test.text_newword, [set(ATTRIBUTES)] * len(test), "newword"))
    return out


def _change_one(test: ShapesTest, seed: int) -> list[dict[str, str]]:
    """For each image, one content attribute and a new value for it (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(len(test)):
        a = CONTENT[int(rng.integers(len(CONTENT)))]
        others = [v for v in VOCAB[a] if v != test.attrs[a][i]]
        out.append({a: others[int(rng.integers(len(others)))]})
    return out


def edit_metrics(t: Translator, test: ShapesTest, clf: Any, *, seed: int) -> dict[str, Any]:
    """One attribute changed per test image: its hit rate, and every other attribute kept."""
    changes = _change_one(test, seed)
    edited = edit_attributes(t, test.images, test.attrs, changes).cpu()
    pred = _predict(clf, edited)
    hit, kept, per_attr_hit, per_attr_kept = [], [], {a: [] for a in CONTENT}, {a: [] for a in ATTRIBUTES}
    for i, ch in enumerate(changes):
        (a, v), = ch.items()
        hit.append(pred[a][i] == v)
        per_attr_hit[a].append(hit[-1])
        rest = [b for b in ATTRIBUTES if b != a]
        kept.append(all(pred[b][i] == test.attrs[b][i] for b in rest))
        for b in rest:
            per_attr_kept[b].append(pred[b][i] == test.attrs[b][i])
    return {"n_edits": len(changes), "edit_hit": _rate(hit), "edit_others_kept": _rate(kept),
            "edit_hit_and_kept": _rate(np.asarray(hit) & np.asarray(kept)),
            "edit_hit_per_attribute": {a: _rate(v) for a, v in per_attr_hit.items()},
            "edit_kept_per_attribute": {a: _rate(v) for a, v in per_attr_kept.items()}}


def style_metrics(t: Translator, test: ShapesTest, clf: Any) -> dict[str, Any]:
    """Every test image in the other style: the style hit rate, and shape, colour, size, position kept."""
    other = [VOCAB["style"][1 - VOCAB["style"].index(s)] for s in test.attrs["style"]]
    moved = style_transfer(t, test.images, test.attrs["style"], other).cpu()
    pred = _predict(clf, moved)
    hit = np.asarray(pred["style"]) == np.asarray(other)
    kept_each = {a: np.asarray(pred[a]) == np.asarray(test.attrs[a]) for a in CONTENT}
    kept = np.all(list(kept_each.values()), axis=0)
    ceiling = reconstruction_style_accuracy(t, test, clf)
    sizes = np.asarray(test.attrs["size"])
    return {"n_transfers": len(test), "style_hit": _rate(hit), "style_content_kept": _rate(kept),
            "style_hit_and_kept": _rate(hit & kept), "style_kept_per_attribute": {a: _rate(v) for a, v in kept_each.items()},
            "style_hit_per_size": {v: _rate(hit[sizes == v]) for v in VOCAB["size"]},
            "style_reconstruction_accuracy": _rate(ceiling),
            "style_reconstruction_accuracy_per_size": {v: _rate(ceiling[sizes == v]) for v in VOCAB["size"]}}


def reconstruction_style_accuracy(t: Translator, test: ShapesTest, clf: Any) -> np.ndarray:
    """Per test image: does the judge read the right style from the target expert's
    reconstruction of it? A style transfer decodes through that expert, so the share of
    right readings is about the most its hit rate can reach (the other style's images
    are the test split's own, by symmetry of the split)."""
    return reconstruction_readings(lambda x: t.decode(t.encode_target(x)), test, clf)["style"]


def reconstruction_readings(reconstruct: Any, test: ShapesTest, clf: Any, batch: int = 500) -> dict[str, np.ndarray]:
    """Per attribute and test image: does the judge read the true value from
    ``reconstruct(images)`` (an autoencoder's round trip), run in batches of ``batch``?"""
    rec = torch.cat([reconstruct(test.images[i:i + batch]).cpu() for i in range(0, len(test), batch)])
    pred = _predict(clf, rec)
    return {a: np.asarray(pred[a]) == np.asarray(test.attrs[a]) for a in pred}


@torch.no_grad()
def evaluate_shapes(t: Translator, *, n_queries: int = 1000, n_samples: int = 4, seed: int = 0,
                    n_real: int = 1000, dataset: str = "shapes", judge_folder: str | None = None,
                    test: ShapesTest | None = None, temperature: float = 1.0) -> dict[str, Any]:
    """The metrics of a shapes translator (see the module docstring) on the first ``n_queries``
    test images of ``dataset`` (or of ``test``, e.g. :meth:`ShapesTest.generated`); the FID's
    real images are the last ``n_real`` of that split."""
    task = t.info.get("task", "")
    if domain_of(t).name != "shapes":
        raise ValueError(f"{t.name} is not a translator of the shapes domain")
    full = test if test is not None else load_test(dataset)
    if not 1 <= n_queries <= len(full):
        raise ValueError(f"n_queries must be between 1 and {len(full)}, got {n_queries}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    test = full.rows(slice(0, n_queries))
    clf = judge(str(t.device), judge_folder)
    out: dict[str, Any] = {"n_queries": n_queries, "feature_space": FEATURE_SPACE, "judge": JUDGE, "task": task,
                           "model": type(t.tau).__name__}
    if task in ("text2img", "text2img-baseline"):
        out.update(_held_out_nll(t, test.text_heldout, test.images))
        real = full.images[-min(n_real, len(full)):]
        out.update(text2img_metrics(t, test, clf, real, n_samples=n_samples, seed=seed, temperature=temperature))
        out.update(partial_metrics(t, test, clf, n_samples=n_samples, seed=seed, temperature=temperature))
        out.update(newword_metrics(t, test, clf, n_samples=n_samples, seed=seed, temperature=temperature))
    elif task == "attr":
        out.update(_held_out_nll(t, attribute_flags({a: test.attrs[a] for a in ATTRIBUTES}), test.images))
        out.update(edit_metrics(t, test, clf, seed=seed))
    elif task == "style":
        out.update(_held_out_nll(t, test.attrs["style"], test.images))
        out.update(style_metrics(t, test, clf))
    else:
        raise ValueError(f"{t.name}: no shapes evaluation for task {task!r}")
    return out
