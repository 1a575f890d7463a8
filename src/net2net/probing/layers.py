"""Which layers an expert offers, and each one as an expert of bounded width.

Built on the two ways an expert exposes layers today: an expert with a ``layers``
tuple (the zoo's classifiers) and a :class:`~net2net.experts.tap.LayerTap` (any
``nn.Module``: its ``named_modules``). Either way the expert's factory is asked for
``layer=`` and ``pool=`` (the registry's options), so the probe taps a layer exactly as
``net2net extract --layer`` and the recipes do, and the feature store caches it the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from net2net.experts.base import Expert
from net2net.experts.registry import get_expert
from net2net.experts.tap import layer_names

__all__ = ["POOL_LADDER", "TappedLayer", "expert_layers", "tap_layer"]

#: pools tried in order, finest first: the first whose width fits the bound is taken.
POOL_LADDER: tuple[str, ...] = ("flatten", "grid7", "grid4", "grid2", "avg")


@dataclass(frozen=True)
class TappedLayer:
    """One layer as an expert: the name, the pool chosen, and the width it gives."""

    layer: str
    pool: str | None
    dim: int
    expert: Any

    def options(self) -> dict[str, Any]:
        """The registry options that rebuild this tap (``get_expert(name, **options)``)."""
        return {"layer": self.layer, **({"pool": self.pool} if self.pool is not None else {})}


def expert_layers(name: str, *, device: str = "cpu") -> list[str]:
    """The layer names ``name`` can be tapped at, input to output where the expert knows the order.

    Raises:
        ValueError: the expert has no layers to tap (names what would give it some).
    """
    base = get_expert(name, device=device)
    layers = getattr(base, "layers", None)
    if layers:
        return [str(x) for x in layers]
    net = getattr(base, "net", None)
    if net is not None and hasattr(net, "named_modules"):
        return layer_names(net)
    raise ValueError(f"expert {name!r} has no layers to tap; probe an expert with a `layers` tuple or a "
                     "LayerTap over an nn.Module (net2net.experts.tap, see docs/experts.md)")


def _build(name: str, layer: str, pool: str | None, device: str) -> Expert | None:
    options = {"pool": pool} if pool is not None else {}
    try:
        return get_expert(name, device=device, layer=layer, **options)
    except ValueError as e:
        if pool is not None and "takes no option" in str(e):
            return None  # a factory without ``pool``: its own default is the only choice
        raise


def tap_layer(name: str, layer: str, *, max_dim: int = 1024, device: str = "cpu",
              known: list[str] | None = None) -> TappedLayer:
    """``name`` at ``layer``, pooled by the finest pool of :data:`POOL_LADDER` whose width is at most ``max_dim``.

    When no pool fits (a wide fully connected layer), the narrowest one is taken; the
    report says so by its width.

    Raises:
        ValueError: an unknown layer (the message lists the expert's layers).
    """
    known = expert_layers(name, device=device) if known is None else known
    if layer not in known:
        raise ValueError(f"expert {name!r} has no layer {layer!r}; its layers: {', '.join(known)}")
    if not isinstance(max_dim, int) or isinstance(max_dim, bool) or max_dim < 1:
        raise ValueError(f"max_dim must be a positive integer, got {max_dim!r}")
    tried: list[TappedLayer] = []
    for pool in POOL_LADDER:
        expert = _build(name, layer, pool, device)
        if expert is None:  # no pool option: one choice
            expert = _build(name, layer, None, device)
            return TappedLayer(layer, None, int(expert.dim), expert)
        t = TappedLayer(layer, pool, int(expert.dim), expert)
        if t.dim <= max_dim:
            return t
        tried.append(t)
    return min(tried, key=lambda t: t.dim)
