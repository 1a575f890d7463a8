"""Prompt completion (net2net.completion): the grammar's clauses, the head that reads which
attributes a prompt names, the translator's sampling path, and the shipped shapes-text2img."""

from __future__ import annotations

import json
import re
import zlib

import numpy as np
import pytest
import torch

from net2net.completion import (
    CompleterConfig,
    PromptCompleter,
    fit_completer,
    load_completer,
    save_completer,
)
from net2net.data import shapes as S
from net2net.experts.base import TorchExpert
from net2net.experts.registry import EXPERTS, register_expert
from net2net.testing import TinyAutoencoder, tiny_translator
from net2net.train.recipe import parse_recipe

SHAPE_WORDS = [w for ws in S._SHAPE_WORDS.values() for w in ws]


def _says(text: str, words) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)


def _words(attr: str) -> list[str]:
    return [w for ws in S.SYNONYMS[attr].values() for w in ws]


class BagOfWords(TorchExpert):
    """A text expert without weights: the sum of a fixed random vector per word."""

    def __init__(self, dim: int = 256, device: str = "cpu") -> None:
        super().__init__()
        self.input_kind, self.name, self.dim = "text", "bag-of-words", dim
        self._vectors: dict[str, torch.Tensor] = {}

    def _vector(self, word: str) -> torch.Tensor:
        if word not in self._vectors:
            self._vectors[word] = torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(word.encode())))
        return self._vectors[word]

    def _encode(self, batch) -> torch.Tensor:
        return torch.stack([sum((self._vector(w) for w in re.findall(r"[a-z-]+", text.lower())), torch.zeros(self.dim))
                            for text in batch])


@pytest.fixture(scope="module")
def bow_completer() -> PromptCompleter:
    expert = BagOfWords()
    return fit_completer(expert.encode, expert.dim, "shapes", n=1500, steps=600, progress=False)


# -- the grammar --------------------------------------------------------------------------------

@pytest.mark.parametrize("named", [["colour", "shape"], ["position"], ["shape", "size", "style"], []])
def test_completion_names_exactly_the_attributes_left_out(named) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        text = S.completion(named, rng)
        assert _says(text, S.COLOURS) == ("colour" not in named), text
        assert _says(text, [w for ws in S._SIZE_WORDS.values() for w in ws]) == ("size" not in named), text
        assert _says(text, [w for ws in S._STYLE_WORDS.values() for w in ws]) == ("style" not in named), text
        assert _says(text, [w for ws in S._POSITION_WORDS.values() for w in ws]) == ("position" not in named), text
        assert _says(text, SHAPE_WORDS) == ("shape" not in named), text


def test_completion_of_everything_named_is_empty_and_unknown_attributes_are_refused() -> None:
    assert S.completion(S.ATTRIBUTES, np.random.default_rng(0)) == ""
    with pytest.raises(ValueError, match="unknown attributes \\['hue'\\]"):
        S.completion(["hue"], np.random.default_rng(0))


def test_completion_draws_every_value_about_equally_often() -> None:
    rng = np.random.default_rng(1)
    texts = [S.completion(["shape"], rng) for _ in range(900)]
    for value, words in S._SIZE_WORDS.items():
        hits = sum(_says(t, words) for t in texts)
        assert 900 / 3 * 0.7 < hits < 900 / 3 * 1.3, (value, hits)
    for colour in S.COLOURS:
        hits = sum(_says(t, [colour]) for t in texts)
        assert 900 / 8 * 0.6 < hits < 900 / 8 * 1.4, (colour, hits)


def test_naming_captions_say_what_they_claim_and_no_held_out_word() -> None:
    texts, named = S.naming_captions(300, np.random.default_rng(2))
    assert named.shape == (300, 5) and named.any(1).all()
    held_out = [w for ws in S.HELDOUT_WORDS.values() for w in ws.values()] + ["figure"]
    for text, row in zip(texts, named, strict=True):
        said = dict(zip(S.ATTRIBUTES, row, strict=True))
        assert _says(text, SHAPE_WORDS) == said["shape"], text
        assert _says(text, _words("colour")) == said["colour"], text
        assert not _says(text, held_out), text
    assert len({t for t in texts}) > 290  # varied wording, not a few templates


