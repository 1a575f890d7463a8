"""Tiny local translators standing in for the zoo's, so the app is tested in seconds."""

from __future__ import annotations

import os
import socket

import pytest

from net2net.experts.labels import OneHotExpert
from net2net.testing import TinyAutoencoder, tiny_translator
from net2net.translator import Translator

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def TinyAE(seed: int = 0) -> TinyAutoencoder:
    return TinyAutoencoder(seed, name=f"tiny-ae-{seed}")


def tiny(query, seed: int, transform: str) -> Translator:
    return tiny_translator(query, seed=seed, info={"query_transform": transform})


@pytest.fixture(scope="session")
def tiny_translators() -> dict[str, Translator]:
    """Every translator the app uses; text2img reads class names (a label stand-in for text)."""
    return {
        "fmnist-text2img": tiny(OneHotExpert(), 0, "labels"),
        "fmnist-attr": tiny(OneHotExpert(), 1, "labels"),
        "fmnist-edge2img": tiny(TinyAE(seed=2), 2, "edges"),
        "fmnist-inpaint": tiny(TinyAE(seed=3), 3, "masked"),
        "fmnist-superres": tiny(TinyAE(seed=4), 4, "lowres-7"),
        "fmnist-diagnose-fc1": tiny(TinyAE(seed=5), 5, "identity"),
        "fmnist-diagnose-conv1": tiny(TinyAE(seed=6), 6, "identity"),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """A function giving a free loopback port (a fixture: test modules cannot import conftest)."""
    return _free_port


@pytest.fixture(scope="session")
def tiny_text_translators(minilm) -> dict[str, Translator]:
    """fmnist-text2img with the real packaged MiniLM query expert and a tiny τ and target."""
    return {"fmnist-text2img": tiny(minilm, 7, "captions")}


@pytest.fixture(scope="session")
def shapes_translators() -> dict[str, Translator]:
    """The colour tab's three translators, as shipped in the zoo."""
    from net2net.translator import load

    return {name: load(name) for name in ("shapes-text2img", "shapes-attr", "shapes-style")}
