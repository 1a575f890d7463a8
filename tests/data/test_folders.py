"""Image folders as they come: any size and mode, fitted per image; columns read without opening an image."""

from __future__ import annotations

import builtins
import io
import json
import os

import numpy as np
import pytest
import torch
from own_data import make_folder, register_block_ae, register_char_expert
from PIL import Image

from net2net.cli import main
from net2net.data.convert import ImageSpec, convert_images, fit_image
from net2net.data.datasets import get_dataset
from net2net.features import FeatureStore


def _extract(folder, store, expert="block-ae", *extra) -> int:
    return main(["extract", "--expert", expert, "--dataset", str(folder), "--split", "train", "--root", str(store),
                 "--no-progress", *extra])


def _mixed(root, n: int = 6):
    """Photos as they come: sizes, modes (grey, RGB, RGBA, palette) and formats differ."""
    root.mkdir(parents=True)
    rows = []
    for i in range(n):
        w, h = (64, 48) if i % 3 == 0 else (40, 40) if i % 3 == 1 else (30, 50)
        mode = ("RGB", "L", "RGBA", "P")[i % 4]
        a = np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
        img = Image.fromarray(a).convert(mode)
        name = f"img{i:03d}." + ("jpg" if mode in ("RGB", "L") and i % 2 else "png")
        img.save(root / name)
        rows.append({"file_name": name, "text": f"a picture {i}"})
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_images_of_any_size_and_mode_are_fitted_per_image_and_keyed(tmp_path, capsys) -> None:
    register_block_ae()
    folder = _mixed(tmp_path / "photos")
    store = tmp_path / "store"
    assert _extract(folder, store) == 0
    out = capsys.readouterr().out
    assert "converted: fit crop: 3 image sizes -> 16x16" in out
    (crop,) = FeatureStore(store).entries()
    assert crop.manifest["spec"]["convert"] == ["fit crop: 3 image sizes -> 16x16"]
    # row 0 is exactly its own image, centre-cropped and resized, through the expert
    img = np.asarray(Image.open(folder / "img000.png").convert("RGB"), dtype=np.float32) / 255.0
    x = fit_image(torch.from_numpy(img).permute(2, 0, 1), 16, "crop")
    from own_data import BlockAutoencoder
    np.testing.assert_allclose(crop.array()[0], BlockAutoencoder().encode(x[None])[0].numpy(), atol=1e-6)
    for fit in ("pad", "stretch"):
        assert _extract(folder, store, "block-ae", "--fit", fit) == 0
        assert f"converted: fit {fit}: 3 image sizes -> 16x16" in capsys.readouterr().out
    assert len({e.key for e in FeatureStore(store).entries()}) == 3  # the fit is part of the key


def test_fit_of_one_batch_and_of_one_image_agree() -> None:
    x = torch.rand(2, 3, 20, 30)
    for fit, note in (("crop", "centre-crop 30x20 -> 20x20"), ("pad", "pad 30x20 -> 30x30"),
                      ("stretch", "stretch 30x20 -> 16x16")):
        y, notes = convert_images(x, ImageSpec(3, 16), fit)
        assert y.shape == (2, 3, 16, 16) and notes[0] == note
        torch.testing.assert_close(y[1], fit_image(x[1], 16, fit))
    padded, _ = convert_images(x, ImageSpec(3, 30), "pad")
    assert padded[:, :, :5].abs().sum() == 0 and torch.equal(padded[:, :, 5:25], x)  # black borders, image intact
    with pytest.raises(ValueError, match="fit must be one of crop, pad, stretch, got 'zoom'"):
        convert_images(x, ImageSpec(3, 16), "zoom")


