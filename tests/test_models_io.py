"""Model folders: config.json + model.safetensors, bit-identical round trips, bad files."""

from __future__ import annotations

import json

import pytest
import torch

from net2net import ConditionalINN, MLPTranslator, load_model, save_model
from net2net.io import load_tensors


def trained_like(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    if isinstance(model, ConditionalINN):
        model.train()
        model(torch.randn(32, model.dim), torch.randn(32, model.cond_dim))
    return model.eval()


@pytest.mark.parametrize("make", [
    lambda: ConditionalINN(6, 3, n_blocks=2, hidden=16, embed_dim=4, embed_hidden=8, seed=5),
    lambda: MLPTranslator(6, 3, hidden=16, depth=2),
])
def test_save_load_is_bit_identical(make, tmp_path) -> None:
    model = trained_like(make())
    save_model(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model(tmp_path / "m")
    z, c = torch.randn(10, 6), torch.randn(10, 3)
    assert torch.equal(model.log_prob(z, c), loaded.log_prob(z, c))
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(model.sample(c, generator=g()), loaded.sample(c, generator=g()))
    assert loaded.config == model.config


def test_overwrite_keeps_only_the_new_model(tmp_path) -> None:
    save_model(trained_like(ConditionalINN(4, 2, n_blocks=1, hidden=8)), tmp_path / "m")
    save_model(trained_like(MLPTranslator(4, 2, hidden=8)), tmp_path / "m")
    assert isinstance(load_model(tmp_path / "m"), MLPTranslator)
    assert [p.name for p in tmp_path.iterdir()] == ["m"], "no temporary folders left behind"


@pytest.fixture
def saved(tmp_path):
    save_model(trained_like(ConditionalINN(4, 2, n_blocks=2, hidden=8)), tmp_path / "m")
    return tmp_path / "m"


def test_truncated_weights_are_a_clear_error(saved) -> None:
    f = saved / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(ValueError, match="model.safetensors: .* bytes, but config.json records .*truncated or corrupt"):
        load_model(saved)


def test_corrupt_weights_are_a_clear_error(saved) -> None:
    (saved / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="bytes, but config.json records"):
        load_model(saved)
    from net2net.models import read_header

    with pytest.raises(ValueError, match="not a valid safetensors file"):
        read_header(saved / "model.safetensors")


def test_weights_from_a_different_config_are_refused(saved) -> None:
    cfg = json.loads((saved / "config.json").read_text())
    cfg["config"]["hidden"] = 16
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="saved from a different configuration"):
        load_model(saved)


def test_bad_folders_and_pickles(tmp_path, saved) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        load_model(tmp_path / "nope")
    (saved / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(saved)
    pkl = tmp_path / "model.pt"
    torch.save({"w": torch.ones(1)}, pkl)
    with pytest.raises(ValueError, match="refusing to read a pickle"):
        load_tensors(pkl)
