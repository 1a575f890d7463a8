"""Pairs for text → generator, made the paper's way (Sec. 4.1).

A generator has no encoder, so there are no (image, latent) pairs to read off a data
set. Instead: sample a class ``c`` and noise ``z̃``, generate ``y = G([z̃, W c])``,
caption ``y`` with a captioner built from the zoo classifier and the caption templates,
embed the caption with MiniLM (``z_Φ``), and keep the dequantised latent ``[z̃, u]``
as ``z_Θ``. The pairs are cached under the feature store's folder, in
``pairs/gan-captions-<split>-<key>/`` (``pairs.safetensors`` and a ``manifest.json``
with what made them and the file's sha256), keyed by everything that made them (the
experts' fingerprints, ``n``, seed, split). The folder appears whole or not at all,
and a file that does not match its manifest is refused, never reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from net2net.data.captions import caption
from net2net.experts.base import encode_all
from net2net.io import atomic_directory, atomic_write_json, load_tensors, read_json, save_tensors, sha256_file
from net2net.train.fit import Pairs
from net2net.train.recipe import register_data_source

__all__ = ["gan_caption_pairs", "ensure_dequantizer"]


def ensure_dequantizer(seed: int = 0) -> dict[str, Any]:
    """Trains and installs the class-embedding VAE of the zoo generator if it is missing."""
    from net2net.zoo import dequantizer as dequant
    from net2net.zoo.catalogue import load_expert

    if dequant.is_installed():
        return {}
    vae, metrics = dequant.train_dequantizer(load_expert("fmnist-gan"), dequant.DequantConfig(), seed=seed)
    if metrics["class_round_trip_accuracy"] < 0.99:
        raise RuntimeError(f"the dequantiser loses the class ({metrics}); retrain with more steps")
    dequant.save_dequantizer(vae, dequant.WEIGHTS, metrics)
    return metrics


@torch.no_grad()
def gan_caption_pairs(n: int, *, seed: int = 0, split: str = "train", root: Path | None = None,
                      progress: bool | None = None, batch_size: int = 500) -> Pairs:
    """``n`` pairs (MiniLM caption embedding, dequantised generator latent), cached."""
    from net2net.experts.registry import get_expert
    from net2net.features import FeatureStore
    from net2net.zoo.scoring import classifier

    ensure_dequantizer()
    target = get_expert("fmnist-gan-dequant")
    clf, text = classifier(), get_expert("minilm")
    spec = {"what": "gan-captions", "n": n, "seed": seed, "split": split, "generator": target.fingerprint(),
            "classifier": clf.fingerprint(), "text": text.fingerprint()}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    folder = FeatureStore(root).root / "pairs" / f"gan-captions-{split}-{key}"
    if (folder / "manifest.json").is_file():
        return _read_verified(folder, spec)
    g = torch.Generator().manual_seed(seed * 2 + (0 if split == "train" else 1))
    labels = torch.randint(0, 10, (n,), generator=g)
    latents, captions = [], []
    for i in range(0, n, batch_size):
        z = target.sample_latent(labels[i : i + batch_size], generator=g)
        images = target.decode(z).cpu()
        predicted = clf.predict(images).cpu()  # the captioner names what it sees, not what was asked
        captions += caption(images, predicted, split="train" if split == "train" else "heldout", seed=seed,
                            indices=range(i, i + len(z)))
        latents.append(z.cpu())
    cond = encode_all(text, captions, progress=progress, desc="embed captions")
    pairs = {"cond": cond, "target": torch.cat(latents), "labels": labels}
    with atomic_directory(folder) as tmp:
        save_tensors(tmp / "pairs.safetensors", pairs, metadata={"spec": json.dumps(spec)})
        atomic_write_json(tmp / "manifest.json", {"spec": spec, "file": "pairs.safetensors",
                                                  "sha256": sha256_file(tmp / "pairs.safetensors")})
    return Pairs(pairs["cond"], pairs["target"])


def _read_verified(folder: Path, spec: dict[str, Any]) -> Pairs:
    """The cached pairs, after checking the manifest's spec and the file's sha256."""
    fix = f"delete the folder {folder} and run again"
    m = read_json(folder / "manifest.json")
    path = folder / "pairs.safetensors"
    if not isinstance(m, dict) or m.get("spec") != spec or m.get("file") != path.name:
        raise ValueError(f"{folder / 'manifest.json'}: does not describe these pairs; {fix}")
    if not path.is_file() or sha256_file(path) != m.get("sha256"):
        raise ValueError(f"{path}: missing or its sha256 does not match the manifest; {fix}")
    t = load_tensors(path)
    return Pairs(t["cond"], t["target"])


@register_data_source("gan-captions", {"n_train": (int, 20000), "n_val": (int, 2000), "seed": (int, 0), "root": (str, None)})
def _gan_captions_source(f: dict[str, Any], base: Path) -> tuple[Pairs, Pairs, dict[str, Any]]:
    root = base / f["root"] if "root" in f else None
    train = gan_caption_pairs(f["n_train"], seed=f["seed"], split="train", root=root)
    val = gan_caption_pairs(f["n_val"], seed=f["seed"], split="val", root=root)
    return train, val, {"source": "gan-captions", **f}
