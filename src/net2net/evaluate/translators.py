"""Measuring a translator honestly, on the test split, in stated feature spaces.

:func:`evaluate_translator` reports, for the first ``n_queries`` test images and the
queries derived from them (held-out caption wording for text translators):

- held-out NLL of ``z_Θ`` given ``z_Φ`` (nats/dim and bits/dim);
- FID between generated and real test images, in the zoo classifier's fc1 space
  (Inception weights cannot be downloaded here, so the space is named in the result);
- class accuracy of the samples as judged by the zoo classifier, per class, beside the
  classifier's accuracy on the real images;
- diversity: mean pairwise fc1 distance between samples of one query, divided by that
  between real test images of the same class (a deterministic map scores 0);
- task-specific checks: class editing (success and what is kept), super-resolution
  consistency (PSNR of the downsampled output against the input), inpainting
  consistency (error outside the hidden box).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from net2net.data.captions import measure
from net2net.data.derived import box_masks, downsample
from net2net.data.domains import Items, get_domain
from net2net.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist, to_float
from net2net.evaluate.zoo_metrics import frechet_distance
from net2net.translator import Translator
from net2net.zoo.domains import domain_of
from net2net.zoo.scoring import classifier as zoo_classifier

__all__ = ["EVALUATORS", "FEATURE_SPACE", "evaluate_translator", "test_queries", "query_masks", "pairwise_distance", "psnr"]

FEATURE_SPACE = "fmnist-classifier fc1 (128-d)"
LN2 = math.log(2.0)


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Per-image PSNR (peak 1) between two ``(B, ...)`` batches."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(1.0 / mse)


def pairwise_distance(features: Tensor) -> Tensor:
    """Mean Euclidean distance over distinct pairs, per group: ``(G, k, d) -> (G,)``."""
    k = features.shape[1]
    if k < 2:
        return torch.zeros(features.shape[0])
    d = torch.cdist(features.double(), features.double())
    return d.sum(dim=(1, 2)) / (k * (k - 1))


def test_queries(t: Translator, n: int) -> tuple[Any, Tensor, Tensor]:
    """``(queries, images, labels)`` for the first ``n`` test images.

    The query domain is the translator's ``query_transform``; text translators get the
    held-out phrasings, never seen in training.
    """
    x, y = load_fashion_mnist("test")
    if not 1 <= n <= len(x):
        raise ValueError(f"n_queries must be between 1 and {len(x)}, got {n}")
    name = t.info.get("query_transform", "identity")
    if t.query_kind == "text":
        name = "captions-heldout"
    images = to_float(x[:n])
    # the domain sees the first n items of the whole split (masked: the boxes of items 0..n-1 of len(x))
    queries = get_domain(name)(Items(images, y[:n], {}, start=0, total=len(x)))
    return queries, images, torch.from_numpy(y[:n].copy())


def query_masks(t: Translator, n: int, size: tuple[int, int] = (28, 28)) -> Tensor:
    """The boxes :func:`test_queries` masked the first ``n`` test images with (1 = kept).

    The masked domain draws boxes for the whole split from its seed and gives item ``i``
    box ``i``; these are the same boxes, so "outside/inside the box" is measured where
    the query really was visible/hidden.
    """
    p = get_domain(t.info.get("query_transform", "masked")).params
    return box_masks(len(load_fashion_mnist("test")[0]), size, min_frac=p["min_frac"], max_frac=p["max_frac"],
                     seed=p["seed"], start=0, stop=n)


def _real_class_spread(feats: Tensor, labels: Tensor, k: int, seed: int) -> Tensor:
    """Mean pairwise distance among ``k`` real images of each class: ``(10,)``."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(len(CLASS_NAMES), dtype=torch.float64)
    for c in range(len(CLASS_NAMES)):
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)[:k]]
        out[c] = pairwise_distance(feats[idx][None])[0]
    return out


@torch.no_grad()
def evaluate_translator(t: Translator, *, n_queries: int = 200, n_samples: int = 4, seed: int = 0,
                        n_real: int = 2000, temperature: float = 1.0, dataset: str | None = None) -> dict[str, Any]:
    """All metrics that apply to ``t``, by its image domain's evaluator (:data:`EVALUATORS`).

    The domain is :func:`net2net.zoo.domains.domain_of` (the folder's ``info.domain``, else the
    domain owning its target expert): Fashion-MNIST translators are measured as the module
    docstring says, shapes ones attribute by attribute
    (:func:`net2net.evaluate.shapes.evaluate_shapes`). A translator of no known domain, or of a
    domain without an evaluator, is refused (one line naming what is known), never scored
    against another domain's data. Returns a JSON-able dict.
    """
    domain = domain_of(t)
    evaluator = EVALUATORS.get(domain.name)
    if evaluator is None:
        raise ValueError(f"{t.name} is of the {domain.name} domain, which has no evaluator; evaluators exist for "
                         f"{', '.join(EVALUATORS)} (add yours to net2net.evaluate.translators.EVALUATORS)")
    return evaluator(t, n_queries=n_queries, n_samples=n_samples, seed=seed, n_real=n_real, temperature=temperature,
                     dataset=dataset)


