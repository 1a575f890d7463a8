"""The colour section of docs/results.md: every figure and every goal verdict comes from the measurements."""

from __future__ import annotations

from net2net.data.shapes import ATTRIBUTES, CONTENT
from net2net.evaluate.results_text import goal, shapes_section


def _text2img(acc_seen: float, acc_held: float) -> dict:
    m = {"queries_seen": 90, "queries_heldout": 10, "diversity": 0.71, "fid": 3.25, "nll_nats_per_dim": -1.5}
    for a in ATTRIBUTES:
        for g, v in (("seen", acc_seen), ("heldout", acc_held)):
            m[f"accuracy_{a}_{g}"] = v
    for g in ("seen", "heldout"):
        m[f"accuracy_all_{g}"] = 0.5
        for a in ("colour", "position", "size"):
            m[f"pixel_accuracy_{a}_{g}"] = 0.6
    return m


def _res(**translators: dict) -> dict:
    return {"settings": {"n_queries": 100, "n_samples": 4}, "seed": 0,
            "experts": {"shapes-classifier": {"metrics": {"test": {"per_head_accuracy": {a: 0.99 for a in ATTRIBUTES}}}},
                        "shapes-ae": {"metrics": {"test": {"psnr": 27.5}}}},
            "translators": translators}


def test_goal_says_met_or_by_how_much_it_was_missed() -> None:
    assert goal(0.95, 0.9) == "met"
    assert goal(0.9, 0.9) == "met"
    assert goal(0.85, 0.9) == "**missed by 0.050**"
    assert goal(None, 0.9) == "not measured"


def test_text2img_rows_and_verdicts_are_the_measured_figures() -> None:
    m = _text2img(0.95, 0.7)
    m["accuracy_position_seen"] = 0.88
    text = shapes_section(_res(**{"shapes-text2img": m, "shapes-text2img-mlp": _text2img(0.97, 0.9)}))
    assert "| `shapes-text2img` | seen (90) | 0.950 | 0.950 | 0.950 | 0.880 | 0.950 |" in text
    assert "seen pairs is position at 0.880 (**missed by 0.020**)" in text
    assert "held-out pairs shape at 0.700 (**missed by 0.100**)" in text
    assert "27.50 dB" in text and "shape 99.0 %" in text
    assert "net2net eval shapes-text2img --queries 100 --samples 4 --seed 0" in text


def test_edit_and_style_verdicts() -> None:
    attr = {"n_edits": 100, "edit_hit": 0.93, "edit_others_kept": 0.81, "edit_hit_and_kept": 0.78,
            "edit_hit_per_attribute": {a: 0.9 for a in CONTENT}, "edit_kept_per_attribute": {a: 0.95 for a in ATTRIBUTES}}
    style = {"n_transfers": 100, "style_hit": 0.99, "style_content_kept": 0.92, "style_hit_and_kept": 0.91,
             "style_kept_per_attribute": {a: 0.97 for a in CONTENT}}
    text = shapes_section(_res(**{"shapes-attr": attr, "shapes-style": style}))
    assert "(0.930, goal 0.9: met)" in text
    assert "(0.810, goal 0.9: **missed by 0.090**)" in text
    assert "**Style hit** 0.990 (goal 0.9: met)" in text
    assert "kept** (shape, colour, size and position all as before) 0.920 (goal 0.9: met)" in text
    assert "shapes-ae" not in text.split("Unpaired style transfer")[1], "no ceiling sentence without its figures"
    style.update(style_reconstruction_accuracy=0.96,
                 style_reconstruction_accuracy_per_size={"small": 0.88, "medium": 1.0, "large": 0.999},
                 style_hit_per_size={"small": 0.826, "medium": 0.988, "large": 0.975})
    text = shapes_section(_res(**{"shapes-style": style}))
    assert "reconstructions of the same test images in 0.960 of them (by size: small 0.880, medium 1.000, " \
           "large 0.999)" in text
    assert "τ's style hit by size: small 0.826, medium 0.988, large 0.975." in text


def test_no_shapes_translator_says_how_to_get_one() -> None:
    assert "net2net zoo train shapes-text2img" in shapes_section(_res())


def test_partial_prompt_and_new_word_table_is_the_measured_figures() -> None:
    m = _text2img(0.95, 0.9)
    m.update(partial_named_accuracy=0.912, partial_unnamed_entropy={a: 0.8 + 0.01 * i for i, a in enumerate(ATTRIBUTES)},
             partial_unnamed_agreement={a: 0.3 for a in ATTRIBUTES},
             newword_accuracy={a: 0.7 for a in ATTRIBUTES}, newword_accuracy_all=0.333)
    text = shapes_section(_res(**{"shapes-text2img": m, "shapes-text2img-mlp": _text2img(0.97, 0.9)}))
    row = next(line for line in text.splitlines() if line.startswith("| `shapes-text2img` | 0.912 |"))
    assert "0.800 / 0.300 | 0.810 / 0.300" in row and row.endswith("| 0.700 | 0.333 |")
    assert not any(line.startswith("| `shapes-text2img-mlp` | –") for line in text.splitlines()), \
        "a translator measured without the new columns gets no row"


