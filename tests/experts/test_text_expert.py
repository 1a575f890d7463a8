import pytest
import torch


def test_minilm_shapes_unit_norm_determinism(minilm):
    texts = ["a dark dress", "a pair of light trousers", "an ankle boot"]
    z = minilm.encode(texts)
    assert minilm.dim == 384 and z.shape == (3, 384) and z.dtype == torch.float32
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.equal(z, minilm.encode(texts))
    # meaning: the two dresses are closer than a dress and a boot
    d = minilm.encode(["a dark dress", "a black frock", "a sneaker"])
    assert d[0] @ d[1] > d[0] @ d[2]


@pytest.mark.parametrize("bad,msg", [([""], "text 0 is empty"), (["ok", "  "], "text 1 is empty"),
                                     ([3], "text 0 is a int"), ("a dress", "wrap a single text")])
def test_bad_texts(minilm, bad, msg):
    with pytest.raises(ValueError, match=msg):
        minilm.encode(bad)


def test_model_is_cached_and_checked(minilm, monkeypatch):
    from net2net.experts import text

    again = text.SentenceTransformerExpert()
    assert again._st is minilm._st  # one load per process
    monkeypatch.setattr(text, "MINILM_SHA256", "0" * 64)
    monkeypatch.setattr(text, "_VERIFIED", set())
    with pytest.raises(ValueError, match="refusing to load.*Reinstall it"):
        text.minilm_path()


def test_hf_mean_pooling_matches_sentence_transformers(minilm):
    from net2net.experts.text import HFTextExpert

    hf = HFTextExpert()
    texts = ["a light coat", "a small bag"]
    z = hf.encode(texts)
    assert z.shape == (2, 384) and z.dtype == torch.float32
    # all-MiniLM-L6-v2 is mean pooling + normalisation, so the two paths agree
    assert torch.allclose(z, minilm.encode(texts), atol=1e-4)
    with pytest.raises(ValueError, match="empty"):
        hf.encode([""])


def test_a_layer_is_the_mean_pooled_token_states_of_that_block(minilm):
    from net2net.experts.registry import get_expert
    from net2net.experts.text import _load_hf

    texts = ["a small red star at the top", "you can see a hollow tiny circle coloured green on the left"]
    assert minilm.layers == ("embeddings", *(f"layer{i}" for i in range(1, 7)))
    # the last block, pooled: the sentence embedding itself
    last = get_expert("minilm", layer="layer6")
    assert last.dim == 384 and torch.allclose(last.encode(texts), minilm.encode(texts), atol=1e-5)
    # an earlier block, by hand: mean over real tokens of hidden_states[5], then unit norm
    tok, net = _load_hf(minilm.model_id, "cpu")
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = net(**enc, output_hidden_states=True).hidden_states[5]
    m = enc["attention_mask"].unsqueeze(-1).float()
    want = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=1)
    five = get_expert("minilm", layer="layer5")
    assert torch.allclose(five.encode(texts), want, atol=1e-5)
    assert not torch.allclose(five.encode(texts), minilm.encode(texts), atol=1e-2)
    # several layers: concatenated, each half of a unit vector
    both = get_expert("minilm", layer="layer5+layer6")
    z = both.encode(texts)
    assert both.dim == 768 and z.shape == (2, 768)
    assert torch.allclose(z[:, :384] * 2 ** 0.5, want, atol=1e-5)
    assert torch.allclose(z.norm(dim=1), torch.ones(2), atol=1e-5)
    # the layer is part of what the feature store keys on
    assert len({minilm.fingerprint(), five.fingerprint(), both.fingerprint()}) == 3
    assert five.settings()["layer"] == "layer5" and "layer" not in minilm.settings()


@pytest.mark.parametrize("options,msg", [({"layer": "layer9"}, "no text layer 'layer9'; choose one of embeddings, layer1"),
                                         ({"layer": "layer5+top"}, "no text layer 'top'"),
                                         ({"pool": "avg"}, r"takes no option\(s\) \['pool'\]")])
def test_bad_text_layers_are_named(minilm, options, msg):
    from net2net.experts.registry import get_expert

    with pytest.raises(ValueError, match=msg):
        get_expert("minilm", **options)


def test_hf_expert_reads_layers_too(minilm):
    from net2net.experts.text import HFTextExpert

    texts = ["a light coat"]
    assert HFTextExpert(layer="layer6").encode(texts).allclose(HFTextExpert().encode(texts), atol=1e-6)
    e = HFTextExpert(layer="embeddings+layer3")
    assert e.dim == 768 and e.encode(texts).shape == (1, 768) and e.settings()["layer"] == "embeddings+layer3"
