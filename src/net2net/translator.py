"""Translator = (f, τ, g): a query expert, the conditional INN between them, a target expert.

Sampling draws ``v ~ N(0, I)`` and decodes ``Λ(τ(v | Φ(x)))``; inverting gives the
residual ``v = τ⁻¹(Θ(y) | Φ(x))`` (what ``g`` knows about ``y`` that ``f`` does not);
editing keeps ``v`` and swaps the query; exemplar-guided translation takes ``v`` from
one image and the query from another (the paper's Fig. 7a).

A translator is a folder: ``translator.json`` (which experts, by registry name and
options, with the fingerprints and sizes τ was trained with) and ``tau/`` (a model
folder, see :mod:`net2net.models`). Loading checks that the experts found now are the
ones τ was trained with and says which one is not.

References:
    Rombach, Esser, Ommer, NeurIPS 2020 (arXiv:2005.13580), Sec. 3, Eq. 1-5.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from net2net.completion import PromptCompleter, fit_completer, load_completer, save_completer
from net2net.data.convert import convert_images, image_spec
from net2net.experts.base import Expert
from net2net.flow.protocol import ConditionalDensity, describe, is_invertible, transport
from net2net.io import atomic_directory, atomic_write_json, read_json
from net2net.models import load_model, save_model
from net2net.rerank import Scorer, derived_query, query_scorer
from net2net.search_path import TRANSLATORS_DIR, is_translator, translator_folders

__all__ = ["ExpertRef", "Translator", "available_translators", "find_translator", "load", "TRANSLATORS_DIR"]

#: the default scorer: image queries re-derived from the outputs (text and label queries need the caller's).
_derived_scorer = query_scorer(derived_query)

FORMAT = "net2net-translator"


@dataclass(frozen=True)
class ExpertRef:
    """How to rebuild an expert: its registry name, options, and what it was when τ trained."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    dim: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options), "fingerprint": self.fingerprint, "dim": self.dim}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> ExpertRef:
        """An ``ExpertRef`` read from a file, every field checked (one-line ``ValueError`` naming ``where``)."""
        if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"]:
            raise ValueError(f"{where} is missing or has no name")
        unknown = sorted(set(d) - {"name", "options", "fingerprint", "dim"})
        if unknown:
            raise ValueError(f"{where} has unknown field(s) {unknown}; valid: dim, fingerprint, name, options")
        options, fingerprint, dim = d.get("options", {}), d.get("fingerprint", ""), d.get("dim", 0)
        if not isinstance(options, dict) or not all(
                isinstance(v, (str, int, float, bool)) or v is None for v in options.values()):
            raise ValueError(f"{where}: options must be an object of plain values, got {options!r}")
        if any(isinstance(v, float) and not math.isfinite(v) for v in options.values()):
            raise ValueError(f"{where}: options must hold finite numbers, got {options!r}")
        if not isinstance(fingerprint, str):
            raise ValueError(f"{where}: fingerprint must be a string, got {fingerprint!r}")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            raise ValueError(f"{where}: dim must be a non-negative integer, got {dim!r}")
        return cls(d["name"], dict(options), fingerprint, dim)

    @classmethod
    def of(cls, expert: Expert, name: str, **options: Any) -> ExpertRef:
        return cls(name=name, options=options, fingerprint=expert.fingerprint(), dim=expert.dim)

    def build(self, device: str | torch.device, role: str, *, check: bool = True, trust_code: bool = False) -> Expert:
        from net2net.experts.registry import get_expert, is_spec

        if is_spec(self.name) and not trust_code:
            raise ValueError(
                f"{role} expert {self.name!r} names code to run, and a translator folder is not trusted to run "
                "code; register that expert under a name (docs/experts.md) or load with trust_code=True"
            )

        expert = get_expert(self.name, device=str(device), **self.options)
        if check and expert.dim != self.dim:
            raise ValueError(f"{role} expert {self.name!r} has dim {expert.dim}, but τ was trained on dim {self.dim}")
        if check and self.fingerprint and expert.fingerprint() != self.fingerprint:
            raise ValueError(
                f"{role} expert {self.name!r} is not the one τ was trained with (its weights' fingerprint "
                f"differs); retrain the translator or restore that expert's weights"
            )
        return expert


def _for_expert(images: Tensor, expert: Expert, role: str) -> Tensor:
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"this translator's {role} is an image: pass a (B, C, H, W) tensor in [0, 1] with C 1 or 3, "
                         f"got {tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
    return convert_images(images.float(), image_spec(expert))[0]


