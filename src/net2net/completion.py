"""Prompt completion: a prompt that names only some attributes gets the others drawn at random.

τ learns ``p(z_Θ | z_Φ)`` from training captions that name every attribute of their
image. Given a prompt that names only some ("a red star"), it puts all its samples at
one value of each unnamed attribute (issue 23 measured it: the position of 99 % of
samples agree). Training on partial captions spreads the unnamed attributes, but the
couplings then follow the named words worse (docs/follow-words.md).

A :class:`PromptCompleter` keeps τ as it is and completes the prompt instead, once per
sample, the way text-to-image systems expand a user's prompt into the descriptive kind
of caption their model was trained on:

1. a linear head on the query expert's features ``z_Φ`` (the ones τ reads) reads which
   attributes the prompt names; it is fitted on captions of the domain's training grammar
   that name random subsets (:func:`fit_completer`), so it reads words as well as τ's
   expert places them;
2. for every attribute it does not read as named, a clause with a value drawn from the
   training marginal is appended, in the training grammar (the domain's
   :class:`Grammar`), so each sample gets its own value;
3. τ samples from the completed prompt's ``z_Φ``.

A prompt that names everything is left as it is, so full prompts and τ's figures on them
do not change. The head says "named" from a probability of :attr:`CompleterConfig.threshold`
up (0.2): a word it half-recognises, a synonym no caption uses, is better left alone than
contradicted by a drawn value.

A completer is saved in a translator folder (``completer/``, weights verified like τ's)
and used by :meth:`~net2net.translator.Translator.sample` unless ``complete=False``; a
translator trained without one gets it from :meth:`~net2net.translator.Translator.add_completer`. Only
sampling completes: inversion, editing and exemplars read the query as given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["CompleterConfig", "Grammar", "PromptCompleter", "fit_completer", "grammars", "load_completer",
           "register_grammar", "save_completer"]

KIND = "prompt-completer"


@dataclass(frozen=True)
class Grammar:
    """A domain's caption grammar, as a completer needs it.

    Attributes:
        attributes: the attributes a caption may name, in a fixed order.
        captions: ``captions(n, rng) -> (texts, named)``: ``n`` training-grammar captions
            naming random subsets, and which attributes each names, ``(n, len(attributes))`` bool.
        completion: ``completion(named, rng) -> str``: clauses naming a random value of
            every attribute not in ``named``, each led by its joiner.
    """

    attributes: tuple[str, ...]
    captions: Callable[[int, np.random.Generator], tuple[list[str], np.ndarray]]
    completion: Callable[[Sequence[str], np.random.Generator], str]


_GRAMMARS: dict[str, Callable[[], Grammar]] = {}


def register_grammar(name: str, make: Callable[[], Grammar]) -> None:
    """Makes a domain's grammar known by ``name`` (``make`` is called when first needed)."""
    _GRAMMARS[name] = make


def grammars() -> list[str]:
    return sorted(_GRAMMARS)


def grammar(name: str) -> Grammar:
    if name not in _GRAMMARS:
        raise ValueError(f"no caption grammar {name!r}; known: {', '.join(grammars()) or 'none'}")
    return _GRAMMARS[name]()


def _shapes() -> Grammar:
    from net2net.data import shapes

    return Grammar(shapes.ATTRIBUTES, shapes.naming_captions, shapes.completion)


register_grammar("shapes", _shapes)


