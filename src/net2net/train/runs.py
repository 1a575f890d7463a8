"""Run folders: who owns a folder that ``net2net train`` writes into.

A run folder holds what training writes (``checkpoints/``, ``model/``, ``best/``,
``translator/``, ``metrics.json``) and a run record, ``run.json``, that names its owner.
Training replaces those names wholesale (through :func:`net2net.io.atomic_directory`), so
a folder that is not empty and carries no run record may hold someone's files under the
same names: it is refused before any work, unless the caller says ``overwrite``. Files
of other names in a run folder are never touched.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from net2net.io import atomic_write_json
from net2net.preflight import check_writable
from net2net.train.checkpoints import latest_checkpoint

__all__ = ["RUN_FILE", "OWNER", "WRITES", "claim_run_folder", "is_run_folder", "read_run_record"]

RUN_FILE = "run.json"
OWNER = "net2net train"
#: the names training writes into a run folder (and may replace).
WRITES = ("checkpoints", "model", "best", "last", "translator", "translator-best", "translator-last", "metrics.json",
          RUN_FILE)
#: left by training itself: the lock, and hidden temporaries of killed writers.
_OWN_HIDDEN = (".lock",)


def read_run_record(out: str | os.PathLike) -> dict[str, Any] | None:
    """``out/run.json`` if it is a net2net run record, else None (missing, unreadable or foreign)."""
    path = Path(out) / RUN_FILE
    try:
        record = json.loads(path.read_bytes()[:65536])
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("owner") == OWNER else None


def is_run_folder(out: str | os.PathLike) -> bool:
    """A folder net2net trained into: it has a run record, or (runs made before the record
    existed) a complete checkpoint."""
    if read_run_record(out) is not None:
        return True
    try:
        return latest_checkpoint(out) is not None
    except ValueError:  # a broken pointer: not proof of a run
        return False


def _foreign(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name not in _OWN_HIDDEN and not p.name.startswith(".step-")
                  and not (p.name.startswith(".") and (".tmp" in p.name or ".old-" in p.name)))


def claim_run_folder(out: str | os.PathLike, *, what: str = "--out", overwrite: bool = False,
                     recipe: str | None = None, record: bool = True) -> Path:
    """Checks that training may write into ``out`` and records net2net as its owner.

    Called before any work (feature extraction included), so a refused folder costs
    nothing. ``out`` may be missing, empty, or a net2net run folder; anything else is
    refused unless ``overwrite`` is true. With ``record`` false it only checks (for a
    caller that has work to do before training starts and must leave nothing behind if
    that work fails).

    Raises:
        ValueError: one line naming the folder, what is in it, and the two ways out.
    """
    out = check_writable(out, what)
    if out.is_dir() and not is_run_folder(out):
        names = _foreign(out)
        if names and not overwrite:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            raise ValueError(f"{what}: {out} is not empty ({shown}) and is not a net2net run folder (it has no "
                             f"{RUN_FILE}); choose a new or empty folder, or pass --overwrite to let training write there "
                             "(it replaces checkpoints/, model/, best/, last/, translator*/ and metrics.json)")
    for name in WRITES:  # what training will write must be able to take the place it finds
        path = out / name
        want_file = name.endswith(".json")
        if path.exists() and (path.is_dir() if want_file else not path.is_dir()):
            have, need = ("a folder", "a file") if want_file else ("a file", "a folder")
            raise ValueError(f"{what}: {path} is {have} where training writes {need}; move it or choose another folder")
    if record and read_run_record(out) is None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / RUN_FILE, {
            "owner": OWNER, "recipe": recipe, "writes": list(WRITES),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    return out
