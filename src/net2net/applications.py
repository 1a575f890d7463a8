"""The paper's applications as plain functions over :class:`~net2net.translator.Translator`.

The CLI and the web app both call these, so a query is checked and converted the same
way everywhere: prompts, class names and images of any size or mode.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from net2net.data.convert import convert_images, image_spec
from net2net.data.domains import derive as derive_domain
from net2net.experts.labels import label_columns
from net2net.translator import Translator, available_translators, load

__all__ = [
    "MAX_PROMPT_CHARS",
    "check_prompt",
    "make_query",
    "query_of",
    "diagnosis_translators",
    "diagnose",
    "parse_assignments",
    "parse_values",
    "attribute_columns",
    "attribute_query",
    "read_attributes",
    "edit",
    "edit_attributes",
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
        raise ValueError("the prompt is empty; describe in words the image you want")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt has {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
    return text


def parse_assignments(assignments: str | list[str] | tuple[str, ...], *, flag: str = "--set") -> dict[str, str]:
    """``["colour=red", "position=top-left"]`` -> ``{"colour": "red", "position": "top-left"}``.

    ``flag`` is the option the text came from (``--set``, ``--from``, ``--class``): errors name it.
    """
    items = [assignments] if isinstance(assignments, str) else list(assignments)
    if not items:
        raise ValueError(f"{flag} takes NAME=VALUE, e.g. class=dress or colour=red")
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"{flag} takes NAME=VALUE, e.g. class=dress or colour=red; got {item!r}")
        if key in out:
            raise ValueError(f"{flag} gives {key} twice ({key}={out[key]}, {key}={value}); give each once")
        out[key] = value
    return out


# -- a translator's named columns: the one path for editing and for label queries --------------

def attribute_columns(t: Translator) -> dict[str, tuple[str, ...]]:
    """The columns ``t``'s query expert reads, with their values: what its folder records
    (``info["attributes"]``), else what its label or multi-hot expert says (older folders).
    Empty for a translator whose query is not a label or multi-hot expert over named columns."""
    recorded = t.info.get("attributes")  # [[column, [values...]], ...]: a list keeps the columns' order
    if isinstance(recorded, list) and recorded:
        return {str(c): tuple(str(v) for v in vs) for c, vs in recorded}
    return label_columns(t.query, t.info.get("query_column"))


def _columns_or_refuse(t: Translator) -> dict[str, tuple[str, ...]]:
    columns = attribute_columns(t)
    if not columns:
        raise ValueError(f"{t.name} does not edit: its query expert ({t.query_ref.name}) is not a label or "
                         "multi-hot expert over named columns; edit with a translator whose query is a class or "
                         "attributes (`net2net zoo list`)")
    return columns


def _value(t: Translator, columns: dict[str, tuple[str, ...]], key: str, value: Any, flag: str) -> str:
    """``value`` of column ``key`` as the column names it (a one-hot expert's aliases and indices too)."""
    if key not in columns:
        names = ", ".join(columns)
        one = next(iter(columns))
        raise ValueError(f"{t.name} sets {names}, not {key!r}; {flag} takes "
                         + (f"{one}={one.upper()}" if len(columns) == 1 else "NAME=VALUE with NAME one of these"))
    values = columns[key]
    if str(value) in values:
        return str(value)
    if key == "class" and _completes(t):  # the garment expert's class column: Fashion-MNIST's spellings too
        from net2net.data.fashion_mnist import class_index

        try:
            return values[class_index(value)]
        except ValueError as e:
            raise ValueError(f"{flag} {key}={value}: {e}") from None
    if len(columns) == 1 and getattr(t.query, "class_names", None) is not None:
        # a one-hot expert knows its own spellings ("Ankle-Boot", "9"); its error lists the classes
        try:
            return values[int(t.query.encode([value]).argmax())]
        except ValueError as e:
            raise ValueError(f"{flag} {key}={value}: {e}") from None
    raise ValueError(f"{flag} {key}={value}: choose one of {', '.join(values)}")


def _row(t: Translator, columns: dict[str, tuple[str, ...]], values: dict[str, str]) -> Any:
    """One query item for these column values: ``column=value`` names for a multi-hot expert,
    the class name for a one-hot one."""
    if getattr(t.query, "attributes", None) is not None:
        return [f"{c}={values[c]}" for c in columns]
    return values[next(iter(columns))]


def parse_values(t: Translator, text: Any, *, flag: str, every: bool = False) -> dict[str, str]:
    """Column values given as ``NAME=VALUE`` items (a string may hold several, commas or spaces
    between), or a bare ``VALUE`` for a translator of one column; ``every`` requires all columns."""
    columns = _columns_or_refuse(t)
    items = text.replace(",", " ").split() if isinstance(text, str) else [str(x) for x in text]
    if (len(columns) == 1 or _completes(t)) and len(items) >= 1 and all("=" not in x for x in items):
        items = [f"{next(iter(columns))}={' '.join(items)}"]  # a bare class name, spaces and all
    sets = parse_assignments(items, flag=flag)
    out = {k: _value(t, columns, k, v, flag) for k, v in sets.items()}
    missing = [c for c in columns if c not in out]
    if every and missing and _completes(t):
        return t.query.complete(out)
    if every and missing:
        example = ", ".join(f"{c}={vs[0]}" for c, vs in columns.items())
        raise ValueError(f"{t.name} needs every column; {flag} misses {', '.join(missing)} (e.g. '{example}')")
    return out


def _completes(t: Translator) -> bool:
    """Whether ``t``'s query expert fills the columns a query leaves out (``fmnist-attr``'s
    garment expert: a class alone stands for a typical garment of that class)."""
    return callable(getattr(t.query, "complete", None))


@lru_cache(maxsize=4)
def _judge(name: str, device: str) -> Any:
    from net2net.experts.registry import get_expert

    return get_expert(name, device=device)


def read_attributes(t: Translator, images: Tensor, classes: list[int] | None = None) -> dict[str, list[str]]:
    """column -> the value the classifier ``t`` names (``info["judge"]``) sees in each image.

    A classifier with one head per column answers by name; a plain classifier answers the
    one column of a class translator by index. A query expert that measures its other
    columns from the pixels itself (``read``: ``fmnist-attr``'s garment expert, brightness
    and width levels) gets them measured within the class the classifier sees, or within
    ``classes`` (class indices, e.g. the data set's truth) where given, which then also
    answer the class column.
    """
    columns = _columns_or_refuse(t)
    if callable(getattr(t.query, "read", None)):
        x = convert_images(images.float().cpu(), image_spec(t.target))[0]  # the image as the target expert sees it
        if classes is None:
            classes = [columns["class"].index(v) for v in _read_judge(t, x, {"class": columns["class"]})["class"]]
        return {"class": [columns["class"][c] for c in classes], **t.query.read(x, classes)}
    if classes is not None:
        col, values = next(iter(columns.items()))
        return {col: [values[int(c)] for c in classes]}
    return _read_judge(t, images, columns)


def _read_judge(t: Translator, images: Tensor, columns: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    name = t.info.get("judge")
    if not name:
        raise ValueError(f"{t.name} names no classifier to read an image's {', '.join(columns)}; "
                         f"give them with --from, e.g. --from {next(iter(columns))}={columns[next(iter(columns))][0]}")
    judge = _judge(str(name), str(t.device))
    x = convert_images(images.float().cpu(), image_spec(judge))[0].to(judge.device)
    if getattr(judge, "heads", None):
        verdict = judge.predict_attributes(x)
        return {c: verdict[c] for c in columns if c in verdict}
    if len(columns) != 1:
        raise ValueError(f"{t.name}'s classifier {name} reads one class, but the translator has columns "
                         f"{', '.join(columns)}; give them with --from")
    col, values = next(iter(columns.items()))
    return {col: [values[i] for i in judge.predict(x).tolist()]}


def attribute_query(t: Translator, values: dict[str, list[str]]) -> list[Any]:
    """The batch of queries for these per-image column values (column -> one value per image)."""
    columns = _columns_or_refuse(t)
    n = len(next(iter(values.values())))
    return [_row(t, columns, {c: values[c][i] for c in columns}) for i in range(n)]


def edit_attributes(t: Translator, images: Tensor, source: dict[str, list[str]], changes: list[dict[str, str]], *,
                    n: int = 1, temperature: float = 1.0, seed: int = 0) -> Tensor:
    """Image ``i`` with the columns in ``changes[i]`` set, the rest kept.

    ``source`` gives each image's values (column -> values), e.g. the judge's verdict or
    the data set's truth.
    """
    columns = _columns_or_refuse(t)
    for ch in changes:
        for a, v in ch.items():
            _value(t, columns, a, v, "--set")
    missing = [c for c in columns if c not in source]
    if missing:
        raise ValueError(f"{t.name}: the images' {', '.join(missing)} are unknown; give them with --from")
    src = attribute_query(t, {c: list(source[c]) for c in columns})
    tgt = attribute_query(t, {c: [changes[i].get(c, source[c][i]) for i in range(len(changes))] for c in columns})
    return t.edit(images, src, tgt, n=n, temperature=temperature, seed=seed)


def style_transfer(t: Translator, images: Tensor, source: list[str], target: list[str], *, n: int = 1,
                   temperature: float = 1.0, seed: int = 0) -> Tensor:
    """``shapes-style``: each image re-rendered from style ``source[i]`` in style ``target[i]``."""
    return edit_attributes(t, images, {"style": list(source)}, [{"style": v} for v in target], n=n,
                           temperature=temperature, seed=seed)


def edit(t: Translator, image: Tensor, assignments: str | list[str], *, source: str | list[str] | None = None,
         n: int = 1, temperature: float = 1.0, seed: int = 0) -> tuple[Tensor, dict[str, Any]]:
    """Changes what ``assignments`` say and keeps the rest: ``(images, {"from": {...}, "to": {...}})``.

    Any translator whose query expert reads named columns edits this way (``fmnist-attr``:
    ``class=dress``; ``shapes-attr``: ``shape=``, ``colour=``, ``size=``, ``position=``,
    ``style=``; one trained on your own columns: ``fg=red``). The image's current values
    are ``source`` (``NAME=VALUE`` items, or a bare value for one column) and, for the
    columns it does not give, the verdict of the classifier the translator names.
    """
    t.require_inverse()  # before reading the image's values: a regression cannot edit at all
    columns = _columns_or_refuse(t)
    sets = parse_values(t, assignments if not isinstance(assignments, str) else [assignments], flag="--set")
    given = parse_values(t, source, flag="--from") if source is not None else {}
    current: dict[str, list[str]] = {c: [v] for c, v in given.items()}
    if any(c not in current for c in columns):
        # a class given with --from is the one the garment's width level is measured within
        classes = [columns["class"].index(given["class"])] if "class" in given and "class" in columns else None
        current = {**read_attributes(t, image, classes=classes), **current}
    images = edit_attributes(t, image, current, [sets], n=n, temperature=temperature, seed=seed)
    return images, {"from": {k: current[k][0] for k in sets}, "to": sets}


def read_image_for(translator: Translator | None, path: Any) -> Tensor:
    """An image file as ``(1, C, H, W)`` for ``translator``: in colour at its own size when the
    translator's target expert reads colour (the shapes domain), else Fashion-MNIST's way
    (grey 28×28, a light product photo inverted). The translator converts it further."""
    from net2net.data.convert import image_spec
    from net2net.imageio import load_image

    if translator is not None and image_spec(translator.target).channels == 3:
        return load_image(path, None, invert=False, channels=3)
    return load_image(path)


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
        columns = _columns_or_refuse(translator)
        value, flag = (label, "--class") if label is not None else (prompt, "--prompt")
        if value is None or (isinstance(value, str) and not value.strip()):
            example = ", ".join(f"{c}={vs[0]}" for c, vs in columns.items())
            raise ValueError(f"{translator.name} reads {', '.join(columns)}: pass --class '{example}'"
                             + (f" (one of {', '.join(columns['class'])})" if list(columns) == ["class"] else ""))
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        values = parse_values(translator, value, flag=flag, every=True)
        return [_row(translator, columns, values)]
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
    """The query each image would have had: its columns as the classifier the translator names
    reads them (label translators), else its domain's reading (caption, derived image)."""
    from net2net.zoo.scoring import query_of_images

    if attribute_columns(translator) and translator.info.get("judge"):
        return attribute_query(translator, read_attributes(translator, images))
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
