import pytest
import torch
from torch import nn

from net2net.experts.base import Expert
from net2net.experts.tap import LayerTap, layer_names


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 28 * 28, 10))


@pytest.mark.parametrize("pool,dim", [("flatten", 4 * 28 * 28), ("avg", 4), ("max", 4)])
def test_spatial_tap_shapes_dtype_determinism(pool, dim):
    tap = LayerTap(_net(), "1", pool=pool, example=torch.zeros(1, 1, 28, 28))
    x = torch.rand(6, 1, 28, 28)
    z = tap.encode(x)
    assert isinstance(tap, Expert)
    assert tap.dim == dim and z.shape == (6, dim) and z.dtype == torch.float32
    assert torch.equal(z, tap.encode(x))
    assert not any(p.requires_grad for p in tap.parameters())


def test_tap_matches_the_layer_and_output():
    net = _net()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        want = net[:2](x).mean(dim=(2, 3))
        out = net(x)
    assert torch.allclose(LayerTap(net, "1", pool="avg", dim=4).encode(x), want)
    assert torch.allclose(LayerTap(net, "", dim=10).encode(x), out)


def test_wrong_layer_lists_valid_names():
    with pytest.raises(ValueError, match=r"no layer 'conv9'; valid layer names: 0, 1, 2, 3"):
        LayerTap(_net(), "conv9", dim=4)
    assert layer_names(_net()) == ["0", "1", "2", "3"]


def test_needs_example_or_dim_and_checks_dim():
    with pytest.raises(ValueError, match="example="):
        LayerTap(_net(), "1")
    tap = LayerTap(_net(), "1", pool="avg", dim=5)
    with pytest.raises(RuntimeError, match=r"expected \(B, 5\)"):
        tap.encode(torch.rand(2, 1, 28, 28))


def test_fingerprint_depends_on_layer_and_weights():
    net = _net()
    a = LayerTap(net, "1", pool="avg", dim=4).fingerprint()
    assert a == LayerTap(net, "1", pool="avg", dim=4).fingerprint()
    assert a != LayerTap(net, "0", pool="avg", dim=4).fingerprint()
    with torch.no_grad():
        net[0].bias.add_(1)
    assert a != LayerTap(net, "1", pool="avg", dim=4).fingerprint()
