"""``net2net probe`` end to end on a user's tiny expert (named by path) and a tiny image folder,
its errors, its resumption, and the measurements it reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from tiny_experts import make_folder  # noqa: E402

from net2net.cli import main  # noqa: E402
from net2net.experts.registry import get_expert  # noqa: E402
from net2net.features import FeatureStore  # noqa: E402
from net2net.probing import measure as M  # noqa: E402
from net2net.probing.layers import tap_layer  # noqa: E402
from net2net.probing.report import recommend  # noqa: E402

TINY = str(Path(__file__).parent / "tiny_experts.py")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("probe") / "data")


def _args(data: Path, out: Path, *extra: str, layers: str = "0,4") -> list[str]:
    return ["--threads", "1", "probe", "--query", f"{TINY}:tiny_conv", "--layers", layers, "--target",
            f"{TINY}:block_ae", "--dataset", str(data), "--out", str(out), "--root", str(out.parent / "store"),
            "--queries", "6", "--samples", "3", "--no-progress", *extra]


def test_probe_end_to_end_through_the_cli(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "probe"
    assert main(_args(data, out, "--budget-steps", "300", "--batch-size", "16", "--docs", str(tmp_path / "docs"))) == 0
    printed = capsys.readouterr().out
    for f in ("report.html", "report.json", "information.png", "samples.png", "probe.json"):
        assert (out / f).is_file(), f
    report = json.loads((out / "report.json").read_text())
    assert [r["layer"] for r in report["rows"]] == ["0", "4"]
    rec = report["recommendation"]
    named = {w.strip(".,;") for w in rec.split("tap ")[1:]}
    assert named and {n.split()[0].strip(";,") for n in named} <= {"0", "4"}, rec
    row = report["rows"][0]
    assert row["steps"] == 100  # 300 steps over 2 layers + the unconditional τ
    assert set(row["labels_kept"]) == {"colour", "side"}
    unc = report["unconditional"]["heldout_nll_nats_per_dim"]
    assert row["information_nats"] == pytest.approx((unc - row["heldout_nll_nats_per_dim"]) * report["context"]["target_dim"])
    assert f"recommendation: {rec}" in printed
    assert rec in (out / "report.html").read_text()
    md = (tmp_path / "docs" / "report.md").read_text()
    assert "| 0 |" in md and (tmp_path / "docs" / "information.png").is_file()
    # the features are the store's entries, under the same keys as `net2net extract` gives them
    hit = FeatureStore(out.parent / "store").extract(get_expert(f"{TINY}:block_ae"), dataset=str(data), split="test")
    assert hit.hit

    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- probe: docs -->\nold\n<!-- /probe: docs -->\nend\n")
    assert main(_args(data, out, "--budget-steps", "300", "--batch-size", "16", "--docs", str(tmp_path / "docs"),
                      "--docs-into", str(page))) == 0
    text = page.read_text()
    assert "old" not in text and text.startswith("intro") and text.endswith("end\n") and "](docs/information.png)" in text

    # resumed: nothing is refitted, the same report comes back
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("taus/*/result.json")}
    assert main(_args(data, out, "--budget-steps", "300", "--batch-size", "16")) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("taus/*/result.json")} == stamps
    assert json.loads((out / "report.json").read_text())["rows"] == report["rows"]

    # a probe stopped after its first layers: only the missing one is done again
    (out / "report.json").unlink()
    (out / "taus" / "4" / "result.json").unlink()
    assert main(_args(data, out, "--budget-steps", "300", "--batch-size", "16")) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("taus/*/result.json") if p.parent.name != "4"} == {
        p: t for p, t in stamps.items() if p.parent.name != "4"}
    assert json.loads((out / "report.json").read_text())["rows"][1]["heldout_nll_nats_per_dim"] == pytest.approx(
        report["rows"][1]["heldout_nll_nats_per_dim"])

    # other settings in the same folder are refused
    assert main(_args(data, out, "--budget-steps", "600", "--batch-size", "16")) == 2
    assert "holds a probe with other settings" in capsys.readouterr().err


def test_a_text_expert_is_probed_on_captions(data: Path, tmp_path: Path, minilm) -> None:
    out = tmp_path / "probe"
    args = ["--threads", "1", "probe", "--query", "minilm", "--layers", "embeddings,layer6", "--target",
            f"{TINY}:block_ae", "--dataset", str(data), "--out", str(out), "--root", str(tmp_path / "store"),
            "--query-column", "caption", "--heldout-query-column", "caption_heldout", "--queries", "6",
            "--samples", "3", "--no-progress", "--budget-steps", "300", "--batch-size", "16"]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert [(r["layer"], r["dim"]) for r in report["rows"]] == [("embeddings", 384), ("layer6", 384)]
    assert set(report["rows"][0]["labels_kept"]) == {"colour", "side"}
    saved = json.loads((out / "probe.json").read_text())
    assert (saved["query_column"], saved["heldout_query_column"]) == ("caption", "caption_heldout")
    # the captions of each split were read through the layer, under `net2net extract`'s keys
    store = FeatureStore(tmp_path / "store")
    for split, column in (("train", "caption"), ("test", "caption_heldout")):
        hit = store.extract(get_expert("minilm", layer="embeddings"), dataset=str(data), split=split, column=column,
                            transform=None)
        assert hit.hit and hit.array().shape == (64 if split == "train" else 24, 384)


def test_unknown_layer_is_one_line_listing_the_layers(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(data, tmp_path / "p", "--budget-steps", "300", layers="0,conv9")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no layer 'conv9'; its layers: 0, 1, 2, 3, 4" in err
    assert not (tmp_path / "p" / "taus").exists()


@pytest.mark.parametrize(("flag", "value", "needs"), [("--budget-steps", "150", "--budget-steps 300"),
                                                      ("--budget-minutes", "0.05", "--budget-minutes 0.15")])
def test_a_budget_too_small_is_refused(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str,
                                       value: str, needs: str) -> None:
    assert main(_args(data, tmp_path / "p", flag, value)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "to learn anything" in err or "at least" in err
    assert needs in err


def test_pooling_is_the_finest_that_fits() -> None:
    assert tap_layer("random-conv", "0", max_dim=16 * 49).pool == "grid7"  # 16 channels, 28x28
    t = tap_layer("random-conv", "0", max_dim=100)
    assert (t.pool, t.dim) == ("grid2", 64)
    assert tap_layer("random-conv", "0", max_dim=10).pool == "avg"  # nothing fits: the narrowest
    with pytest.raises(ValueError, match="has no layer 'x'; its layers: 0, 1, 2"):
        tap_layer("random-conv", "x")


def test_information_diversity_and_labels() -> None:
    assert M.information(1.0, 0.5, 10) == pytest.approx({"nats": 5.0, "bits": 5.0 / M.LN2, "nats_per_dim": 0.5})
    ref = torch.randn(400, 4, generator=torch.Generator().manual_seed(0))
    same = ref[:5].unsqueeze(1).repeat(1, 3, 1)
    assert M.diversity(same, ref) == 0.0  # a deterministic map
    assert M.diversity(ref[:300].reshape(100, 3, 4), ref) == pytest.approx(1.0, abs=0.1)
    # a reference whose size is no multiple of the samples per query (500 held-out rows, 8 samples)
    assert M.diversity(torch.randn(40, 8, 4), torch.randn(500, 4)) == pytest.approx(1.0, abs=0.1)
    assert M.diversity(torch.randn(40, 8, 4), torch.randn(5, 4)) > 0  # fewer rows than samples: smaller groups
    x = torch.cat([torch.randn(50, 2) - 3, torch.randn(50, 2) + 3])
    probe = M.LinearProbe(x, ["a"] * 50 + ["b"] * 50)
    assert M.labels_kept(x.reshape(50, 2, 2), ["a"] * 25 + ["b"] * 25, probe.predict) == 1.0
    cols = M.label_columns({"colour": ["r", "g"] * 10, "text": [f"caption {i}" for i in range(20)]}, None)
    assert list(cols) == ["colour"]


def test_recommendation_comes_from_the_numbers() -> None:
    rows = [{"layer": "conv1", "information_nats": 9.0, "diversity": 0.2, "labels_kept": {"label": 0.8}},
            {"layer": "fc1", "information_nats": 4.0, "diversity": 0.5, "labels_kept": {"label": 0.9}},
            {"layer": "logits", "information_nats": 2.0, "diversity": 0.7, "labels_kept": {"label": 0.85}}]
    rec = recommend(rows)
    assert "keeps the most of the target (9.0 nats about its code), tap conv1" in rec
    assert rec.endswith("tap logits")  # the least information that keeps 90 % of the best label rate
