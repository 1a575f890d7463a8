"""Shapes nets and experts: attribute heads, RGB VAE, the label experts, named-value attribute
columns, and the ``NET2NET_ZOO`` lookup order."""

from __future__ import annotations

import pytest
import torch

from net2net.data.domains import Items, column_domain
from net2net.data.shapes import ATTRIBUTES, STYLES, VOCAB
from net2net.zoo import list_zoo, load_expert, zoo_folders, zoo_info
from net2net.zoo.experts import AutoencoderExpert, ClassifierExpert
from net2net.zoo.nets import ClassifierConfig, VAEConfig
from net2net.zoo.store import WEIGHTS_DIR, save_expert

HEADS = [[a, list(VOCAB[a])] for a in ("shape", "colour", "size", "position", "style")]


def _tiny_classifier(heads=HEADS, **kw) -> ClassifierConfig:
    return ClassifierConfig(channels=(4, 4, 4), hidden=8, image_size=32, in_channels=3, heads=heads, **kw)


# -- nets ----------------------------------------------------------------------------------------

def test_heads_set_num_classes_and_are_tuples():
    cfg = _tiny_classifier(num_classes=3)
    assert cfg.num_classes == 5 + 8 + 3 + 9 + 2 == sum(len(v) for _, v in HEADS)
    assert cfg.heads[1] == ("colour", VOCAB["colour"])
    assert ClassifierConfig().heads == () and ClassifierConfig().num_classes == 10


@pytest.mark.parametrize(("heads", "message"), [
    ([["colour", ["red"]]], "each head is \\[attribute, \\[two or more distinct values\\]\\]"),
    ([["colour", ["red", "red"]]], "two or more distinct values"),
    ([["", ["a", "b"]]], "two or more distinct values"),
    ([["colour", ["red", ""]]], "two or more distinct values"),
    ([["colour", "rg"]], "two or more distinct values"),
    ([["colour"]], "two or more distinct values"),
    ([["colour", ["red", "blue"]], ["colour", ["a", "b"]]], "attribute names must be distinct"),
    ("colour", "heads must be a list of \\[attribute, \\[values...\\]\\] pairs"),
])
def test_bad_heads_are_a_one_line_error(heads, message):
    with pytest.raises(ValueError, match=message) as e:
        _tiny_classifier(heads=heads)
    assert "\n" not in str(e.value) and str(e.value).startswith("ClassifierConfig.heads")


def test_in_channels_must_be_grey_or_rgb():
    with pytest.raises(ValueError, match="ClassifierConfig.in_channels must be 1 or 3, got 4"):
        ClassifierConfig(in_channels=4)
    with pytest.raises(ValueError, match="VAEConfig.in_channels must be 1 or 3, got 2"):
        VAEConfig(in_channels=2, image_size=32)
    with pytest.raises(ValueError, match="needs image_size 28, 32, 64 or 128"):
        VAEConfig(in_channels=3, image_size=30)


def test_rgb_vae_round_trip_shapes():
    torch.manual_seed(0)
    ae = AutoencoderExpert(VAEConfig(latent_dim=6, image_size=32, channels=(4, 8, 8), in_channels=3), name="ae")
    x = torch.rand(3, 3, 32, 32)
    z = ae.encode(x)
    assert z.shape == (3, 6) and ae.dim == 6
    y = ae.decode(z)
    assert y.shape == (3, 3, 32, 32) and float(y.min()) >= 0 and float(y.max()) <= 1
    mean, logvar = ae.posterior(x)
    assert mean.shape == logvar.shape == (3, 6) and torch.allclose(mean, z)
    with pytest.raises(ValueError, match=r"expects images as a float tensor \(B, 3, 32, 32\)"):
        ae.encode(torch.rand(3, 1, 32, 32))


def test_classifier_predict_attributes_names_every_head():
    torch.manual_seed(0)
    f = ClassifierExpert(_tiny_classifier(), name="tiny")
    assert f.heads == {a: tuple(v) for a, v in HEADS}
    x = torch.rand(4, 3, 32, 32)
    got = f.predict_attributes(x)
    assert list(got) == ["shape", "colour", "size", "position", "style"]
    for a, values in got.items():
        assert len(values) == 4 and all(v in VOCAB[a] for v in values)
    logits = f.attribute_logits(x)
    assert {a: tuple(t.shape) for a, t in logits.items()} == {a: (4, len(v)) for a, v in HEADS}
    assert got["colour"] == [VOCAB["colour"][i] for i in logits["colour"].argmax(1).tolist()]
    assert f.encode(x).shape == (4, 8)
    with pytest.raises(ValueError, match="tiny has one head per attribute; use predict_attributes"):
        f.predict(x)
    plain = ClassifierExpert(ClassifierConfig(channels=(4, 4, 4), hidden=8), name="plain")
    with pytest.raises(ValueError, match="plain has no attribute heads; use predict"):
        plain.predict_attributes(torch.rand(1, 1, 28, 28))


