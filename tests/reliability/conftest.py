"""Tiny registered experts and translator folders, so every command can be fed bad input in seconds."""

from __future__ import annotations

import hashlib

import pytest
import torch

from net2net.experts.base import TorchExpert
from net2net.experts.registry import get_expert, register_expert
from net2net.flow import ConditionalINN
from net2net.testing import TinyAutoencoder
from net2net.translator import ExpertRef, Translator


def TinyAE(device: str = "cpu") -> TinyAutoencoder:
    return TinyAutoencoder(0, name="rel-tiny-ae", decoder_scale=0.05, device=device)


class HashText(TorchExpert):
    """Text to a fixed 6-d vector by hashing: a stand-in for the sentence encoder."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        self.name, self.dim, self.input_kind = "rel-hash-text", 6, "text"
        self.register_buffer("scale", torch.ones(6))

    def _encode(self, batch):
        rows = [list(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:6]) for t in batch]
        return torch.tensor(rows, dtype=torch.float32) / 255.0 * self.scale


register_expert("rel-tiny-ae", lambda device="cpu", **o: TinyAE(device), overwrite=True)
register_expert("rel-hash-text", lambda device="cpu", **o: HashText(device), overwrite=True)


def make_translator(query_name: str, **options) -> Translator:
    query, target = get_expert(query_name, **options), get_expert("rel-tiny-ae")
    torch.manual_seed(0)
    tau = ConditionalINN(target.dim, query.dim, n_blocks=2, hidden=8, embed_dim=4, embed_hidden=8)
    return Translator(query, tau.eval(), target, query_ref=ExpertRef.of(query, query_name, **options),
                      target_ref=ExpertRef.of(target, "rel-tiny-ae"))


@pytest.fixture(scope="session")
def translator_dirs(tmp_path_factory):
    """``{"label": folder, "text": folder}``: saved translators whose experts are registered."""
    root = tmp_path_factory.mktemp("translators")
    return {kind: make_translator(name).save_pretrained(root / kind)
            for kind, name in (("label", "onehot"), ("text", "rel-hash-text"))}


@pytest.fixture(scope="session")
def png_bytes():
    """A valid 28x28 grey PNG."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (28, 28), 40).save(buf, format="PNG")
    return buf.getvalue()
