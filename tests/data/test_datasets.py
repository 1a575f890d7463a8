"""Your own data: folders and saved data sets by path, content fingerprints, and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from own_data import make_folder, register_block_ae
from PIL import Image

from net2net.cli import main
from net2net.data.datasets import get_dataset
from net2net.features import FeatureStore

pytest.importorskip("datasets", reason="needs net2net[data]")


@pytest.fixture()
def folder(tmp_path):
    register_block_ae()
    return make_folder(tmp_path / "shapes", n_train=8, n_test=4)


def test_image_folder_with_metadata(folder) -> None:
    ds = get_dataset(folder)
    assert sorted(ds.splits()) == ["test", "train"]
    s = ds.load("train")
    assert s.images.shape == (8, 16, 16, 3) and s.images.dtype == np.uint8
    assert list(s.columns) == ["text", "colour", "big", "left"]
    assert s.columns["text"][0] == json.loads((folder / "train" / "metadata.jsonl").read_text().splitlines()[0])["text"]
    assert s.column_kinds() == {"text": "text", "colour": "text", "big": "label", "left": "label"}


def test_class_subfolders_and_saved_datasets(tmp_path, folder) -> None:
    import datasets

    classes = tmp_path / "classes"
    for c in ("cat", "dog"):
        (classes / c).mkdir(parents=True)
        Image.new("L", (10, 10), 200 if c == "cat" else 50).save(classes / c / "a.png")
    s = get_dataset(classes).load("train")
    assert s.images.shape == (2, 10, 10, 1) and s.class_names == ("cat", "dog") and s.labels.tolist() == [0, 1]
    saved = tmp_path / "saved"
    datasets.Dataset.from_dict({"image": [str(folder / "train" / "000.png")], "text": ["x"]},
                               features=datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
                               ).save_to_disk(str(saved))
    s = get_dataset(saved).load("train")
    assert s.images.shape == (1, 16, 16, 3) and s.columns == {"text": ["x"]}


def _extract(folder, store, *extra) -> tuple[int, str]:
    argv = ["extract", "--expert", "block-ae", "--dataset", str(folder), "--split", "train", "--root", str(store),
            "--no-progress", *extra]
    return main(argv)


def test_changing_one_image_changes_the_key(folder, tmp_path, capsys) -> None:
    store = tmp_path / "store"
    assert _extract(folder, store) == 0
    key = capsys.readouterr().out.splitlines()[0]
    assert _extract(folder, store) == 0 and "cache: hit" in capsys.readouterr().out
    a = np.asarray(Image.open(folder / "train" / "003.png")).copy()
    a[0, 0] = (1, 2, 3)
    Image.fromarray(a).save(folder / "train" / "003.png")
    assert _extract(folder, store) == 0
    out = capsys.readouterr().out
    assert "cache: miss" in out and out.splitlines()[0] != key
    shutil.copy(folder / "train" / "000.png", folder / "train" / "extra.png")  # an added file, not even listed
    assert _extract(folder, store) == 0
    assert capsys.readouterr().out.splitlines()[0] not in (key, out.splitlines()[0])


def test_grey_data_for_a_colour_expert_is_converted_and_keyed(tmp_path, capsys, caplog) -> None:
    register_block_ae()
    grey = tmp_path / "grey"
    (grey / "a").mkdir(parents=True)
    (grey / "b").mkdir()
    Image.new("L", (20, 24), 100).save(grey / "a" / "x.png")
    Image.new("L", (20, 24), 200).save(grey / "b" / "y.png")
    assert _extract(grey, tmp_path / "store") == 0
    out = capsys.readouterr().out
    assert "converted: grey -> RGB; centre-crop 20x24 -> 20x20; resize 20x20 -> 16x16" in out
    assert "images converted for expert block-ae" in caplog.text
    (entry,) = FeatureStore(tmp_path / "store").entries()
    assert entry.manifest["spec"]["convert"] == ["grey -> RGB", "centre-crop 20x24 -> 20x20", "resize 20x20 -> 16x16"]


def _broken(folder, what: str):
    train = folder / "train"
    if what == "no metadata":
        (train / "metadata.jsonl").unlink()
        shutil.rmtree(folder / "test")
        for p in train.iterdir():
            shutil.move(str(p), folder / p.name)
        train.rmdir()
    elif what == "missing image":
        (train / "005.png").unlink()
    elif what == "unreadable image":
        (train / "004.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    elif what == "empty":
        shutil.rmtree(folder)
        folder.mkdir()


@pytest.mark.parametrize(("what", "extra", "message"), [
    ("no metadata", (), "no metadata.jsonl or metadata.csv (file_name plus your columns), and no class sub-folders"),
    ("missing image", (), "metadata.jsonl: row 6 lists '005.png', which is missing on disk"),
    ("unreadable image", (), "split 'train', row 4 (train/004.png): the image is truncated or corrupt"),
    ("empty", (), "no images found; the data set is empty"),
    (None, ("--column", "caption"), "no column 'caption' in this data set; its columns are text, colour, big, left"),
    (None, ("--split", "valid"), "has no split 'valid'; its splits are train, test"),
])
def test_bad_data_is_one_line_and_writes_nothing(folder, tmp_path, capsys, what, extra, message) -> None:
    if what is not None:
        _broken(folder, what)
    store = tmp_path / "store"
    expert = ["--expert", "minilm"] if extra[:1] == ("--column",) else []
    argv = ["extract", "--expert", "block-ae", "--dataset", str(folder), "--split", "train", "--root", str(store),
            "--no-progress", *extra]
    if expert:
        argv[2] = "onehot"  # any expert: the column is refused before an expert reads anything
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("net2net extract: error: ") and message in err and err.count("\n") == 1, err
    assert not store.exists() or not any(store.iterdir())


def test_a_failing_encoder_leaves_no_half_written_entry(folder, tmp_path, monkeypatch) -> None:
    from own_data import BlockAutoencoder

    def boom(self, batch):
        raise ValueError("the expert broke")

    monkeypatch.setattr(BlockAutoencoder, "_encode", boom)
    assert _extract(folder, tmp_path / "store") == 2
    assert not any((tmp_path / "store").iterdir())