# -- label experts -------------------------------------------------------------------------------

def test_shapes_multihot_expert():
    from net2net.experts.registry import get_expert

    e = get_expert("shapes-multihot")
    names = [f"{a}={v}" for a in ATTRIBUTES for v in VOCAB[a]]
    assert e.name == "shapes-multihot" and e.dim == len(names) == 5 + 8 + 3 + 9 + 2
    assert list(e.attributes) == names
    v = e.encode([["shape=star", "colour=red", "size=small", "position=top-left"], ["colour=white"]])
    assert v.shape == (2, e.dim)
    assert [names[i] for i in v[0].nonzero().flatten().tolist()] == ["shape=star", "colour=red", "size=small",
                                                                      "position=top-left"]
    assert [names[i] for i in v[1].nonzero().flatten().tolist()] == ["colour=white"]
    with pytest.raises(ValueError, match="unknown attribute 'colour=purple'; choose from shape=circle"):
        e.encode([["colour=purple"]])
    with pytest.raises(ValueError, match="unknown attribute 'style=wavy'"):
        e.encode([["style=wavy"]])
    assert e.encode([["style=filled"]])[0, names.index("style=filled")] == 1


def test_shapes_style_onehot_expert():
    from net2net.experts.registry import get_expert

    e = get_expert("shapes-style-onehot")
    assert e.name == "shapes-style-onehot" and e.dim == 2 and e.class_names == STYLES
    assert e.encode(["outlined", "filled", 0]).tolist() == [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="unknown class 'dotted'; choose one of filled, outlined"):
        e.encode(["dotted"])


# -- the attributes domain on named values -------------------------------------------------------------

def test_attribute_domain_on_named_columns():
    items = Items(images=None, columns={"shape": ["star", "circle"], "colour": ["red", "white"],
                                        "size": ["small", "large"]})
    d = column_domain(["shape", "colour"], "text")
    assert d(items) == [["shape=star", "colour=red"], ["shape=circle", "colour=white"]]
    # what the multi-hot expert reads, directly
    from net2net.experts.registry import get_expert

    v = get_expert("shapes-multihot").encode(d(items))
    assert v.sum(1).tolist() == [2.0, 2.0]


def test_attribute_domain_numeric_columns_stay_flags():
    items = Items(images=None, columns={"dark": [1, 0], "wide": [0.0, 1.0]})
    assert column_domain(["dark", "wide"], "label")(items).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_attribute_domain_refuses_mixed_named_and_numeric_columns():
    items = Items(images=None, columns={"shape": ["star", "circle"], "dark": [1, 0]})
    with pytest.raises(ValueError, match="columns shape hold names and dark numbers; attributes are all 0/1 "
                                         "flags or all named values"):
        column_domain(["shape", "dark"], "text")(items)
    with pytest.raises(ValueError, match="no column 'colour'; the columns are shape, dark"):
        column_domain(["shape", "colour"], "text")(items)


# -- NET2NET_ZOO -----------------------------------------------------------------------------------

def _write(folder, name: str, hidden: int) -> None:
    torch.manual_seed(0)
    cfg = ClassifierConfig(channels=(4, 4, 4), hidden=hidden, image_size=32, in_channels=3, heads=HEADS[:2])
    state = ClassifierExpert(cfg, name=name).net.state_dict()
    save_expert(folder, name, "classifier", cfg, state, recipe={"name": name}, metrics={"test_acc": 0.5})


def test_net2net_zoo_folder_is_searched_first(tmp_path, monkeypatch):
    package = set(list_zoo(WEIGHTS_DIR))
    assert "fmnist-classifier" in package
    _write(tmp_path, "fmnist-classifier", hidden=7)   # shadows the package's
    _write(tmp_path, "shapes-tiny", hidden=5)         # extends it
    monkeypatch.setenv("NET2NET_ZOO", str(tmp_path))
    assert zoo_folders() == [tmp_path, WEIGHTS_DIR]
    assert list_zoo() == sorted(package | {"shapes-tiny"})
    assert list_zoo(tmp_path) == ["fmnist-classifier", "shapes-tiny"]
    shadow = load_expert("fmnist-classifier")
    assert shadow.dim == 7 and shadow.heads == {"shape": VOCAB["shape"], "colour": VOCAB["colour"]}
    assert zoo_info("fmnist-classifier")["metrics"] == {"test_acc": 0.5}
    assert load_expert("shapes-tiny").dim == 5
    with pytest.raises(ValueError, match="unknown zoo expert 'shapes-huge'; choose one of .*fmnist-ae.*shapes-tiny"):
        load_expert("shapes-huge")
    monkeypatch.delenv("NET2NET_ZOO")
    assert zoo_folders() == [WEIGHTS_DIR]
    assert load_expert("fmnist-classifier").dim == 128 and "shapes-tiny" not in list_zoo()
    with pytest.raises(ValueError, match="unknown zoo expert 'shapes-tiny'; choose one of "):
        load_expert("shapes-tiny")


