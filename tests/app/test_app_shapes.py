"""The web app's colour tab: text → image and one-attribute edits with the shipped shapes translators."""

from __future__ import annotations

import numpy as np
import pytest

from net2net.app import handlers as h
from net2net.data.shapes import VOCAB, items, measure


def _tensor(img) -> np.ndarray:
    """A gallery image (enlarged by ``h.SCALE``) back to ``(3, 32, 32)`` in [0, 1]."""
    a = np.asarray(img, dtype=np.float32)[:: h.SCALE, :: h.SCALE] / 255.0
    return a.transpose(2, 0, 1)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return h.shapes_example_images(tmp_path_factory.mktemp("examples"))


def test_examples_are_the_test_split_images(examples) -> None:
    pixels, rows = items("test", len(examples))
    assert [p.name.split("-", 1)[0] for p in examples] == [str(i) for i in range(len(examples))]
    for p, a, row in zip(examples, pixels, rows, strict=True):
        assert f"-{row['colour']}-{row['shape']}-{row['style']}" in p.name
        assert np.array_equal(np.asarray(h.Image.open(p)), a)


def test_value_menu_follows_the_attribute() -> None:
    for attr, values in VOCAB.items():
        assert h.shapes_values(attr) == list(values)
    with pytest.raises(ValueError, match="choose an attribute: one of shape, colour, size, position, style"):
        h.shapes_values("mood")


def test_text_to_image_gives_colour_samples(shapes_translators) -> None:
    out, v = h.shapes_text_to_image(shapes_translators, "a large red square in the centre", 3, 1.0, 0)
    assert len(out) == 3 and tuple(v.shape) == (3, 64)
    assert all(img.mode == "RGB" and img.size == (32 * h.SCALE, 32 * h.SCALE) for img, _ in out)
    again, _ = h.shapes_text_to_image(shapes_translators, "a small outlined blue star at the top", 3, 1.0, 0, True, v)
    assert [c for _, c in again] == ["#1", "#2", "#3"]


def test_a_partial_prompt_is_completed_per_sample_and_the_caption_says_how(shapes_translators) -> None:
    out, _ = h.shapes_text_to_image(shapes_translators, "a red star", 6, 1.0, 3)
    captions = [c for _, c in out]
    assert [c.split(":")[0] for c in captions] == [f"#{i}" for i in range(1, 7)] and len(set(captions)) == 6
    got = measure(np.stack([_tensor(img) for img, _ in out]), ["star"] * 6)
    assert got["colour"] == ["red"] * 6 and len(set(got["position"])) >= 3
    other, _ = h.shapes_text_to_image(shapes_translators, "a red star", 6, 1.0, 4)  # the seed draws the rest
    assert [c for _, c in other] != captions


def test_completion_can_be_turned_off_and_then_tau_samples_the_prompt_as_written(shapes_translators) -> None:
    t = shapes_translators["shapes-text2img"]
    out, v = h.shapes_text_to_image(shapes_translators, "a red star", 4, 1.0, 3, False, None, False)
    assert [c for _, c in out] == ["#1", "#2", "#3", "#4"]  # nothing was added to the prompt
    bare = t.decode(t.sample_latents(t.encode_query(["a red star"]), n=4, seed=3, v=v))
    assert np.array_equal(np.stack([_tensor(img) for img, _ in out]),
                          np.stack([_tensor(img) for img, _ in h._items(bare, ["#1", "#2", "#3", "#4"])]))


def test_the_completion_box_shows_only_on_a_tab_whose_translator_completes(shapes_translators) -> None:
    pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'gradio>=5')")
    from net2net.app.server import build_app

    ids = {getattr(b, "elem_id", None) for b in build_app(shapes_translators).blocks.values()}
    assert shapes_translators["shapes-text2img"].completer is not None
    assert "shapes-complete" in ids and "complete" not in ids  # the Fashion-MNIST tab has no completer here


def test_colour_edit_shows_input_reconstruction_and_red_edits(shapes_translators, examples) -> None:
    path = next(p for p in examples if "-red-" not in p.name)
    out = h.shapes_edit(shapes_translators, str(path), "colour", "red", 2, 1.0, 0)
    assert [c for _, c in out][1:] == ["reconstruction", "→ colour=red #1", "→ colour=red #2"]
    assert out[0][1].startswith("input (colour: ")
    edits = np.stack([_tensor(img) for img, _ in out[2:]])
    assert measure(edits)["colour"] == ["red", "red"]  # read from the pixels, not by the judge


def test_style_edits_go_to_the_style_translator(shapes_translators, examples) -> None:
    path = str(examples[0])
    out = h.shapes_edit(shapes_translators, path, "style", "outlined", 1, 1.0, 0)
    assert out[-1][1] == "→ style=outlined #1"
    without = {k: v for k, v in shapes_translators.items() if k != "shapes-style"}
    with pytest.raises(ValueError, match="'shapes-style' is not installed yet"):
        h.shapes_edit(without, path, "style", "outlined", 1, 1.0, 0)
    h.shapes_edit(without, path, "size", "small", 1, 1.0, 0)  # the other attributes still work


@pytest.mark.parametrize(("args", "message"), [
    ((None, "colour", "red"), "upload an image first"),
    (("EXAMPLE", "colour", "purple"), "colour takes one of red, green, blue"),
    (("EXAMPLE", "mood", "happy"), "choose an attribute"),
])
def test_edit_rejects_bad_input(shapes_translators, examples, args, message) -> None:
    path, attr, value = args
    with pytest.raises(ValueError, match=message):
        h.shapes_edit(shapes_translators, str(examples[0]) if path == "EXAMPLE" else path, attr, value, 1, 1.0, 0)


def test_empty_prompt_on_the_colour_tab_is_domain_neutral(shapes_translators) -> None:
    """It used to ask the user to "describe a garment" on the shapes tab."""
    with pytest.raises(ValueError, match="the prompt is empty; describe in words the image you want") as e:
        h.shapes_text_to_image(shapes_translators, "  ", 3, 1.0, 0)
    assert "garment" not in str(e.value)
