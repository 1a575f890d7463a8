"""Hub adapters on tiny random-weight models built here (real weights are not needed)."""

import pytest
import torch


def test_diffusers_vae_roundtrip_folder(tmp_path):
    diffusers = pytest.importorskip("diffusers", reason="needs net2net[hub]")
    from net2net.experts.hub import DiffusersVAEExpert

    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 16), norm_num_groups=4,
                                  latent_channels=4, down_block_types=("DownEncoderBlock2D",) * 2,
                                  up_block_types=("UpDecoderBlock2D",) * 2)
    vae.save_pretrained(tmp_path / "vae")
    e = DiffusersVAEExpert.from_pretrained(tmp_path / "vae", image_size=28)
    x = torch.rand(3, 1, 28, 28)
    z = e.encode(x)
    assert e.latent_shape == (4, 14, 14) and e.dim == 4 * 14 * 14
    assert z.shape == (3, e.dim) and z.dtype == torch.float32 and torch.equal(z, e.encode(x))
    y = e.decode(z)
    assert y.shape == (3, 1, 28, 28) and y.min() >= 0 and y.max() <= 1
    assert e.fingerprint() == DiffusersVAEExpert(vae, image_size=28, name=e.name).fingerprint()


def _tiny_biggan():
    pytest.importorskip("scipy")
    pb = pytest.importorskip("pytorch_pretrained_biggan", reason="needs net2net[hub]")
    torch.manual_seed(0)
    cfg = pb.BigGANConfig(z_dim=16, channel_width=4, num_classes=10,
                          layers=[(True, 16, 8), (False, 8, 4), (True, 4, 2), (False, 2, 1)], attention_layer_position=2)
    model = pb.BigGAN(cfg)
    with torch.no_grad():  # the last batch-norm's affine parameters start uninitialised
        model.generator.bn.weight.fill_(1.0)
        model.generator.bn.bias.zero_()
    return model, cfg


def test_biggan_latent_is_noise_and_class_embedding(tmp_path):
    from net2net.experts.hub import BigGANExpert
    from net2net.io import save_tensors

    model, cfg = _tiny_biggan()
    e = BigGANExpert(model, image_channels=1)
    noise, classes = torch.randn(4, 16), torch.tensor([0, 3, 9, 3])
    z = e.encode((noise, classes))
    assert e.dim == 32 and z.shape == (4, 32) and z.dtype == torch.float32
    assert torch.equal(z[:, :16], noise)
    assert torch.allclose(z[:, 16:], model.embeddings.weight.T[classes])
    y = e.decode(z)
    assert y.shape[:2] == (4, 1) and torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1
    with torch.no_grad():  # decode is exactly the package's forward pass
        ref = (model(noise, torch.nn.functional.one_hot(classes, 10).float(), 0.4) + 1) / 2
    assert torch.allclose(y, ref.clamp(0, 1).mean(1, keepdim=True), atol=1e-5)
    s = e.sample_latents(5, seed=1)
    assert s.shape == (5, 32) and torch.equal(s, e.sample_latents(5, seed=1))
    with pytest.raises(ValueError, match="class indices must be in 0-9"):
        e.encode((noise, torch.tensor([0, 1, 2, 10])))
    # from_pretrained reads config.json + model.safetensors, never a pickle
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "config.json").write_text(cfg.to_json_string())
    with pytest.raises(ValueError, match="no model.safetensors"):
        BigGANExpert.from_pretrained(tmp_path / "g")
    save_tensors(tmp_path / "g" / "model.safetensors", model.state_dict())
    again = BigGANExpert.from_pretrained(tmp_path / "g", image_channels=1)
    assert torch.allclose(again.decode(z), y)


def test_transformers_vision_pooled(tmp_path):
    transformers = pytest.importorskip("transformers", reason="needs net2net[hub]")
    from net2net.experts.hub import HFVisionExpert

    torch.manual_seed(0)
    cfg = transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                 image_size=28, patch_size=7, num_channels=3)
    transformers.ViTModel(cfg).save_pretrained(tmp_path / "vit")
    e = HFVisionExpert.from_pretrained(tmp_path / "vit")
    x = torch.rand(3, 1, 28, 28)
    z = e.encode(x)
    assert e.dim == 32 and z.shape == (3, 32) and z.dtype == torch.float32 and torch.equal(z, e.encode(x))
    assert torch.allclose(e.encode(x[:1]), z[:1], atol=1e-5)  # no batch coupling
