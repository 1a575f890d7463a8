"""Checks made before any work starts, so a run never fails at its end for a reason
known at its beginning: an output folder that cannot be written, a device that does not
exist, a seed or thread count out of range, a candidate count that cannot fit in memory.

Every check raises ``ValueError`` with one line that names the flag or file and says
the fix; the CLI prints it as ``net2net COMMAND: error: ...`` (exit 2).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import torch

__all__ = [
    "MAX_CANDIDATES",
    "MAX_SEED",
    "MAX_THREADS",
    "check_device",
    "check_rerank",
    "check_seed",
    "check_threads",
    "check_writable",
]

#: the largest seed torch's generators take (a signed 64-bit integer).
MAX_SEED = 2**63 - 1
#: ``--threads`` above this is refused: more threads than any machine has cores only
#: waits for itself, and very large counts exhaust the process's thread limit (segfault).
MAX_THREADS = 1024
#: ``rerank × n`` candidates at most per query: each is decoded to an image and scored,
#: so memory grows with the product (4096 28×28 images and their codes are ~100 MB).
MAX_CANDIDATES = 4096


def _reason(e: OSError) -> str:
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "read-only file system"
    if e.errno == errno.ENOSPC:
        return "no space left on device"
    return (e.strerror or type(e).__name__).lower()


def check_writable(path: str | os.PathLike, what: str = "--out") -> Path:
    """Checks that ``path`` (a folder) exists and is writable, or can be created.

    Nothing is left behind: when ``path`` does not exist yet, the nearest existing
    ancestor is probed instead (a command that later fails on bad input must not leave
    an empty output folder). The probe writes and removes a hidden file.

    Args:
        path: the output folder.
        what: how the user named it (a flag or a field), for the message.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: ``what: cannot write to PATH (reason); choose a folder you can write to``.
    """
    path = Path(path)

    def fail(reason: str) -> ValueError:
        return ValueError(f"{what}: cannot write to {path} ({reason}); choose a folder you can write to")

    probe_dir = path.absolute()
    while not probe_dir.exists():
        if probe_dir.is_symlink():  # a dangling link: creating the folder would fail
            raise fail(f"{probe_dir} is a broken link")
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise fail(f"{probe_dir} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".net2net-probe-", dir=probe_dir)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise fail(_reason(e)) from None
    return path


def check_device(name: object, what: str = "--device") -> torch.device:
    """``name`` as a ``torch.device`` that exists here ("auto" is the GPU when there is one)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what}: expected a device name like 'cpu', 'cuda' or 'cuda:1', got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"{what}: {name!r} is not a device; use 'cpu', 'cuda', 'cuda:N' or 'auto'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{what}: {name!r} asked for, but this torch has no usable CUDA device "
                             f"(built with CUDA: {torch.version.cuda is not None}); use 'cpu' or 'auto'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{what}: {name!r} asked for, but there are {torch.cuda.device_count()} CUDA devices")
    elif dev.type not in ("cpu", "mps"):
        raise ValueError(f"{what}: {name!r} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'auto'")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{what}: 'mps' asked for, but no MPS device is available; use 'cpu'")
    return dev


def check_seed(seed: object, what: str = "--seed") -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{what} must be a whole number between 0 and {MAX_SEED} (2**63-1), got {seed!r}")
    return seed


def check_threads(n: object, what: str = "--threads") -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{what} must be between 1 and {MAX_THREADS}, got {n!r} (this machine has {os.cpu_count()} cores)")
    return n


def check_rerank(rerank: object, n: int, what: str = "--rerank") -> int:
    """``rerank`` draws ``rerank × n`` candidates per query; the product is bounded."""
    if not isinstance(rerank, int) or isinstance(rerank, bool) or rerank < 1:
        raise ValueError(f"{what} must be a whole number >= 1, got {rerank!r}")
    if rerank * n > MAX_CANDIDATES:
        raise ValueError(f"{what} {rerank} with -n {n} draws {rerank * n} candidates; the limit is {MAX_CANDIDATES} "
                         f"(choose {what} <= {max(1, MAX_CANDIDATES // n)} for -n {n})")
    return rerank
