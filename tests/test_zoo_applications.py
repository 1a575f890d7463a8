"""Every application command end to end on the shipped zoo (small n), and the paper's claims.

These read the translators shipped in the package; the figures asserted here are
deliberately looser than the ones measured in docs/results.md (small subsets).
"""

from __future__ import annotations

import json

import pytest
import torch

from net2net.applications import diagnosis_translators
from net2net.cli import main
from net2net.data.derived import downsample, sobel_edges, upsample
from net2net.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist, to_float
from net2net.demo import prompt_for
from net2net.imageio import save_images
from net2net.translator import available_translators, load
from net2net.zoo.scoring import classifier

SHIPPED = ["fmnist-text2img", "fmnist-text2img-mlp", "fmnist-text2img-linear", "fmnist-text2gan", "fmnist-edge2img",
           "fmnist-edge2img-plain", "fmnist-inpaint", "fmnist-superres", "fmnist-silhouette2img", "fmnist-attr"]


@pytest.fixture(scope="module")
def test_images():
    x, y = load_fashion_mnist("test")
    return to_float(x[:200]), torch.from_numpy(y[:200].copy())


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, test_images):
    images, labels = test_images
    folder = tmp_path_factory.mktemp("inputs")
    save_images(images[:3], folder / "photo")
    save_images(sobel_edges(images[:1]), folder / "edges")
    save_images(upsample(downsample(images[:1], 7), 28), folder / "lowres")
    return folder, [int(v) for v in labels[:3]]


def test_every_translator_is_shipped() -> None:
    missing = sorted(set(SHIPPED) - set(available_translators()))
    assert not missing, f"not installed: {missing}"
    assert len(diagnosis_translators()) >= 3


def _pngs(folder, n):
    return sorted(p.name for p in folder.iterdir()) == [f"{i:03d}.png" for i in range(n)] + ["grid.png"]


def test_sample_command_held_out_wording(tmp_path) -> None:
    out = tmp_path / "s"
    assert main(["sample", "fmnist-text2img", "--prompt", "product photo showing a pair of trousers", "-n", "4",
                 "--seed", "1", "--out", str(out)]) == 0
    assert _pngs(out, 4)
    again = tmp_path / "s2"
    main(["sample", "fmnist-text2img", "--prompt", "product photo showing a pair of trousers", "-n", "4", "--seed", "1", "--out", str(again)])
    assert (out / "003.png").read_bytes() == (again / "003.png").read_bytes()


def test_translate_command(tmp_path, image_files) -> None:
    folder, _ = image_files
    for name, image in (("fmnist-edge2img", "edges"), ("fmnist-superres", "lowres")):
        out = tmp_path / name
        assert main(["translate", name, "--image", str(folder / image / "000.png"), "-n", "3", "--out", str(out)]) == 0
        assert _pngs(out, 3)
    out = tmp_path / "derived"
    assert main(["translate", "fmnist-inpaint", "--image", str(folder / "photo" / "000.png"), "--derive", "-n", "2",
                 "--temperature", "0.8", "--out", str(out)]) == 0
    assert _pngs(out, 2)


