"""Tiny local translators standing in for the zoo's, so the app is tested in seconds."""

from __future__ import annotations

import os
import socket

import pytest
import torch
from torch import nn

from net2net.experts.base import TorchExpert
from net2net.experts.labels import OneHotExpert
from net2net.flow import ConditionalINN
from net2net.translator import ExpertRef, Translator

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


class TinyAE(TorchExpert):
    """A fixed random linear autoencoder of 28x28 images (8-d latent) with a posterior."""

    image_size = 28

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.name, self.dim = f"tiny-ae-{seed}", 8
        self.enc, self.dec = nn.Linear(784, 8), nn.Linear(8, 784)
        with torch.no_grad():
            for p in self.enc.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            for p in self.dec.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
        self.freeze()

    def posterior(self, x):
        with torch.inference_mode():
            mean = self._encode(x)
            return mean, torch.full_like(mean, -4.0)

    def _encode(self, x):
        return self.enc(x.reshape(len(x), -1))

    def _decode(self, z):
        return torch.sigmoid(self.dec(z)).reshape(-1, 1, 28, 28)


def tiny(query, seed: int, transform: str) -> Translator:
    target = TinyAE()
    torch.manual_seed(seed)
    tau = ConditionalINN(8, query.dim, n_blocks=2, hidden=16, embed_dim=8, embed_hidden=16)
    with torch.no_grad():
        for p in tau.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return Translator(query, tau.eval(), target, query_ref=ExpertRef.of(query, "q"),
                      target_ref=ExpertRef.of(target, "tiny-ae"), info={"query_transform": transform})


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
