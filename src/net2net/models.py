"""One on-disk format for "config + weights", and τ's model kinds.

Every saved network of net2net (τ inside a translator folder, the zoo's experts, the
zoo's dequantiser, the trainer's final model) is a folder of two files:

``config.json``
    ``{"format": "net2net-model", "version": 2, "kind": ..., "config": {...},
    "extra": {...}, "weights": {"file": "model.safetensors", "sha256": ..., "bytes": ...}}``:
    the kind (a key of a registry such as :data:`MODELS`), the frozen config that
    rebuilds the network, free-form facts, and the size and sha256 of the weights.
``model.safetensors``
    the ``state_dict``; never a pickle.

A folder is something people download and share, so reading it trusts nothing
(:func:`read_folder`, :func:`load_checked`): the weights' size and sha256 must match
the record; the config's fields must have their declared types, finite numbers and
known names; every size in the config is bounded by what the weights' *header*
holds, and the network is then built on the ``meta`` device (no memory) and its
tensor names and shapes compared with the header - all before anything is
allocated or a weight is read.

Version 1 folders (net2net 0.1) record no checksum: they are refused with the command
that upgrades them once (``net2net convert FOLDER``, see :func:`upgrade_folder`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import struct
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load_bytes
from torch import Tensor, nn

from net2net.baselines import LinearConfig, LinearTranslator, MLPConfig, MLPTranslator
from net2net.flow import ConditionalFlowMatching, ConditionalINN, FlowConfig, FlowMatchingConfig
from net2net.io import atomic_directory, atomic_write_json, read_json, save_tensors, sha256_file

__all__ = [
    "CONFIG_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "MODELS",
    "WEIGHTS_FILE",
    "Saved",
    "adopt_weights",
    "build_model",
    "check_config",
    "config_from_dict",
    "load_checked",
    "load_model",
    "load_state_checked",
    "model_kind",
    "read_folder",
    "read_header",
    "register_model",
    "save_model",
    "upgrade_folder",
    "write_folder",
]

FORMAT = "net2net-model"
FORMAT_VERSION = 2
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

#: config fields that are not sizes, so not bounded by the weights (see :func:`check_sizes`).
NOT_SIZES = frozenset({"seed", "ode_steps"})
#: a safetensors header larger than this is refused before it is read.
MAX_HEADER_BYTES = 100 << 20

#: kind -> (model class, config dataclass). Classes have ``from_config`` and ``.config``.
MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "cinn": (ConditionalINN, FlowConfig),
    "flow-matching": (ConditionalFlowMatching, FlowMatchingConfig),
    "mlp": (MLPTranslator, MLPConfig),
    "linear": (LinearTranslator, LinearConfig),
}


def register_model(kind: str, cls: type[nn.Module], config_cls: type) -> None:
    """Adds a model kind, so that recipes and folders can name it."""
    if kind in MODELS and MODELS[kind] != (cls, config_cls):
        raise ValueError(f"model kind {kind!r} is already registered to {MODELS[kind][0].__name__}")
    MODELS[kind] = (cls, config_cls)


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in MODELS.items():
        if type(model) is cls:
            return kind
    raise ValueError(f"{type(model).__name__} is not a registered model kind; see register_model")


# --- configs: names, types, finite numbers ---------------------------------------------


def _check_value(value: Any, hint: Any, where: str) -> None:
    """Raises ``ValueError`` unless ``value`` (read from JSON) fits the type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        _check_finite(value, where)
        return
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        errors = []
        for h in args:
            try:
                _check_value(value, h, where)
                return
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0])
    if hint is type(None):
        if value is not None:
            raise ValueError(f"{where} must be null, got {value!r}")
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        return
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{where} must be a number, got {value!r}")
        _check_finite(value, where)
        return
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {value!r}")
        return
    if origin in (tuple, list) or hint in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis and len(args) != len(value):
            raise ValueError(f"{where} must have {len(args)} entries, got {len(value)}")
        item = args[0] if args else Any
        for i, v in enumerate(value):
            _check_value(v, args[i] if origin is tuple and args and args[-1] is not Ellipsis else item, f"{where}[{i}]")
        return
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object, got {value!r}")
        _check_finite(value, where)
        return
    _check_finite(value, where)  # an annotation this checker does not know: numbers must still be finite


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")


def _check_names(cls: type, fields: Any, what: str) -> None:
    """``fields`` is a JSON object whose keys are all fields of dataclass ``cls``."""
    if not isinstance(fields, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(fields).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"unknown {what} field(s) {unknown}; valid fields: {sorted(names)}")


