"""The paper's applications as plain functions over :class:`~net2net.translator.Translator`.

The CLI and the web app both call these, so a query is checked and converted the same
way everywhere: prompts, class names and images of any size or mode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from net2net.data.domains import derive as derive_domain
from net2net.data.fashion_mnist import CLASS_NAMES, class_index
from net2net.translator import Translator, available_translators, load
from net2net.zoo.scoring import query_of_images

__all__ = [
    "MAX_PROMPT_CHARS",
    "check_prompt",
    "make_query",
    "query_of",
    "diagnosis_translators",
    "diagnose",
    "parse_set",
]

MAX_PROMPT_CHARS = 500


def check_prompt(prompt: Any) -> str:
    """A usable prompt, or a ValueError saying what is wrong with it."""
    if isinstance(prompt, bytes):
        try:
            prompt = prompt.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the prompt is not valid UTF-8 text") from None
    if not isinstance(prompt, str):
        raise ValueError(f"the prompt must be text, got {type(prompt).__name__}")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the prompt is not valid UTF-8 text") from None
    text = " ".join(prompt.split())
    if not text:
        raise ValueError("the prompt is empty; describe a garment, e.g. 'a dark pair of trousers'")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt has {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
    return text


def parse_set(assignment: str) -> int:
    """``class=dress`` (or ``class=3``) -> the class index."""
    key, sep, value = assignment.partition("=")
    if not sep or key.strip().lower() != "class":
        raise ValueError(f"--set takes class=CLASS (one of {', '.join(CLASS_NAMES)} or 0-9), got {assignment!r}")
    return class_index(value)


def make_query(translator: Translator, *, prompt: str | None = None, label: str | int | None = None,
               image: Tensor | None = None, derive: bool = False) -> Any:
    """One query in the form the translator's query expert reads.

    Args:
        prompt: text, for text translators (a class name also works for label ones).
        label: a class name or index, for label translators.
        image: ``(1, C, H, W)`` in ``[0, 1]``, for image translators: already in the
            query domain (a sketch, a low-resolution image, ...), or a plain photo with
            ``derive=True`` to compute the query domain from it (the translator's
            ``query_transform``, through :func:`net2net.data.domains.derive`).
    """
    kind = translator.query_kind
    if kind == "text":
        if prompt is None:
            raise ValueError("this translator reads text: pass a prompt (--prompt TEXT)")
        return [check_prompt(prompt)]
    if kind == "label":
        value = label if label is not None else prompt
        if value is None:
            raise ValueError(f"this translator reads a class: pass one of {', '.join(CLASS_NAMES)}")
        return [class_index(value)]
    if image is None:
        raise ValueError("this translator reads an image: pass one (--image PATH)")
    if derive:
        name = translator.info.get("query_transform", "identity")
        try:
            return derive_domain(name, image)
        except ValueError:
            raise ValueError(f"cannot derive a {name!r} query from a photo") from None
    return image


def query_of(translator: Translator, images: Tensor) -> Any:
    """The query each image would have had (classifier class, caption or derived image)."""
    return query_of_images(translator, images)


def diagnosis_translators() -> list[str]:
    """The zoo's per-layer translators of the classifier, shallow to deep."""
    names = [n for n in available_translators() if n.startswith("fmnist-diagnose-")]
    order = ["conv1", "conv2", "conv3", "fc1", "logits"]
    return sorted(names, key=lambda n: order.index(n.rsplit("-", 1)[1]) if n.rsplit("-", 1)[1] in order else 99)


@torch.no_grad()
def diagnose(image: Tensor, *, n: int = 8, seed: int = 0, temperature: float = 1.0,
             device: str = "cpu") -> tuple[Tensor, list[str]]:
    """Samples of what each classifier layer keeps: ``n`` per layer, layer by layer (Fig. 5).

    Images that all look like the input mean the layer keeps that much; variety shows
    what it is invariant to.
    """
    names = diagnosis_translators()
    if not names:
        raise ValueError("no diagnosis translators are installed; train them with `net2net zoo train fmnist-diagnose-fc1` etc.")
    rows = []
    for name in names:
        t = load(name, device)
        rows.append(t.sample(image, n=n, temperature=temperature, seed=seed))
    return torch.cat(rows), [n.rsplit("-", 1)[1] for n in names]