# -- the completer ------------------------------------------------------------------------------

def test_the_head_reads_which_attributes_a_prompt_names(bow_completer) -> None:
    texts, named = S.naming_captions(400, np.random.default_rng(3))  # fresh captions of the grammar
    got = bow_completer.named(BagOfWords().encode(texts)).numpy()
    for j, a in enumerate(S.ATTRIBUTES):
        assert (got[:, j] == named[:, j]).mean() > 0.95, a


def test_complete_leaves_full_prompts_alone_spreads_the_rest_and_is_seeded(bow_completer) -> None:
    prompts = ["a small red star at the top", "a red star"]
    full = "a small filled red star at the top"
    z = BagOfWords().encode([full, prompts[1]])
    out = bow_completer.complete([full, prompts[1]], z, n=6, seed=0)
    assert out[:6] == [full] * 6
    assert all(t.startswith("a red star") and len(t) > len("a red star") for t in out[6:])
    assert len(set(out[6:])) == 6
    assert not any(_says(t[len("a red star"):], SHAPE_WORDS + list(S.COLOURS)) for t in out[6:])
    assert bow_completer.complete([prompts[1]], z[1:], n=6, seed=0) == out[6:]
    assert bow_completer.complete([prompts[1]], z[1:], n=6, seed=1) != out[6:]
    with pytest.raises(ValueError, match="got 2 prompts but 1 rows"):
        bow_completer.complete(prompts, z[:1])


def test_completer_folder_round_trip_and_a_changed_file_is_refused(bow_completer, tmp_path) -> None:
    folder = save_completer(bow_completer, tmp_path / "completer")
    back = load_completer(folder)
    z = torch.randn(5, 256)
    assert torch.equal(back.logits(z), bow_completer.logits(z)) and back.config == bow_completer.config
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        load_completer(folder)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="threshold must be in \\(0, 1\\)"):
        CompleterConfig(cond_dim=4, grammar="shapes", threshold=1.5)
    with pytest.raises(ValueError, match="no caption grammar 'nope'; known: shapes"):
        PromptCompleter(CompleterConfig(cond_dim=4, grammar="nope"))


def test_recipe_complete_field_is_validated() -> None:
    base = {"name": "x", "data": {"source": "toy-linear-gaussian"}, "model": {"kind": "cinn"},
            "translator": {"query": "minilm", "target": "shapes-ae"}}
    r = parse_recipe({**base, "translator": {**base["translator"], "complete": {"grammar": "shapes"}}})
    assert r.translator["complete"] == {"grammar": "shapes", "captions": 3000, "steps": 2000, "threshold": 0.2, "seed": 0}
    for bad, says in (({"grammar": "nope"}, "no caption grammar 'nope'"), ({"grammar": "shapes", "captions": 0}, "captions"),
                      ({"grammar": "shapes", "threshold": 0}, "threshold"), ({"grammar": "shapes", "oops": 1}, "oops")):
        with pytest.raises(ValueError, match=says):
            parse_recipe({**base, "translator": {**base["translator"], "complete": bad}})


# -- the translator -----------------------------------------------------------------------------

@pytest.fixture
def bow_translator(bow_completer, tmp_path):
    for name in ("bag-of-words", "tiny-ae"):
        EXPERTS.pop(name, None)
    register_expert("bag-of-words", lambda device="cpu", **kw: BagOfWords(device=device))
    register_expert("tiny-ae", lambda device="cpu", **kw: TinyAutoencoder(name="tiny-ae", device=device))
    t = tiny_translator(BagOfWords(), query_name="bag-of-words", target=TinyAutoencoder(name="tiny-ae"),
                        info={"task": "text2img"})
    t.completer = bow_completer
    yield t
    for name in ("bag-of-words", "tiny-ae"):
        EXPERTS.pop(name, None)


