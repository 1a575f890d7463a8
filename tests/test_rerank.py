"""Re-ranking: the scorer is the caller's; the core has none for text or class queries."""

from __future__ import annotations

import pytest
import torch

from net2net.experts.labels import OneHotExpert
from net2net.rerank import Captioner, query_scorer
from net2net.testing import tiny_translator


def test_class_queries_need_the_callers_scorer() -> None:
    t = tiny_translator(OneHotExpert(), query_name="onehot")
    with pytest.raises(ValueError, match="needs a scorer that reads images back.*net2net.zoo.scoring.fmnist_scorer"):
        t.sample([1], n=2, rerank=3)
    assert t.sample([1], n=2).shape == (2, 1, 28, 28)  # no re-ranking, no scorer needed


def test_the_given_scorer_chooses() -> None:
    t = tiny_translator(OneHotExpert(), query_name="onehot")
    brightest = lambda tr, images, z_phi: images.flatten(1).mean(1)  # noqa: E731
    candidates = t.sample([1, 4], n=6, seed=3)
    kept = t.sample([1, 4], n=2, rerank=3, seed=3, scorer=brightest)
    for q in range(2):
        best = candidates[q * 6 : q * 6 + 6].flatten(1).mean(1).topk(2).indices
        assert torch.equal(kept[q * 2 : q * 2 + 2], candidates[q * 6 : q * 6 + 6][best])


def test_query_scorer_and_captioner_take_any_classifier() -> None:
    t = tiny_translator(OneHotExpert(), query_name="onehot")
    always_bag = lambda images: torch.full((len(images),), 8)  # noqa: E731
    scorer = query_scorer(lambda tr, images: [int(c) for c in always_bag(images)])
    images = t.sample([8, 2], n=1)
    scores = scorer(t, images, t.encode_query([8, 2]))
    assert scores[0] > scores[1]  # "a bag" agrees with the bag query, not the pullover one
    assert all(("bag" in c or "purse" in c) for c in Captioner(always_bag)(images))  # the templates phrase class 8 both ways
