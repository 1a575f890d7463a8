"""Image domains: what the zoo knows about the images a translator makes, as objects.

A translator's images belong to a domain (Fashion-MNIST, the generated colour shapes,
...): the data set its test split comes from, the zoo classifier that reads its images
(the judge: re-ranking, evaluation, an image's attributes), the target experts whose
translators are in it, and how the zoo reads a query back from its images. The zoo
fills :data:`DOMAINS` (below); a project adds its own with :func:`register_domain`.

:func:`domain_of` is the one place a translator's domain is decided: its folder's
``info["domain"]``, else the domain that owns its target expert. A translator of no
known domain is a ``ValueError`` naming what is known, never silently "Fashion-MNIST".
Evaluation (:mod:`net2net.evaluate.translators`) keeps one evaluator per domain name.

Example:
    >>> from net2net.zoo.domains import DOMAINS
    >>> DOMAINS["shapes"].judge
    'shapes-classifier'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import Tensor

if TYPE_CHECKING:
    from net2net.translator import Translator

__all__ = ["DOMAINS", "ImageDomain", "domain_named", "domain_of", "find_domain", "register_domain", "translators_of"]


@dataclass(frozen=True)
class ImageDomain:
    """One image domain.

    Attributes:
        name: the key, and what a translator folder's ``info["domain"]`` says.
        dataset: the registered data set its test queries come from.
        judge: the zoo classifier that reads its images.
        targets: target experts whose translators belong here (folders without ``info["domain"]``).
        read_query: ``(translator, images) -> queries`` the translator's query expert would
            have been given for these images (re-ranking, exemplars).
        prompt: an example prompt, for messages and the app.
        title: how the app names the domain's tab.
    """

    name: str
    dataset: str
    judge: str
    targets: tuple[str, ...] = ()
    read_query: Callable[[Translator, Tensor], Any] | None = field(default=None, compare=False)
    prompt: str = ""
    title: str = ""


#: name -> ImageDomain, filled by the zoo (:mod:`net2net.zoo.scoring` adds the query readers).
DOMAINS: dict[str, ImageDomain] = {}


def register_domain(domain: ImageDomain, *, overwrite: bool = False) -> ImageDomain:
    """Adds ``domain`` to :data:`DOMAINS` (``overwrite`` replaces one of the same name)."""
    if not isinstance(domain, ImageDomain) or not domain.name:
        raise ValueError(f"register an ImageDomain with a name, got {domain!r}")
    if domain.name in DOMAINS and not overwrite:
        raise ValueError(f"a domain named {domain.name!r} is already registered; pass overwrite=True to replace it")
    DOMAINS[domain.name] = domain
    return domain


def domain_named(info: Mapping[str, Any], target: str) -> ImageDomain | None:
    """The domain of a translator with this ``info`` and target expert name: ``info["domain"]``,
    else the one owning the target, else None (a folder's JSON is enough; nothing is loaded)."""
    named = info.get("domain")
    if named:
        return DOMAINS.get(str(named))
    return next((d for d in DOMAINS.values() if target in d.targets), None)


def find_domain(t: Translator) -> ImageDomain | None:
    """``t``'s domain: its ``info["domain"]``, else the one owning its target expert, else None."""
    return domain_named(t.info, t.target_ref.name if t.target_ref is not None else "")


def translators_of(domain: str) -> dict[str, dict[str, Any]]:
    """name -> info of the translators on the search path whose domain is ``domain`` (read from
    their folders' ``translator.json``, nothing loaded)."""
    from net2net.io import read_json
    from net2net.translator import available_translators, find_translator

    out = {}
    for name in available_translators():
        folder = find_translator(name)
        m = read_json(folder / "translator.json") if folder is not None else {}
        found = domain_named(m.get("info", {}), m.get("target", {}).get("name", ""))
        if found is not None and found.name == domain:
            out[name] = m.get("info", {})
    return out


def domain_of(t: Translator) -> ImageDomain:
    """``t``'s domain; a ``ValueError`` naming the known ones when it has none of them."""
    found = find_domain(t)
    if found is not None:
        return found
    named = t.info.get("domain")
    target = t.target_ref.name if t.target_ref is not None else "?"
    why = f"its folder says domain {named!r}" if named else f"its target expert {target!r} belongs to none"
    known = "; ".join(f"{d.name} (target {', '.join(d.targets) or '-'})" for d in DOMAINS.values())
    raise ValueError(f"{t.name}'s image domain is unknown ({why}); known: {known}. Register yours with "
                     "net2net.zoo.domains.register_domain, or record info.domain in the translator's recipe")


register_domain(ImageDomain("fashion-mnist", dataset="fashion-mnist", judge="fmnist-classifier",
                            targets=("fmnist-ae", "fmnist-gan", "fmnist-gan-dequant"),
                            prompt="a dark pair of trousers", title="Fashion-MNIST"))
register_domain(ImageDomain("shapes", dataset="shapes", judge="shapes-classifier", targets=("shapes-ae",),
                            prompt="a big red star", title="Shapes (colour)"))
