import json
import shutil

import numpy as np
import pytest
import torch

from net2net.data.fashion_mnist import find_fashion_mnist
from net2net.experts.registry import get_expert
from net2net.features import FeatureStore


def _data_or_skip():
    try:
        return find_fashion_mnist()
    except ValueError as e:
        pytest.skip(str(e))


@pytest.fixture
def store(tmp_path):
    _data_or_skip()
    return FeatureStore(tmp_path / "store")


def _no_encoding(expert, monkeypatch):
    def boom(batch):
        raise AssertionError("a cache hit must not encode")
    monkeypatch.setattr(expert, "encode", boom)


def test_captions_with_minilm_then_cache_hit(store, minilm, monkeypatch, capsys):
    e = store.extract(minilm, split="test", transform="captions", limit=300, progress=True)
    assert "300/300" in capsys.readouterr().err  # the progress bar ran
    assert not e.hit and e.tensor().shape == (300, 384) and e.tensor().dtype == torch.float32
    texts = e.inputs()
    assert len(texts) == 300 and torch.allclose(e.tensor()[:5], minilm.encode(texts[:5]), atol=1e-5)
    _no_encoding(minilm, monkeypatch)
    again = store.extract(minilm, split="test", transform="captions", limit=300)
    assert again.hit and again.key == e.key and np.array_equal(again.array(), e.array())
    held = store.open({"expert": "minilm", "transform": "captions", "split": "test"})
    assert held.key == e.key and isinstance(held.array(), np.memmap)


def test_image_expert_tap_and_new_keys(store, monkeypatch):
    conv = get_expert("random-conv")
    e = store.extract(conv, split="test", transform="edges", limit=200, progress=False)
    assert not e.hit and e.array().shape == (200, conv.dim) and e.labels().shape == (200,)
    assert store.extract(conv, split="test", transform="edges", limit=200).hit
    # another layer, other weights, another transform or size: each a new entry, never a stale hit
    keys = {e.key}
    for ex, kw in [(get_expert("random-conv", layer="4"), {}), (get_expert("random-conv", seed=1), {}),
                   (conv, {"transform": "masked"}), (conv, {"limit": 100})]:
        args = {"split": "test", "transform": "edges", "limit": 200, "progress": False, **kw}
        new = store.extract(ex, **args)
        assert not new.hit and new.key not in keys
        keys.add(new.key)
    with pytest.raises(ValueError, match="reads image but transform 'captions' makes text"):
        store.extract(conv, split="test", transform="captions", limit=5)


def _entry(store):
    return store.extract(get_expert("onehot"), split="test", transform="labels", limit=100, progress=False)


def test_corrupt_shard(store):
    e = _entry(store)
    shard = e.path / "z-00000.npy"
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"z-00000.npy: sha256 does not match the manifest; the shard is corrupt; delete the folder"):
        _entry(store)
    shard.write_bytes(bytes(data[:-40]))
    with pytest.raises(ValueError, match=r"z-00000.npy: \d+ bytes, manifest says \d+; the shard is truncated or corrupt"):
        store.open(e.key)
    shard.unlink()
    with pytest.raises(ValueError, match="missing from the store entry"):
        store.open(e.key)


def test_mismatching_manifest(store):
    e = _entry(store)
    mf = e.path / "manifest.json"
    m = json.loads(mf.read_text())
    m["rows"] = 99
    mf.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="manifest does not match its shards"):
        store.open(e.key)
    m["rows"] = 100
    m["spec"]["dataset"]["limit"] = 50  # a manifest claiming other data than its key
    mf.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="manifest does not match its entry"):
        _entry(store)
    mf.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        store.open(e.key)


def test_missing_or_truncated_dataset(store, tmp_path):
    src = _data_or_skip()
    data = tmp_path / "fm"
    data.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(src / name, data / name)
    onehot = get_expert("onehot")
    ok = store.extract(onehot, split="test", transform="labels", limit=10, data_dir=data, progress=False)
    (data / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match=r"Fashion-MNIST file missing: .*t10k-labels-idx1-ubyte.gz; install the Debian package"):
        store.extract(onehot, split="test", transform="labels", limit=10, data_dir=data)
    shutil.copy(src / "t10k-labels-idx1-ubyte.gz", data / "t10k-labels-idx1-ubyte.gz")
    raw = (src / "t10k-images-idx3-ubyte.gz").read_bytes()
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: cannot be read as gzip .* truncated or corrupt"):
        store.extract(onehot, split="test", transform="labels", limit=10, data_dir=data)
    assert store.open(ok.key).hit is False  # the good entry is untouched


