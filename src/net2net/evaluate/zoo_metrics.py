"""Metrics for image experts: reconstruction, classification, and generation quality.

Generic over the expert protocol: an autoencoder is anything with ``encode``/``decode``,
a classifier anything with ``logits(images)`` (or a callable returning logits), a
feature extractor anything returning ``(B, d)``. FID is computed in a *stated* feature
space, here the zoo classifier's penultimate layer, because the Inception weights
cannot be downloaded on the project's machines: the numbers are comparable with each
other, not with published Inception FIDs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "FeatureExtractor",
    "classification_metrics",
    "frechet_distance",
    "generated_class_accuracy",
    "generator_metrics",
    "reconstruction_metrics",
    "reconstruction_accuracy",
]


def _batches(n: int, batch_size: int):
    for i in range(0, n, batch_size):
        yield slice(i, min(n, i + batch_size))


@torch.inference_mode()
def reconstruction_metrics(autoencoder: Any, images: Tensor, *, batch_size: int = 500) -> dict[str, float]:
    """Mean squared error and PSNR (peak 1) of ``decode(encode(x))`` over ``images``.

    PSNR is averaged per image (``10 log10(1/MSE_i)``), the usual convention.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W) in [0, 1], got {tuple(images.shape)}")
    se, psnr = 0.0, 0.0
    for s in _batches(len(images), batch_size):
        x = images[s]
        rec = autoencoder.decode(autoencoder.encode(x)).to(x.device).float()
        mse_i = (rec - x).pow(2).flatten(1).mean(1)
        se += float(mse_i.sum())
        psnr += float((10 * torch.log10(1.0 / mse_i.clamp_min(1e-10))).sum())
    n = len(images)
    return {"mse": se / n, "psnr": psnr / n, "n": n}


def _logits_fn(classifier: Any) -> Callable[[Tensor], Tensor]:
    return classifier.logits if hasattr(classifier, "logits") and callable(classifier.logits) else classifier


@torch.inference_mode()
def classification_metrics(classifier: Any, images: Tensor, labels: Tensor, *, num_classes: int = 10,
                           batch_size: int = 500) -> dict[str, Any]:
    """Accuracy and per-class accuracy of ``classifier`` on ``(images, labels)``."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels; pass one label per image")
    logits = _logits_fn(classifier)
    pred = torch.cat([logits(images[s]).argmax(1).cpu() for s in _batches(len(images), batch_size)])
    labels = labels.cpu().long()
    correct = pred == labels
    per_class = [float(correct[labels == k].float().mean()) if (labels == k).any() else float("nan")
                 for k in range(num_classes)]
    return {"accuracy": float(correct.float().mean()), "per_class_accuracy": per_class, "n": len(labels)}


@torch.inference_mode()
def attribute_metrics(classifier: Any, images: Tensor, labels: Tensor, *, batch_size: int = 500) -> dict[str, Any]:
    """Accuracy of each attribute head of ``classifier`` (``labels``: ``(N, heads)`` value indices)."""
    if labels is None or labels.dim() != 2 or len(labels) != len(images):
        raise ValueError(f"labels must be (N, heads) value indices for {len(images)} images")
    chunks = [classifier.attribute_logits(images[s]) for s in _batches(len(images), batch_size)]
    acc = {}
    for k, attr in enumerate(chunks[0]):
        pred = torch.cat([c[attr].argmax(1).cpu() for c in chunks])
        acc[attr] = float((pred == labels[:, k].cpu()).float().mean())
    return {"accuracy": min(acc.values()), "per_head_accuracy": acc, "n": len(labels)}


@torch.inference_mode()
def reconstruction_accuracy(autoencoder: Any, classifier: Any, images: Tensor, labels: Tensor, *,
                            batch_size: int = 500) -> dict[str, Any]:
    """``classifier``'s accuracy on the real ``images`` and on ``decode(encode(images))``.

    The gap says how much of what the classifier needs survives the autoencoder: every
    translator's output decodes through it, so it caps what their samples can show.
    """
    rec = torch.cat([autoencoder.decode(autoencoder.encode(images[s])).float().clamp(0, 1).cpu()
                     for s in _batches(len(images), batch_size)])
    real = classification_metrics(classifier, images, labels, batch_size=batch_size)["accuracy"]
    recon = classification_metrics(classifier, rec, labels, batch_size=batch_size)["accuracy"]
    return {"real_accuracy": real, "reconstruction_accuracy": recon, "gap_points": 100 * (real - recon),
            "n": len(labels)}


class FeatureExtractor(nn.Module):
    """Wraps ``fn(images) -> (B, d)`` as the ``nn.Module`` torchmetrics' FID expects.

    ``num_features`` is set so torchmetrics does not probe with a 299x299 dummy image.
    """

    def __init__(self, fn: Callable[[Tensor], Tensor], num_features: int) -> None:
        super().__init__()
        self.fn = fn
        self.num_features = int(num_features)

    def forward(self, images: Tensor) -> Tensor:
        # torchmetrics keeps its sums on the CPU; the extractor may run anywhere.
        return self.fn(images).detach().cpu().double()


def frechet_distance(features: Callable[[Tensor], Tensor], num_features: int, real: Tensor, fake: Tensor,
                     *, batch_size: int = 500) -> float:
    """FID between two image sets in the feature space ``features`` (torchmetrics' implementation)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=FeatureExtractor(features, num_features), normalize=True)
    fid.set_dtype(torch.float64)
    with torch.inference_mode():
        for s in _batches(len(real), batch_size):
            fid.update(real[s].cpu().float(), real=True)
        for s in _batches(len(fake), batch_size):
            fid.update(fake[s].cpu().float(), real=False)
        return float(fid.compute())


@torch.inference_mode()
def _generate(generator: Any, labels: Tensor, seed: int, batch_size: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.cat([generator.generate(labels[s], generator=g).cpu() for s in _batches(len(labels), batch_size)])


def generated_class_accuracy(generator: Any, classifier: Any, *, per_class: int = 500, num_classes: int = 10,
                             seed: int = 0, batch_size: int = 500) -> dict[str, Any]:
    """How often ``classifier`` recognises the class a conditional generator was asked for."""
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    fake = _generate(generator, labels, seed, batch_size)
    out = classification_metrics(classifier, fake, labels, num_classes=num_classes, batch_size=batch_size)
    return {"generated_accuracy": out["accuracy"], "generated_per_class_accuracy": out["per_class_accuracy"]}


def generator_metrics(generator: Any, classifier: Any, real_images: Tensor, real_labels: Tensor, *,
                      seed: int = 0, batch_size: int = 500) -> dict[str, Any]:
    """FID (classifier fc1 space) against ``real_images`` with the same class counts, and class accuracy.

    The fakes are generated for exactly the real labels, so the FID compares the
    class-conditional model, not a class-imbalanced sample of it.
    """
    fake = _generate(generator, real_labels.cpu().long(), seed, batch_size)
    fid = frechet_distance(classifier.encode, classifier.dim, real_images, fake, batch_size=batch_size)
    acc = classification_metrics(classifier, fake, real_labels, batch_size=batch_size)
    out = {"fid_classifier_fc1": fid, "generated_accuracy": acc["accuracy"],
           "generated_per_class_accuracy": acc["per_class_accuracy"], "n": len(real_images)}
    if not math.isfinite(fid):
        raise FloatingPointError("FID is not finite: the generated images are degenerate (e.g. all NaN)")
    return out
