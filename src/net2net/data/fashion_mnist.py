"""Fashion-MNIST, read from local files (no download unless asked for).

Where it looks, in order: ``$NET2NET_DATA/fashion-mnist`` (or ``$NET2NET_DATA`` itself),
the user cache ``~/.cache/net2net/fashion-mnist``, and the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``). Files are the
original IDX ``.gz`` files; a truncated or corrupt file is an error, never a silent
partial data set.

Images are returned as ``uint8`` arrays ``(N, 28, 28)``; :func:`to_float` turns them into
the project's image convention, ``float32`` tensors ``(N, 1, H, W)`` in ``[0, 1]``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "CLASS_NAMES",
    "class_index",
    "load_fashion_mnist",
    "find_fashion_mnist",
    "download_fashion_mnist",
    "to_float",
    "dataset_fingerprint",
]

#: Fashion-MNIST's ten classes, as the CLI spells them.
CLASS_NAMES: tuple[str, ...] = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle-boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}
_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
_HINT = (
    "install the Debian package (apt-get install dataset-fashion-mnist), or put the four "
    "IDX .gz files in $NET2NET_DATA/fashion-mnist, or run "
    "`python -c 'import net2net.data.fashion_mnist as f; f.download_fashion_mnist()'` where the internet is reachable"
)


def class_index(name: str | int) -> int:
    """``'Ankle-Boot'``, ``'ankle boot'``, ``'9'`` or ``9`` -> 9; anything else is a ValueError."""
    if isinstance(name, int) and not isinstance(name, bool):
        idx = name
    else:
        s = str(name).strip().lower().replace("_", "-").replace(" ", "-")
        aliases = {"tshirt": "t-shirt", "t-shirt/top": "t-shirt", "top": "t-shirt", "boot": "ankle-boot", "ankleboot": "ankle-boot"}
        s = aliases.get(s, s)
        if s.isdigit():
            idx = int(s)
        elif s in CLASS_NAMES:
            return CLASS_NAMES.index(s)
        else:
            raise ValueError(f"unknown class {name!r}; choose one of {', '.join(CLASS_NAMES)} or an index 0-9")
    if not 0 <= idx < len(CLASS_NAMES):
        raise ValueError(f"class index {idx} is out of range; use 0-9")
    return idx


def _candidates() -> list[Path]:
    out = []
    if os.environ.get("NET2NET_DATA"):
        root = Path(os.environ["NET2NET_DATA"])
        out += [root / "fashion-mnist", root]
    out.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "net2net" / "fashion-mnist")
    out.append(_DEBIAN)
    return out


def find_fashion_mnist() -> Path:
    """The first folder that holds all four files, or a ValueError saying how to get them."""
    need = [name for imgs, labels, _ in _FILES.values() for name in (imgs, labels)]
    tried = _candidates()
    for folder in tried:
        if all((folder / n).is_file() for n in need):
            return folder
    raise ValueError(f"Fashion-MNIST not found (looked in {', '.join(map(str, tried))}); {_HINT}")


def _read_idx(path: Path, magic: int, count: int, item_shape: tuple[int, ...]) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot be read as gzip ({e}); the file is truncated or corrupt - reinstall it") from None
    header = 4 * (1 + 1 + len(item_shape))
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise ValueError(f"{path}: not an IDX file of the expected kind; reinstall it")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(1 + len(item_shape))]
    expected = [count, *item_shape]
    if dims != expected or len(raw) != header + int(np.prod(expected)):
        raise ValueError(f"{path}: holds {dims} items ({len(raw)} bytes), expected {expected}; the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(expected)


@lru_cache(maxsize=4)
def _load(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    imgs, labels, count = _FILES[split]
    x = _read_idx(Path(folder) / imgs, 2051, count, (28, 28))
    y = _read_idx(Path(folder) / labels, 2049, count, ())
    if y.max() >= len(CLASS_NAMES):
        raise ValueError(f"{Path(folder) / labels}: labels out of range; the file is corrupt")
    return x, y.astype(np.int64)


def load_fashion_mnist(split: str = "train", folder: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N, 28, 28), labels int64 (N,))`` of ``split`` ('train' or 'test').

    Example:
        >>> x, y = load_fashion_mnist("test")   # doctest: +SKIP
        >>> x.shape, y.shape
        ((10000, 28, 28), (10000,))
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(folder) if folder is not None else find_fashion_mnist()
    x, y = _load(str(root), split)
    return x, y


def dataset_fingerprint(split: str, folder: str | os.PathLike | None = None) -> str:
    """sha256 of the split's two files: part of every feature-store key."""
    root = Path(folder) if folder is not None else find_fashion_mnist()
    h = hashlib.sha256()
    for name in _FILES[split][:2]:
        h.update((root / name).read_bytes())
    return h.hexdigest()


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W)`` or ``(N, 1, H, W)`` -> float32 ``(N, 1, H, W)`` in ``[0, 1]``."""
    t = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    if t.dim() == 3:
        t = t[:, None]
    return t.float() / 255.0


def download_fashion_mnist(dest: str | os.PathLike | None = None) -> Path:  # pragma: no cover - needs internet
    """Downloads the four files from the official mirror into ``dest`` (default: the user cache)."""
    dest = Path(dest) if dest is not None else _candidates()[-2]
    dest.mkdir(parents=True, exist_ok=True)
    for imgs, labels, _ in _FILES.values():
        for name in (imgs, labels):
            target = dest / name
            if not target.is_file():
                tmp = target.with_suffix(".part")
                urllib.request.urlretrieve(_URL + name, tmp)
                os.replace(tmp, target)
    return dest
