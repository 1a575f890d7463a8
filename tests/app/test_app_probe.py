"""The app's Probe view: a finished probe report loaded from its folder (nothing is run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from net2net.app import handlers as h
from net2net.probing import ProbeSettings
from net2net.probing.report import write_report


def _report(folder: Path) -> dict:
    s = ProbeSettings(query="my-net", target="my-ae", layers=("conv1", "fc1"), dataset="data", budget_steps=300)
    base = {"pool": None, "steps": 100, "fit_cpu_seconds": 1.0, "diversity": 0.5, "labels_kept": {"label": 0.7}}
    results = {
        "unconditional": {**base, "key": "unconditional", "layer": None, "dim": 0, "heldout_nll_nats_per_dim": 1.0,
                          "heldout_nll_bits_per_dim": 1.44, "diversity": 1.0, "labels_kept": {"label": 0.1}},
        "conv1": {**base, "key": "conv1", "layer": "conv1", "dim": 64, "heldout_nll_nats_per_dim": 0.2,
                  "heldout_nll_bits_per_dim": 0.29},
        "fc1": {**base, "key": "fc1", "layer": "fc1", "dim": 16, "heldout_nll_nats_per_dim": 0.6,
                "heldout_nll_bits_per_dim": 0.87, "labels_kept": {"label": 0.9}},
    }
    context = {"train_split": "train", "heldout_split": "test", "train_rows": 100, "heldout_rows": 20, "target_dim": 8,
               "threads": 1, "labels": {"label": {"judge": "linear probe on target codes", "chance": 0.1, "on_real": 0.95}}}
    return write_report(folder, s, results, context)


def test_probe_view_shows_a_finished_report(tmp_path: Path) -> None:
    report = _report(tmp_path)
    assert [r["information_nats"] for r in report["rows"]] == pytest.approx([6.4, 3.2])
    assert report["recommendation"].endswith("tap fc1")
    text, figures = h.probe_report({}, str(tmp_path))
    assert "my-net → my-ae" in text and report["recommendation"] in text and "| conv1 |" in text
    assert [c for _, c in figures] == ["information.png"]


def test_probe_view_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give the folder of a finished probe"):
        h.probe_report({}, " ")
    with pytest.raises(ValueError, match="no report.json; run `net2net probe"):
        h.probe_report({}, str(tmp_path))


def test_the_app_has_a_probe_tab() -> None:
    gr = pytest.importorskip("gradio", reason="the web app needs gradio (pip install 'gradio>=5')")
    from net2net.app.server import build_app

    tabs = [b for b in build_app({}).blocks.values() if isinstance(b, gr.Tab)]
    assert "probe" in [t.id for t in tabs]
