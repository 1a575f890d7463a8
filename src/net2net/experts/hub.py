"""Adapters for pretrained networks from model hubs: a diffusers VAE, BigGAN, transformers vision encoders.

Each loads with ``from_pretrained(id_or_folder)``; the weights must already be on this
machine (net2net switches the hub offline and never downloads at run time). The tests
use tiny random-weight models built locally. Images are the project's ``(B, C, H, W)``
float tensors in ``[0, 1]``; the adapters convert to each network's convention
(``[-1, 1]``, three channels) and back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from net2net.experts.base import TorchExpert
from net2net.io import load_tensors

__all__ = ["BigGANExpert", "DiffusersVAEExpert", "HFVisionExpert", "match_channels"]


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def match_channels(images: Tensor, channels: int) -> Tensor:
    """Grey to RGB by repetition, RGB to grey by averaging; anything else is an error."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1:
        return images.expand(-1, channels, -1, -1)
    if channels == 1:
        return images.mean(dim=1, keepdim=True)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def _need(package: str, extra: str = "hub") -> None:
    raise ValueError(f"this expert needs the package {package!r}: pip install 'net2net[{extra}]'")


class DiffusersVAEExpert(TorchExpert):
    """A diffusers ``AutoencoderKL``: encode to the flattened latent mean, decode to images.

    Args:
        vae: an ``AutoencoderKL`` (see :meth:`from_pretrained`).
        image_size: the side of the images it will see (fixes ``dim``).
        image_channels: channels of the project's images (1 for Fashion-MNIST); converted
            to and from the VAE's own.
        name: the expert's name.
        device: where it runs.
    """

    def __init__(self, vae: nn.Module, *, image_size: int = 28, image_channels: int = 1, name: str = "vae",
                 device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.vae = vae
        self.image_size = image_size
        self.image_channels = image_channels
        self.name = name
        self.to(device)
        self.freeze()
        with torch.inference_mode():  # a dry run finds the latent's shape (down-sampling pads odd sizes)
            lat = self._latent(torch.zeros(1, image_channels, image_size, image_size, device=self.device))
        self.latent_shape = tuple(lat.shape[1:])
        self.dim = int(lat[0].numel())

    @classmethod
    def from_pretrained(cls, id_or_path: str | os.PathLike, *, subfolder: str | None = None, **kwargs: Any) -> DiffusersVAEExpert:
        """Loads ``AutoencoderKL`` weights from a folder or a hub id already in the local cache."""
        _offline()
        try:
            from diffusers import AutoencoderKL
        except ImportError:
            _need("diffusers")
        vae = AutoencoderKL.from_pretrained(str(id_or_path), subfolder=subfolder, use_safetensors=True)
        kwargs.setdefault("name", f"vae:{Path(str(id_or_path)).name}")
        return cls(vae, **kwargs)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "image_size": self.image_size, "image_channels": self.image_channels}

    def _latent(self, images: Tensor) -> Tensor:
        x = match_channels(images.float(), self.vae.config.in_channels) * 2 - 1
        return self.vae.encode(x).latent_dist.mean

    def _encode(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"{self.name}: expects images (B, C, {self.image_size}, {self.image_size}), got {tuple(images.shape)}")
        return self._latent(images).flatten(1)

    def _decode(self, z: Tensor) -> Tensor:
        x = self.vae.decode(z.view(-1, *self.latent_shape)).sample
        x = x[..., : self.image_size, : self.image_size]  # undo the encoder's padding of odd sizes
        return match_channels(((x + 1) / 2).clamp(0, 1), self.image_channels)