def test_cli_extract(tmp_path, capsys):
    _data_or_skip()
    from net2net.cli import main

    argv = ["extract", "--expert", "onehot", "--split", "test", "--transform", "labels", "--limit", "50",
            "--root", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "cache: miss" in first and "rows: 50  dim: 10" in first
    assert main(argv) == 0
    second = capsys.readouterr().out
    assert "cache: hit" in second and first.splitlines()[0] == second.splitlines()[0].replace("hit", "miss")
    assert main(["extract", "--expert", "nope", "--root", str(tmp_path)]) == 2
    assert "no expert named 'nope'; choose one of" in capsys.readouterr().err


def test_features_recipe_source(store):
    from net2net.train.recipe import DATA_SOURCES, features_source

    assert "features" in DATA_SOURCES  # registered by importing the recipes
    onehot, conv = get_expert("onehot"), get_expert("random-conv")
    c = store.extract(onehot, split="test", transform="labels", limit=64, progress=False)
    t = store.extract(conv, split="test", transform="identity", limit=64, progress=False)
    fields = {"source": "features", "root": str(store.root), "cond": c.key,
              "target": {"expert": "random-conv0", "transform": "identity", "limit": 64},
              "val_cond": c.key[:8], "val_target": t.key}
    train, val, prov = features_source(fields, store.root)
    assert train.cond.shape == (64, 10) and train.target.shape == (64, conv.dim) and val is not None
    assert prov["cond"] == c.key and prov["target"] == t.key
    other = store.extract(conv, split="test", transform="identity", limit=32, progress=False)
    with pytest.raises(ValueError, match="recipe.data.cond/target: the entries come from different data"):
        features_source({**fields, "target": other.key}, store.root)
    with pytest.raises(ValueError, match="recipe.data.target: query .* matches several entries"):
        features_source({**fields, "target": {"expert": "random-conv0"}}, store.root)
    with pytest.raises(ValueError, match="recipe.data.cond: no feature entry .* run `net2net extract` first"):
        features_source({**fields, "cond": {"expert": "minilm"}}, store.root)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 60k MiniLM encodings: ~7 min on a quiet 2-core CPU, much longer on a busy one
def test_full_60k_captions_and_images(tmp_path, minilm, monkeypatch):
    _data_or_skip()
    store = FeatureStore(tmp_path)
    conv = get_expert("random-conv")
    for ex, tr in ((minilm, "captions"), (conv, "identity")):
        e = store.extract(ex, split="train", transform=tr, progress=True)
        assert not e.hit and e.array().shape == (60000, ex.dim)
        assert np.isfinite(e.array()).all()
    for ex, tr in ((minilm, "captions"), (conv, "identity")):
        _no_encoding(ex, monkeypatch)
        assert store.extract(ex, split="train", transform=tr).hit


def test_interrupted_extraction_redoes_only_missing_shards_and_reads_lazily(store, monkeypatch):
    import net2net.features.extract as features
    from net2net.features import ShardedRows
    from net2net.train.fit import Pairs

    onehot = get_expert("onehot")
    monkeypatch.setattr(features, "_SHARD_BYTES", 4 * 10 * 40)  # 40 rows per shard: 3 shards for 100 rows
    calls, real = [], onehot.encode

    def dies_on_third(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise KeyboardInterrupt  # a killed process
        return real(batch)

    monkeypatch.setattr(onehot, "encode", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        store.extract(onehot, split="test", transform="labels", limit=100, progress=False)
    folder = next(store.root.iterdir())
    assert not (folder / "manifest.json").exists() and sorted(p.name for p in folder.glob("z-*")) == ["z-00000.npy", "z-00001.npy"]
    calls.clear()
    monkeypatch.setattr(onehot, "encode", lambda b: (calls.append(len(b)), real(b))[1])
    e = store.extract(onehot, split="test", transform="labels", limit=100, progress=False)
    assert calls == [20]  # only the missing shard was encoded
    assert not list(folder.glob(".*"))  # the shard records are gone once the manifest exists
    rows = store.open(e.key).tensor()
    assert isinstance(rows, ShardedRows) and rows.shape == (100, 10)
    full = np.concatenate([np.load(folder / s["file"]) for s in e.manifest["shards"]])
    idx = torch.tensor([99, 0, 41, 39, 40])
    assert np.array_equal(rows[idx].numpy(), full[idx.numpy()]) and np.array_equal(rows[35:85].numpy(), full[35:85])
    Pairs(rows, rows).check_finite("training")  # chunked, through the lazy view


def test_single_shard_tensor_is_memory_mapped(store):
    e = _entry(store)
    arr, t = e.array(), e.tensor()
    assert isinstance(arr, np.memmap)
    # torch.from_numpy wraps the mapped pages (a non-resizable storage); a copy would own a resizable one
    assert not t.untyped_storage().resizable() and t.shape == arr.shape
