"""τ's contract: what the translator, the trainer and the evaluation may ask of it.

Every τ is a conditional density ``p(z | c)`` over target representations ``z``
(``(B, dim)``) given query representations ``c`` (``(B, cond_dim)``):

- ``log_prob(z, c) -> (B,)``: the log-density in nats, Gaussian constant included
  (what the trainer maximises and the evaluation reports);
- ``sample(c, *, temperature=1.0, generator=None) -> (B, dim)``: one draw per row;
- ``dim``, ``cond_dim`` and ``config`` (a frozen dataclass with ``to_dict()``, saved
  beside the weights).

An *invertible* τ (a normalising flow) also maps both ways, which is what editing,
exemplar-guided translation and inversion need:

- ``forward(z, c) -> (v, log_det)``: the density direction, ``v = τ⁻¹(z | c)``;
- ``inverse(v, c) -> (z, log_det)``: the sampling direction, ``z = τ(v | c)``;
- ``residual(z, c) -> v``: ``forward`` without the log-det.

Which of the two a model is, is declared, not guessed: ``invertible`` is a class
attribute (``True`` for :class:`InvertibleDensity`, ``False`` for the regression
baselines), and :func:`is_invertible` reads it. Models that cannot invert also say
why in ``description`` (e.g. "an MLP regression baseline"), which the translator puts
into its error message.

Example:
    >>> from net2net.flow import ConditionalINN
    >>> is_invertible(ConditionalINN(4, 3, n_blocks=1, hidden=8))
    True
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from torch import Tensor

__all__ = ["ConditionalDensity", "InvertibleDensity", "is_invertible", "describe", "transport"]


class ConditionalDensity(abc.ABC):
    """A conditional density ``p(z | c)`` that can be sampled: what every τ is."""

    #: whether ``forward``/``inverse``/``residual`` exist (see :class:`InvertibleDensity`).
    invertible: ClassVar[bool] = False
    #: what the model is, in a few words, for messages ("an MLP regression baseline").
    description: ClassVar[str] = "a conditional density"

    dim: int
    cond_dim: int
    config: Any

    @abc.abstractmethod
    def log_prob(self, z: Tensor, cond: Tensor) -> Tensor:
        """``log p(z | cond)`` in nats, shape ``(B,)``."""

    @abc.abstractmethod
    def sample(self, cond: Tensor, *, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> Tensor:
        """One ``z ~ p(z | cond)`` per row of ``cond``: ``(B, dim)``."""


class InvertibleDensity(ConditionalDensity):
    """A conditional density that is a bijection ``z ↔ v`` given ``c`` (a normalising flow)."""

    invertible: ClassVar[bool] = True
    description: ClassVar[str] = "a conditional normalising flow"

    @abc.abstractmethod
    def forward(self, z: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """``z -> v``: ``(v, log|det ∂v/∂z|)``."""

    @abc.abstractmethod
    def inverse(self, v: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """``v -> z``: ``(z, log|det ∂z/∂v|)``."""

    @abc.abstractmethod
    def residual(self, z: Tensor, cond: Tensor) -> Tensor:
        """``v = τ⁻¹(z | cond)``."""


def transport(tau: Any, v: Tensor, cond: Tensor) -> Tensor:
    """``z = τ(v | cond)`` without the log-det: ``tau.transport`` where a τ has one (an ODE τ,
    whose log-det costs far more than the map), else ``tau.inverse(v, cond)[0]``."""
    own = getattr(tau, "transport", None)
    return own(v, cond) if callable(own) else tau.inverse(v, cond)[0]


def is_invertible(tau: Any) -> bool:
    """Whether ``tau`` declares the inversion half of the contract.

    A class says so by subclassing (or being registered with) :class:`InvertibleDensity`
    or by a class attribute ``invertible = True``; a method that merely happens to be
    called ``inverse`` is not enough.
    """
    if isinstance(tau, InvertibleDensity):
        return True
    return bool(getattr(type(tau), "invertible", False))


def describe(tau: Any) -> str:
    """A few words on what ``tau`` is, for error messages."""
    own = getattr(type(tau), "description", None)
    if own:
        return str(own)
    if isinstance(tau, InvertibleDensity):  # a registered (virtual) subclass
        return InvertibleDensity.description
    return f"a {type(tau).__name__}"


def _register_builtin() -> None:
    # ConditionalINN is written in flow/cinn.py without a base class; it meets the
    # invertible contract and is registered as a virtual subclass here.
    from net2net.flow.cinn import ConditionalINN

    InvertibleDensity.register(ConditionalINN)


_register_builtin()
