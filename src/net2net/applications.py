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
from net2net.data.shapes import ATTRIBUTES, VOCAB, attribute_flags
from net2net.translator import Translator, available_translators, load
from net2net.zoo.scoring import query_of_images, shapes_verdict

__all__ = [
    "MAX_PROMPT_CHARS",
    "check_prompt",
    "make_query",
    "query_of",
    "diagnosis_translators",
    "diagnose",
    "parse_assignments",
    "edit",
    "edit_attributes",
    "shapes_label",
    "read_image_for",
    "style_transfer",
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


def parse_assignments(assignments: str | list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["colour=red", "position=top-left"]`` -> ``{"colour": "red", "position": "top-left"}``."""
    items = [assignments] if isinstance(assignments, str) else list(assignments)
    if not items:
        raise ValueError("--set takes ATTRIBUTE=VALUE, e.g. class=dress or colour=red")
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"--set takes ATTRIBUTE=VALUE, e.g. class=dress or colour=red; got {item!r}")
        if key in out:
            raise ValueError(f"--set gives {key} twice ({key}={out[key]}, {key}={value}); give each attribute once")
        out[key] = value
    return out


def _checked(t: Translator, tasks: tuple[str, ...]) -> None:
    if t.info.get("domain") != "shapes" or t.info.get("task") not in tasks:
        raise ValueError(f"{t.name} is not a shapes translator for {' or '.join(tasks)} "
                         f"(its domain is {t.info.get('domain', 'fashion-mnist')!r}, task {t.info.get('task')!r})")


def edit_attributes(t: Translator, images: Tensor, source: dict[str, list[str]], changes: list[dict[str, str]], *,
                    n: int = 1, temperature: float = 1.0, seed: int = 0) -> Tensor:
    """``shapes-attr``: image ``i`` with the attributes in ``changes[i]`` set, the rest kept.

    ``source`` gives each image's attributes (attribute -> values), e.g. the
    judge's verdict or the data set's truth.
    """
    _checked(t, ("attr",))
    for ch in changes:
        for a, v in ch.items():
            if a not in ATTRIBUTES or v not in VOCAB[a]:
                raise ValueError(f"--set {a}={v}: choose an attribute of {', '.join(ATTRIBUTES)} and one of its values"
                                 + (f" ({', '.join(VOCAB[a])})" if a in ATTRIBUTES else ""))
    src = attribute_flags({a: source[a] for a in ATTRIBUTES})
    tgt = attribute_flags({a: [changes[i].get(a, source[a][i]) for i in range(len(changes))] for a in ATTRIBUTES})
    return t.edit(images, src, tgt, n=n, temperature=temperature, seed=seed)


def style_transfer(t: Translator, images: Tensor, source: list[str], target: list[str], *, n: int = 1,
                   temperature: float = 1.0, seed: int = 0) -> Tensor:
    """``shapes-style``: each image re-rendered from style ``source[i]`` in style ``target[i]``."""
    _checked(t, ("style",))
    return t.edit(images, list(source), list(target), n=n, temperature=temperature, seed=seed)


def edit(t: Translator, image: Tensor, assignments: str | list[str], *, source: str | int | None = None,
         n: int = 1, temperature: float = 1.0, seed: int = 0) -> tuple[Tensor, dict[str, Any]]:
    """Changes what ``assignments`` say and keeps the rest: ``(images, {"from": ..., "to": ...})``.

    - class translators (``fmnist-attr``): ``class=dress``; the image's class is ``source``
      or, by default, the zoo classifier's verdict;
    - ``shapes-attr``: any of ``shape=``, ``colour=``, ``size=``, ``position=``, ``style=``;
    - ``shapes-style``: ``style=filled`` or ``style=outlined``;

    for shapes the image's attributes are the zoo's attribute classifier's verdict.
    """
    sets = parse_assignments(assignments)
    if t.info.get("domain") == "shapes":
        task = t.info.get("task")
        allowed = ATTRIBUTES if task == "attr" else ("style",) if task == "style" else ()
        if not allowed:
            raise ValueError(f"{t.name} does not edit; edit shapes with shapes-attr (shape, colour, size, position) "
                             "or shapes-style (style)")
        if source is not None:
            raise ValueError(f"{t.name} reads the image's attributes itself (the zoo's attribute classifier); "
                             "drop --from, which is for class translators")
        for key, value in sets.items():
            if key not in allowed:
                raise ValueError(f"{t.name} sets {', '.join(allowed)}, not {key!r}"
                                 + ("; change the style with shapes-style" if key == "style" else ""))
            if value not in VOCAB[key]:
                raise ValueError(f"--set {key}={value}: choose one of {', '.join(VOCAB[key])}")
        verdict = shapes_verdict(image)
        if task == "attr":
            images = edit_attributes(t, image, verdict, [sets], n=n, temperature=temperature, seed=seed)
        else:
            images = style_transfer(t, image, verdict["style"], [sets["style"]], n=n, temperature=temperature, seed=seed)
        return images, {"from": {k: verdict[k][0] for k in sets}, "to": sets}
    if t.query_kind != "label":
        raise ValueError(f"{t.name} does not take classes; edit with a class translator such as fmnist-attr or shapes-attr")
    if set(sets) != {"class"}:
        raise ValueError(f"{t.name} sets the class: --set takes class=CLASS (one of {', '.join(CLASS_NAMES)} or 0-9)")
    target = class_index(sets["class"])
    src = [class_index(source)] if source is not None else query_of(t, image)
    images = t.edit(image, src, [target], n=n, temperature=temperature, seed=seed)
    return images, {"from": CLASS_NAMES[src[0]], "to": CLASS_NAMES[target]}


def read_image_for(translator: Translator | None, path: Any) -> Tensor:
    """An image file as ``(1, C, H, W)`` for ``translator``: in colour at its own size when the
    translator's target expert reads colour (the shapes domain), else Fashion-MNIST's way
    (grey 28×28, a light product photo inverted). The translator converts it further."""
    from net2net.data.convert import image_spec
    from net2net.imageio import load_image

    if translator is not None and image_spec(translator.target).channels == 3:
        return load_image(path, None, invert=False, channels=3)
    return load_image(path)


def shapes_label(translator: Translator, value: Any) -> Any:
    """The label query of a shapes translator: a style (``outlined``) for ``shapes-style``;
    every attribute for ``shapes-attr`` (``"shape=star, colour=red, size=large,
    position=centre, style=filled"``, commas or spaces between them) as its ``attribute=value`` names."""
    task = translator.info.get("task")
    if task == "style":
        if value not in VOCAB["style"]:
            raise ValueError(f"{translator.name} reads a style: pass one of {', '.join(VOCAB['style'])}")
        return value
    example = "shape=star, colour=red, size=large, position=centre, style=filled"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{translator.name} reads the attributes: pass them all, e.g. --class '{example}'")
    sets = parse_assignments(value.replace(",", " ").split())
    for key, v in sets.items():
        if key not in ATTRIBUTES:
            raise ValueError(f"{translator.name} reads {', '.join(ATTRIBUTES)}, not {key!r}")
        if v not in VOCAB[key]:
            raise ValueError(f"{key}={v}: choose one of {', '.join(VOCAB[key])}")
    missing = [a for a in ATTRIBUTES if a not in sets]
    if missing:
        raise ValueError(f"{translator.name} needs every attribute; missing {', '.join(missing)} (e.g. '{example}')")
    return [f"{a}={sets[a]}" for a in ATTRIBUTES]


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
    if kind == "label" and translator.info.get("domain") == "shapes":
        return [shapes_label(translator, label if label is not None else prompt)]
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
