import numpy as np
import pytest
import torch

from net2net.data.captions import NOUNS, TEMPLATES, caption, describe, measure
from net2net.data.fashion_mnist import CLASS_NAMES, to_float


def _images():
    x = np.zeros((3, 28, 28), np.uint8)
    x[0, 4:24, 4:24] = 60    # a dark, large square
    x[1, 2:26, 12:16] = 250  # a light, narrow bar
    x[2, 10:18, 2:26] = 200  # wide
    return x


def test_measure_and_describe():
    m = measure(_images())
    assert np.allclose(m["size"], [400 / 784, 96 / 784, 192 / 784])
    assert m["width"][1] == pytest.approx(4 / 24) and m["width"][2] == pytest.approx(24 / 8)
    d = describe(_images(), [3, 3, 3])
    assert d[0]["brightness"] == "dark" and d[0]["size"] == "large"
    assert d[1]["brightness"] == "light" and d[1]["width"] == "narrow"
    assert d[2]["width"] == "wide"
    assert describe(to_float(_images()), torch.tensor([3, 3, 3])) == d  # float input agrees


def test_caption_splits_disjoint_deterministic_and_chunk_free():
    assert not set(TEMPLATES["train"]) & set(TEMPLATES["heldout"])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    y = np.arange(40) % 10
    a = caption(x, y, "train", seed=3)
    assert a == caption(x, y, "train", seed=3)
    assert a != caption(x, y, "train", seed=4)
    assert a[10:20] == caption(x[10:20], y[10:20], "train", seed=3, indices=np.arange(10, 20))
    held = caption(x, y, "heldout", seed=3)
    for text, c in zip(a, y):
        assert any(n in text for n in NOUNS[CLASS_NAMES[c]])
    assert len(set(a)) > 20
    # every caption is one of its split's templates around a thing; held-out wording never
    # uses a training template (the bare "{thing}" fits any text, so it is left out)
    worded = [t for t in TEMPLATES["train"] if t != "{thing}"]
    assert all(any(_fits(text, t) for t in TEMPLATES["train"]) for text in a)
    assert len({t for text in a for t in worded if _fits(text, t)}) >= 4, "the wording varies"
    for h in held:
        assert any(_fits(h, t) for t in TEMPLATES["heldout"]), h
        assert not any(_fits(h, t) for t in worded), h


def _fits(text: str, template: str) -> bool:
    pre, post = template.split("{thing}")
    return text.startswith(pre) and text.endswith(post) and len(text) > len(pre) + len(post)


def test_caption_errors():
    with pytest.raises(ValueError, match="split must be one of"):
        caption(_images(), [0, 1, 2], split="test")
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        caption(_images(), [0, 1])
    with pytest.raises(ValueError, match="labels must be in 0-9"):
        caption(_images(), [0, 1, 10])


def test_descriptor_levels_are_the_training_splits_quintiles_and_class_z_scores() -> None:
    """The fixed level edges of captions.levels are what they say: brightness quintiles over
    all 60,000 training garments; width z-scores within the class (its training mean and std)."""
    from net2net.data import captions
    from net2net.data.fashion_mnist import load_fashion_mnist

    x, y = load_fashion_mnist("train")
    m = captions.measure(x)
    np.testing.assert_allclose(captions._BRIGHTNESS_EDGES, np.quantile(m["brightness"], [0.2, 0.4, 0.6, 0.8]), atol=1e-4)
    stats = [[m["width"][y == c].mean(), m["width"][y == c].std()] for c in range(10)]
    np.testing.assert_allclose(captions._WIDTH_STATS, stats, atol=1e-4)
    read = captions.levels(x[:5000], y[:5000])
    share = {lv: np.mean([r["brightness"] == lv for r in read]) for lv in captions.LEVELS["brightness"]}
    assert all(0.15 < v < 0.25 for v in share.values()), share  # about a fifth each
    for c in range(10):
        median = np.median(m["brightness"][y == c])
        assert captions.typical_levels(c)["brightness"] == captions.LEVELS["brightness"][
            int(np.digitize(median, captions._BRIGHTNESS_EDGES))]


def test_levels_refuse_a_label_count_that_disagrees() -> None:
    from net2net.data.captions import levels

    with pytest.raises(ValueError, match="2 images but 1 labels"):
        levels(np.zeros((2, 28, 28), np.uint8), [0])
