"""`make results` (quick mode): the docs are written, and their figures are the measured ones."""

from __future__ import annotations

import json

import pytest
import torch

from net2net.demo import baseline_notes
from net2net.evaluate import translators as ev
from net2net.evaluate.results import run_results
from net2net.translator import load


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    res = run_results(docs, quick=True, grids=False,
                      translators=["fmnist-text2img", "fmnist-text2img-mlp", "fmnist-inpaint"])
    return docs, res


def test_results_md_holds_the_measured_figures(written) -> None:
    docs, res = written
    text = (docs / "results.md").read_text()
    stored = json.loads((docs / "results.json").read_text())
    row = next(line for line in text.splitlines() if line.startswith("| `fmnist-text2img` |"))
    m = stored["translators"]["fmnist-text2img"]
    assert f"{m['class_accuracy']:.3f}" in row and f"{m['nll_nats_per_dim']:.3f}" in row
    assert f"--queries {stored['settings']['n_queries']}" in text  # the command states the set it ran on
    for pair in ("dark → light", "narrow → wide", "small → large"):
        assert pair in text
    assert all(f"| {r['temperature']} | {r['class_accuracy']:.3f} |" in text for r in stored["temperature"])
    assert (docs / "img" / "temperature_text2img.png").is_file()
    assert (docs / "img" / "descriptors_text2img.png").is_file()
    # τ's class accuracy stands beside the autoencoder's ceiling, both as measured
    rec = stored["experts"]["fmnist-ae"]["classifier_on_reconstructions"]
    assert (f"gets {rec['reconstruction_accuracy']:.3f} of that autoencoder's reconstructions" in text
            and f"τ scores {m['class_accuracy']:.3f}" in text)


def test_zoo_md_states_the_judge_n_it_used(written) -> None:
    docs, res = written
    zoo = (docs / "zoo.md").read_text()
    judge = res["experts"]["fmnist-gan"]["edge_judge"]
    assert f"{100 * judge['accuracy']:.1f} % on {judge['n']:,} samples" in zoo
    assert f"{100 * res['experts']['fmnist-classifier']['metrics']['test']['accuracy']:.1f} %" in zoo


def test_inpaint_metric_uses_the_query_boxes() -> None:
    t = load("fmnist-inpaint")
    queries, images, _ = ev.test_queries(t, 30)
    keep = ev.query_masks(t, 30)
    # visible pixels are the image's, hidden ones the grey fill: exactly the query's box
    assert torch.equal(queries * keep, images * keep)
    assert torch.all((queries * (1 - keep) - 0.5 * (1 - keep)).abs() < 1e-6)
    assert (keep == 0).any()


def test_baseline_notes_say_where_a_baseline_wins() -> None:
    m = {"fmnist-text2img": {"class_accuracy": 0.6, "fid": 20.0, "diversity": 0.8, "nll_nats_per_dim": -0.9},
         "fmnist-text2img-mlp": {"class_accuracy": 0.7, "fid": 25.0, "diversity": 0.0, "nll_nats_per_dim": 1.0}}
    notes = baseline_notes(m)
    assert len(notes) == 1 and "class accuracy" in notes[0] and "0.700 against 0.600" in notes[0]
    m["fmnist-text2img-mlp"]["class_accuracy"] = 0.5
    assert baseline_notes(m) == []


def test_kept_descriptors_are_one_for_an_identity_edit_and_near_zero_for_a_random_one() -> None:
    from net2net.data.fashion_mnist import load_fashion_mnist, to_float
    from net2net.evaluate.translators import kept_descriptors

    x, y = load_fashion_mnist("test")
    images, labels = to_float(x[:400]), torch.from_numpy(y[:400].copy()).long()
    same = kept_descriptors(images, images, labels, labels)
    assert same == pytest.approx({"brightness": 1.0, "width": 1.0})
    perm = torch.randperm(400, generator=torch.Generator().manual_seed(0))
    shuffled = kept_descriptors(images, images[perm], labels, labels[perm])
    assert abs(shuffled["brightness"]) < 0.2 and abs(shuffled["width"]) < 0.2, shuffled


def test_quantile_ceiling_is_one_within_a_class_and_below_one_across_classes() -> None:
    from net2net.data.fashion_mnist import load_fashion_mnist, to_float
    from net2net.evaluate.translators import quantile_kept_brightness

    x, y = load_fashion_mnist("test")
    pool, pool_class = to_float(x[:2000]), torch.from_numpy(y[:2000].copy()).long()
    images, labels = pool[:300], pool_class[:300]
    # "edited" into its own class, the quantile's image has the source's own brightness rank
    assert quantile_kept_brightness(images, labels, labels, pool, pool_class) > 0.99
    other = (labels + 1 + torch.randint(0, 9, (300,), generator=torch.Generator().manual_seed(0))) % 10
    r = quantile_kept_brightness(images, labels, other, pool, pool_class)
    assert 0.3 < r < 0.99, r


def test_a_merge_keeps_the_full_runs_time_and_lists_what_it_remeasured(written, tmp_path) -> None:
    import shutil

    docs, res = written
    shutil.copytree(docs, tmp_path / "docs")
    first = run_results(tmp_path / "docs", quick=True, grids=False, translators=["fmnist-inpaint"], merge=True)
    assert first["seconds"] == res["seconds"]
    assert [r["names"] for r in first["remeasured"]] == [["fmnist-inpaint"]]
    again = run_results(tmp_path / "docs", quick=True, grids=False,
                        translators=["fmnist-inpaint", "fmnist-text2img-mlp"], merge=True)
    assert [r["names"] for r in again["remeasured"]] == [["fmnist-inpaint", "fmnist-text2img-mlp"]]
    text = (tmp_path / "docs" / "results.md").read_text()
    assert text.count("re-measured since") == 1
    assert (f"Written by `make results` in {res['seconds']:.0f} s; `fmnist-inpaint`, `fmnist-text2img-mlp` "
            f"re-measured since by `scripts/results.py --only` in {again['remeasured'][0]['seconds']:.0f} s") in text


def test_render_rewrites_the_pages_from_the_json_alone(written, tmp_path) -> None:
    import shutil

    from net2net.evaluate.results import render_results

    docs, _ = written
    shutil.copytree(docs, tmp_path / "docs")
    before = {n: (tmp_path / "docs" / n).read_text() for n in ("results.md", "zoo.md")}
    for n in before:
        (tmp_path / "docs" / n).unlink()
    render_results(tmp_path / "docs")
    assert {n: (tmp_path / "docs" / n).read_text() for n in before} == before
    with pytest.raises(ValueError, match="run scripts/results.py first"):
        render_results(tmp_path / "nothing")
