"""The zoo's re-ranking scorer for its translators: its classifiers read the images.

The core translator does not know the zoo (see :mod:`net2net.rerank`): whoever calls
``Translator.sample(..., rerank=k)`` passes a scorer. For Fashion-MNIST translators
that is :func:`fmnist_scorer`: image queries are derived from the outputs, class and
text queries come from the zoo classifier's verdict (phrased by the caption templates
for text). Shapes translators are read by the attribute classifier ``shapes-classifier``
(captions are phrased from its verdict). :func:`scorer_for` is what the command line and
the web app call.

Example:
    >>> import net2net
    >>> from net2net.zoo.scoring import scorer_for
    >>> t = net2net.load("fmnist-attr")                                    # doctest: +SKIP
    >>> t.sample([3], n=4, rerank=4, scorer=scorer_for(t)).shape           # doctest: +SKIP
    torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from torch import Tensor

from net2net.rerank import Captioner, Scorer, query_scorer, read_query
from net2net.zoo.domains import DOMAINS, find_domain, register_domain

if TYPE_CHECKING:
    from net2net.translator import Translator
    from net2net.zoo.experts import ClassifierExpert

__all__ = ["captioner", "classifier", "fmnist_scorer", "query_of_images", "scorer_for", "shapes_judge", "shapes_verdict"]


@lru_cache(maxsize=2)
def classifier(device: str = "cpu") -> ClassifierExpert:
    """The zoo classifier, loaded once per process."""
    from net2net.zoo.catalogue import load_expert

    return load_expert("fmnist-classifier", device)  # type: ignore[return-value]


def captioner(split: str = "train", device: str = "cpu") -> Captioner:
    """Captions images as the training captions read, from the zoo classifier's verdict."""
    return Captioner(lambda images: classifier(device).predict(images.to(device)), split)


@lru_cache(maxsize=2)
def shapes_judge(device: str = "cpu") -> ClassifierExpert:
    """The shapes attribute classifier, loaded once per process."""
    from net2net.zoo.catalogue import load_expert

    return load_expert("shapes-classifier", device)  # type: ignore[return-value]


def shapes_verdict(images: Tensor) -> dict[str, list[str]]:
    """attribute -> value the shapes attribute classifier sees in each image (any size or mode)."""
    from net2net.data.convert import convert_images, image_spec

    judge = shapes_judge()
    return judge.predict_attributes(convert_images(images.float().cpu(), image_spec(judge))[0])


def _shapes_query(translator: Translator, images: Tensor) -> Any:
    import numpy as np

    from net2net.data.shapes import ATTRIBUTES, attribute_flags, caption

    verdict = shapes_verdict(images)
    task = translator.info.get("task", "")
    if task == "attr":
        return attribute_flags({a: verdict[a] for a in ATTRIBUTES})
    if task == "style":
        return verdict["style"]
    if translator.query_kind == "text":
        return [caption({a: v[i] for a, v in verdict.items()}, np.random.default_rng(i), "train")
                for i in range(len(images))]
    return read_query(translator, images)


def _fmnist_query(translator: Translator, images: Tensor) -> Any:
    return read_query(translator, images, lambda x: classifier().predict(x))


# the zoo fills its domains' query readers (zoo/domains.py holds the rest of each domain)
for _name, _reader in (("fashion-mnist", _fmnist_query), ("shapes", _shapes_query)):
    register_domain(dataclasses.replace(DOMAINS[_name], read_query=_reader), overwrite=True)


def query_of_images(translator: Translator, images: Tensor) -> Any:
    """What ``translator``'s query expert would have been given for these images: its
    domain's reading (:func:`net2net.zoo.domains.domain_of`: ``fmnist-classifier`` for
    Fashion-MNIST, ``shapes-classifier`` for the shapes); image queries of a translator of no
    known domain are derived from the images themselves."""
    domain = find_domain(translator)
    if domain is None or domain.read_query is None:
        return read_query(translator, images)
    return domain.read_query(translator, images)


#: derived queries for image translators, the zoo classifier's reading for class and text ones.
fmnist_scorer: Scorer = query_scorer(query_of_images)


def scorer_for(translator: Translator) -> Scorer:
    """The scorer the command line and the web app re-rank ``translator``'s samples with."""
    return fmnist_scorer