def test_a_text_column_never_opens_an_image(tmp_path, monkeypatch, capsys) -> None:
    """Captions are read from the metadata alone: 20,000 unreadable 'images', and not one is opened."""
    register_char_expert()
    folder = tmp_path / "big"
    folder.mkdir()
    rows = [{"file_name": f"{i:05d}.png", "text": f"caption {i} abc", "label": i % 3} for i in range(20_000)]
    for r in rows:
        (folder / r["file_name"]).write_bytes(b"not an image")
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    opened: list[str] = []
    real_open, real_io_open = builtins.open, io.open

    def spy(real):
        def open_(file, *a, **k):
            name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else str(file)
            # only this folder's files: a server thread left by an earlier test (the app's)
            # may open its own gallery images meanwhile, through the same patched builtins
            if name.startswith(str(folder)):
                opened.append(name)
            return real(file, *a, **k)
        return open_

    monkeypatch.setattr(builtins, "open", spy(real_open))
    monkeypatch.setattr(io, "open", spy(real_io_open))
    assert _extract(folder, tmp_path / "store", "char-count", "--column", "text") == 0
    assert _extract(folder, tmp_path / "store", "onehot", "--column", "label") == 0
    out = capsys.readouterr().out
    assert "rows: 20000  dim: 8" in out and "rows: 20000  dim: 10" in out
    assert not [f for f in opened if f.endswith(".png")], opened[:3]
    assert any(f.endswith("metadata.jsonl") for f in opened)  # the spy saw the reads there were


def test_caption_entries_pair_with_image_entries_of_the_same_rows(tmp_path) -> None:
    register_block_ae()
    register_char_expert()
    folder = make_folder(tmp_path / "shapes", n_train=8, n_test=2)
    from net2net.experts.registry import get_expert

    store = FeatureStore(tmp_path / "store")
    text = store.extract(get_expert("char-count"), dataset=str(folder), column="text")
    image = store.extract(get_expert("block-ae"), dataset=str(folder))
    assert text.manifest["spec"]["dataset"]["fingerprint"] != image.manifest["spec"]["dataset"]["fingerprint"]
    assert text.rows == image.rows  # the recipe's pairing check
    # an edited image changes the image entry's key, not the caption entry's
    Image.new("RGB", (16, 16), (1, 2, 3)).save(folder / "train" / "001.png")
    assert store.extract(get_expert("char-count"), dataset=str(folder), column="text").hit
    assert not store.extract(get_expert("block-ae"), dataset=str(folder)).hit


