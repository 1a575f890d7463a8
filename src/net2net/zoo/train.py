"""Training the zoo's experts from their recipes: one plain loop per kind.

A recipe (``zoo/recipes/NAME.json``) names the kind, the data (``data.dataset``: a
registered data set or a folder, default ``fashion-mnist``; ``data.domain``: the input
domain; ``data.splits``: the splits it trains on, default ``["train"]``), the network's config, the loss and the optimisation; :func:`train_expert` runs it, measures the
result on the test split with :mod:`net2net.evaluate.zoo_metrics`, and writes
``NAME.safetensors`` + ``NAME.json`` into the output folder. Batch order and
initialisation follow the recipe's seed.

The loop's pieces are the τ trainer's (:mod:`net2net.train.fit`): the learning-rate
schedule (:func:`~net2net.train.fit.lr_at`: linear warm-up, cosine to 5 %), the batch
sampler (:func:`~net2net.train.fit.batch_indices`: a fresh permutation per epoch from
``(seed, epoch)``) and, for the classifier, the optimiser. Randomness comes from local
``torch.Generator``s (batches, noise, flips); initial weights and dropout, which only
use the global RNG, are drawn under ``torch.random.fork_rng`` seeded by the recipe, so
the training loop leaves the caller's global random state as it was.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from net2net.data.domains import derive
from net2net.data.fashion_mnist import load_fashion_mnist, to_float
from net2net.io import read_json
from net2net.models import config_from_dict
from net2net.train.fit import TrainConfig, batch_indices, lr_at, make_optimizer, resolve_device
from net2net.zoo.nets import (
    VAE,
    ClassifierConfig,
    ConvClassifier,
    GANConfig,
    Generator,
    ProjectionDiscriminator,
    VAEConfig,
)
from net2net.zoo.store import RECIPES_DIR, WEIGHTS_DIR, entries, load_from, save_expert

__all__ = ["DOMAINS", "domain_images", "held_back_rows", "load_zoo_recipe", "recipe_names", "train_expert"]

#: Input domains a recipe may name (recipe name -> query domain of net2net.data.domains).
DOMAINS: dict[str, Callable[[Tensor], Tensor]] = {
    name: (lambda x, d=domain: derive(d, x)) for name, domain in
    (("image", "identity"), ("edges", "edges"), ("lowres-7", "lowres-7"))
}
_TRAIN_KEYS = {"epochs", "steps", "batch_size", "lr", "weight_decay", "seed", "hflip", "betas", "keep_best"}
#: ``train.keep_best``: rows held back from training to pick the best weights (at most).
_KEEP_ROWS = 500


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def load_zoo_recipe(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """A zoo recipe by name (``fmnist-ae``) or by path, checked for the fields every kind needs."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = RECIPES_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise ValueError(f"no zoo recipe named {str(name_or_path)!r}; choose one of {', '.join(recipe_names())}")
    r = read_json(path)
    for key in ("name", "kind", "data", "model", "train"):
        if key not in r:
            raise ValueError(f"{path}: recipe field {key!r} is missing")
    if r["kind"] not in ("classifier", "vae", "gan"):
        raise ValueError(f"{path}: recipe.kind {r['kind']!r} unknown; choose classifier, vae or gan")
    if r["data"].get("domain", "image") not in DOMAINS:
        raise ValueError(f"{path}: recipe.data.domain {r['data'].get('domain')!r} unknown; choose one of {sorted(DOMAINS)}")
    unknown = sorted(set(r["data"]) - {"domain", "dataset", "splits", "fit"})
    if unknown:
        raise ValueError(f"{path}: unknown recipe.data field(s) {unknown}; valid: dataset, domain, fit, splits")
    splits = r["data"].get("splits", ["train"])
    if not isinstance(splits, list) or not splits or not all(isinstance(x, str) for x in splits):
        raise ValueError(f"{path}: recipe.data.splits must be a non-empty list of split names, got {splits!r}")
    unknown = sorted(set(r["train"]) - _TRAIN_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown recipe.train field(s) {unknown}; valid: {sorted(_TRAIN_KEYS)}")
    return r


def domain_images(split: str, domain: str = "image", limit: int | None = None, *, dataset: str = "fashion-mnist",
                  heads: tuple[tuple[str, tuple[str, ...]], ...] = (), size: int | None = None,
                  channels: int | None = None, fit: str = "crop",
                  progress: bool | None = None) -> tuple[Tensor, Tensor | None]:
    """``(images float (N, C, H, W), labels)`` of ``dataset``'s ``split`` in ``domain``.

    ``labels`` are the class indices ``(N,)``; with attribute ``heads`` (a classifier's
    ``config.heads``) they are ``(N, len(heads))``, each column the index of the row's
    value in that head's values (read from the data set's column of that name).
    Images of another data set are made ``channels`` × ``size`` × ``size`` (the net's
    input) by :func:`net2net.data.convert.split_images`, each fitted by ``fit``.
    """
    if dataset == "fashion-mnist":
        x, y = load_fashion_mnist(split)
        if limit is not None:
            x, y = x[:limit], y[:limit]
        images, labels = to_float(x), torch.from_numpy(y.copy())
    else:
        from net2net.data.convert import ImageSpec, split_images
        from net2net.data.datasets import get_dataset

        data = get_dataset(dataset).load(split)
        n = len(data) if limit is None else min(limit, len(data))
        images, notes = split_images(data, ImageSpec(channels=channels, size=size), fit=fit, limit=n,
                                     progress=progress)
        if notes:
            print(f"{split}: {len(images)} images, converted: {'; '.join(notes)}", file=sys.stderr)
        labels = None if data.labels is None else torch.from_numpy(data.labels[:n].copy())
        if heads:
            labels = torch.tensor([_head_indices(data.columns, attr, values, n) for attr, values in heads]).T
    return DOMAINS[domain](images), labels


def _head_indices(columns: dict[str, list], attr: str, values: tuple[str, ...], n: int) -> list[int]:
    if attr not in columns:
        raise ValueError(f"the data set has no column {attr!r} for the classifier head {attr!r}; "
                         f"its columns are {', '.join(columns)}")
    out = []
    for i, v in enumerate(columns[attr][:n]):
        if v not in values:
            raise ValueError(f"row {i}: {attr} = {v!r} is not one of the head's values ({', '.join(values)})")
        out.append(values.index(v))
    return out


def _loop_config(t: dict[str, Any], total: int) -> TrainConfig:
    """The recipe's optimisation as the τ trainer's config: schedule, batches and seed."""
    return TrainConfig(steps=total, batch_size=t["batch_size"], lr=t["lr"], weight_decay=t.get("weight_decay", 0.0),
                       warmup_steps=max(1, min(200, total // 20)), min_lr_ratio=0.05, seed=t.get("seed", 0),
                       betas=tuple(t.get("betas", (0.9, 0.999))))


def _batches(n: int, cfg: TrainConfig):
    """``(step, rows)`` for every step: the τ trainer's sampler."""
    for step in range(cfg.steps):
        yield step, batch_indices(step, n, cfg)


def _set_lr(opt: torch.optim.Optimizer, step: int, cfg: TrainConfig) -> None:
    for group in opt.param_groups:
        group["lr"] = lr_at(step, cfg)


def _seeded(build: Callable[[], torch.nn.Module], seed: int) -> torch.nn.Module:
    """``build()`` with initial weights drawn from ``seed``, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _steps(train: dict[str, Any], n: int) -> int:
    if "steps" in train:
        return int(train["steps"])
    return int(train.get("epochs", 1)) * (n // train["batch_size"])


def _maybe_flip(x: Tensor, enabled: bool, gen: torch.Generator) -> Tensor:
    if not enabled:
        return x
    flip = torch.rand(len(x), generator=gen) < 0.5
    return torch.where(flip[:, None, None, None].to(x.device), x.flip(-1), x)


def _bar(total: int, desc: str, progress: bool | None) -> tqdm:
    return tqdm(total=total, desc=desc, unit="step", disable=(not progress) if progress is not None else None,
                dynamic_ncols=True)


class _KeepBest:
    """Scores the net on rows held back from training ``evals`` times (and at the last
    step) and keeps the weights that scored highest: PSNR for an autoencoder, mean
    accuracy over the heads for a classifier."""

    def __init__(self, kind: str, x: Tensor, y: Tensor | None, total: int, device: torch.device, evals: int = 10):
        self.kind, self.x, self.y, self.device = kind, x, y, device
        self.total, self.every = total, max(1, total // evals)
        self.best, self.best_step, self.state = -math.inf, 0, None
        self.history: list[tuple[int, float]] = []

    @torch.no_grad()
    def score(self, net: torch.nn.Module) -> float:
        out = []
        for s in range(0, len(self.x), 250):
            xb = self.x[s:s + 250].to(self.device)
            if self.kind == "vae":
                rec = net.decode(net.posterior(xb)[0]).clamp(0, 1)
                mse = (rec - xb).pow(2).flatten(1).mean(1).clamp_min(1e-10)
                out.append(10 * torch.log10(1.0 / mse))
            else:
                logits, yb = net(xb), self.y[s:s + 250].to(self.device)
                heads = list(net.split_heads(logits).values()) if net.config.heads else [logits]
                labels = [yb[:, k] for k in range(len(heads))] if net.config.heads else [yb]
                out.append(torch.stack([(h.argmax(1) == t).float() for h, t in zip(heads, labels, strict=True)]).mean(0))
        return float(torch.cat(out).mean())

    def __call__(self, step: int, net: torch.nn.Module) -> None:
        done = step + 1
        if done % self.every and done != self.total:
            return
        net.eval()
        value = self.score(net)
        net.train()
        self.history.append((done, round(value, 4)))
        if value > self.best:
            self.best, self.best_step = value, done
            self.state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    def postfix(self) -> dict[str, str]:
        name = "val_psnr" if self.kind == "vae" else "val_acc"
        return {name: f"{self.best:.2f}" if self.history else "-"}

    def metrics(self) -> dict[str, Any]:
        name = "psnr" if self.kind == "vae" else "accuracy"
        return {"rows": len(self.x), "best_step": self.best_step, name: round(self.best, 4),
                "history": [list(h) for h in self.history]}


def held_back_rows(n: int) -> int:
    """How many of ``n`` training rows ``train.keep_best`` holds back: 5 %, at most :data:`_KEEP_ROWS`."""
    return min(_KEEP_ROWS, n // 20)


def _hold_back(x: Tensor, y: Tensor | None, seed: int) -> tuple[Tensor, Tensor | None, Tensor, Tensor | None]:
    """``(x, y)`` split into training rows and at most :data:`_KEEP_ROWS` (5 %) held back, by ``seed``."""
    n_val = held_back_rows(len(x))
    if n_val < 1:
        raise ValueError(f"train.keep_best needs at least 20 training images to hold some back, got {len(x)}")
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    tr, va = perm[n_val:], perm[:n_val]
    return x[tr], None if y is None else y[tr], x[va], None if y is None else y[va]


def _input(r: dict[str, Any]) -> dict[str, Any]:
    """What the recipe's net reads, for :func:`domain_images`: its size, channels and the data's fit."""
    fit = r["data"].get("fit", "crop")
    if r["kind"] not in ("classifier", "vae"):
        return {"fit": fit}
    cfg = config_from_dict(ClassifierConfig if r["kind"] == "classifier" else VAEConfig, r["model"])
    return {"size": cfg.image_size, "channels": cfg.in_channels, "fit": fit}


# ----------------------------------------------------------------------- classifier
def _train_classifier(r: dict[str, Any], x: Tensor, y: Tensor, device: torch.device, progress: bool | None,
                      keep: _KeepBest | None = None):
    t = r["train"]
    cfg = config_from_dict(ClassifierConfig, r["model"])
    lc = _loop_config(t, _steps(t, len(x)))
    net = _seeded(lambda: ConvClassifier(cfg), lc.seed).to(device).train()
    opt = make_optimizer(net, lc)
    gen = torch.Generator().manual_seed(lc.seed)
    bar = _bar(lc.steps, f"train {r['name']}", progress)
    for step, idx in _batches(len(x), lc):
        _set_lr(opt, step, lc)
        xb = _maybe_flip(x[idx], t.get("hflip", False), gen).to(device)
        logits, yb = net(xb), y[idx].to(device)
        if cfg.heads:  # one cross-entropy per attribute head, summed
            loss = sum(F.cross_entropy(lg, yb[:, k], label_smoothing=0.05)
                       for k, lg in enumerate(net.split_heads(logits).values()))
        else:
            loss = F.cross_entropy(logits, yb, label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", **keep.postfix() if keep else {})
        bar.update(1)
        if keep is not None:
            keep(step, net)
    bar.close()
    return cfg, keep.state if keep is not None else net.eval().cpu().state_dict()


# ---------------------------------------------------------------------------- VAE
def _perceptual(feats: Callable[[Tensor], dict[str, Tensor]], layers: list[str], x: Tensor, rec: Tensor) -> Tensor:
    """Per-image LPIPS-style distance: channel-normalised feature maps, squared difference."""
    fx, fr = feats(x), feats(rec)
    out = torch.zeros(len(x), device=x.device)
    for name in layers:
        a = F.normalize(fx[name], dim=1, eps=1e-6)
        b = F.normalize(fr[name], dim=1, eps=1e-6)
        out = out + (a - b).pow(2).sum(1).mean(dim=(1, 2))
    return out


def _laplace_nll_and_kl(dist: Tensor, log_gamma: Tensor, mean: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """The VAE terms both autoencoders and the CVAE generator train with.

    Laplace NLL with one learned scale γ (Dai & Wipf, arXiv:1903.05789):
    ``|x - x̂|/γ + log γ`` per pixel, summed over pixels, averaged over the batch; and
    the KL of the diagonal Gaussian posterior to ``N(0, I)``.
    """
    nll = (dist / log_gamma.exp() + log_gamma).flatten(1).sum(1).mean()
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    return nll, kl


def _train_vae(r: dict[str, Any], x: Tensor, y: Tensor, device: torch.device, progress: bool | None,
               weights_dir: Path, keep: _KeepBest | None = None):
    t, loss_cfg = r["train"], r.get("loss", {})
    cfg = config_from_dict(VAEConfig, r["model"])
    lc = _loop_config(t, _steps(t, len(x)))
    net = _seeded(lambda: VAE(cfg), lc.seed).to(device).train()
    kl_weight = float(loss_cfg.get("kl_weight", 1.0))
    p_weight = float(loss_cfg.get("perceptual_weight", 0.0))
    layers = list(loss_cfg.get("perceptual_layers", ["conv1", "conv2"]))
    feats = None
    if p_weight > 0:
        # The zoo classifier stands in for the paper's VGG-16: frozen, in eval mode,
        # but differentiable w.r.t. its input (so not under inference mode).
        clf = _load_dependency(loss_cfg.get("perceptual", "fmnist-classifier"), weights_dir).to(device)
        upto = max(layers, key=("conv1", "conv2", "conv3", "fc1", "logits").index)
        def feats(im: Tensor) -> dict[str, Tensor]:
            return clf.net.features(im, upto=upto)

    likelihood = loss_cfg.get("likelihood", "laplace")
    if likelihood not in ("laplace", "gaussian"):
        raise ValueError(f"recipe.loss.likelihood must be 'laplace' or 'gaussian', got {likelihood!r}")
    opt = torch.optim.Adam(net.parameters(), lr=lc.lr, betas=lc.betas)
    gen = torch.Generator().manual_seed(lc.seed)
    bar = _bar(lc.steps, f"train {r['name']}", progress)
    for step, idx in _batches(len(x), lc):
        _set_lr(opt, step, lc)
        xb = x[idx].to(device)
        rec, mean, logvar = net(xb, generator=gen)
        if likelihood == "gaussian":
            # N(x̂, γ²) per pixel: the squared error's pull grows with the error, so a small
            # object the decoder still misses is not drowned by the background (as under L1,
            # whose optimum without information is the per-pixel median: the background).
            _, kl = _laplace_nll_and_kl((rec - xb).abs(), net.log_gamma, mean, logvar)
            nll = ((rec - xb).pow(2) / (2 * (2 * net.log_gamma).exp()) + net.log_gamma).flatten(1).sum(1).mean()
        else:
            dist = (rec - xb).abs()
            if feats is not None:
                dist = dist + p_weight * _perceptual(feats, layers, xb, rec)[:, None, None, None]
            nll, kl = _laplace_nll_and_kl(dist, net.log_gamma, mean, logvar)
        loss = nll + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(nll=f"{nll.item():.1f}", kl=f"{kl.item():.1f}", gamma=f"{net.log_gamma.exp().item():.3f}",
                            **keep.postfix() if keep else {})
        bar.update(1)
        if keep is not None:
            keep(step, net)
    bar.close()
    return cfg, keep.state if keep is not None else net.eval().cpu().state_dict()


# ---------------------------------------------------------------------------- GAN
def _train_gan(r: dict[str, Any], x: Tensor, y: Tensor, device: torch.device, progress: bool | None):
    t = r["train"]
    cfg = config_from_dict(GANConfig, r["model"])
    lc = _loop_config(t, _steps(t, len(x)))
    g_net = _seeded(lambda: Generator(cfg), lc.seed).to(device).train()
    d_net = _seeded(lambda: ProjectionDiscriminator(cfg), lc.seed + 1).to(device).train()
    betas = tuple(t.get("betas", (0.5, 0.999)))
    opt_g = torch.optim.Adam(g_net.parameters(), lr=t["lr"], betas=betas)
    opt_d = torch.optim.Adam(d_net.parameters(), lr=t["lr"] * 2, betas=betas)  # TTUR: D learns faster
    gen = torch.Generator().manual_seed(lc.seed)
    bar = _bar(lc.steps, f"train {r['name']}", progress)
    for step, idx in _batches(len(x), lc):
        xb, yb = _maybe_flip(x[idx], t.get("hflip", False), gen).to(device), y[idx].to(device)
        z = torch.randn(len(xb), cfg.z_dim, generator=gen).to(device)
        fake = g_net(torch.cat([z, g_net.class_embedding(yb)], 1))
        # Hinge loss (Lim & Ye; Miyato et al.), one D step per G step.
        d_loss = F.relu(1 - d_net(xb, yb)).mean() + F.relu(1 + d_net(fake.detach(), yb)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = -d_net(fake, yb).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if step % 20 == 0:
            bar.set_postfix(d=f"{d_loss.item():.3f}", g=f"{g_loss.item():.3f}")
        bar.update(1)
    bar.close()
    return cfg, g_net.eval().cpu().state_dict()


def _train_cvae_generator(r: dict[str, Any], x: Tensor, y: Tensor, device: torch.device, progress: bool | None,
                          weights_dir: Path):
    """The generator as the decoder of a conditional VAE: ``G([z̃, W c])`` with ``q(z̃ | x, c)``.

    Non-adversarial, so it converges in an epoch on a CPU where the hinge GAN does not.
    The KL weight is 1: samples use ``z̃ ~ N(0, I)``, so the aggregate posterior must
    match that prior. The encoder is thrown away; the shipped expert is ``G`` alone.

    A plain CVAE decoder learns to read the class from ``z̃`` (the encoder sees it in
    ``x``) and ignores ``W c``; so samples from the prior with random classes are also
    pushed, by the frozen zoo classifier's cross-entropy (weight ``loss.class_weight``),
    to show the class asked for - as AC-GAN's auxiliary classifier does.
    """
    t, loss_cfg = r["train"], r.get("loss", {})
    class_weight = float(loss_cfg.get("class_weight", 0.0))
    clf = _load_dependency(loss_cfg.get("classifier", "fmnist-classifier"), weights_dir).to(device) if class_weight else None
    cfg = config_from_dict(GANConfig, r["model"])
    lc = _loop_config(t, _steps(t, len(x)))
    c1, c2 = cfg.channels
    g_net, enc, head = _seeded(lambda: torch.nn.ModuleList([
        Generator(cfg),
        torch.nn.Sequential(torch.nn.Conv2d(1, c2, 4, 2, 1), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(c2, c1, 4, 2, 1),
                            torch.nn.LeakyReLU(0.2), torch.nn.Flatten()),
        torch.nn.Linear(c1 * 49 + cfg.num_classes, 2 * cfg.z_dim),
    ]), lc.seed).to(device)
    g_net.train()
    log_gamma = torch.nn.Parameter(torch.tensor(-3.0, device=device))
    params = [*g_net.parameters(), *enc.parameters(), *head.parameters(), log_gamma]
    opt = torch.optim.Adam(params, lr=lc.lr, betas=lc.betas)
    gen = torch.Generator().manual_seed(lc.seed)
    bar = _bar(lc.steps, f"train {r['name']} (cvae)", progress)
    for step, idx in _batches(len(x), lc):
        _set_lr(opt, step, lc)
        xb, yb = _maybe_flip(x[idx], t.get("hflip", False), gen).to(device), y[idx].to(device)
        onehot = F.one_hot(yb, cfg.num_classes).float()
        mean, logvar = head(torch.cat([enc(xb), onehot], 1)).chunk(2, dim=1)
        z = mean + torch.randn(mean.shape, generator=gen).to(device) * (0.5 * logvar).exp()
        rec = g_net(torch.cat([z, g_net.embed(onehot)], 1))
        nll, kl = _laplace_nll_and_kl((rec - xb).abs(), log_gamma, mean, logvar)
        loss = nll + kl
        ce = torch.zeros((), device=device)
        if clf is not None:
            c = torch.randint(0, cfg.num_classes, (len(xb),), generator=gen).to(device)
            z_prior = torch.randn(len(xb), cfg.z_dim, generator=gen).to(device)
            fake = g_net(torch.cat([z_prior, g_net.class_embedding(c)], 1))
            ce = F.cross_entropy(clf.net(fake), c)
            loss = loss + class_weight * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(nll=f"{nll.item():.1f}", kl=f"{kl.item():.1f}", ce=f"{ce.item():.2f}")
        bar.update(1)
    bar.close()
    return cfg, g_net.eval().cpu().state_dict()


# ------------------------------------------------------------------------ driver
def _load_dependency(name: str, weights_dir: Path):
    """An expert a recipe depends on: from the output folder if trained there, else the package."""
    if name in entries(weights_dir):
        return load_from(weights_dir, name)
    from net2net.zoo.catalogue import load_expert

    return load_expert(name)


def _evaluate(r: dict[str, Any], expert, domain: str, weights_dir: Path, eval_limit: int | None) -> dict[str, Any]:
    from net2net.evaluate import zoo_metrics as zm

    heads = expert.config.heads if r["kind"] == "classifier" else ()
    x, y = domain_images("test", domain, eval_limit, dataset=r["data"].get("dataset", "fashion-mnist"), heads=heads,
                         **_input(r))
    if heads:
        return zm.attribute_metrics(expert, x, y)
    if r["kind"] == "classifier":
        return zm.classification_metrics(expert, x, y)
    if r["kind"] == "vae":
        return zm.reconstruction_metrics(expert, x)
    ev = r.get("eval", {})
    clf = _load_dependency(ev.get("classifier", "fmnist-classifier"), weights_dir)
    out = zm.generator_metrics(expert, clf, x, y, seed=ev.get("seed", 0))
    if ev.get("second_judge"):
        # A judge the generator never trained against: the classifier's own verdict is
        # biased upwards when its cross-entropy was part of the generator's loss.
        edge = _load_dependency(ev["second_judge"], weights_dir)
        judged = zm.generated_class_accuracy(expert, lambda im: edge.logits(derive("edges", im)), per_class=500,
                                             seed=ev.get("seed", 0))
        out["generated_accuracy_" + ev["second_judge"]] = judged["generated_accuracy"]
    return out


def train_expert(
    name_or_path: str | os.PathLike | dict[str, Any],
    out: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    steps: int | None = None,
    epochs: int | None = None,
    train_limit: int | None = None,
    eval_limit: int | None = None,
    progress: bool | None = None,
    dataset: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Trains the zoo expert of a recipe, evaluates it on the test split, and saves it.

    Args:
        name_or_path: a recipe name (see :func:`recipe_names`), a recipe JSON path, or a
            recipe already read (what :mod:`net2net.zoo.own` builds).
        out: folder for ``NAME.safetensors``/``NAME.json`` (default: the package's weights).
        device: "cpu", "cuda", "auto", ...
        steps, epochs: override the recipe's budget (``steps`` wins).
        train_limit, eval_limit: use only the first N training/test images (smoke tests).
        dataset: train and measure on this data set (a name or a folder) instead of the recipe's.
        progress: show a progress bar (default: when stderr is a terminal).

    Returns:
        The metrics written into ``NAME.json``.
    """
    r = dict(name_or_path) if isinstance(name_or_path, dict) else load_zoo_recipe(name_or_path)
    if dataset is not None:
        path = Path(dataset).expanduser()
        r["data"] = {**r["data"], "dataset": str(path.resolve()) if path.is_dir() else str(dataset)}
    if steps is not None:
        r["train"] = {**{k: v for k, v in r["train"].items() if k != "epochs"}, "steps": int(steps)}
    elif epochs is not None:
        r["train"] = {**{k: v for k, v in r["train"].items() if k != "steps"}, "epochs": int(epochs)}
    for key in ("steps", "epochs"):
        if key in r["train"] and int(r["train"][key]) < 1:
            raise ValueError(f"--{key} must be at least 1, got {r['train'][key]}")
    out = Path(out) if out is not None else WEIGHTS_DIR
    dev = resolve_device(device)
    domain = r["data"].get("domain", "image")
    heads = config_from_dict(ClassifierConfig, r["model"]).heads if r["kind"] == "classifier" else ()
    parts = [domain_images(split, domain, train_limit, dataset=r["data"].get("dataset", "fashion-mnist"), heads=heads,
                           progress=progress, **_input(r))
             for split in r["data"].get("splits", ["train"])]
    x = torch.cat([p[0] for p in parts])
    y = None if parts[0][1] is None else torch.cat([p[1] for p in parts])
    keep = None
    if r["train"].get("keep_best"):
        if r["kind"] not in ("classifier", "vae"):
            raise ValueError(f"train.keep_best works for classifiers and autoencoders, not {r['kind']!r}")
        x, y, x_val, y_val = _hold_back(x, y, r["train"].get("seed", 0))
        keep = _KeepBest(r["kind"], x_val, y_val, _steps(r["train"], len(x)), dev)
    t0 = time.perf_counter()
    # Dropout draws from the global RNG (it takes no generator): the loop runs inside
    # fork_rng, seeded by the recipe, and the caller's random state is restored after.
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(r["train"].get("seed", 0))
        if r["kind"] == "classifier":
            cfg, state = _train_classifier(r, x, y, dev, progress, keep)
        elif r["kind"] == "vae":
            cfg, state = _train_vae(r, x, y, dev, progress, out, keep)
        elif r.get("loss", {}).get("method", "hinge-gan") == "cvae":
            cfg, state = _train_cvae_generator(r, x, y, dev, progress, out)
        else:
            cfg, state = _train_gan(r, x, y, dev, progress)
    seconds = time.perf_counter() - t0

    from net2net.zoo.experts import KINDS

    expert = KINDS[r["kind"]][1](cfg, name=r["name"])
    expert.net.load_state_dict(state)
    metrics = {"test": _evaluate(r, expert.freeze(), domain, out, eval_limit),
               "train_seconds": round(seconds, 1), "train_steps": _steps(r["train"], len(x)),
               "device": str(dev), "train_images": len(x)}
    if keep is not None:
        metrics["kept"] = keep.metrics()
    save_expert(out, r["name"], r["kind"], cfg, state, recipe=r, metrics=metrics)
    return metrics
