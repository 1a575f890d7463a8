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