def test_sampling_completes_each_sample_and_complete_false_does_not(bow_translator) -> None:
    t = bow_translator
    rows = t.query_rows(["a red star", "a small filled red star at the top"], n=4, seed=0)
    bare = t.encode_query(["a red star", "a small filled red star at the top"])
    assert rows.shape == (8, t.query.dim)
    assert all(not torch.equal(rows[i], bare[0]) for i in range(4))  # each sample its own completion
    assert all(torch.equal(rows[i], bare[1]) for i in range(4, 8))  # a full prompt is kept
    assert torch.equal(t.query_rows(["a red star"], n=4, seed=0, complete=False), bare[:1].repeat(4, 1))
    texts = t.completions(["a red star"], n=4, seed=0)
    assert torch.equal(t.encode_query(texts), rows[:4])  # the rows are those of the completions it lists
    a, b = t.sample(["a red star"], n=4, seed=0), t.sample(["a red star"], n=4, seed=0, complete=False)
    assert a.shape == b.shape == (4, 1, 28, 28) and not torch.equal(a, b)
    assert torch.equal(a, t.sample(["a red star"], n=4, seed=0))
    full = ["a small filled red star at the top"]
    assert torch.equal(t.sample(full, n=3, seed=2), t.sample(full, n=3, seed=2, complete=False))


def test_translator_folder_keeps_its_completer(bow_translator, tmp_path) -> None:
    from net2net.translator import Translator

    folder = bow_translator.save_pretrained(tmp_path / "t")
    assert (folder / "completer" / "model.safetensors").is_file()
    back = Translator.from_pretrained(folder)
    assert back.completer is not None and back.completer.config == bow_translator.completer.config
    assert torch.equal(back.sample(["a red star"], n=3, seed=0), bow_translator.sample(["a red star"], n=3, seed=0))
    # a translator saved without one gets it fitted and saved, τ untouched
    bow_translator.completer = None
    plain = bow_translator.save_pretrained(tmp_path / "plain")
    tau = (plain / "tau" / "model.safetensors").read_bytes()
    t = Translator.from_pretrained(plain)
    assert t.completer is None and t.add_completer("shapes", n=300, steps=50, progress=False) is t.completer
    t.save_pretrained(plain)
    assert (plain / "completer").is_dir() and (plain / "tau" / "model.safetensors").read_bytes() == tau


def test_a_completer_needs_a_text_query(bow_completer) -> None:
    from net2net.experts.labels import OneHotExpert

    t = tiny_translator(OneHotExpert())
    with pytest.raises(ValueError, match="needs a text query expert of dim 256; this one reads label of dim 10"):
        type(t)(t.query, t.tau, t.target, query_ref=t.query_ref, target_ref=t.target_ref, completer=bow_completer)
    with pytest.raises(ValueError, match="reads label, not text: only text prompts can be completed"):
        t.add_completer("shapes")


# -- the shipped translator ---------------------------------------------------------------------

def test_shipped_shapes_text2img_spreads_what_a_prompt_leaves_out(minilm) -> None:
    import net2net
    from net2net.evaluate.shapes import judge

    t = net2net.load("shapes-text2img")
    assert t.completer is not None
    clf = judge()
    got = clf.predict_attributes(t.sample(["a red star"], n=16, seed=0))
    assert sum(c == "red" and s == "star" for c, s in zip(got["colour"], got["shape"], strict=True)) >= 15
    assert len(set(got["position"])) >= 4 and len(set(got["size"])) >= 2 and len(set(got["style"])) == 2
    alone = clf.predict_attributes(t.sample(["a red star"], n=16, seed=0, complete=False))
    assert len(set(alone["position"])) <= 2  # τ by itself puts them all in one place
    named = clf.predict_attributes(t.sample(["a small red star at the top"], n=8, seed=0))
    assert named["position"].count("top") >= 7 and named["size"].count("small") >= 7


def test_cli_sample_no_complete(tmp_path, capsys, minilm) -> None:
    from net2net.cli import main

    for flag in ([], ["--no-complete"]):
        out = tmp_path / ("plain" if flag else "completed")
        assert main(["--threads", "1", "sample", "shapes-text2img", "--prompt", "a red star", "-n", "2",
                     "--out", str(out), *flag]) == 0
        said = json.loads(capsys.readouterr().out)
        assert said["images"] == 2 and said["completed"] is (not flag)
        if not flag:  # what each image was drawn from
            assert len(said["prompts"]) == 2 and all(p.startswith("a red star") and p != "a red star"
                                                     for p in said["prompts"])
        else:
            assert "prompts" not in said
