"""The app's handlers (no browser): outputs, the kept residual, and the messages users see."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import net2net.imageio
from net2net.app import handlers as h
from net2net.data.derived import sobel_edges
from net2net.imageio import load_image


def pixels(item) -> torch.Tensor:
    """A gallery item back to (1, 28, 28) in [0, 1] (it was enlarged 6x)."""
    img, _ = item
    return torch.from_numpy(np.asarray(img.resize((28, 28), Image.Resampling.NEAREST), dtype=np.float32) / 255)[None]


def test_examples_ship_one_image_per_class() -> None:
    paths = h.example_images()
    assert len(paths) == 10 and all(Image.open(p).size == (28, 28) for p in paths)


def test_text_to_image_is_seeded_and_keeps_the_residual(tiny_translators) -> None:
    t = tiny_translators["fmnist-text2img"]
    items, v = h.text_to_image(tiny_translators, "  dress ", 4, 1.0, 7)
    assert len(items) == 4 and items[0][0].size == (168, 168) and items[0][1] == "#1"
    assert torch.equal(v, t.residuals(4, seed=7))
    again, _ = h.text_to_image(tiny_translators, "dress", 4, 1.0, 7)
    assert all(np.array_equal(np.asarray(a[0]), np.asarray(b[0])) for a, b in zip(items, again))
    # same residual, new prompt: the seed and temperature no longer matter, v does
    kept, v2 = h.text_to_image(tiny_translators, "coat", 4, 0.3, 99, True, v)
    assert v2 is v
    assert torch.allclose(torch.stack([pixels(i) for i in kept]), t.sample(["coat"], n=4, v=v), atol=1 / 255)
    # a residual of the wrong size (the number of samples changed) is drawn afresh
    _, v3 = h.text_to_image(tiny_translators, "coat", 2, 1.0, 5, True, v)
    assert torch.equal(v3, t.residuals(2, seed=5))


@pytest.mark.parametrize(("args", "message"), [
    (("x" * 501, 4, 1.0, 0), "501 characters; the limit is 500"),
    (("   ", 4, 1.0, 0), "the prompt is empty"),
    (("hat", 4, 1.0, 0), "unknown class 'hat'"),
    (("dress", 0, 1.0, 0), "between 1 and 16"),
    (("dress", 4, 5.0, 0), "temperature must be between 0 and 2"),
    (("dress", 4, 1.0, -1), "seed must be a whole number"),
    (("dress", "many", 1.0, 0), "must be numbers"),
])
def test_text_to_image_rejects_bad_input(tiny_translators, args, message) -> None:
    with pytest.raises(ValueError, match=message):
        h.text_to_image(tiny_translators, *args)


def test_missing_translators_say_how_to_install_them() -> None:
    with pytest.raises(ValueError, match=r"'fmnist-text2img' is not installed yet.*net2net zoo train fmnist-text2img`"):
        h.text_to_image({}, "dress", 4, 1.0, 0)
    with pytest.raises(ValueError, match="'fmnist-attr' is not installed yet"):
        h.edit_image({}, str(h.example_images()[0]), "coat")
    with pytest.raises(ValueError, match="'fmnist-inpaint' is not installed yet"):
        h.translate_image({}, "fill a masked region", str(h.example_images()[0]), None)
    with pytest.raises(ValueError, match="No classifier-diagnosis translators"):
        h.explore_classifier({}, str(h.example_images()[0]), None)


def test_edit_shows_input_reconstruction_and_edits(tiny_translators) -> None:
    t = tiny_translators["fmnist-attr"]
    path = h.EXAMPLES_DIR / "dress.png"
    items = h.edit_image(tiny_translators, str(path), "coat", "dress", 3, 1.0, 0)
    assert [c for _, c in items] == ["input (dress)", "reconstruction", "→ coat #1", "→ coat #2", "→ coat #3"]
    x = load_image(path)
    assert torch.allclose(pixels(items[0]), x[0], atol=1 / 255)
    assert torch.allclose(pixels(items[1]), t.decode(t.encode_target(x))[0], atol=1 / 255)
    # editing to the image's own class gives its reconstruction back
    same = h.edit_image(tiny_translators, str(path), "dress", "dress", 1, 1.0, 0)
    assert torch.allclose(pixels(same[2]), pixels(same[1]), atol=2 / 255)


def test_edit_sets_the_brightness_where_fmnist_attr_reads_it(tiny_translators) -> None:
    from net2net.data.captions import measure

    path = str(h.EXAMPLES_DIR / "dress.png")
    shipped = {"fmnist-attr": net2net.load("fmnist-attr")}
    dark, light = (h.edit_image(shipped, path, "coat", h.AUTO, 2, 1.0, 0, level) for level in ("very-dark", "very-light"))
    assert [c for _, c in light][2:] == ["→ coat, very-light #1", "→ coat, very-light #2"]
    assert (measure(torch.stack([pixels(i) for i in light[2:]]))["brightness"].min()
            > measure(torch.stack([pixels(i) for i in dark[2:]]))["brightness"].max())
    kept = h.edit_image(shipped, path, "coat", h.AUTO, 1, 1.0, 0)
    assert [c for _, c in kept][2:] == ["→ coat #1"]
    with pytest.raises(ValueError, match="choose the brightness: keep the image's or one of very-dark"):
        h.edit_image(shipped, path, "coat", h.AUTO, 1, 1.0, 0, "grey")
    with pytest.raises(ValueError, match="reads only the class; it cannot set the brightness"):
        h.edit_image(tiny_translators, path, "coat", "dress", 1, 1.0, 0, "dark")


def test_bad_uploads_get_the_imageio_message_without_the_temp_path(tiny_translators, tmp_path, monkeypatch) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("not a picture")
    with pytest.raises(ValueError, match=r"^notes.txt: not an image file PIL can read") as e:
        h.edit_image(tiny_translators, str(note), "coat", "dress")
    assert str(tmp_path) not in str(e.value)
    with pytest.raises(ValueError, match="upload an image first"):
        h.edit_image(tiny_translators, None, "coat")
    monkeypatch.setattr(net2net.imageio, "MAX_BYTES", 50)
    with pytest.raises(ValueError, match=r"dress.png: \d+ bytes is too large; the limit is 50 bytes"):
        h.explore_classifier(tiny_translators, str(h.EXAMPLES_DIR / "dress.png"), None)


def test_translate_an_upload_derives_the_query_when_asked(tiny_translators) -> None:
    path = str(h.EXAMPLES_DIR / "sneaker.png")
    items = h.translate_image(tiny_translators, "sketch → image", path, None, True, 3, 1.0, 0)
    assert [c for _, c in items] == ["query", "#1", "#2", "#3"]
    assert torch.allclose(pixels(items[0]), sobel_edges(load_image(path))[0], atol=1 / 255)
    as_is = h.translate_image(tiny_translators, "sketch → image", path, None, False, 1, 1.0, 0)
    assert torch.allclose(pixels(as_is[0]), load_image(path)[0], atol=1 / 255)


def test_translate_a_drawing(tiny_translators) -> None:
    strokes = np.zeros((280, 280, 4), np.uint8)
    strokes[100:180, 100:180] = 255  # a painted square, opaque
    sketch = {"background": None, "layers": [Image.fromarray(strokes)], "composite": None}
    items = h.translate_image(tiny_translators, "sketch → image", None, sketch, False, 2, 1.0, 0)
    query = pixels(items[0])
    assert query[0, 14, 14] == 1 and query[0, 2, 2] == 0  # light strokes on dark, like the training sketches
    # inpainting: the painted region of the image becomes grey 0.5, the rest is the image
    photo = Image.open(h.EXAMPLES_DIR / "coat.png").convert("RGBA").resize((280, 280))
    masked = h.translate_image(tiny_translators, "fill a masked region", None,
                               {"background": photo, "layers": [Image.fromarray(strokes)], "composite": photo}, False, 2)
    q, x = pixels(masked[0]), load_image(h.EXAMPLES_DIR / "coat.png")[0]
    assert abs(float(q[0, 14, 14]) - 0.5) < 2 / 255
    assert float((q[0, :8] - x[0, :8]).abs().mean()) < 0.02  # unmasked: the image (resampled to 280 px and back)
    with pytest.raises(ValueError, match="upload an image into the editor, then paint"):
        h.translate_image(tiny_translators, "fill a masked region", None, sketch, False)
    with pytest.raises(ValueError, match="draw a sketch or upload an image first"):
        h.translate_image(tiny_translators, "sketch → image", None, {"background": None, "layers": [], "composite": None})
    with pytest.raises(ValueError, match="choose a task"):
        h.translate_image(tiny_translators, "paint", None, sketch)


def test_explore_every_layer_or_one(tiny_translators) -> None:
    path = str(h.EXAMPLES_DIR / "bag.png")
    assert h.diagnosis_layers(tiny_translators) == ["conv1", "fc1"]
    items = h.explore_classifier(tiny_translators, path, h.ALL_LAYERS, 2, 1.0, 0)
    assert [c for _, c in items] == ["input", "conv1 #1", "conv1 #2", "fc1 #1", "fc1 #2"]
    one = h.explore_classifier(tiny_translators, path, "fc1", 2, 1.0, 0)
    assert [c for _, c in one] == ["input", "fc1 #1", "fc1 #2"]
    with pytest.raises(ValueError, match="no translator for layer 'conv3'; installed: conv1, fc1"):
        h.explore_classifier(tiny_translators, path, "conv3")


def test_app_builds_with_notices_for_missing_translators(tiny_translators, shapes_translators) -> None:
    gr = pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'gradio>=5')")
    from net2net.app.server import build_app

    def notices(demo) -> str:
        return " ".join(b.value for b in demo.blocks.values()
                        if isinstance(b, gr.Markdown) and "not installed yet" in (b.value or ""))

    everything = {**tiny_translators, **shapes_translators}
    assert notices(build_app(everything)) == ""
    partial = {k: v for k, v in everything.items() if k not in ("fmnist-attr", "shapes-style")}
    text = notices(build_app(partial))
    assert "'fmnist-attr' is not installed yet" in text and "fmnist-text2img" not in text
    assert "'shapes-style' is not installed yet" in text and "shapes-attr'" not in text
    assert "No classifier-diagnosis translators" in " ".join(
        b.value or "" for b in build_app({}).blocks.values() if isinstance(b, gr.Markdown))


def test_serve_command_is_registered_and_binds_to_loopback(capsys) -> None:
    from net2net.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "127.0.0.1" in capsys.readouterr().out
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err



@pytest.mark.slow  # loads the packaged MiniLM sentence encoder (~15 s)
def test_text_to_image_with_the_real_text_expert(tiny_text_translators) -> None:
    t = tiny_text_translators["fmnist-text2img"]
    items, v = h.text_to_image(tiny_text_translators, "a dark pair of trousers", 3, 1.0, 0)
    assert len(items) == 3 and v.shape == (3, 8)
    kept, _ = h.text_to_image(tiny_text_translators, "a light summer dress", 3, 1.0, 0, True, v)
    expected = t.sample(["a light summer dress"], n=3, v=v)
    assert torch.allclose(torch.stack([pixels(i) for i in kept]), expected, atol=1 / 255)
    with pytest.raises(ValueError, match="the limit is 500"):
        h.text_to_image(tiny_text_translators, "trousers " * 80, 3, 1.0, 0)