def test_folder_fingerprint_is_unchanged_for_existing_folders(tmp_path) -> None:
    """The content fingerprint is the one net2net always computed: image entries' keys stay valid."""
    import hashlib

    from net2net.data.folder import folder_fingerprint

    folder = make_folder(tmp_path / "shapes", n_train=3, n_test=2)
    (folder / ".hidden").write_text("x")
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        h.update(rel.as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    assert folder_fingerprint(folder) == h.hexdigest()


def test_class_folders_split_folders_and_csv(tmp_path) -> None:
    root = tmp_path / "c"
    for split in ("train", "test"):
        for c in ("cat", "dog"):
            (root / split / c).mkdir(parents=True)
            Image.new("L", (8, 8), 10).save(root / split / c / "a.png")
    ds = get_dataset(root)
    assert ds.splits() == ["train", "test"]
    s = ds.load("test")
    assert s.class_names == ("cat", "dog") and s.labels.tolist() == [0, 1] and s.files == ["test/cat/a.png", "test/dog/a.png"]
    csvf = tmp_path / "csv"
    csvf.mkdir()
    Image.new("RGB", (8, 8)).save(csvf / "a.png")
    Image.new("RGB", (8, 8)).save(csvf / "b.png")
    (csvf / "metadata.csv").write_text("file_name,text,big\na.png,a red one,1\nb.png,a blue one,0\n")
    s = get_dataset(csvf).load("train")
    assert s.columns == {"text": ["a red one", "a blue one"], "big": [1, 0]} and s.images.shape == (2, 8, 8, 3)


def test_a_recipe_query_chooses_the_fit(tmp_path) -> None:
    from net2net.train.recipe import resolve_feature_queries

    register_block_ae()
    _mixed(tmp_path / "photos")
    data = {"source": "features", "root": "store",
            "target": {"expert": "block-ae", "dataset": "photos", "fit": "pad"}}
    key = resolve_feature_queries(data, tmp_path)["target"]
    entry = FeatureStore(tmp_path / "store").open(key)
    assert entry.manifest["spec"]["convert"] == ["fit pad: 3 image sizes -> 16x16"]
    with pytest.raises(ValueError, match="recipe.data.target: fit must be one of crop, pad, stretch, got 'zoom'"):
        resolve_feature_queries({**data, "target": {**data["target"], "fit": "zoom"}}, tmp_path)


def test_an_image_entry_made_before_rows_fingerprints_pairs_with_a_caption_entry(tmp_path) -> None:
    """An image entry whose manifest predates ``data_rows`` (its key, and so the hit, is the
    same) is given the rows' fingerprint on its next hit, so a recipe pairs it with a caption
    entry of the same rows instead of refusing them as 'different data'."""
    from net2net.io import atomic_write_json, read_json
    from net2net.train.recipe import train

    register_block_ae()
    register_char_expert()
    folder = make_folder(tmp_path / "data", n_train=12, n_test=4)
    store = FeatureStore(tmp_path / "store")
    image = store.extract(get_expert_by_name("block-ae"), dataset=str(folder), split="train")
    legacy = read_json(image.path / "manifest.json")
    del legacy["data_rows"]  # as written before the rows' fingerprint was recorded
    atomic_write_json(image.path / "manifest.json", legacy)
    text = store.extract(get_expert_by_name("char-count"), dataset=str(folder), split="train", column="text")
    assert store.open(image.key).rows != text.rows  # the legacy record: the images' content fingerprint
    ref = {"dataset": str(folder), "split": "train"}
    recipe = {"name": "legacy", "data": {"source": "features", "root": str(tmp_path / "store"),
                                         "cond": {"expert": "char-count", "column": "text", **ref},
                                         "target": {"expert": "block-ae", **ref}},
              "model": {"kind": "cinn", "n_blocks": 2, "hidden": 8}, "train": {"steps": 2, "batch_size": 4}}
    m = train(recipe, out=tmp_path / "run", progress=False)
    assert m["steps"] == 2
    assert store.open(image.key).rows == text.rows


def get_expert_by_name(name: str):
    from net2net.experts.registry import get_expert

    return get_expert(name)


def test_a_recipe_role_may_list_several_entries_which_are_concatenated(tmp_path) -> None:
    """Two caption columns of one folder, each paired with the same images: twice the pairs."""
    from net2net.train.recipe import train

    register_block_ae()
    register_char_expert()
    folder = make_folder(tmp_path / "data", n_train=12, n_test=4)
    ref = {"dataset": str(folder), "split": "train"}
    image = {"expert": "block-ae", **ref}
    recipe = {"name": "two-columns", "data": {"source": "features", "root": str(tmp_path / "store"),
                                              "cond": [{"expert": "char-count", "column": "text", **ref},
                                                       {"expert": "char-count", "column": "colour", **ref}],
                                              "target": [image, image]},
              "model": {"kind": "cinn", "n_blocks": 2, "hidden": 8}, "train": {"steps": 2, "batch_size": 4}}
    m = train(recipe, out=tmp_path / "run", progress=False)
    assert m["train_pairs"] == 24
    assert len(m["data"]["cond"]) == 2 and m["data"]["target"][0] == m["data"]["target"][1]
    bad = {**recipe, "data": {**recipe["data"], "target": [image]}}
    with pytest.raises(ValueError, match="lists of entries pair one by one; cond has 2 and target 1"):
        train(bad, out=tmp_path / "run2", progress=False)
    with pytest.raises(ValueError, match="a list of entries must hold one or more"):
        train({**recipe, "data": {**recipe["data"], "cond": []}}, out=tmp_path / "run3", progress=False)
