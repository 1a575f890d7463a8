"""τ follows the words of a partial prompt: trained on a tiny shapes set with caption
dropout, a prompt that names only a position puts the object there more often than chance.

The position is read from pixels (:func:`net2net.data.shapes.measure`), no judge network.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from net2net.data.shapes import POSITIONS, items, measure
from net2net.train.fit import Pairs, TrainConfig, fit


@pytest.mark.slow  # MiniLM and 200 steps: about a minute on a free core, much more on a busy one
def test_a_prompt_s_named_position_is_honoured_more_often_than_chance(minilm, tmp_path) -> None:
    from net2net.experts.registry import get_expert
    from net2net.models import load_model

    torch.manual_seed(0)
    ae = get_expert("shapes-ae")
    pixels, rows = items("train", 400, seed=0)
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        z = ae.encode(images).float()
        c = minilm.encode([r["text_partial"] for r in rows]).float()
    cfg = TrainConfig(steps=200, batch_size=128, lr=2e-3, warmup_steps=20, eval_every=0, ckpt_every=0, device="cpu")
    fit("cinn", {"dim": z.shape[1], "cond_dim": c.shape[1], "n_blocks": 2, "hidden": 64, "embed_dim": 32,
                 "embed_hidden": 64, "embed_depth": 2, "embed_norm": "layer"}, Pairs(c, z), None, cfg,
        out=tmp_path / "run", progress=False)
    tau = load_model(tmp_path / "run" / "model")
    words = {"top-left": "in the top left corner", "top-right": "in the top right corner",
             "bottom-left": "in the bottom left corner", "bottom-right": "in the bottom right corner"}
    prompts = [f"a shape {w}" for w in words.values()]
    n = 16
    with torch.no_grad():
        cond = minilm.encode(prompts).float().repeat_interleave(n, 0)
        gen = ae.decode(tau.sample(cond, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    got = np.asarray(measure(gen)["position"]).reshape(len(prompts), n)
    hit = float(np.mean(got == np.asarray(list(words))[:, None]))
    assert hit > 3 / len(POSITIONS), f"named position honoured in {hit:.2f} of the samples (chance {1 / len(POSITIONS):.2f})"
