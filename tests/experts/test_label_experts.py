import numpy as np
import pytest
import torch

from net2net.data.fashion_mnist import CLASS_NAMES
from net2net.experts.labels import MultiHotExpert, OneHotExpert


def test_onehot_names_indices_tensors():
    e = OneHotExpert()
    z = e.encode(["dress", "Ankle boot", 0, np.int64(7)])
    assert z.shape == (4, 10) and z.dtype == torch.float32
    assert z.argmax(1).tolist() == [3, 9, 0, 7] and torch.all(z.sum(1) == 1)
    assert torch.equal(e.encode(torch.tensor([3, 9, 0, 7])), z)
    assert e.fingerprint() == OneHotExpert().fingerprint()
    assert e.fingerprint() != OneHotExpert(["a", "b"]).fingerprint()


def test_onehot_errors():
    with pytest.raises(ValueError, match="unknown class 'hat'"):
        OneHotExpert().encode(["hat"])
    with pytest.raises(ValueError, match="out of range"):
        OneHotExpert(["a", "b"]).encode([2])


def test_multihot():
    e = MultiHotExpert(["dark", "light", "wide"])
    z = e.encode([{"dark", "wide"}, set(), ["light"]])
    assert z.tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]] and z.dtype == torch.float32
    assert torch.equal(e.encode(torch.tensor([[1, 0, 1]])), z[:1])
    with pytest.raises(ValueError, match="unknown attribute 'big'"):
        e.encode([{"big"}])
    with pytest.raises(ValueError, match="wrap it"):
        e.encode(["dark"])


def test_garment_expert_fills_the_levels_a_query_leaves_out() -> None:
    from net2net.data.captions import LEVELS, typical_levels
    from net2net.experts.labels import GarmentExpert, label_columns

    g = GarmentExpert()
    assert label_columns(g) == {"class": tuple(CLASS_NAMES), **LEVELS}
    names = list(g.attributes)

    def flags(*on: str) -> list[float]:
        return [1.0 if a in on else 0.0 for a in names]

    typical = typical_levels(9)
    want = flags("class=ankle-boot", f"brightness={typical['brightness']}", "width=wide")
    assert g.encode([["class=Ankle-Boot", "width=wide"]]).tolist() == [want]  # spellings of a class, levels filled in
    assert g.encode([9, "ankle-boot"]).tolist() == [flags("class=ankle-boot", f"brightness={typical['brightness']}",
                                                           "width=mid")] * 2
    full = ["class=coat", "brightness=very-dark", "width=narrow"]
    assert g.encode([full]).tolist() == [flags(*full)]
    with pytest.raises(ValueError, match="name the class"):
        g.encode([["brightness=dark"]])
    with pytest.raises(ValueError, match="unknown attribute 'brightness=grey'"):
        g.encode([["class=coat", "brightness=grey"]])
    with pytest.raises(ValueError, match="not one string"):
        g.encode(["class=coat"])
