import numpy as np
import pytest
import torch

from net2net.data.derived import box_masks
from net2net.data.transforms import TRANSFORMS, get_transform


def test_box_masks_slices_match_whole():
    whole = box_masks(50, seed=7)
    assert torch.equal(box_masks(50, seed=7, start=20, stop=35), whole[20:35])
    assert ((whole == 0).flatten(1).sum(1) > 0).all()


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms_make_their_kind(name):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    y = np.arange(6)
    t = get_transform(name)
    out = t(x, y, np.arange(6), 6)
    if t.kind == "image":
        assert out.shape == (6, 1, 28, 28) and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    elif t.kind == "text":
        assert len(out) == 6 and all(isinstance(s, str) and s for s in out)
    else:
        assert out == list(range(6))


def test_masked_and_lowres_are_what_they_say():
    x = np.full((4, 28, 28), 255, np.uint8)
    m = get_transform("masked")(x, np.zeros(4, int), np.arange(10, 14), 100)
    assert torch.equal(m, 1 * box_masks(100, seed=0)[10:14] + 0.5 * (1 - box_masks(100, seed=0)[10:14]))
    lo = get_transform("lowres-7")(np.arange(784, dtype=np.uint8).reshape(1, 28, 28) % 251, np.zeros(1, int), np.arange(1), 1)
    assert lo[0, 0, :4, :4].unique().numel() == 1  # 4 x 4 blocks
    with pytest.raises(ValueError, match="unknown transform 'blur'; choose one of identity"):
        get_transform("blur")
