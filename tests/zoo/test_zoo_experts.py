"""The shipped zoo experts: load by name, meet their stated figures, keep their interfaces."""

from __future__ import annotations

import shutil

import pytest
import torch

from net2net.data.derived import downsample, sobel_edges
from net2net.data.fashion_mnist import load_fashion_mnist, to_float
from net2net.evaluate import zoo_metrics as zm
from net2net.zoo import list_zoo, load_expert, zoo_info
from net2net.zoo.store import WEIGHTS_DIR

N_TEST = 2000
NAMES = ["fmnist-classifier", "fmnist-edge-classifier", "fmnist-ae", "fmnist-lowres-ae", "fmnist-gan",
         "shapes-classifier", "shapes-ae"]


@pytest.fixture(scope="module")
def test_split():
    x, y = load_fashion_mnist("test")
    return to_float(x[:N_TEST]), torch.from_numpy(y[:N_TEST].copy())


@pytest.fixture(scope="module")
def classifier():
    return load_expert("fmnist-classifier")


def test_every_expert_is_shipped_small_and_verified():
    assert sorted(NAMES) == sorted(list_zoo())
    total = sum((WEIGHTS_DIR / n / "model.safetensors").stat().st_size for n in NAMES if n.startswith("fmnist-"))
    assert total < 15e6


def test_the_colour_domain_fits_its_20_mb():
    from net2net.translator import TRANSLATORS_DIR

    files = [f for n in NAMES if n.startswith("shapes-") for f in (WEIGHTS_DIR / n).iterdir()]
    files += [f for d in TRANSLATORS_DIR.glob("shapes-*") for f in d.rglob("*") if f.is_file()]
    assert len(files) > 10 and sum(f.stat().st_size for f in files) <= 20e6
    for name in NAMES:
        info = zoo_info(name)
        assert info["recipe"] == name and len(info["sha256"]) == 64 and info["metrics"]["test"]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="fmnist-classifier.*fmnist-gan"):
        load_expert("fmnist-vgg")


def test_corrupt_weights_are_refused(tmp_path):
    shutil.copytree(WEIGHTS_DIR / "fmnist-lowres-ae", tmp_path / "fmnist-lowres-ae")
    weights = tmp_path / "fmnist-lowres-ae" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256.*net2net zoo train fmnist-lowres-ae"):
        load_expert("fmnist-lowres-ae", folder=tmp_path)


def test_classifier_accuracy_and_taps(classifier, test_split):
    x, y = test_split
    acc = zm.classification_metrics(classifier, x, y)["accuracy"]
    assert acc >= 0.91, acc
    assert classifier.dim == 128 and classifier.encode(x[:4]).shape == (4, 128)
    for layer in classifier.layers:
        assert classifier.tap(x[:3], layer).shape == (3, classifier.layer_dim(layer))
    tap = classifier.at_layer("conv2", pool="avg")
    assert tap.encode(x[:3]).shape == (3, classifier.config.channels[1])
    with pytest.raises(ValueError, match="conv1, conv2"):
        classifier.tap(x[:1], "conv9")


def test_edge_classifier_reads_edges(test_split):
    x, y = test_split
    f = load_expert("fmnist-edge-classifier")
    stated = zoo_info("fmnist-edge-classifier")["metrics"]["test"]["accuracy"]
    acc = zm.classification_metrics(f, sobel_edges(x), y)["accuracy"]
    assert acc >= stated - 0.015, (acc, stated)


def test_autoencoder_reconstructs(test_split):
    x, _ = test_split
    g = load_expert("fmnist-ae")
    z = g.encode(x[:8])
    assert z.shape == (8, g.dim)
    out = g.decode(z)
    assert out.shape == (8, 1, 28, 28) and 0 <= out.min() and out.max() <= 1
    stated = zoo_info("fmnist-ae")["metrics"]["test"]
    m = zm.reconstruction_metrics(g, x)
    assert m["psnr"] >= stated["psnr"] - 0.5, (m, stated)
    # A flow models this latent next: it must be roughly standardised, not collapsed.
    assert 0.2 < float(g.encode(x).std(0).mean()) < 3.0


def test_lowres_autoencoder_reconstructs(test_split):
    x, _ = test_split
    g = load_expert("fmnist-lowres-ae")
    small = downsample(x, 7)
    assert g.dim == 16 and g.decode(g.encode(small[:2])).shape == (2, 1, 7, 7)
    stated = zoo_info("fmnist-lowres-ae")["metrics"]["test"]
    assert zm.reconstruction_metrics(g, small)["psnr"] >= stated["psnr"] - 0.5


def test_generator_latent_layout_and_quality(classifier):
    g = load_expert("fmnist-gan")
    zdim, edim = g.config.z_dim, g.config.embed_dim
    assert g.dim == zdim + edim
    labels = torch.tensor([0, 9, 9])
    z = g.sample_latents(3, classes=labels, seed=0)
    # [z̃, W·onehot(c)]: the tail is column c of W, the head standard normal noise.
    torch.testing.assert_close(z[:, zdim:], g.net.embed.weight.T[labels])
    torch.testing.assert_close(z, g.sample_latents(3, classes=labels, seed=0))
    torch.testing.assert_close(z, g.encode((z[:, :zdim], labels)))
    assert g.decode(z).shape == (3, 1, 28, 28)
    assert g.input_kind == "latent"
    with pytest.raises(ValueError, match="no image encoder"):
        g.encode(torch.zeros(1, 1, 28, 28))
    stated = zoo_info("fmnist-gan")["metrics"]["test"]
    acc = zm.generated_class_accuracy(g, classifier, per_class=100)["generated_accuracy"]
    assert acc >= stated["generated_accuracy"] - 0.05, (acc, stated)


def test_zoo_experts_are_in_the_expert_registry():
    from net2net.experts.registry import available_experts, get_expert

    assert set(NAMES) <= set(available_experts())
    tap = get_expert("fmnist-classifier", layer="conv3", pool="avg")
    assert tap.encode(torch.rand(2, 1, 28, 28)).shape == (2, 96)


def test_a_hostile_expert_config_is_refused_before_building(tmp_path):
    import json

    shutil.copytree(WEIGHTS_DIR / "fmnist-lowres-ae", tmp_path / "fmnist-lowres-ae")
    cfg_path = tmp_path / "fmnist-lowres-ae" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["config"]["channels"] = [1_000_000_000, 64]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"config channels\[0\] = 1000000000 is larger than anything its weights hold"):
        load_expert("fmnist-lowres-ae", folder=tmp_path)
    cfg["config"]["channels"] = "wide"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="VAEConfig.channels must be a list"):
        load_expert("fmnist-lowres-ae", folder=tmp_path)