@dataclass(frozen=True)
class CompleterConfig:
    """Everything that determines a :class:`PromptCompleter`.

    Attributes:
        cond_dim: size of the query features ``z_Φ`` it reads.
        grammar: the registered caption grammar (:func:`register_grammar`), e.g. ``"shapes"``.
        threshold: the head's probability from which an attribute counts as named.
    """

    cond_dim: int
    grammar: str
    threshold: float = 0.2

    def __post_init__(self) -> None:
        if not isinstance(self.cond_dim, int) or isinstance(self.cond_dim, bool) or self.cond_dim < 1:
            raise ValueError(f"CompleterConfig.cond_dim must be a positive integer, got {self.cond_dim!r}")
        if not isinstance(self.grammar, str) or not self.grammar:
            raise ValueError(f"CompleterConfig.grammar must name a caption grammar, got {self.grammar!r}")
        if not isinstance(self.threshold, (int, float)) or isinstance(self.threshold, bool) or not 0 < self.threshold < 1:
            raise ValueError(f"CompleterConfig.threshold must be in (0, 1), got {self.threshold!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PromptCompleter(nn.Module):
    """Reads which attributes a prompt names from its ``z_Φ``, and completes it.

    ``named(z_phi)`` is a ``(B, A)`` bool; ``complete(prompts, z_phi, n, seed)`` gives ``n``
    completions per prompt, query-major. The features are standardised with the fitting
    captions' mean and scale (buffers), then one linear layer gives a logit per attribute.

    Example:
        >>> c = PromptCompleter(CompleterConfig(cond_dim=3, grammar="shapes"))
        >>> c.named(torch.zeros(2, 3)).shape                    # a fresh head: p = 0.5 everywhere
        torch.Size([2, 5])
    """

    def __init__(self, config: CompleterConfig) -> None:
        super().__init__()
        self.config = config
        self.grammar = grammar(config.grammar)
        self.register_buffer("mean", torch.zeros(config.cond_dim))
        self.register_buffer("scale", torch.ones(config.cond_dim))
        self.head = nn.Linear(config.cond_dim, len(self.grammar.attributes))

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.grammar.attributes

    def logits(self, z_phi: Tensor) -> Tensor:
        if z_phi.dim() != 2 or z_phi.shape[1] != self.config.cond_dim:
            raise ValueError(f"z_phi must have shape (B, {self.config.cond_dim}), got {tuple(z_phi.shape)}")
        return self.head((z_phi.to(self.mean) - self.mean) / self.scale)

    @torch.no_grad()
    def named(self, z_phi: Tensor) -> Tensor:
        """``(B, A)`` bool: which attributes each prompt names (as the head reads it)."""
        return torch.sigmoid(self.logits(z_phi)) >= self.config.threshold

    @torch.no_grad()
    def complete(self, prompts: Sequence[str], z_phi: Tensor, n: int = 1, seed: int = 0) -> list[str]:
        """``n`` completions of every prompt, query-major: each prompt followed by clauses
        that name a random value of every attribute it leaves out (the prompt itself when
        it names them all). The same ``seed`` gives the same completions."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if len(prompts) != len(z_phi):
            raise ValueError(f"got {len(prompts)} prompts but {len(z_phi)} rows of z_phi")
        named = self.named(z_phi).cpu().numpy()
        rng = np.random.default_rng([seed, 0x636F])  # a stream of its own: the residuals use seed alone
        out = []
        for prompt, row in zip(prompts, named, strict=True):
            said = [a for a, yes in zip(self.attributes, row, strict=True) if yes]
            out += [prompt + self.grammar.completion(said, rng) for _ in range(n)]
        return out


def fit_completer(encode: Callable[[list[str]], Tensor], cond_dim: int, grammar_name: str, *, n: int = 3000,
                  steps: int = 2000, lr: float = 3e-3, weight_decay: float = 1e-4, seed: int = 0,
                  threshold: float = 0.2, batch: int = 500, progress: bool | None = None) -> PromptCompleter:
    """Fits a completer's head on ``n`` captions of the grammar, encoded by ``encode``
    (the translator's query expert, so the head reads the features τ reads): full-batch
    Adam on the logistic loss, with an L2 penalty of ``weight_decay`` on the weights."""
    from tqdm.auto import tqdm

    completer = PromptCompleter(CompleterConfig(cond_dim=cond_dim, grammar=grammar_name, threshold=threshold))
    texts, named = completer.grammar.captions(n, np.random.default_rng([seed, 0x6E61]))
    chunks = range(0, len(texts), batch)
    bar = tqdm(chunks, desc="completer: encoding captions", disable=progress is False, leave=False)
    x = torch.cat([encode(texts[i:i + batch]).detach().float().cpu() for i in bar])
    if x.shape != (len(texts), cond_dim):
        raise ValueError(f"the query expert gave features of shape {tuple(x.shape)}, expected ({len(texts)}, {cond_dim})")
    y = torch.from_numpy(named).float()
    completer.mean.copy_(x.mean(0))
    completer.scale.copy_(x.std(0).clamp_min(1e-6))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        completer.head.weight.copy_(torch.randn(completer.head.weight.shape, generator=gen) * 0.01)
        completer.head.bias.zero_()
    opt = torch.optim.Adam(completer.head.parameters(), lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(completer.logits(x), y)
        (loss + weight_decay * completer.head.weight.pow(2).sum()).backward()
        opt.step()
    return completer.eval()


def save_completer(completer: PromptCompleter, folder: str | os.PathLike) -> Path:
    """Writes ``folder/config.json`` + ``folder/model.safetensors`` (the model-folder format)."""
    from net2net.models import write_folder

    return write_folder(folder, kind=KIND, config=completer.config.to_dict(), state=completer.state_dict())


def load_completer(folder: str | os.PathLike, device: str | torch.device = "cpu") -> PromptCompleter:
    """Reads a completer folder, verifying its weights (sha256) and shapes first."""
    from net2net.models import CONFIG_FILE, config_from_dict, load_checked, read_folder

    saved = read_folder(folder)
    if saved.kind != KIND:
        raise ValueError(f"{Path(folder) / CONFIG_FILE}: a {saved.kind!r} model, not a {KIND}")
    try:
        cfg = config_from_dict(CompleterConfig, saved.config, "CompleterConfig", saved=True)
    except ValueError as e:
        raise ValueError(f"{Path(folder) / CONFIG_FILE}: {e}") from None
    return load_checked(saved, lambda: PromptCompleter(cfg), device=device).eval()

