"""Layer taps: any ``nn.Module`` becomes an expert at any named layer.

The tap registers a forward hook on ``module.get_submodule(layer)``, runs the network,
and returns that layer's activation as ``(B, dim)`` vectors. Spatial maps are either
flattened or average-pooled over space. The forward pass stops right after the tapped
layer (the hook raises a private sentinel), so tapping an early layer of a large network
costs only the layers before it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from net2net.experts.base import TorchExpert

__all__ = ["LayerTap", "layer_names"]

_POOLS = ("flatten", "avg", "max", "grid2", "grid4", "grid7")


class _Captured(Exception):
    """Raised by the hook to end the forward pass once the tapped layer has run."""


def layer_names(module: nn.Module) -> list[str]:
    """The names ``LayerTap`` accepts for ``module`` (those of ``named_modules``; '' is the whole net)."""
    return [name for name, _ in module.named_modules() if name]


def _first_tensor(out: Any) -> Tensor:
    # Layers may return tuples or model-output objects; the first tensor is the activation.
    if isinstance(out, Tensor):
        return out
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        for item in out:
            if isinstance(item, Tensor):
                return item
    raise TypeError(f"the tapped layer returned {type(out).__name__}, not a tensor")


class LayerTap(TorchExpert):
    """The activation of one named layer of a frozen network, as ``(B, dim)`` vectors.

    Args:
        module: any network; it is frozen (eval mode, no gradients) and owned by the tap.
        layer: a name from ``module.named_modules()`` (see :func:`layer_names`), or ``""``
            for the network's output.
        pool: ``"flatten"`` keeps every value of a spatial map, ``"avg"``/``"max"``
            pool ``(B, C, ...)`` maps over the spatial axes to ``(B, C)``; ``"gridK"`` averages
            ``(B, C, H, W)`` maps down to a ``K × K`` layout, ``(B, C·K²)``.
        example: an input batch for a dry run that discovers ``dim``.
        dim: the size, when known (then no dry run is needed; it is still checked at encode).
        name: the expert's name (default ``"<ClassName>:<layer>"``).
        device: where the network runs.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
        >>> tap = LayerTap(net, "1", pool="avg", example=torch.zeros(1, 1, 28, 28))
        >>> tap.dim, tuple(tap.encode(torch.rand(5, 1, 28, 28)).shape)
        (4, (5, 4))
    """

    def __init__(
        self,
        module: nn.Module,
        layer: str,
        *,
        pool: str = "flatten",
        example: Any = None,
        dim: int | None = None,
        name: str | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        if pool not in _POOLS:
            raise ValueError(f"pool must be one of {_POOLS}, got {pool!r}")
        valid = layer_names(module)
        if layer and layer not in valid:
            raise ValueError(
                f"{type(module).__name__} has no layer {layer!r}; valid layer names: {', '.join(valid) or '(none)'}"
            )
        if example is None and dim is None:
            raise ValueError("give example= (an input batch for a dry run) or dim= so the tap knows its size")
        self.net = module
        self.layer = layer
        self.pool = pool
        self.name = name or f"{type(module).__name__}:{layer or 'output'}"
        self.to(device)
        self.freeze()
        if dim is None:
            with torch.inference_mode():
                dim = int(self._encode(example.to(self.device) if isinstance(example, Tensor) else example).shape[1])
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = dim

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "module": type(self.net).__name__, "layer": self.layer, "pool": self.pool}

    def _reduce(self, t: Tensor) -> Tensor:
        if t.dim() > 2 and self.pool == "avg":
            t = t.mean(dim=tuple(range(2, t.dim())))
        elif t.dim() > 2 and self.pool == "max":
            t = t.amax(dim=tuple(range(2, t.dim())))
        elif t.dim() == 4 and self.pool.startswith("grid"):
            # keep a coarse k x k layout: spatial maps are large, but where things are
            # is part of what a layer knows (the diagnosis needs it)
            t = torch.nn.functional.adaptive_avg_pool2d(t, int(self.pool[4:]))
        return t.reshape(t.shape[0], -1)

    def _encode(self, batch: Any) -> Tensor:
        if not self.layer:
            return self._reduce(_first_tensor(self.net(batch)))
        captured: list[Tensor] = []

        def hook(_mod: nn.Module, _inp: Any, out: Any) -> None:
            captured.append(_first_tensor(out))
            raise _Captured

        handle = self.net.get_submodule(self.layer).register_forward_hook(hook)
        try:
            self.net(batch)
        except _Captured:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"{self.name}: layer {self.layer!r} did not run in the forward pass")
        return self._reduce(captured[0])
