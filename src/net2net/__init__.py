"""net2net: network-to-network translation with conditional invertible networks.

Fuse two frozen expert networks by learning only a small conditional INN τ between
their hidden representations (Rombach, Esser, Ommer, NeurIPS 2020, arXiv:2005.13580).
"""

from net2net.baselines import MLPConfig, MLPTranslator
from net2net.flow import ConditionalINN, FlowConfig
from net2net.models import load_model, save_model
from net2net.translator import Translator, load

__version__ = "0.1.0"

__all__ = [
    "ConditionalINN",
    "FlowConfig",
    "MLPConfig",
    "MLPTranslator",
    "Translator",
    "load",
    "load_model",
    "save_model",
    "__version__",
]