def check_config(cls: type, fields: Any, what: str | None = None) -> None:
    """Checks a config dict read from a file against dataclass ``cls``: names, types, finite numbers.

    Raises:
        ValueError: naming the field and what it must be (unknown fields list the valid ones).
    """
    what = what or cls.__name__
    _check_names(cls, fields, what)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to finiteness only
        hints = {}
    for name, value in fields.items():
        _check_value(value, hints.get(name, Any), f"{what}.{name}")


def config_from_dict(cls: type, fields: dict[str, Any], what: str | None = None, *, saved: bool = False) -> Any:
    """``cls(**fields)`` for a config dataclass read from a file: names, types and finite numbers checked.

    ``saved=True`` reads a model saved earlier: a field it lacks takes the class's
    ``LEGACY`` value (what the field's absence meant when it was written), not today's
    default, so an old folder rebuilds the old network exactly.

    The dataclass's own validation speaks first (its messages say the most); whatever
    it lets through (a string where a number belongs, ``Infinity``) is caught by
    :func:`check_config`, so a bad file is a one-line ``ValueError``, never a ``TypeError``.
    """
    _check_names(cls, fields, what or cls.__name__)
    if saved:
        fields = {**getattr(cls, "LEGACY", {}), **fields}
    try:
        cfg = cls(**fields)
    except TypeError as e:  # a missing required field, or a comparison with a value of the wrong type
        check_config(cls, fields, what)
        raise ValueError(f"{what or cls.__name__}: {e}") from None
    check_config(cls, fields, what)
    return cfg


def build_model(kind: str, config: dict[str, Any]) -> nn.Module:
    """Builds a fresh model of ``kind`` from a config dict, validating field names and types."""
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(MODELS)}")
    cls, config_cls = MODELS[kind]
    return cls.from_config(config_from_dict(config_cls, config, config_cls.__name__))


# --- the folder: write, read, verify ---------------------------------------------------


def write_folder(folder: str | os.PathLike, *, kind: str, config: dict[str, Any], state: Mapping[str, Tensor],
                 extra: dict[str, Any] | None = None, metadata: dict[str, str] | None = None) -> Path:
    """Writes ``folder/config.json`` + ``folder/model.safetensors`` atomically (the whole folder at once)."""
    folder = Path(folder)
    with atomic_directory(folder) as tmp:
        save_tensors(tmp / WEIGHTS_FILE, dict(state), metadata=metadata)
        atomic_write_json(tmp / CONFIG_FILE, {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kind": kind,
            "config": config,
            "extra": extra or {},
            "weights": _weights_record(tmp / WEIGHTS_FILE),
        })
    return folder