def test_net2net_zoo_expert_through_the_registry_factory(tmp_path, monkeypatch):
    """The registry's zoo factories look the name up when called, so the env var in force then wins."""
    from net2net.experts.registry import get_expert

    _write(tmp_path, "fmnist-classifier", hidden=7)
    monkeypatch.setenv("NET2NET_ZOO", str(tmp_path))
    assert get_expert("fmnist-classifier").dim == 7
    monkeypatch.delenv("NET2NET_ZOO")
    assert get_expert("fmnist-classifier").dim == 128


def test_a_name_new_in_net2net_zoo_reaches_the_registry_after_it_loaded(tmp_path, monkeypatch):
    """The registry asks its providers again on a miss: a folder set after the first lookup still counts."""
    from net2net.experts.registry import available_experts, get_expert

    assert "shapes-late" not in available_experts()  # providers loaded, without the folder
    _write(tmp_path, "shapes-late", hidden=6)
    monkeypatch.setenv("NET2NET_ZOO", str(tmp_path))
    assert get_expert("shapes-late").dim == 6


# -- edit's checks, before any network runs ---------------------------------------------------------

@pytest.mark.parametrize(("task", "assign", "source", "message"), [
    ("attr", ["colour=red"], "dress", "--from takes NAME=VALUE, e.g. .*; got 'dress'"),
    ("attr", ["colour=red"], "colour=mauve", "--from colour=mauve: choose one of red, "),
    ("attr", ["mood=happy"], None, "sets shape, colour, size, position, style, not 'mood'"),
    ("attr", ["size=huge"], None, "--set size=huge: choose one of small, medium, large"),
    ("style", ["colour=red"], None, "shapes-x sets style, not 'colour'"),
    ("style", ["style=red"], None, "--set style=red: .*choose one of filled, outlined"),
    ("text2img", ["colour=red"], None, "shapes-x does not edit: its query expert .minilm. is not a label"),
    ("attr", ["colour=red", "colour=blue"], None, "--set gives colour twice"),
])
def test_edit_refuses_before_running_anything(task, assign, source, message):
    """The checks are the generic ones of any translator over named columns (its folder's ``attributes``)."""
    from net2net.applications import edit
    from net2net.experts.registry import get_expert
    from net2net.testing import tiny_translator

    if task == "text2img":
        from net2net.experts.labels import OneHotExpert

        t = tiny_translator(OneHotExpert(), query_name="minilm", info={"recipe": "shapes-x"})
        t.info["attributes"] = {}
        t.query.input_kind = "text"  # stands in for a text expert: no named columns
    else:
        expert = get_expert("shapes-multihot" if task == "attr" else "shapes-style-onehot")
        t = tiny_translator(expert, info={"recipe": "shapes-x", "task": task,
                                          "query_column": None if task == "attr" else "style"})
    with pytest.raises(ValueError, match=message):
        edit(t, torch.zeros(1, 3, 32, 32), assign, source=source)


def test_fields_added_for_colour_leave_grey_configs_and_fingerprints_as_they_were():
    """Translators check their experts' fingerprints, which hash the config: the grey zoo must not change."""
    from net2net.translator import available_translators, load

    assert "in_channels" not in ClassifierConfig().to_dict() and "heads" not in ClassifierConfig().to_dict()
    assert "in_channels" not in VAEConfig().to_dict()
    assert VAEConfig(in_channels=3, image_size=32).to_dict()["in_channels"] == 3
    for name in ("fmnist-text2img", "fmnist-superres", "fmnist-inpaint", "shapes-attr"):
        if name in available_translators():
            load(name)  # raises if an expert's fingerprint differs from the one τ was trained with


@pytest.mark.parametrize(("label", "message"), [
    ("shape=star,,colour", "--class takes NAME=VALUE, e.g. .*; got 'colour'"),
    ("shape=star, colour=mauve", "--class colour=mauve: choose one of red, "),
    ("shape=star", "needs every column; --class misses colour, size, position, style"),
])
def test_sample_class_errors_name_the_class_flag(label, message):
    """``sample shapes-attr --class ...`` errors used to blame ``--set``."""
    from net2net.applications import make_query
    from net2net.experts.registry import get_expert
    from net2net.testing import tiny_translator

    t = tiny_translator(get_expert("shapes-multihot"), info={"recipe": "shapes-x", "task": "attr"})
    with pytest.raises(ValueError, match=message) as e:
        make_query(t, label=label)
    assert "--set" not in str(e.value)