def _evaluate_shapes(t: Translator, *, n_queries: int, n_samples: int, seed: int, dataset: str | None,
                     **_: Any) -> dict[str, Any]:
    from net2net.evaluate.shapes import evaluate_shapes

    return evaluate_shapes(t, n_queries=n_queries, n_samples=n_samples, seed=seed, dataset=dataset or "shapes")


@torch.no_grad()
def _evaluate_fashion_mnist(t: Translator, *, n_queries: int, n_samples: int, seed: int, n_real: int,
                            temperature: float, dataset: str | None) -> dict[str, Any]:
    if dataset not in (None, "fashion-mnist"):
        raise ValueError(f"{t.name} is measured on Fashion-MNIST; --dataset is for shapes translators")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    clf = zoo_classifier(str(t.device))
    queries, images, labels = test_queries(t, n_queries)
    out: dict[str, Any] = {"n_queries": n_queries, "n_samples": n_samples, "feature_space": FEATURE_SPACE,
                           "task": t.info.get("task", ""), "model": type(t.tau).__name__}
    z_phi = t.encode_query(queries)

    try:  # a generator target has no encoder, hence no held-out pairs to score
        z = t.encode_target(images)
    except NotImplementedError:
        z = None
    if z is not None:
        nll = float(-t.tau.log_prob(z, z_phi).double().mean()) / t.tau.dim
        out.update(nll_nats_per_dim=nll, nll_bits_per_dim=nll / LN2)

    # independent residuals per query: shared ones would make every query of a class
    # (the same one-hot) yield the same images and the statistics meaningless
    gen = t.decode(t.sample_latents(z_phi, n=n_samples, temperature=temperature, seed=seed, shared=False)).cpu()
    want = labels.repeat_interleave(n_samples)
    pred = clf.predict(gen).cpu()
    out["class_accuracy"] = float((pred == want).float().mean())
    out["class_accuracy_per_class"] = {CLASS_NAMES[c]: float((pred[want == c] == c).float().mean())
                                       for c in range(len(CLASS_NAMES)) if (want == c).any()}
    out["classifier_accuracy_on_real"] = float((clf.predict(images).cpu() == labels).float().mean())

    x_real, y_real = load_fashion_mnist("test")
    real = to_float(x_real[-n_real:])  # the other end of the test split: not the queries' images
    real_labels = torch.from_numpy(y_real[-n_real:].copy())
    out["fid"] = frechet_distance(clf.encode, clf.dim, real, gen)
    feats = clf.encode(gen).cpu().view(n_queries, n_samples, -1)
    if n_samples > 1:
        spread = pairwise_distance(feats)
        real_spread = _real_class_spread(clf.encode(real).cpu(), real_labels, 50, seed)
        out["diversity"] = float(spread.mean() / real_spread[labels].mean())

    task = out["task"]
    if task == "superres":
        small_in, small_out = downsample(images, 7).repeat_interleave(n_samples, 0), downsample(gen, 7)
        out["superres_psnr_downsampled_vs_input"] = float(psnr(small_out, small_in).mean())
        out["superres_psnr_full_vs_truth"] = float(psnr(gen, images.repeat_interleave(n_samples, 0)).mean())
    if task == "inpaint":
        keep = query_masks(t, n_queries, tuple(images.shape[-2:])).repeat_interleave(n_samples, 0)
        truth = images.repeat_interleave(n_samples, 0)
        err = ((gen - truth).pow(2) * keep).sum(dim=(1, 2, 3)) / keep.sum(dim=(1, 2, 3))
        out["inpaint_mse_outside_box"] = float(err.mean())
        hole = 1 - keep
        out["inpaint_mse_inside_box"] = float((((gen - truth).pow(2) * hole).sum(dim=(1, 2, 3)) / hole.sum(dim=(1, 2, 3)).clamp_min(1)).mean())
    if task == "attr":
        out.update(_edit_metrics(t, images, labels, clf, seed))
    return out


