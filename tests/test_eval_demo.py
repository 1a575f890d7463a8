"""`net2net eval` on every shipped translator, and `net2net demo` (the main job)."""

from __future__ import annotations

import json

import pytest

from net2net.cli import main
from net2net.translator import available_translators

TRANSLATORS = [n for n in available_translators() if not n.startswith("fmnist-diagnose-")] or ["none-shipped"]


@pytest.mark.parametrize("name", TRANSLATORS)
def test_eval_runs_on_every_shipped_translator(name, tmp_path, capsys) -> None:
    out = tmp_path / "m.json"
    assert main(["eval", name, "--queries", "20", "--samples", "2", "--json", str(out), "--plots", str(tmp_path / "p")]) == 0
    m = json.loads(out.read_text())
    assert 0 <= m["class_accuracy"] <= 1 and m["fid"] >= 0 and m["feature_space"].startswith("fmnist-classifier")
    assert (tmp_path / "p" / "per_class_accuracy.png").is_file()
    assert "class_accuracy" in capsys.readouterr().out


def test_demo_writes_the_report(tmp_path) -> None:
    assert main(["demo", "--out", str(tmp_path), "-n", "2", "--queries", "20"]) == 0
    page = (tmp_path / "index.html").read_text()
    assert "not installed" not in page
    # the report explains itself: metrics in words with units and arrows, each prompt beside its row
    from net2net.demo import METRICS, prompt_for

    for _, words, unit, higher in METRICS:
        assert words in page.replace("&#x27;", "'") and f"{unit} {'↑' if higher else '↓'}" in page
    assert f"<th class=prompt>{prompt_for(3, 3)}</th>" in page
    for fig in ("text2img", "fmnist-edge2img", "fmnist-superres", "edit", "exemplar", "diagnosis"):
        assert (tmp_path / f"{fig}.png").is_file(), fig
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "fmnist-text2img" in metrics["translators"]
