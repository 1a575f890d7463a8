"""The τ-side regularisers of training: standardisation set from the training targets,
weight decay on the condition embedder alone."""

from __future__ import annotations

import pytest
import torch

from net2net.flow import ConditionalINN
from net2net.train.fit import Pairs, TrainConfig, fit, make_optimizer


def test_fit_sets_the_standardisation_from_the_training_targets(tmp_path) -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(256, 4, generator=g) * torch.tensor([1.0, 3.0, 0.5, 2.0]) + 5.0
    c = torch.randn(256, 2, generator=g)
    cfg = TrainConfig(steps=2, batch_size=64, eval_every=0, ckpt_every=0, device="cpu")
    fit("cinn", {"dim": 4, "cond_dim": 2, "n_blocks": 1, "hidden": 8, "embed_dim": 4, "embed_hidden": 8,
                 "standardize": True}, Pairs(c, z), None, cfg,
        out=tmp_path / "run")
    from net2net.models import load_model

    tau = load_model(tmp_path / "run" / "model")
    assert tau.config.standardize
    torch.testing.assert_close(tau.layers[0].mean, z.mean(0))
    torch.testing.assert_close(tau.layers[0].scale, z.double().std(0).float())


def test_embedder_weight_decay_is_its_own_param_group() -> None:
    tau = ConditionalINN(4, 3, n_blocks=1, hidden=8, embed_dim=4, embed_hidden=8)
    opt = make_optimizer(tau, TrainConfig(weight_decay=1e-5, embed_weight_decay=0.1))
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-5, 0.1]
    assert {id(p) for p in opt.param_groups[1]["params"]} == {id(p) for p in tau.embedder.parameters()}
    assert len(make_optimizer(tau, TrainConfig()).param_groups) == 1
    assert "embed_weight_decay" not in TrainConfig().to_dict()
    with pytest.raises(ValueError, match="embed_weight_decay"):
        TrainConfig(embed_weight_decay=-1.0)
