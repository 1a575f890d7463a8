"""net2net: network-to-network translation with conditional invertible networks.

Fuse two frozen expert networks by learning only a small conditional INN τ between
their hidden representations (Rombach, Esser, Ommer, NeurIPS 2020, arXiv:2005.13580).
"""

import os
from typing import Any

from net2net.baselines import MLPConfig, MLPTranslator
from net2net.flow import ConditionalINN, FlowConfig
from net2net.models import load_model, save_model
from net2net.translator import Translator, load

__version__ = "0.1.0"


def train_translator(recipe: str | os.PathLike | dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Trains τ from a recipe file or dict; returns the metrics with ``out`` and ``translator``.

    The same as ``net2net train RECIPE``; see :func:`net2net.train.recipe.train` for the arguments.
    """
    from net2net.train.recipe import train

    return train(recipe, **kwargs)


def train_expert(kind: str, dataset: str | os.PathLike, out: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """Trains an image expert (``"autoencoder"`` or ``"classifier"``) on a data set or image
    folder and writes it as the expert folder ``out``; returns its held-out metrics.

    The same as ``net2net expert train KIND``: ``size`` (32, 64, 128), ``latent``, ``column``
    (a classifier's labels), ``fit``, ``epochs``, ``steps``, ``device``, ``progress``.
    The folder is an expert name everywhere (``net2net.load``-ed translators, recipes,
    ``get_expert``).
    """
    from net2net.experts.registry import expert_trainer

    return expert_trainer(kind)(dataset, out, **kwargs)


def probe(query: str, target: str, layers: list[str], dataset: str, **kwargs: Any) -> dict[str, Any]:
    """What each of ``query``'s ``layers`` keeps of ``target``'s code, measured with τ; returns the report.

    The same as ``net2net probe``; see :func:`net2net.probing.probe` for the arguments.
    """
    from net2net.probing import probe as run_probe

    return run_probe(query, target, layers, dataset, **kwargs)


__all__ = [
    "ConditionalINN",
    "FlowConfig",
    "MLPConfig",
    "MLPTranslator",
    "Translator",
    "load",
    "load_model",
    "probe",
    "save_model",
    "train_expert",
    "train_translator",
    "__version__",
]
