"""Translators that are not flows: the regression baselines τ is compared with.

They meet the density half of τ's contract (:class:`net2net.flow.ConditionalDensity`:
``log_prob``, ``sample``) so that the trainer and the evaluation treat them like τ,
and declare ``invertible = False``: they have no inverse, so a translator built on one
samples (one answer per query) but cannot edit, invert or follow an exemplar.
"""

from net2net.baselines.linear import LinearConfig, LinearTranslator
from net2net.baselines.mlp import MLPConfig, MLPTranslator

__all__ = ["LinearConfig", "LinearTranslator", "MLPConfig", "MLPTranslator"]