def test_merge_refuses_a_results_json_of_other_settings(tmp_path) -> None:
    import json

    import pytest

    from net2net.evaluate.results import run_results

    (tmp_path / "results.json").write_text(json.dumps({"settings": {"n_queries": 3}, "seed": 0, "quick": True}))
    with pytest.raises(ValueError, match="other settings"):
        run_results(tmp_path, quick=True, grids=False, translators=["shapes-text2img"], merge=True)
    with pytest.raises(ValueError, match="without --only first"):
        run_results(tmp_path / "none", quick=True, grids=False, translators=["shapes-text2img"], merge=True)


def test_partial_prompts_are_scored_by_how_many_attributes_they_name() -> None:
    """A stand-in τ and judge: the judge reads every named attribute right when the prompt
    names three or more, and wrong otherwise, so the breakdown by count must say exactly that."""
    import torch

    from net2net.data.shapes import VOCAB
    from net2net.evaluate.shapes import ShapesTest, partial_metrics

    test = ShapesTest.generated(40)
    index = {p: i for i, p in enumerate(test.text_partial_heldout)}

    class Tau:
        def encode_query(self, prompts):
            return torch.tensor([[float(index[p])] for p in prompts])

        def prompt_latents(self, prompts, *, n, **_):
            return self.encode_query(prompts).repeat_interleave(n, dim=0)

        def decode(self, z):
            return z

    class Judge:
        heads = ATTRIBUTES

        def predict_attributes(self, images):
            rows = [int(v) for v in images[:, 0]]
            out = {}
            for a in ATTRIBUTES:
                right = [test.attrs[a][i] for i in rows]
                wrong = [next(v for v in VOCAB[a] if v != r) for r in right]
                out[a] = [r if len(test.named[i].split(",")) >= 3 else w for r, w, i in zip(right, wrong, rows)]
            return out

    m = partial_metrics(Tau(), test, Judge(), n_samples=2, seed=0)
    counts = {len(n.split(",")) for n in test.named if len(n.split(",")) < 5}
    assert m["partial_named_accuracy_by_count"] == {str(k): (1.0 if k >= 3 else 0.0) for k in sorted(counts)}
    assert m["partial_queries"] == sum(len(n.split(",")) < 5 for n in test.named)


def test_issue_23_goals_table_gives_each_verdict_and_limit_from_the_figures() -> None:
    from net2net.evaluate.results_text import goals_section

    m = _text2img(0.97, 0.93)
    m["accuracy_size_heldout"] = 0.85
    m.update(accuracy_all_seen=0.9, partial_named_accuracy=0.96, newword_accuracy_named=0.6,
             partial_unnamed_entropy={a: 0.9 for a in ATTRIBUTES} | {"position": 0.25})
    res = _res(**{"shapes-text2img": m, "fmnist-text2img": {"class_accuracy": 0.866, "diversity": 0.83},
                  "fmnist-text2img-mlp": {"class_accuracy": 0.886},
                  "fmnist-attr": {"edit_keeps_brightness_r": 0.45, "edit_keeps_width_r": 0.3,
                                  "edit_keeps_brightness_r_quantile_ceiling": 0.82},
                  "shapes-style": {"style_hit": 0.929, "style_content_kept": 0.952, "style_reconstruction_accuracy": 0.959}})
    res["experts"]["fmnist-ae"] = {"classifier_on_reconstructions": {"reconstruction_accuracy": 0.871}}
    text = goals_section(res)
    assert "| `shapes-text2img`: every attribute ≥ 0.95 on seen pairs | weakest: shape 0.970 | met | – |" in text
    assert "every attribute ≥ 0.90 on held-out pairs | weakest: size 0.850 | **missed by 0.050** |" in text
    assert "| lowest: position 0.250 | **missed by 0.550** |" in text
    assert ("| `fmnist-text2img`: class accuracy ≥ the MLP's (0.886) | 0.866 | **missed by 0.020** | the classifier on "
            "`fmnist-ae`'s reconstructions: 0.871 |") in text
    assert "| `fmnist-attr` edits keep brightness, r ≥ 0.8 | 0.450 | **missed by 0.350** | – |" in text
    assert "the judge on `shapes-ae`'s reconstructions: 0.959 |" in text
    assert "| `shapes-attr`: hit ≥ 0.95 | – | not measured | – |" in text
    assert text.rstrip().endswith("Met: 5 of 14.")