def _weights_record(path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


@dataclass(frozen=True)
class Saved:
    """A verified folder: its manifest and the weights' header (``name -> (dtype, shape)``)."""

    folder: Path
    manifest: dict[str, Any]
    header: dict[str, tuple[str, tuple[int, ...]]]

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest["config"]

    @property
    def extra(self) -> dict[str, Any]:
        return self.manifest.get("extra") or {}

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE

    def state(self, device: str | torch.device = "cpu") -> dict[str, Tensor]:
        """The weights, read once and checked against the recorded sha256 again (no swap after checking)."""
        data = self.weights.read_bytes()

        if hashlib.sha256(data).hexdigest() != self.manifest["weights"]["sha256"]:
            raise ValueError(f"{self.weights}: changed while it was being read; load it again")
        tensors = st_load_bytes(data)
        return {k: v.to(device) for k, v in tensors.items()}


def read_folder(folder: str | os.PathLike, *, upgrade_hint: str | None = None) -> Saved:
    """Reads and verifies a saved folder's manifest and weights header; builds nothing.

    Args:
        folder: the folder with ``config.json`` and ``model.safetensors``.
        upgrade_hint: the folder to name in ``net2net convert`` if it is an old one
            (e.g. the translator folder around ``tau/``); default ``folder``.

    Raises:
        ValueError: one line naming the file and the fix.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; a saved model is a folder with {CONFIG_FILE} and {WEIGHTS_FILE}")
    cfg_path = folder / CONFIG_FILE
    manifest = read_json(cfg_path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{cfg_path}: not a net2net model (format={manifest.get('format')!r})")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{cfg_path}: 'version' must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"{folder}: written by a newer net2net (format version {version}); upgrade net2net")
    if version < FORMAT_VERSION:
        raise ValueError(
            f"{cfg_path}: format version {version} records no checksum of its weights; if you trust this folder, "
            f"upgrade it once with `net2net convert {upgrade_hint or folder}`"
        )
    for key, typ in (("kind", str), ("config", dict), ("extra", dict), ("weights", dict)):
        if not isinstance(manifest.get(key), typ):
            raise ValueError(f"{cfg_path}: {key!r} is missing or not a {typ.__name__}")
    record = manifest["weights"]
    if record.get("file") != WEIGHTS_FILE or not isinstance(record.get("sha256"), str) \
            or not isinstance(record.get("bytes"), int) or isinstance(record.get("bytes"), bool):
        raise ValueError(f"{cfg_path}: 'weights' must be {{file: {WEIGHTS_FILE!r}, sha256, bytes}}, got {record!r}")
    _check_finite(manifest["config"], f"{cfg_path}: config")
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ValueError(f"{weights}: missing; the folder is incomplete - copy or re-create it")
    size = weights.stat().st_size
    if size != record["bytes"]:
        raise ValueError(f"{weights}: {size} bytes, but {CONFIG_FILE} records {record['bytes']}; "
                         "the file is truncated or corrupt - copy or re-create it")
    digest = sha256_file(weights)
    if digest != record["sha256"]:
        raise ValueError(f"{weights}: sha256 {digest[:12]}... does not match {str(record['sha256'])[:12]}... recorded "
                         f"in {CONFIG_FILE}; the file is corrupt or was changed - copy or re-create it")
    return Saved(folder, manifest, read_header(weights))


_DTYPES = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2",
           "U16", "U32", "U64"}
_ITEMSIZE = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
             "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def read_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """A safetensors file's tensor names, dtypes and shapes, read from its header alone.

    The header is checked as the format requires (offsets inside the file, each tensor's
    byte length equal to its shape times its dtype's size), so the shapes it claims are
    ones the file really holds.
    """
    path = Path(path)
    bad = f"{path}: not a valid safetensors file"
    with open(path, "rb") as f:
        head = f.read(8)
        size = path.stat().st_size
        if len(head) < 8:
            raise ValueError(f"{bad} (shorter than its header); it may be truncated or corrupt - re-create it")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, MAX_HEADER_BYTES):
            raise ValueError(f"{bad} (header length {n} exceeds the file); it may be truncated or corrupt - re-create it")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{bad} (header: {e}); it may be truncated or corrupt - re-create it") from None
    if not isinstance(header, dict):
        raise ValueError(f"{bad} (the header is not an object)")
    data_size = size - 8 - n
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (lo, hi) = entry["dtype"], entry["shape"], entry["data_offsets"]
            ok = (dtype in _DTYPES and isinstance(shape, list)
                  and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
                  and all(isinstance(o, int) for o in (lo, hi)) and 0 <= lo <= hi <= data_size
                  and hi - lo == math.prod(shape) * _ITEMSIZE[dtype])
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{bad} (tensor {name!r}: {entry!r}); it may be corrupt - re-create it")
        out[name] = (dtype, tuple(shape))
    return out


def _int_leaves(value: Any, where: str) -> list[tuple[str, int]]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [(where, value)]
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _int_leaves(v, f"{where}[{i}]")]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _int_leaves(v, f"{where}.{k}" if where else str(k))]
    return []


def check_sizes(config: dict[str, Any], header: Mapping[str, tuple[str, tuple[int, ...]]], source: str) -> None:
    """Every integer in ``config`` (except :data:`NOT_SIZES`) is at most what the weights can hold.

    A size (a width, a dimension) is at most the largest dimension of any tensor; a count
    (blocks, layers) at most the number of tensors. A config asking for more than both
    cannot belong to these weights, and is refused before a network is built even on the
    ``meta`` device (``n_blocks: 1000000000`` would loop a billion times).
    """
    limit = max([len(header), *(max(shape, default=0) for _, shape in header.values())])
    for where, v in _int_leaves({k: v for k, v in config.items() if k not in NOT_SIZES}, ""):
        if v > limit:
            raise ValueError(f"{source}: config {where} = {v} is larger than anything its weights hold (at most "
                             f"{limit}); the config does not belong to these weights - re-create the folder")


def check_shapes(model: nn.Module, header: Mapping[str, tuple[str, tuple[int, ...]]], source: str) -> None:
    """The tensor names and shapes of ``model`` (usually built on ``meta``) equal the header's."""
    own = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    missing = sorted(set(own) - set(header))
    unexpected = sorted(set(header) - set(own))
    wrong = sorted(k for k in set(own) & set(header) if own[k] != header[k][1])
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape of {k}: {header[k][1]} in file, {own[k]} in model")
        raise ValueError(
            f"{source}: weights do not match this model's config ({'; '.join(parts)}); "
            "they were saved from a different configuration"
        )


def load_checked(saved: Saved, build: Callable[[], nn.Module], *, module: Callable[[nn.Module], nn.Module] | None = None,
                 device: str | torch.device = "cpu") -> nn.Module:
    """Builds a network from a verified folder: sizes bounded, shapes compared on ``meta``, then loaded.

    Args:
        saved: from :func:`read_folder`.
        build: makes the network from the (already checked) config; called twice, once
            on the ``meta`` device.
        module: the part of the built object that holds the weights (default: itself),
            e.g. ``lambda expert: expert.net``.
        device: where the result goes.
    """
    part = module or (lambda m: m)
    source = str(saved.folder)
    check_sizes(saved.config, saved.header, source)
    with torch.device("meta"):
        check_shapes(part(build()), saved.header, source)
    obj = build()
    part(obj).load_state_dict(saved.state())
    return obj.to(device)


def load_state_checked(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """Loads ``state`` into ``model``, or explains which tensors do not fit (changing nothing)."""
    check_shapes(model, {k: ("", tuple(v.shape)) for k, v in state.items()}, source)
    model.load_state_dict(state)


# --- τ models -------------------------------------------------------------------------


def save_model(model: nn.Module, folder: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Writes a τ model (a kind of :data:`MODELS`) as ``folder/config.json`` + ``folder/model.safetensors``."""
    return write_folder(folder, kind=model_kind(model), config=model.config.to_dict(), state=model.state_dict(),
                        extra=extra)


def load_model(folder: str | os.PathLike, device: str | torch.device = "cpu", *,
               upgrade_hint: str | None = None) -> nn.Module:
    """Rebuilds a τ model from its folder alone, in eval mode, verifying everything first (module docstring)."""
    saved = read_folder(folder, upgrade_hint=upgrade_hint)
    if saved.kind not in MODELS:
        raise ValueError(f"{Path(folder) / CONFIG_FILE}: unknown model kind {saved.kind!r}; choose one of {sorted(MODELS)}")
    cls, config_cls = MODELS[saved.kind]
    try:
        cfg = config_from_dict(config_cls, saved.config, config_cls.__name__, saved=True)
    except ValueError as e:
        raise ValueError(f"{Path(folder) / CONFIG_FILE}: {e}") from None
    return load_checked(saved, lambda: cls.from_config(cfg), device=device).eval()


def adopt_weights(target: str | os.PathLike, *, kind: str, config: dict[str, Any], extra: dict[str, Any],
                  weights: str | os.PathLike) -> Path:
    """Makes ``target/`` a model folder around an existing safetensors file, moving it, not rewriting it.

    For converting older layouts: the tensors' bytes (hence experts' fingerprints) stay
    exactly as they were.
    """
    target, weights = Path(target), Path(weights)
    read_header(weights)
    target.mkdir(parents=True, exist_ok=True)
    os.replace(weights, target / WEIGHTS_FILE)
    atomic_write_json(target / CONFIG_FILE, {
        "format": FORMAT, "version": FORMAT_VERSION, "kind": kind, "config": config, "extra": extra,
        "weights": _weights_record(target / WEIGHTS_FILE),
    })
    return target


def upgrade_folder(folder: str | os.PathLike) -> bool:
    """Rewrites a version-1 folder (no checksum) in the current format; the weights file is kept byte for byte.

    Returns whether anything changed. Only for folders you trust: the checksum recorded
    now vouches for whatever the weights are today.
    """
    folder = Path(folder)
    cfg_path = folder / CONFIG_FILE
    manifest = read_json(cfg_path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{cfg_path}: not a net2net model (format={manifest.get('format')!r})")
    if manifest.get("version") == FORMAT_VERSION:
        return False
    if manifest.get("version") != 1:
        raise ValueError(f"{cfg_path}: cannot upgrade format version {manifest.get('version')!r}")
    weights = folder / WEIGHTS_FILE
    read_header(weights)  # at least a well-formed safetensors file
    manifest.update(version=FORMAT_VERSION, weights=_weights_record(weights), extra=manifest.get("extra") or {})
    atomic_write_json(cfg_path, manifest)
    return True
