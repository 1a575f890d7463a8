"""The one registry of query domains: each makes its kind, gets exactly its params, any size and colour."""

import numpy as np
import pytest
import torch

from net2net.data.derived import box_masks, downsample, sobel_edges, upsample
from net2net.data.domains import DOMAINS, Domain, Items, derive, get_domain, resolve_domain


def _items(x: np.ndarray, y: np.ndarray, start: int = 0, total: int | None = None) -> Items:
    return Items(torch.from_numpy(x).float()[:, None] / 255.0, y, {}, start=start, total=total)


def test_box_masks_slices_match_whole():
    whole = box_masks(50, seed=7)
    assert torch.equal(box_masks(50, seed=7, start=20, stop=35), whole[20:35])
    assert ((whole == 0).flatten(1).sum(1) > 0).all()
    assert torch.equal(box_masks(50, (28, 28), seed=7), whole)  # (H, W) form, same boxes


@pytest.mark.parametrize("name", list(DOMAINS))
def test_domains_make_their_kind(name):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    y = np.arange(6)
    d = get_domain(name)
    out = d(_items(x, y, total=6))
    if d.kind == "image":
        assert out.dim() == 4 and out.shape[0] == 6 and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    elif d.kind == "text":
        assert len(out) == 6 and all(isinstance(s, str) and s for s in out)
    elif name == "descriptors":  # the class and the garment's levels, as multi-hot names
        from net2net.data.captions import levels
        from net2net.data.fashion_mnist import CLASS_NAMES

        want = [[f"class={CLASS_NAMES[i]}", f"brightness={lv['brightness']}", f"width={lv['width']}"]
                for i, lv in enumerate(levels(x, y))]
        assert out == want
    else:
        assert out == list(range(6))


def test_params_are_exactly_what_the_function_gets():
    for d in DOMAINS.values():
        got: dict = {}
        Domain(d.name, d.kind, lambda items, _got=got, **kw: _got.update(kw), d.params)(Items(None))
        assert got == dict(d.params), d.name


def test_masked_and_lowres_are_what_they_say():
    x = np.full((4, 28, 28), 255, np.uint8)
    m = get_domain("masked")(_items(x, np.zeros(4, int), start=10, total=100))
    assert torch.equal(m, 1 * box_masks(100, seed=0)[10:14] + 0.5 * (1 - box_masks(100, seed=0)[10:14]))
    img = torch.from_numpy(np.arange(784, dtype=np.uint8).reshape(1, 28, 28) % 251).float()[:, None] / 255
    lo = derive("lowres-7", img)
    assert lo.shape == (1, 1, 7, 7)  # lowres-7 is a 7 x 7 image everywhere; it is only shown enlarged
    assert torch.allclose(upsample(lo, 28), upsample(downsample(img, 7), 28))
    with pytest.raises(ValueError, match="unknown transform 'blur'; choose one of identity"):
        get_domain("blur")


def test_colour_and_any_size():
    rgb = torch.rand(3, 3, 20, 12)
    assert derive("edges", rgb).shape == (3, 1, 20, 12)
    assert derive("silhouette", rgb).shape == (3, 1, 20, 12)
    assert derive("lowres-7", rgb).shape == (3, 3, 7, 7)
    m = derive("masked", rgb)
    assert m.shape == rgb.shape and ((m == 0.5).all(1)).any()
    grey = rgb[:, :1]
    assert torch.equal(derive("edges", grey), sobel_edges(grey))


def test_columns_are_domains_and_unknown_columns_are_listed():
    kinds = {"text": "text", "red": "label", "round": "label"}
    items = Items(torch.zeros(2, 3, 4, 4), None, {"text": ["a", "b"], "red": [1, 0], "round": [0, 0]})
    cap = resolve_domain("captions", None, kinds, generated_captions=False)
    assert cap.name == "column:text" and cap.kind == "text" and cap(items) == ["a", "b"]
    flags = resolve_domain(None, "red,round", kinds, generated_captions=False)
    assert flags.kind == "label" and flags(items).tolist() == [[1.0, 0.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match="no column 'txt' in this data set; its columns are text, red, round"):
        resolve_domain(None, "txt", kinds, generated_captions=False)
    with pytest.raises(ValueError, match="no captions: no 'text' column"):
        resolve_domain("captions", None, {"red": "label"}, generated_captions=False)
