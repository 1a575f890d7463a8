"""τ alone: invertible layers, the conditional INN and τ's contract. Pure torch; no files, no experts.

The regression baselines that share τ's call shape but are not flows live in
:mod:`net2net.baselines`.
"""

from net2net.flow.cinn import ConditionalINN, FlowConfig, check_pair
from net2net.flow.fm import ConditionalFlowMatching, FlowMatchingConfig
from net2net.flow.layers import ActNorm, ConditionalAffineCoupling, Permutation
from net2net.flow.protocol import ConditionalDensity, InvertibleDensity, describe, is_invertible

__all__ = [
    "ActNorm",
    "ConditionalAffineCoupling",
    "ConditionalDensity",
    "ConditionalFlowMatching",
    "ConditionalINN",
    "FlowConfig",
    "FlowMatchingConfig",
    "InvertibleDensity",
    "Permutation",
    "check_pair",
    "describe",
    "is_invertible",
]