class Translator(nn.Module):
    """A query expert ``f``, a conditional INN ``tau`` and a target expert ``g``.

    Args:
        query: the query's expert (Φ); ``encode`` gives ``z_Φ``.
        tau: a conditional model of ``z_Θ`` given ``z_Φ``: a :class:`~net2net.flow.ConditionalDensity`
            (ConditionalINN, or a baseline, which samples but cannot invert).
        target: the target expert; ``decode`` gives images, ``encode`` (if any) ``z_Θ``.
        query_ref, target_ref: how to rebuild the experts when loading.
        info: free-form facts saved with the translator (task, metrics, query transform).

    Example:
        >>> t = net2net.load("fmnist-text2img")                       # doctest: +SKIP
        >>> t.sample(["a pair of trousers"], n=4, seed=0).shape
        torch.Size([4, 1, 28, 28])
    """

    def __init__(self, query: Expert, tau: nn.Module, target: Expert, *, query_ref: ExpertRef,
                 target_ref: ExpertRef, info: dict[str, Any] | None = None,
                 completer: PromptCompleter | None = None) -> None:
        super().__init__()
        if not isinstance(tau, ConditionalDensity):
            raise ValueError(f"τ must meet net2net.flow.ConditionalDensity (log_prob, sample, dim, cond_dim, "
                             f"config); a {type(tau).__name__} does not")
        if (tau.cond_dim, tau.dim) != (query.dim, target.dim):
            raise ValueError(
                f"τ maps cond dim {tau.cond_dim} to dim {tau.dim}, but the experts have "
                f"query dim {query.dim} and target dim {target.dim}"
            )
        if completer is not None and (getattr(query, "input_kind", "image") != "text" or completer.config.cond_dim != query.dim):
            raise ValueError(f"a prompt completer needs a text query expert of dim {completer.config.cond_dim}; "
                             f"this one reads {getattr(query, 'input_kind', 'image')} of dim {query.dim}")
        self.query, self.tau, self.target = query, tau.eval(), target
        self.query_ref, self.target_ref = query_ref, target_ref
        self.info = dict(info or {})
        #: completes prompts that leave attributes out before sampling (net2net.completion), or None
        self.completer = completer

    @property
    def device(self) -> torch.device:
        # a closed-form baseline holds only buffers
        return next(iter([*self.tau.parameters(), *self.tau.buffers()])).device

    @property
    def query_kind(self) -> str:
        """``"text"``, ``"label"`` or ``"image"``: what :meth:`encode_query` accepts."""
        return getattr(self.query, "input_kind", "image")

    # --- the three representations ----------------------------------------------------

    def encode_query(self, queries: Sequence[Any] | Tensor) -> Tensor:
        """``z_Φ`` for texts, labels or images ``(B, C, H, W)`` (converted to what the expert declares)."""
        if self.query_kind == "image":
            queries = _for_expert(queries, self.query, "query")
        elif isinstance(queries, (str, bytes)):
            raise ValueError("pass a list of queries, e.g. [\"a dress\"], not a bare string")
        if len(queries) == 0:
            raise ValueError("no queries given")
        return self.query.encode(queries).to(self.device)

    def encode_target(self, images: Tensor, *, n: int = 1, temperature: float = 1.0, seed: int = 0) -> Tensor:
        """``z_Θ = Θ(y)``, ``n`` per image (query-major).

        The first of each ``n`` is the encoder's answer (its posterior mean); the others,
        when the target expert has a Gaussian posterior (a VAE), are draws from it with
        its standard deviation scaled by ``temperature``: the encoder's own uncertainty,
        which is what varies between several edits of one image.
        """
        images = _for_expert(images, self.target, "target")
        if n == 1 or not hasattr(self.target, "posterior"):
            return self.target.encode(images).to(self.device).repeat_interleave(n, dim=0)
        mean, logvar = self.target.posterior(images)
        mean, std = mean.repeat_interleave(n, dim=0), (0.5 * logvar).exp().repeat_interleave(n, dim=0)
        eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(seed)).to(mean.device)
        eps[::n] = 0.0
        return (mean + temperature * std * eps).float().to(self.device)

    def decode(self, z: Tensor) -> Tensor:
        return self.target.decode(z).clamp(0, 1)

    # --- the applications -------------------------------------------------------------

    def residuals(self, n: int, *, temperature: float = 1.0, seed: int = 0) -> Tensor:
        """``n`` residuals ``v ~ N(0, temperature² I)``, drawn on the CPU from ``seed``.

        The seed alone fixes them: every query of a call gets the same ``n``, so one seed
        is one set of "styles" that different prompts share.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature!r}")
        v = torch.randn(n, self.tau.dim, generator=torch.Generator().manual_seed(seed))
        return (v * temperature).to(self.device)

    def query_rows(self, queries: Sequence[Any] | Tensor, *, n: int = 1, seed: int = 0, complete: bool = True) -> Tensor:
        """``z_Φ`` of ``n`` samples of every query, query-major (``B·n`` rows).

        Where the translator has a prompt completer (:mod:`net2net.completion`) and
        ``complete`` is on, each row is that of its own completion of the prompt: the
        attributes the prompt leaves out get a value drawn per sample (from ``seed``);
        a prompt that names everything keeps its own ``z_Φ``. Otherwise every row is the
        query's.
        """
        z_phi = self.encode_query(queries)
        if not complete or self.completer is None:
            return z_phi.repeat_interleave(n, dim=0)
        texts = self.completions(queries, n=n, seed=seed, z_phi=z_phi)
        rows = z_phi.repeat_interleave(n, dim=0)
        changed = [i for i, text in enumerate(texts) if text != queries[i // n]]
        if changed:
            rows[changed] = self.encode_query([texts[i] for i in changed]).to(rows.dtype)
        return rows

    def completions(self, queries: Sequence[str], *, n: int = 1, seed: int = 0, z_phi: Tensor | None = None) -> list[str]:
        """The prompts :meth:`query_rows` samples from, ``n`` per query, query-major: each
        query completed by the translator's completer (the query itself without one)."""
        if self.completer is None:
            return [q for q in queries for _ in range(n)]
        z_phi = self.encode_query(queries) if z_phi is None else z_phi
        return self.completer.complete(list(queries), z_phi, n, seed)

    def add_completer(self, grammar: str, *, progress: bool | None = None, **fit: Any) -> PromptCompleter:
        """Fits a prompt completer on the caption grammar ``grammar`` (e.g. ``"shapes"``) with
        this translator's query expert, and keeps it (τ and the experts unchanged; save the
        translator to keep it on disk). ``fit``: the keyword arguments of
        :func:`net2net.completion.fit_completer`."""
        if self.query_kind != "text":
            raise ValueError(f"{self.name} reads {self.query_kind}, not text: only text prompts can be completed")
        self.completer = fit_completer(self.encode_query, self.query.dim, grammar, progress=progress, **fit)
        return self.completer

    @torch.no_grad()
    def prompt_latents(self, queries: Sequence[Any] | Tensor, *, n: int = 1, temperature: float = 1.0, seed: int = 0,
                       shared: bool = True, complete: bool = True) -> Tensor:
        """:meth:`sample_latents` of the queries themselves, completing prompts that leave
        attributes out (:meth:`query_rows`) unless ``complete=False``."""
        return self._latents(self.query_rows(queries, n=n, seed=seed, complete=complete), n,
                             temperature=temperature, seed=seed, v=None, shared=shared)

    @torch.no_grad()
    def sample_latents(self, z_phi: Tensor, *, n: int = 1, temperature: float = 1.0, seed: int = 0,
                       v: Tensor | None = None, shared: bool = True) -> Tensor:
        """``n`` draws of ``z_Θ`` per row of ``z_Φ``, query-major: rows ``q*n ... q*n+n-1``.

        ``v`` (``(n, dim)``) fixes the residuals instead of drawing them from ``seed``.
        ``shared=False`` draws independent residuals for every query (what statistics over
        many queries need; the default shares them so that one seed is one set of styles).
        A τ that is not invertible (the MLP and linear baselines) returns its
        regression: ``v`` is refused, ``seed`` and ``temperature`` change nothing.
        """
        return self._latents(z_phi.repeat_interleave(n, dim=0), n, temperature=temperature, seed=seed, v=v,
                             shared=shared)

    def _latents(self, cond: Tensor, n: int, *, temperature: float, seed: int, v: Tensor | None,
                 shared: bool) -> Tensor:
        """:meth:`sample_latents` of conditions already repeated, ``n`` rows per query."""
        if not is_invertible(self.tau):
            if v is not None:
                self.require_inverse("take residuals v")
            return self.tau.sample(cond)
        if v is None:
            v = self.residuals(n if shared else len(cond), temperature=temperature, seed=seed)
            if not shared:
                return transport(self.tau, v, cond)
        if v.shape != (n, self.tau.dim):
            raise ValueError(f"v must have shape ({n}, {self.tau.dim}), got {tuple(v.shape)}")
        return transport(self.tau, v.to(self.device).repeat(len(cond) // n, 1), cond)

    def sample(self, queries: Sequence[Any] | Tensor, *, n: int = 1, temperature: float = 1.0, seed: int = 0,
               rerank: int = 1, v: Tensor | None = None, scorer: Scorer | None = None,
               complete: bool = True) -> Tensor:
        """``n`` images per query, query-major. ``rerank=k`` draws ``k·n`` and keeps the ``n``
        that ``scorer`` rates best (see :meth:`agreement`); ``v`` gives the residuals
        explicitly (e.g. kept from an earlier call). A prompt that leaves attributes out is
        completed per sample where the translator has a completer, unless ``complete=False``
        (:meth:`query_rows`)."""
        if rerank < 1:
            raise ValueError(f"rerank must be >= 1, got {rerank}")
        k = n * rerank
        cond = self.query_rows(queries, n=k, seed=seed, complete=complete)
        if rerank == 1:
            return self.decode(self._latents(cond, n, temperature=temperature, seed=seed, v=v, shared=True))
        if scorer is None and self.query_kind != "image":
            derived_query(self, cond[:0])  # raises: text and label queries need the caller's scorer
        images = self.decode(self._latents(cond, k, temperature=temperature, seed=seed, v=None, shared=True))
        scores = self.agreement(images, cond, scorer).view(len(cond) // k, k)
        keep = scores.topk(n, dim=1).indices + torch.arange(len(cond) // k, device=scores.device)[:, None] * k
        return images[keep.flatten().to(images.device)]

    def agreement(self, images: Tensor, z_phi: Tensor, scorer: Scorer | None = None) -> Tensor:
        """How well each image fits its query (higher is better), as ``scorer`` rates it.

        The scorer is the caller's (:data:`net2net.rerank.Scorer`; the zoo's for Fashion-MNIST
        is :func:`net2net.zoo.scoring.fmnist_scorer`). Without one, image queries are
        re-derived from the output (the translator's ``query_transform``), encoded by ``f``
        and compared with the given ``z_Φ``; text and label queries need a scorer.
        """
        return (scorer or _derived_scorer)(self, images, z_phi)

    @property
    def name(self) -> str:
        """The translator's name: its recipe (zoo translators), else "this translator"."""
        return str(self.info.get("recipe") or self.info.get("name") or "this translator")

    def require_inverse(self, what: str = "edit/exemplar/invert") -> None:
        """Raises a one-line ``ValueError`` unless τ is invertible (see :mod:`net2net.flow.protocol`)."""
        if not is_invertible(self.tau):
            raise ValueError(
                f"{self.name}'s τ is {describe(self.tau)}: it has no inverse, so it cannot {what}; "
                "use an invertible translator such as fmnist-text2img"
            )

    @torch.no_grad()
    def invert(self, images: Tensor, queries: Sequence[Any] | Tensor, *, n: int = 1, temperature: float = 1.0,
               seed: int = 0) -> Tensor:
        """The residual ``v = τ⁻¹(Θ(y) | Φ(x))``: ``(B·n, dim)``, see :meth:`encode_target` for ``n``."""
        self.require_inverse()
        z_phi = self.encode_query(queries)
        if len(images) != len(z_phi):
            raise ValueError(f"got {len(images)} images but {len(z_phi)} queries; give one query per image")
        z = self.encode_target(images, n=n, temperature=temperature, seed=seed)
        return self.tau.residual(z, z_phi.repeat_interleave(n, dim=0))

    @torch.no_grad()
    def render(self, v: Tensor, queries: Sequence[Any] | Tensor, n: int = 1) -> Tensor:
        """``Λ(τ(v | Φ(x)))``: images from given residuals ``(B·n, dim)`` and ``B`` queries."""
        self.require_inverse()
        z_phi = self.encode_query(queries).repeat_interleave(n, dim=0)
        if len(v) != len(z_phi):
            raise ValueError(f"got {len(v) // n} images but {len(z_phi) // n} target queries; give one per image")
        return self.decode(transport(self.tau, v.to(self.device), z_phi))

    def edit(self, images: Tensor, source: Sequence[Any] | Tensor, target: Sequence[Any] | Tensor, *,
             n: int = 1, temperature: float = 1.0, seed: int = 0) -> Tensor:
        """``y* = Λ(τ(τ⁻¹(Θ(y) | Φ(source)) | Φ(target)))``: keep what the query does not say.

        ``n > 1`` gives several edits per image (see :meth:`encode_target`); the first is exact.
        """
        self.require_inverse()
        return self.render(self.invert(images, source, n=n, temperature=temperature, seed=seed), target, n)

    def exemplar(self, queries: Sequence[Any] | Tensor, exemplar_images: Tensor,
                 exemplar_queries: Sequence[Any] | Tensor, *, n: int = 1, temperature: float = 1.0,
                 seed: int = 0) -> Tensor:
        """The residual of each exemplar rendered with the matching query (Fig. 7a)."""
        self.require_inverse()
        v = self.invert(exemplar_images, exemplar_queries, n=n, temperature=temperature, seed=seed)
        return self.render(v, queries, n)

    # --- files ------------------------------------------------------------------------

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Writes ``translator.json`` and ``tau/``; the experts are referenced, not copied."""
        folder = Path(folder)
        with atomic_directory(folder) as tmp:
            save_model(self.tau, tmp / "tau")
            if self.completer is not None:
                save_completer(self.completer, tmp / "completer")
            atomic_write_json(tmp / "translator.json", {
                "format": FORMAT, "version": 1,
                "query": self.query_ref.to_dict(), "target": self.target_ref.to_dict(),
                "info": self.info,
            })
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, device: str | torch.device = "cpu", *,
                        check_experts: bool = True, trust_code: bool = False) -> Translator:
        """Rebuilds a translator from its folder; its experts come from the registry.

        The folder is not trusted: τ's weights are verified (sha256) and its config checked
        against them before anything is built (:mod:`net2net.models`), and an expert named
        by a spec (``file.py:factory``) is refused unless ``trust_code=True``.
        """
        folder = Path(folder)
        path = folder / "translator.json"
        manifest = read_json(path)
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{path}: not a net2net translator")
        if manifest.get("version") != 1:
            raise ValueError(f"{path}: format version {manifest.get('version')!r} is not one this net2net reads (1)")
        refs = {role: ExpertRef.from_dict(manifest.get(role), f"{path}: the {role!r} expert") for role in ("query", "target")}
        info = manifest.get("info", {})
        if not isinstance(info, dict):
            raise ValueError(f"{path}: 'info' must be an object, got {type(info).__name__}")
        tau = load_model(folder / "tau", device, upgrade_hint=str(folder))
        query = refs["query"].build(device, "query", check=check_experts, trust_code=trust_code)
        target = refs["target"].build(device, "target", check=check_experts, trust_code=trust_code)
        completer = load_completer(folder / "completer", device) if (folder / "completer").is_dir() else None
        return cls(query, tau, target, query_ref=refs["query"], target_ref=refs["target"], info=info,
                   completer=completer)


def available_translators() -> list[str]:
    """The translators found by name: in ``$NET2NET_ZOO``, then the package's (see :mod:`net2net.search_path`)."""
    return sorted({p.name for f in translator_folders() if f.is_dir() for p in f.iterdir()
                   if not p.name.startswith(".") and is_translator(p)})  # skip killed writers' temporaries


def find_translator(name: str) -> Path | None:
    """The folder of the translator called ``name`` on the search path (the first wins), or None."""
    for f in translator_folders():
        if not name.startswith(".") and "/" not in name and is_translator(f / name):
            return f / name
    return None


def load(name_or_folder: str | os.PathLike, device: str | torch.device = "cpu") -> Translator:
    """A translator from a folder, or one of the zoo's by name (``net2net zoo list``; ``$NET2NET_ZOO`` first)."""
    path = Path(name_or_folder)
    if (path / "translator.json").is_file():
        return Translator.from_pretrained(path, device)
    name = str(name_or_folder)
    found = find_translator(name)
    if found is not None:
        return Translator.from_pretrained(found, device)
    names = available_translators()
    raise ValueError(f"no translator {name!r}: not a folder with translator.json, nor a zoo translator "
                     f"({', '.join(names) if names else 'none shipped yet'})")
