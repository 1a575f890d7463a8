"""Experts by name: a plain dict of factories, plus Python's plug-in convention.

A factory is any callable ``factory(*, device="cpu", **options) -> Expert`` (``layer``
is one of the options, passed only when given). Three ways to make one known:

1. In Python: :func:`register_expert` (``register_expert("my-resnet", make_resnet)``).
2. From an installed package, by entry points (the packaging convention; read with
   :func:`importlib.metadata.entry_points`). In the package's ``pyproject.toml``::

       [project.entry-points."net2net.experts"]
       my-resnet = "my_package.experts:make_resnet"      # one expert, loaded when asked for

       [project.entry-points."net2net.expert_providers"]
       my-zoo = "my_package.zoo:register_experts"        # register(register_expert) adds several

   The zoo of net2net itself is such a provider (``net2net-zoo``).
3. By a spec in place of a name, on the command line or in Python:
   ``get_expert("path/to/file.py:make_resnet")`` or ``get_expert("my_package.experts:make_resnet")``.
   A spec runs code, so translator folders (untrusted) may not name one
   (see :meth:`net2net.translator.Translator.from_pretrained`).

Why a built-in default for the zoo's provider: net2net's own entry points exist only
in an installed distribution's metadata. Run from a source tree (``PYTHONPATH=src``) or
from an editable install made from another checkout, that metadata is absent or
stale; the registry then adds the zoo's provider itself (:data:`BUILTIN_PROVIDERS`),
under the same name, so the zoo's experts are there either way and never twice.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from net2net.experts.base import Expert

__all__ = [
    "BUILTIN_PROVIDERS",
    "EXPERTS",
    "EXPERT_TRAINERS",
    "ENTRY_POINT_GROUP",
    "PROVIDER_GROUP",
    "ExpertFactory",
    "available_experts",
    "get_expert",
    "is_spec",
    "load_factory",
    "check_expert",
    "expert_trainer",
    "register_expert",
    "register_expert_trainer",
]

ExpertFactory = Callable[..., Expert]

#: name -> factory. Plain dict: read it, or add to it with :func:`register_expert`.
EXPERTS: dict[str, ExpertFactory] = {}

#: entry-point group of single experts: ``name = "module:factory"``.
ENTRY_POINT_GROUP = "net2net.experts"
#: entry-point group of providers: ``name = "module:register"``, called as ``register(register_expert)``.
PROVIDER_GROUP = "net2net.expert_providers"
#: The factory a provider registers for expert *folders* (``config.json`` + weights, the
#: :mod:`net2net.models` format): ``get_expert("path/to/folder")`` calls it with ``path=``.
FOLDER_EXPERT = "expert-folder"
#: providers added when the installed metadata lacks them (see the module docstring).
BUILTIN_PROVIDERS: dict[str, str] = {"net2net-zoo": "net2net.zoo:register_experts"}

_providers_loaded = False


def register_expert(name: str, factory: ExpertFactory, *, overwrite: bool = False) -> ExpertFactory:
    """Makes ``get_expert(name)`` call ``factory``. Re-registering a name needs ``overwrite=True``."""
    if not isinstance(name, str) or not name or any(c in name for c in "/\\ :"):
        raise ValueError(f"expert name must be a non-empty string without '/', '\\', ':' or spaces, got {name!r}")
    if name in EXPERTS and EXPERTS[name] is not factory and not overwrite:
        raise ValueError(f"an expert named {name!r} is already registered; pass overwrite=True to replace it")
    EXPERTS[name] = factory
    return factory


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=group))


def _provider_entry_points() -> list[importlib.metadata.EntryPoint]:
    found = _entry_points(PROVIDER_GROUP)
    names = {ep.name for ep in found}
    for name, value in BUILTIN_PROVIDERS.items():
        if name not in names:
            found.append(importlib.metadata.EntryPoint(name=name, value=value, group=PROVIDER_GROUP))
    return found


def _load_providers(*, again: bool = False) -> None:
    """Lets every provider register its experts (once; ``again`` asks them anew, e.g. after
    ``NET2NET_ZOO`` pointed the zoo at another folder)."""
    global _providers_loaded
    if _providers_loaded and not again:
        return
    _providers_loaded = True
    for ep in _provider_entry_points():
        register = ep.load()
        # Names already taken (the user's own, or a re-import) are left as they are.
        register(lambda n, f: None if n in EXPERTS else register_expert(n, f))


def _single_entry_point(name: str) -> ExpertFactory | None:
    for ep in _entry_points(ENTRY_POINT_GROUP):
        if ep.name == name:
            factory = ep.load()
            if not callable(factory):
                raise ValueError(f"entry point {name} = {ep.value!r} ({ENTRY_POINT_GROUP}) is not callable")
            return register_expert(name, factory)
    return None


#: kind -> ``trainer(dataset, out, **options) -> metrics``: trains an image expert of that
#: kind on a data set and writes it as an expert folder (``net2net.train_expert``,
#: ``net2net expert train KIND``). The zoo registers ``autoencoder`` and ``classifier``
#: when its provider loads, so the core reaches the zoo's nets without importing it.
EXPERT_TRAINERS: dict[str, Callable[..., dict[str, Any]]] = {}


def register_expert_trainer(kind: str, trainer: Callable[..., dict[str, Any]], *, overwrite: bool = False) -> None:
    """Makes ``expert_trainer(kind)`` return ``trainer``. Re-registering needs ``overwrite=True``."""
    if kind in EXPERT_TRAINERS and EXPERT_TRAINERS[kind] is not trainer and not overwrite:
        raise ValueError(f"an expert trainer of kind {kind!r} is already registered; pass overwrite=True to replace it")
    EXPERT_TRAINERS[kind] = trainer


def expert_trainer(kind: str) -> Callable[..., dict[str, Any]]:
    """The trainer registered for ``kind`` (after the providers have registered theirs)."""
    _load_providers()
    if kind not in EXPERT_TRAINERS:
        known = ", ".join(sorted(EXPERT_TRAINERS)) or "none (the zoo registers them; reinstall net2net)"
        raise ValueError(f"unknown expert kind {kind!r}; choose one of {known}")
    return EXPERT_TRAINERS[kind]


def available_experts() -> list[str]:
    """Every registered name: built-ins, providers and single entry points (not loaded)."""
    _load_providers()
    return sorted(set(EXPERTS) | {ep.name for ep in _entry_points(ENTRY_POINT_GROUP)})


def is_spec(name: str) -> bool:
    """Whether ``name`` is a ``file.py:factory`` or ``module:factory`` spec rather than a registered name."""
    return isinstance(name, str) and ":" in name


def load_factory(spec: str) -> ExpertFactory:
    """The callable named by ``path/to/file.py:factory`` or ``package.module:factory`` (runs that code)."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr.isidentifier():
        raise ValueError(f"expert spec {spec!r} must be path/to/file.py:factory or package.module:factory")
    if target.endswith(".py"):
        path = Path(target).expanduser()
        if not path.is_file():
            raise ValueError(f"expert spec {spec!r}: no such file {path}")
        mod_name = f"net2net_user_expert_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(mod_name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ValueError(f"expert spec {spec!r}: cannot import {path}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            try:
                loader_spec.loader.exec_module(module)
            except (KeyboardInterrupt, SystemExit):
                del sys.modules[mod_name]
                raise
            except BaseException as e:  # the user's code: a syntax error, a failed import, anything it raises
                del sys.modules[mod_name]
                where = f" (line {e.lineno})" if isinstance(e, SyntaxError) and e.lineno else ""
                raise ValueError(f"expert spec {spec!r}: importing {path} failed: "
                                 f"{type(e).__name__}{where}: {e.msg if isinstance(e, SyntaxError) else e}") from None
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as e:
            raise ValueError(f"expert spec {spec!r}: no module {e.name!r} (is it installed, or on PYTHONPATH?)") from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            raise ValueError(f"expert spec {spec!r}: importing {target} failed: {type(e).__name__}: {e}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"expert spec {spec!r}: {target} has no callable {attr!r}")
    return factory


def _check_options(name: str, factory: ExpertFactory, options: dict[str, Any]) -> None:
    """Unknown options are a one-line error naming the valid ones, not a ``TypeError``."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and C callables: let the call speak
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - {"device"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"expert {name!r} takes no option(s) {unknown}; "
                         f"it takes {', '.join(sorted(accepted)) if accepted else 'no options'}")


def get_expert(name: str, *, device: str = "cpu", layer: str | None = None, **options: Any) -> Expert:
    """Builds the expert registered as ``name``, named by a spec (``file.py:factory``, ``module:factory``),
    or stored in the folder ``name`` (``config.json`` + weights, e.g. from ``net2net expert train``).

    ``layer`` is passed on only when given. Unknown names list the known ones;
    unknown options list the options the factory takes.
    """
    folder = Path(name).expanduser()
    if not is_spec(name) and (folder / "config.json").is_file():  # an expert folder, e.g. from `net2net expert train`
        _load_providers()
        if FOLDER_EXPERT not in EXPERTS:
            raise ValueError(f"{name} is an expert folder, but no installed provider reads expert folders "
                             f"(the zoo registers {FOLDER_EXPERT!r}); reinstall net2net")
        if layer is not None:
            options["layer"] = layer
        _check_options(FOLDER_EXPERT, EXPERTS[FOLDER_EXPERT], {**options, "path": str(folder)})
        return EXPERTS[FOLDER_EXPERT](device=device, path=str(folder.resolve()), **options)
    if is_spec(name):
        factory = load_factory(name)
    else:
        factory = EXPERTS.get(name) or _single_entry_point(name)
        if factory is None:
            _load_providers(again=_providers_loaded)  # a provider may offer names it did not before
            factory = EXPERTS.get(name)
        if factory is None:
            raise ValueError(f"no expert named {name!r}; choose one of {', '.join(available_experts())}, "
                             "or name your own as path/to/file.py:factory or package.module:factory, "
                             "or register it (entry point group net2net.experts, see docs/experts.md)")
    if layer is not None:
        options["layer"] = layer
    _check_options(name, factory, options)
    if not is_spec(name):
        return factory(device=device, **options)
    try:  # the user's code: whatever it raises becomes one line naming the spec
        expert = factory(device=device, **options)
    except ValueError as e:
        raise ValueError(f"expert spec {name!r}: {e}") from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        raise ValueError(f"expert spec {name!r}: the factory raised {type(e).__name__}: {e}") from None
    return check_expert(expert, f"expert spec {name!r}")


def check_expert(expert: Any, where: str) -> Expert:
    """``expert`` if it keeps the protocol (``name``, a positive ``dim``, ``encode``,
    ``fingerprint()`` giving a string), else one line saying what is missing."""
    missing = [a for a in ("name", "dim", "encode", "fingerprint") if not hasattr(expert, a)]
    if missing:
        raise ValueError(f"{where} returned {type(expert).__name__}, not an expert: it lacks {', '.join(missing)} "
                         "(see docs/experts.md for the protocol)")
    dim = expert.dim
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ValueError(f"{where}: the expert's dim must be a positive integer, got {dim!r}")
    if not callable(expert.encode) or not callable(expert.fingerprint):
        raise ValueError(f"{where}: the expert's encode and fingerprint must be methods")
    try:
        fp = expert.fingerprint()
    except Exception as e:
        raise ValueError(f"{where}: the expert's fingerprint() raised {type(e).__name__}: {e}") from None
    if not isinstance(fp, str) or not fp:
        raise ValueError(f"{where}: the expert's fingerprint() must return a non-empty string, got {fp!r}")
    return expert


def _minilm(*, device: str = "cpu", layer: str | None = None, normalize: bool = True, batch_size: int = 64) -> Expert:
    """The packaged MiniLM; ``layer`` reads one of its layers (or several joined by ``+``)
    mean-pooled, instead of its sentence embedding."""
    from net2net.experts.text import SentenceTransformerExpert

    return SentenceTransformerExpert(device=device, layer=layer, normalize=normalize, batch_size=batch_size)


def _onehot(*, device: str = "cpu", **options: Any) -> Expert:
    from net2net.experts.labels import OneHotExpert

    if "layer" in options:
        raise ValueError("the label expert 'onehot' has no layers to choose from; drop --layer")
    return OneHotExpert(device=device, **options)


def _multihot(*, device: str = "cpu", attributes: str | list[str] | None = None, **options: Any) -> Expert:
    from net2net.experts.labels import MultiHotExpert

    if "layer" in options:
        raise ValueError("the label expert 'multihot' has no layers to choose from; drop --layer")
    if isinstance(attributes, str):  # a translator folder's options are plain values: "fg=red,fg=blue,bg=black"
        attributes = [a.strip() for a in attributes.split(",") if a.strip()]
    if not attributes:
        raise ValueError("the label expert 'multihot' needs attributes, e.g. attributes='fg=red,fg=blue,bg=black'")
    return MultiHotExpert(attributes, device=device, **options)


def _random_conv(*, device: str = "cpu", layer: str | None = None, seed: int = 0, pool: str = "avg") -> Expert:
    # A small randomly initialised conv net tapped at a layer: a stand-in image expert
    # (random features are a legitimate, if weak, representation).
    import torch
    from torch import nn

    from net2net.experts.tap import LayerTap

    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
    )
    with torch.no_grad():  # seeded init, independent of the global RNG
        for p in net.parameters():
            if p.dim() == 1:
                p.zero_()
            else:  # uniform with fan-in scaling, like PyTorch's default but seeded locally
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / (p[0].numel() ** 0.5))
    return LayerTap(net, layer if layer is not None else "7", pool=pool, example=torch.zeros(1, 1, 28, 28),
                    name=f"random-conv{seed}", device=device)


register_expert("minilm", _minilm)
register_expert("onehot", _onehot)
register_expert("multihot", _multihot)
register_expert("random-conv", _random_conv)