class BigGANExpert(TorchExpert):
    """BigGAN (``pytorch-pretrained-biggan``) as a decoder: its latent is ``[z̃, W c]``.

    As in Sec. 4.1 of the paper, the representation of a sample is the concatenation of
    the noise ``z̃`` and the class embedding ``W c`` (dim ``2 * z_dim``), which is exactly
    the generator's input. ``encode`` builds that vector from ``(noise, classes)``;
    ``decode`` feeds it to the generator.

    Args:
        model: a ``pytorch_pretrained_biggan.BigGAN``.
        truncation: the truncation the batch-norm statistics are read at (0, 1].
        image_channels: channels of the returned images (RGB averaged to grey for 1).
        image_size: resize generated images to this side (None: keep).
    """

    def __init__(self, model: nn.Module, *, truncation: float = 0.4, image_channels: int = 3,
                 image_size: int | None = None, name: str = "biggan", device: str | torch.device = "cpu") -> None:
        super().__init__()
        if not 0 < truncation <= 1:
            raise ValueError(f"truncation must be in (0, 1], got {truncation}")
        self.model = model
        self.truncation = float(truncation)
        self.image_channels = image_channels
        self.image_size = image_size
        self.name = name
        self.z_dim = int(model.config.z_dim)
        self.num_classes = int(model.config.num_classes)
        self.dim = 2 * self.z_dim
        self.input_kind = "latent"
        self.to(device)
        self.freeze()

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> BigGANExpert:
        """Loads a folder with ``config.json`` and ``model.safetensors``.

        The package's own ``pytorch_model.bin`` files are pickles, which net2net does not
        read; convert one once with :meth:`convert_checkpoint` where you trust it.
        """
        try:
            from pytorch_pretrained_biggan import BigGAN, BigGANConfig
        except ImportError:
            _need("pytorch-pretrained-biggan (and scipy)")
        folder = Path(path)
        if not (folder / "model.safetensors").is_file():
            raise ValueError(f"{folder}: no model.safetensors; convert the .bin checkpoint with "
                             "BigGANExpert.convert_checkpoint(bin_file, config_file, out_folder)")
        model = BigGAN(BigGANConfig.from_json_file(str(folder / "config.json")))
        state = load_tensors(folder / "model.safetensors")
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{folder}: weights do not fit the config (missing {missing[:5]}, unexpected {unexpected[:5]})")
        kwargs.setdefault("name", f"biggan:{folder.name}")
        return cls(model, **kwargs)

    @staticmethod
    def convert_checkpoint(bin_file: str | os.PathLike, config_file: str | os.PathLike, out: str | os.PathLike) -> Path:
        """Turns the package's pickled checkpoint into ``config.json`` + ``model.safetensors``.

        Uses ``torch.load(weights_only=True)``, which refuses arbitrary objects.
        """
        from net2net.io import atomic_write_bytes, save_tensors

        state = torch.load(str(bin_file), map_location="cpu", weights_only=True)
        out = Path(out)
        save_tensors(out / "model.safetensors", state)
        atomic_write_bytes(out / "config.json", Path(config_file).read_bytes())
        return out

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "truncation": self.truncation, "image_channels": self.image_channels,
                "image_size": self.image_size}

    def sample_latents(self, n: int, *, classes: Tensor | None = None, seed: int = 0) -> Tensor:
        """``n`` latents ``[z̃, W c]`` with truncated-normal noise (|z̃| <= 2, scaled by the truncation)."""
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, self.z_dim, generator=g)
        while (bad := noise.abs() > 2).any():  # resample the tails: a truncated normal
            noise[bad] = torch.randn(int(bad.sum()), generator=g)
        if classes is None:
            classes = torch.randint(0, self.num_classes, (n,), generator=g)
        return self.encode((noise * self.truncation, classes))

    def _encode(self, batch: Any) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("BigGAN's encode takes (noise (B, z_dim), classes (B,) indices or (B, num_classes) vectors)")
        noise, classes = (torch.as_tensor(b).to(self.device) for b in batch)
        if noise.dim() != 2 or noise.shape[1] != self.z_dim:
            raise ValueError(f"noise must be (B, {self.z_dim}), got {tuple(noise.shape)}")
        if classes.dim() == 1:
            # Our own one-hot: the package's one_hot_from_int assumes 1000 classes.
            if classes.min() < 0 or classes.max() >= self.num_classes:
                raise ValueError(f"class indices must be in 0-{self.num_classes - 1}")
            classes = F.one_hot(classes.long(), self.num_classes)
        if classes.shape != (noise.shape[0], self.num_classes):
            raise ValueError(f"classes must be (B,) indices or (B, {self.num_classes}) vectors, got {tuple(classes.shape)}")
        return torch.cat([noise.float(), self.model.embeddings(classes.float())], dim=1)

    def _decode(self, z: Tensor) -> Tensor:
        x = self.model.generator(z, self.truncation)
        x = match_channels(((x + 1) / 2).clamp(0, 1), self.image_channels)
        if self.image_size is not None and x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="area")
        return x


class HFVisionExpert(TorchExpert):
    """Any ``transformers`` vision encoder (ViT, DINOv2, CLIP vision, ...): pooled output.

    Images are converted to the model's channels, resized to its ``image_size`` and
    normalised with its processor's mean/std (0.5 when it has no processor config).
    The representation is ``pooler_output`` when the model has one, else the mean of the
    last hidden states over tokens.
    """

    def __init__(self, model: nn.Module, *, mean: tuple[float, ...] = (0.5, 0.5, 0.5), std: tuple[float, ...] = (0.5, 0.5, 0.5),
                 name: str = "hf-vision", device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.net = model
        cfg = model.config
        self.channels = int(getattr(cfg, "num_channels", 3))
        size = getattr(cfg, "image_size", 224)
        self.size = int(size if isinstance(size, int) else size[0])
        self.register_buffer("mean", torch.tensor(mean[: self.channels]).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std[: self.channels]).view(1, -1, 1, 1))
        self.name = name
        self.to(device)
        self.freeze()
        with torch.inference_mode():
            self.dim = int(self._encode(torch.zeros(1, 1, self.size, self.size, device=self.device)).shape[1])

    @classmethod
    def from_pretrained(cls, id_or_path: str | os.PathLike, **kwargs: Any) -> HFVisionExpert:
        _offline()
        try:
            from transformers import AutoImageProcessor, AutoModel
        except ImportError:
            _need("transformers")
        model = AutoModel.from_pretrained(str(id_or_path))
        try:
            proc = AutoImageProcessor.from_pretrained(str(id_or_path))
            kwargs.setdefault("mean", tuple(proc.image_mean))
            kwargs.setdefault("std", tuple(proc.image_std))
        except (OSError, ValueError, AttributeError, TypeError):
            pass  # no processor config saved with the model: keep the 0.5 defaults
        kwargs.setdefault("name", f"hf:{Path(str(id_or_path)).name}")
        return cls(model, **kwargs)

    def _encode(self, images: Tensor) -> Tensor:
        if images.dim() != 4:
            raise ValueError(f"{self.name}: expects images (B, C, H, W), got {tuple(images.shape)}")
        x = match_channels(images.float(), self.channels)
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        out = self.net(pixel_values=(x - self.mean) / self.std)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=1)
        return pooled.reshape(pooled.shape[0], -1)
