"""Re-expressing generated images in the query's terms: for re-ranking and evaluation.

For image queries (edges, low resolution, silhouettes) the query domain is derived from
the output directly. Text and label queries cannot be read off pixels, so the zoo
classifier names the class and the caption templates phrase it (a captioner built from
the classifier, as the paper builds pairs for BigGAN in Sec. 4.1).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from torch import Tensor

from net2net.data.captions import caption
from net2net.data.domains import derive

if TYPE_CHECKING:
    from net2net.translator import Translator

__all__ = ["Captioner", "query_of_images", "classifier"]

@lru_cache(maxsize=2)
def classifier(device: str = "cpu") -> Any:
    """The zoo classifier, loaded once per process."""
    from net2net.zoo import load_expert

    return load_expert("fmnist-classifier", device)


class Captioner:
    """Captions images the way the training captions read: classifier class + descriptors.

    Example:
        >>> Captioner()(images, seed=0)[:1]        # doctest: +SKIP
        ['a picture of a large dark narrow ankle boot']
    """

    def __init__(self, split: str = "train", device: str = "cpu") -> None:
        self.split, self.device = split, device

    def labels(self, images: Tensor) -> Tensor:
        return classifier(self.device).predict(images.to(self.device)).cpu()

    def __call__(self, images: Tensor, seed: int = 0) -> list[str]:
        return caption(images.cpu(), self.labels(images), split=self.split, seed=seed)


def query_of_images(translator: Translator, images: Tensor) -> Any:
    """What the translator's query expert would have been given for these images."""
    kind = translator.query_kind
    if kind == "image":
        name = translator.info.get("query_transform", "identity")
        if name == "masked":
            raise ValueError(f"re-ranking needs a query derivable from an image; {name!r} is not (it needs its mask)")
        return derive(name, images)
    labels = Captioner().labels(images)
    if kind == "label":
        return [int(v) for v in labels]
    if kind == "text":
        return caption(images.cpu(), labels, split="train", seed=0)
    raise ValueError(f"cannot re-rank queries of kind {kind!r}")
