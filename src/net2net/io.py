"""Files, written so that a crash never leaves half of one behind.

Every write goes to a temporary name in the same folder, is flushed and fsynced, then
renamed over the target (``os.replace`` is atomic on POSIX), and the folder is fsynced
so the rename itself survives a power cut. Reads of safetensors and JSON turn the
libraries' low-level errors into ``ValueError``s that name the file and say what to do.
Pickles are never read unless the caller says ``trust_pickle=True`` (``net2net convert``),
and then only through ``torch.load(weights_only=True)``. A full disk while writing is an
``OSError`` (ENOSPC) that names the target; the target is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load_bytes
from safetensors.torch import save as st_save_bytes

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_directory",
    "save_tensors",
    "load_tensors",
    "read_json",
    "fsync_dir",
    "PICKLE_SUFFIXES",
]

#: file endings of pickle-based checkpoints, refused unless ``trust_pickle=True``.
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".pkl", ".bin"})


def _no_space(e: OSError, path: Path) -> OSError:
    """ENOSPC raised while writing a temporary file, re-raised naming the real target."""
    return OSError(errno.ENOSPC, "no space left on device while writing", str(path))


def _file_mode() -> int:
    # mkstemp creates 0600 files; a finished file should get the usual permissions.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()


def fsync_dir(path: Path) -> None:
    """Makes a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file, read in 4 MiB blocks (weights and shards can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise _no_space(e, path) from None
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: str | os.PathLike, obj: object) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yields a temporary folder that becomes ``path`` only if the block completes.

    An existing ``path`` is replaced (or, with ``overwrite=False``, kept and an error
    raised) only after the new folder is complete; a crash leaves at most a hidden
    ``.name.tmp-*`` folder, which later calls ignore.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True or choose another folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~(0o666 ^ _MODE))
        yield tmp
        for child in tmp.iterdir():
            if child.is_file():
                with open(child, "rb") as f:
                    os.fsync(f.fileno())
        fsync_dir(tmp)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise _no_space(e, path) from None
        raise


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Saves tensors as safetensors, atomically. Shared storage is copied, not aliased."""
    flat = {k: v.detach().contiguous().cpu().clone() for k, v in tensors.items()}
    atomic_write_bytes(path, st_save_bytes(flat, metadata=metadata))


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu", *,
                 trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Loads a safetensors file; a missing, truncated or corrupt file is a ``ValueError``.

    A pickle-based checkpoint (``.pt``, ``.pth``, ``.ckpt``, ``.pkl``, ``.bin``) is
    refused: unpickling can run code. With ``trust_pickle=True`` it is read by
    ``torch.load(weights_only=True)`` (plain containers of tensors only) and nested
    dicts are flattened with dots; anything but tensors is refused.
    """
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES and not trust_pickle:
        raise ValueError(
            f"{path}: refusing to read a pickle-based checkpoint (it can run code); "
            f"if you trust its source, convert it first: net2net convert {path} "
            f"{path.with_suffix('.safetensors')} --trust-pickle"
        )
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix in PICKLE_SUFFIXES:
        return {k: v.to(device) for k, v in _load_pickle(path).items()}
    data = path.read_bytes()
    try:
        tensors = st_load_bytes(data)
    except (SafetensorError, Exception) as e:  # the Rust reader raises several types
        raise ValueError(
            f"{path}: not a valid safetensors file ({e}); it may be truncated or corrupt - "
            "re-create it (rerun the command that wrote it)"
        ) from None
    return {k: v.to(device) for k, v in tensors.items()}


def _load_pickle(path: Path) -> dict[str, torch.Tensor]:
    """A trusted pickle checkpoint as a flat ``{dotted.name: tensor}`` dict."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - the unpickler raises anything; weights_only refusals included
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: cannot read it as a checkpoint of plain tensors ({first})") from None
    flat: dict[str, torch.Tensor] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, torch.Tensor):
            flat[prefix] = value
        elif isinstance(value, dict):
            if not value and prefix:
                return
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            raise ValueError(f"{path}: {prefix or 'the file'} is a {type(value).__name__}, not a tensor; "
                             "only (nested) dicts of tensors can be converted")

    walk("", obj)
    if not flat:
        raise ValueError(f"{path}: holds no tensors")
    return flat


def read_json(path: str | os.PathLike) -> dict:
    """Reads a JSON object; a missing or malformed file is a ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj
