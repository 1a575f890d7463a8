"""The generic metrics against answers known in advance."""

from __future__ import annotations

import math

import pytest
import torch

from net2net.evaluate import zoo_metrics as zm


class Identity:
    def encode(self, x):
        return x.flatten(1)

    def decode(self, z):
        return z.view(-1, 1, 4, 4)


class Noisy(Identity):
    def decode(self, z):
        return z.view(-1, 1, 4, 4) + 0.1


def test_reconstruction_metrics():
    x = torch.rand(10, 1, 4, 4)
    assert zm.reconstruction_metrics(Identity(), x)["mse"] == 0
    m = zm.reconstruction_metrics(Noisy(), x, batch_size=3)
    assert m["mse"] == pytest.approx(0.01, rel=1e-4) and m["psnr"] == pytest.approx(20.0, abs=1e-3)


def test_classification_metrics_per_class():
    labels = torch.tensor([0, 0, 1, 1])
    logits = torch.tensor([[1.0, 0], [0, 1], [0, 1], [0, 1]])
    m = zm.classification_metrics(lambda x: logits[x.long().flatten()], torch.arange(4.0)[:, None], labels,
                                  num_classes=3)
    assert m["accuracy"] == 0.75 and m["per_class_accuracy"][:2] == [0.5, 1.0]
    assert math.isnan(m["per_class_accuracy"][2])
    with pytest.raises(ValueError, match="one label per image"):
        zm.classification_metrics(lambda x: x, torch.zeros(3, 2), labels)


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(400, 1, 2, 2, generator=g)
    def feats(x):
        return x.flatten(1)

    assert zm.frechet_distance(feats, 4, real, real) == pytest.approx(0.0, abs=1e-6)
    # Shifting every feature by 0.5 adds |Δμ|² = 4 · 0.25 = 1 and nothing else.
    assert zm.frechet_distance(feats, 4, real, real + 0.5) == pytest.approx(1.0, abs=1e-4)


def test_reconstruction_accuracy_is_the_classifier_on_real_and_on_reconstructed_images() -> None:
    import torch

    from net2net.evaluate.zoo_metrics import reconstruction_accuracy

    class Identity:
        def encode(self, x):
            return x

        def decode(self, z):
            return z

    class Blank(Identity):
        def decode(self, z):
            return torch.zeros_like(z)

    images = torch.rand(20, 1, 4, 4)
    labels = (images.flatten(1).mean(1) > 0.5).long()
    clf = lambda x: torch.stack([0.5 - x.flatten(1).mean(1), x.flatten(1).mean(1) - 0.5], 1)  # noqa: E731
    same = reconstruction_accuracy(Identity(), clf, images, labels, batch_size=7)
    assert same["real_accuracy"] == same["reconstruction_accuracy"] == 1.0 and same["gap_points"] == 0.0
    blank = reconstruction_accuracy(Blank(), clf, images, labels, batch_size=7)
    assert blank["reconstruction_accuracy"] == float((labels == 0).float().mean())
    assert blank["gap_points"] == 100 * (1.0 - blank["reconstruction_accuracy"]) and blank["n"] == 20