def test_edit_and_exemplar_commands(tmp_path, image_files, capsys) -> None:
    folder, labels = image_files
    out = tmp_path / "e"
    assert main(["edit", "fmnist-attr", "--image", str(folder / "photo" / "000.png"), "--set", "class=Bag", "-n", "2", "--out", str(out)]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["to"] == {"class": "bag"} and set(said["from"]) == {"class"}  # the image's class: the named classifier's reading
    assert _pngs(out, 2)
    out = tmp_path / "x"
    assert main(["exemplar", "fmnist-attr", "--prompt", "sneaker", "--exemplar", str(folder / "photo" / "001.png"), "--out", str(out)]) == 0
    assert _pngs(out, 1)


def test_diagnose_command(tmp_path, image_files, capsys) -> None:
    folder, _ = image_files
    out = tmp_path / "d"
    assert main(["diagnose", "--image", str(folder / "photo" / "000.png"), "-n", "2", "--out", str(out)]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert _pngs(out, 2 * len(layers))


def test_sample_with_rerank(tmp_path) -> None:
    out = tmp_path / "r"
    assert main(["sample", "fmnist-attr", "--class", "dress", "-n", "2", "--rerank", "3", "--out", str(out)]) == 0
    assert _pngs(out, 2)


def test_class_editing_changes_the_class_and_keeps_the_rest(test_images) -> None:
    images, labels = test_images
    t = load("fmnist-attr")
    target = (labels[:100] + 3) % 10
    edited = t.edit(images[:100], [int(v) for v in labels[:100]], [int(v) for v in target])
    success = float((classifier().predict(edited) == target).float().mean())
    assert success > 0.6, f"edit success {success:.2f}"
    # What the class does not say is kept: an edit is closer to its own source than the
    # edit of another image of the same class into the same target class is.
    src_labels = labels[:100]
    partner = torch.tensor([next((j for j in list(range(i + 1, 100)) + list(range(i)) if src_labels[j] == src_labels[i]), i)
                            for i in range(100)])
    own = (edited - images[:100]).pow(2).flatten(1).mean(1)
    other = (edited[partner] - images[:100]).pow(2).flatten(1).mean(1)
    kept = float((own < other).float().mean())
    assert kept > 0.6, f"edits closer to their own source in {kept:.2f} of cases"


def test_class_edits_keep_the_garments_brightness_and_width(test_images) -> None:
    """fmnist-attr reads each garment's brightness and width levels beside its class, so an
    edit that changes only the class keeps them (issue 23: r >= 0.8 on 1,000 test images;
    looser here on 200), and setting the brightness moves the garment's measured brightness."""
    from net2net.applications import edit_attributes, read_attributes
    from net2net.data.captions import measure
    from net2net.evaluate.translators import kept_descriptors

    images, labels = test_images
    t = load("fmnist-attr")
    target = (labels + 1 + torch.arange(len(labels)) % 9) % 10
    source = read_attributes(t, images, classes=[int(v) for v in labels])
    assert set(source) == {"class", "brightness", "width"} and source["class"][0] == CLASS_NAMES[int(labels[0])]
    edited = edit_attributes(t, images, source, [{"class": CLASS_NAMES[int(c)]} for c in target])
    kept = kept_descriptors(images, edited, labels, target)
    assert kept["brightness"] > 0.8 and kept["width"] > 0.6, kept
    assert float((classifier().predict(edited) == target).float().mean()) > 0.6
    dark, light = (measure(edit_attributes(t, images[:50], {k: v[:50] for k, v in source.items()},
                                           [{"brightness": level}] * 50))["brightness"]
                   for level in ("very-dark", "very-light"))
    assert (light > dark).mean() > 0.95, "very-light edits must be brighter than very-dark ones of the same image"


def test_a_class_alone_stands_for_a_typical_garment_of_it(tmp_path, capsys) -> None:
    from net2net.applications import make_query

    t = load("fmnist-attr")
    assert make_query(t, label="Dress") == [["class=dress", "brightness=mid", "width=mid"]]
    assert make_query(t, label="class=coat brightness=very-dark") == [["class=coat", "brightness=very-dark", "width=mid"]]
    with pytest.raises(ValueError, match="name the class"):
        make_query(t, label="brightness=dark")
    with pytest.raises(ValueError, match="choose one of very-dark, dark, mid, light, very-light"):
        make_query(t, label="class=coat brightness=grey")
    out = tmp_path / "s"
    assert main(["edit", "fmnist-attr", "--image", str(_photo(tmp_path)), "--set", "brightness=very-light", "-n", "1",
                 "--out", str(out)]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["to"] == {"brightness": "very-light"} and said["from"]["brightness"] != "very-light"
    # a class given with --from is the class the width level is measured within
    from net2net.applications import read_attributes
    from net2net.data.captions import levels

    image = to_float(load_fashion_mnist("test")[0][:1])
    assert read_attributes(t, image, classes=[1])["width"] == [levels(image, [1])[0]["width"]]
    assert read_attributes(t, image, classes=[1])["class"] == ["trouser"]


def _photo(tmp_path):
    x, _ = load_fashion_mnist("test")
    save_images(to_float(x[:1]), tmp_path / "photo")  # a dark-ish ankle boot
    return tmp_path / "photo" / "000.png"


def test_text_prompts_in_held_out_wording_give_the_class_with_diversity() -> None:
    t = load("fmnist-text2img")
    prompts = [prompt_for(c) for c in range(len(CLASS_NAMES))]
    images = t.sample(prompts, n=8, seed=0)
    pred = classifier().predict(images).view(10, 8)
    acc = float((pred == torch.arange(10)[:, None]).float().mean())
    assert acc > 0.6, f"held-out prompt class accuracy {acc:.2f}"
    assert images.view(10, 8, -1).std(dim=1).mean() > 0.02, "samples of one prompt must differ"
    mlp = load("fmnist-text2img-mlp").sample(prompts[:1], n=8, seed=0)
    assert mlp.view(8, -1).std(dim=0).max() == 0, "the MLP baseline has no diversity (Fig. 12)"


def test_superres_is_consistent_with_its_input(test_images) -> None:
    images, _ = test_images
    t = load("fmnist-superres")
    query = upsample(downsample(images[:50], 7), 28)
    out = t.sample(query, n=2, seed=0)
    err = (downsample(out, 7) - downsample(images[:50], 7).repeat_interleave(2, 0)).pow(2).mean()
    assert float(10 * torch.log10(1 / err)) > 20, "downsampled outputs must match the 7x7 input"