def _class_relative(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each value as a z-score among the values of its own class."""
    out = np.zeros_like(values, dtype=np.float64)
    for c in np.unique(classes):
        v = values[classes == c]
        out[classes == c] = (v - v.mean()) / max(float(v.std()), 1e-9)
    return out


def kept_descriptors(source: Tensor, edited: Tensor, source_class: Tensor, target_class: Tensor) -> dict[str, float]:
    """What a class edit keeps of the garment (Pearson r of source and edit over the images,
    measured from pixels by :func:`net2net.data.captions.measure`): ``brightness`` (mean
    intensity of the garment), and ``width`` relative to its class (bounding-box width over
    height as a z-score within the source's class, and within the target's for the edit:
    a wide shirt should become a wide trouser, not as wide as a shirt)."""
    a, b = measure(source.cpu()), measure(edited.cpu())
    ca, cb = source_class.cpu().numpy(), target_class.cpu().numpy()
    pairs = {"brightness": (a["brightness"], b["brightness"]),
             "width": (_class_relative(a["width"], ca), _class_relative(b["width"], cb))}
    return {name: float(np.corrcoef(x, y)[0, 1]) for name, (x, y) in pairs.items()}


def quantile_kept_brightness(source: Tensor, source_class: Tensor, target_class: Tensor, pool: Tensor,
                             pool_class: Tensor) -> float:
    """The brightness r of the best an edit can do: each source replaced by the real image of
    the target class (from ``pool``) at the same brightness quantile within its class as the
    source within its own. The classes' brightness differs, so even this stays below 1."""
    b, pb = measure(source.cpu())["brightness"], measure(pool.cpu())["brightness"]
    pc = pool_class.cpu().numpy()
    ranked = {c: np.sort(pb[pc == c]) for c in np.unique(pc)}  # each class's brightness, sorted once
    out = np.empty(len(b))
    for i, (s, t) in enumerate(zip(source_class.tolist(), target_class.tolist(), strict=True)):
        q = np.searchsorted(ranked[s], b[i]) / len(ranked[s])  # the share of the source's class below it
        out[i] = ranked[t][min(int(q * len(ranked[t])), len(ranked[t]) - 1)]
    return float(np.corrcoef(b, out)[0, 1])


def _edit_metrics(t: Translator, images: Tensor, labels: Tensor, clf: Any, seed: int) -> dict[str, float]:
    """Class editing: how often the target class is reached, and how much of the source stays.

    "Kept" compares the edit with its source (PSNR) against two references: the AE's
    reconstruction of the source (the most an edit could keep) and a random real image
    of the target class (what ignoring the source would give); and it correlates the
    garment's brightness and class-relative width of edit and source (:func:`kept_descriptors`).
    """
    g = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, len(CLASS_NAMES), (len(labels),), generator=g)
    target = (labels + shift) % len(CLASS_NAMES)
    from net2net.applications import attribute_columns, edit_attributes, read_attributes

    # the source's own columns (class, and where the translator reads them its brightness and
    # width levels, measured from pixels) with the class changed: what `net2net edit` does
    source = read_attributes(t, images, classes=[int(v) for v in labels])
    names = attribute_columns(t)["class"]
    edited = edit_attributes(t, images, source, [{"class": names[int(c)]} for c in target]).cpu()
    success = float((clf.predict(edited).cpu() == target).float().mean())
    recon = t.decode(t.encode_target(images)).cpu()
    x, y = load_fashion_mnist("test")
    pool = torch.from_numpy(y[-2000:].copy())
    picks = torch.stack([(pool == c).nonzero().flatten()[torch.randint(0, int((pool == c).sum()), (1,), generator=g)][0]
                         for c in target.tolist()])
    other = to_float(x[-2000:])[picks]
    return {
        "edit_success": success,
        "edit_psnr_vs_source": float(psnr(edited, images).mean()),
        "edit_reference_psnr_reconstruction": float(psnr(recon, images).mean()),
        "edit_reference_psnr_random_target_image": float(psnr(other, images).mean()),
        **{f"edit_keeps_{k}_r": v for k, v in kept_descriptors(images, edited, labels, target).items()},
        "edit_keeps_brightness_r_quantile_ceiling": quantile_kept_brightness(
            images, labels, target, to_float(x), torch.from_numpy(y.copy())),
    }


#: image domain name -> its evaluator ``(t, *, n_queries, n_samples, seed, n_real, temperature, dataset) -> metrics``.
EVALUATORS: dict[str, Any] = {"fashion-mnist": _evaluate_fashion_mnist, "shapes": _evaluate_shapes}
