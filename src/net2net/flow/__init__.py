"""τ alone: invertible layers and the conditional INN. Pure torch; no files, no experts."""

from net2net.flow.cinn import ConditionalINN, FlowConfig, check_pair
from net2net.flow.layers import ActNorm, ConditionalAffineCoupling, Permutation
from net2net.flow.linear import LinearConfig, LinearTranslator
from net2net.flow.mlp import MLPConfig, MLPTranslator

__all__ = [
    "ActNorm",
    "ConditionalAffineCoupling",
    "ConditionalINN",
    "FlowConfig",
    "LinearConfig",
    "LinearTranslator",
    "MLPConfig",
    "MLPTranslator",
    "Permutation",
    "check_pair",
]
