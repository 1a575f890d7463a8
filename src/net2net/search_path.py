"""Where named experts and translators are looked up: ``$NET2NET_ZOO`` first, then the package.

One search path for both: a zoo folder holds experts (``NAME/config.json`` +
``NAME/model.safetensors``, as ``net2net zoo train NAME --out DIR`` writes them) and
translators (``NAME/translator.json`` + ``NAME/tau/``). The package's own are in
``zoo/weights/`` and ``zoo/translators/``. The first folder that holds a name wins, so
a folder in ``$NET2NET_ZOO`` shadows the shipped one of the same name.

``$NET2NET_ZOO`` is checked each time it is read, and a mistake is one ``ValueError``
line rather than a silent fall-back to the shipped files: a path that does not exist, a
file, or a sub-folder that is neither an expert nor a translator (say an expert's
``config.json`` without its weights, which would otherwise leave the shipped expert in
use).

This module is part of the core (it knows the zoo's folders by path, not by import).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["EXPERTS_DIR", "TRANSLATORS_DIR", "expert_folders", "translator_folders", "user_zoo", "is_expert",
           "is_translator"]

_ZOO = Path(__file__).resolve().parent / "zoo"
#: the package's zoo experts (one folder each).
EXPERTS_DIR = _ZOO / "weights"
#: the package's zoo translators (one folder each).
TRANSLATORS_DIR = _ZOO / "translators"
_FIX = "point it at a folder that `net2net zoo train NAME --out DIR` wrote, or unset it"


def is_expert(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def is_translator(folder: Path) -> bool:
    return (folder / "translator.json").is_file()


def user_zoo() -> Path | None:
    """``$NET2NET_ZOO`` as a checked folder, or None when it is unset.

    Raises:
        ValueError: it names nothing, a file, or holds a sub-folder that is neither an
            expert nor a translator (the message names it and says what is missing).
    """
    value = os.environ.get("NET2NET_ZOO", "")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.exists():
        raise ValueError(f"NET2NET_ZOO={value}: no such folder; {_FIX}")
    if not path.is_dir():
        raise ValueError(f"NET2NET_ZOO={value} is a file, not a folder; {_FIX}")
    for sub in sorted(path.iterdir()):
        if sub.name.startswith(".") or not sub.is_dir() or is_expert(sub) or is_translator(sub):
            continue  # hidden: a writer's temporary
        has = sorted(p.name for p in sub.iterdir() if not p.name.startswith("."))
        missing = "model.safetensors" if "config.json" in has else "config.json + model.safetensors, or translator.json"
        raise ValueError(f"NET2NET_ZOO={value}: {sub.name}/ is neither an expert nor a translator (it has "
                         f"{', '.join(has) or 'nothing'}; missing {missing}); complete it or remove it, "
                         "so that the shipped one is not used in its place")
    return path


def expert_folders() -> list[Path]:
    """Where experts are looked up, first match wins: ``$NET2NET_ZOO``, then the package."""
    extra = user_zoo()
    return [extra, EXPERTS_DIR] if extra is not None else [EXPERTS_DIR]


def translator_folders() -> list[Path]:
    """Where translators are looked up by name, first match wins: ``$NET2NET_ZOO``, then the package."""
    extra = user_zoo()
    return [extra, TRANSLATORS_DIR] if extra is not None else [TRANSLATORS_DIR]
