"""Re-expressing generated images in the query's terms: for re-ranking and evaluation.

A *scorer* says how well each generated image fits its query:
``scorer(translator, images, z_phi) -> (B,)``, higher is better (:data:`Scorer`). It is
given by the caller (``Translator.sample(..., rerank=k, scorer=...)``), never looked up
here: this module is below the zoo and does not import it.

For image queries (edges, low resolution, silhouettes) the query domain is derived from
the output directly (:func:`derived_query`, the translator's default). Text and label
queries cannot be read off pixels: a classifier names the class and the caption
templates phrase it (:class:`Captioner`, built from any classifier, as the paper builds
pairs for BigGAN in Sec. 4.1). The zoo provides that scorer for Fashion-MNIST
(:func:`net2net.zoo.scoring.fmnist_scorer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch.nn.functional as F
from torch import Tensor

from net2net.data.captions import caption
from net2net.data.domains import derive

if TYPE_CHECKING:
    from net2net.translator import Translator

__all__ = ["Captioner", "QueryReader", "Scorer", "derived_query", "query_scorer", "read_query"]

#: ``(translator, images, z_phi) -> (B,)`` scores, higher is better.
Scorer = Callable[["Translator", Tensor, Tensor], Tensor]
#: ``(translator, images) -> queries``: what the query expert would have been given for the images.
QueryReader = Callable[["Translator", Tensor], Any]


def derived_query(translator: Translator, images: Tensor) -> Tensor:
    """The query images of an image-query translator, derived from its outputs (``query_transform``)."""
    if translator.query_kind != "image":
        raise ValueError(
            f"re-ranking {translator.query_kind} queries needs a scorer that reads images back into "
            f"{translator.query_kind}s (for Fashion-MNIST: scorer=net2net.zoo.scoring.fmnist_scorer)"
        )
    name = translator.info.get("query_transform", "identity")
    if name == "masked":
        raise ValueError(f"re-ranking needs a query derivable from an image; {name!r} is not (it needs its mask)")
    return derive(name, images)


def query_scorer(read: QueryReader) -> Scorer:
    """A scorer from a query reader: encode what ``read`` says the images show, compare with ``z_Φ``.

    Image queries score the negative squared distance, text and label queries the
    cosine similarity (sentence embeddings are compared by angle).
    """

    def score(translator: Translator, images: Tensor, z_phi: Tensor) -> Tensor:
        z_back = translator.query.encode(read(translator, images)).to(z_phi.device)
        if translator.query_kind == "image":
            return -(z_back - z_phi).pow(2).sum(1)
        return F.cosine_similarity(z_back, z_phi, dim=1)

    return score


def read_query(translator: Translator, images: Tensor, classify: Callable[[Tensor], Tensor] | None = None) -> Any:
    """What ``translator``'s query expert would have been given for ``images``.

    Image queries are derived; labels and captions need ``classify`` (images ->
    class indices), e.g. the zoo classifier's ``predict``.
    """
    if translator.query_kind == "image":
        return derived_query(translator, images)
    if classify is None:
        derived_query(translator, images)  # raises, naming the scorer to pass
    labels = classify(images).cpu()
    if translator.query_kind == "label":
        return [int(v) for v in labels]
    if translator.query_kind == "text":
        return caption(images.cpu(), labels, split="train", seed=0)
    raise ValueError(f"cannot re-rank queries of kind {translator.query_kind!r}")


class Captioner:
    """Captions images the way the training captions read: a classifier's class + descriptors.

    Args:
        classify: images ``(B, 1, H, W)`` -> class indices ``(B,)``.
        split: which caption phrasings to use ("train" or "heldout").

    Example:
        >>> from net2net.zoo.scoring import classifier
        >>> Captioner(classifier().predict)(images, seed=0)[:1]        # doctest: +SKIP
        ['a picture of a large dark narrow ankle boot']
    """

    def __init__(self, classify: Callable[[Tensor], Tensor], split: str = "train") -> None:
        self.classify, self.split = classify, split

    def labels(self, images: Tensor) -> Tensor:
        return self.classify(images).cpu()

    def __call__(self, images: Tensor, seed: int = 0) -> list[str]:
        return caption(images.cpu(), self.labels(images), split=self.split, seed=seed)
