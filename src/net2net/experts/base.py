"""The expert protocol: what τ needs of a frozen network, and nothing more.

An expert has a ``name``, a representation size ``dim``, ``encode(batch) -> (B, dim)``,
and, if it produces images, ``decode(z) -> images``. It is frozen (eval mode, no
gradients, inference mode), lives on one device, and says what it is in
``fingerprint()`` (a hash of its weights and settings) so that the feature store never
mixes up two experts.

Images everywhere in net2net are ``float32`` tensors ``(B, C, H, W)`` in ``[0, 1]``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = ["Expert", "ImageExpert", "TorchExpert", "state_fingerprint", "encode_all"]


@runtime_checkable
class Expert(Protocol):
    """Any frozen network that maps a batch of inputs to ``(B, dim)`` vectors."""

    name: str
    dim: int

    def encode(self, batch: Any) -> Tensor: ...

    def fingerprint(self) -> str: ...


@runtime_checkable
class ImageExpert(Expert, Protocol):
    """An expert that can also turn its representation back into images."""

    def decode(self, z: Tensor) -> Tensor: ...


def state_fingerprint(module: nn.Module, settings: dict[str, Any] | None = None) -> str:
    """sha256 over a module's tensors (names, shapes, bytes) and a settings dict."""
    h = hashlib.sha256()
    h.update(json.dumps(settings or {}, sort_keys=True, default=str).encode())
    for key, t in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class TorchExpert(nn.Module):
    """Base for experts that are ``nn.Module``s: freezing, device, fingerprint.

    Subclasses implement ``_encode(batch)`` (and ``_decode(z)`` for image experts);
    the public ``encode``/``decode`` run them frozen, in inference mode, on the
    expert's device.
    """

    name: str = "expert"
    dim: int = 0

    def freeze(self) -> TorchExpert:
        self.eval()
        self.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> TorchExpert:
        # Experts are never trained through this interface: stay in eval mode.
        return super().train(False)

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def settings(self) -> dict[str, Any]:
        """What, beside the weights, changes the output (layer, pooling, ...)."""
        return {"class": type(self).__name__, "name": self.name, "dim": self.dim}

    def fingerprint(self) -> str:
        return state_fingerprint(self, self.settings())

    def _encode(self, batch: Any) -> Tensor:
        raise NotImplementedError

    def _decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError(f"{self.name} has no decoder")

    def encode(self, batch: Any) -> Tensor:
        with torch.inference_mode():
            if isinstance(batch, Tensor):
                batch = batch.to(self.device)
            z = self._encode(batch)
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise RuntimeError(f"{self.name}: encode returned shape {tuple(z.shape)}, expected (B, {self.dim})")
        return z.float()

    def decode(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"{self.name}: decode needs shape (B, {self.dim}), got {tuple(z.shape)}")
        with torch.inference_mode():
            return self._decode(z.to(self.device))


def encode_all(
    expert: Expert,
    inputs: Sequence[Any] | Tensor,
    *,
    batch_size: int = 256,
    progress: bool | None = None,
    desc: str | None = None,
) -> Tensor:
    """Encodes a whole sequence in batches with a progress bar; returns CPU ``(N, dim)``."""
    n = len(inputs)
    if n == 0:
        raise ValueError("nothing to encode: the input is empty")
    out = torch.empty(n, expert.dim, dtype=torch.float32)
    with tqdm(total=n, desc=desc or f"encode {expert.name}", unit="item",
              disable=(not progress) if progress is not None else None, dynamic_ncols=True) as bar:
        for i in range(0, n, batch_size):
            chunk = inputs[i : i + batch_size]
            out[i : i + len(chunk)] = expert.encode(chunk).cpu()
            bar.update(len(chunk))
    return out
