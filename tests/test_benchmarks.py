"""The benchmark script runs end to end at a tiny size and writes its report.

Benchmarks are not tests: nothing here checks a speed, only that `benchmarks/run.py`
works and writes the markdown and the JSON with the figures the docs rely on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_script_runs_at_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--size", "tiny", "--device", "cpu", "--out", str(out)],
        check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    report = json.loads(out.with_suffix(".json").read_text())
    assert {"command", "machine", "model", "params", "train", "epoch", "sample"} <= set(report)
    for figures in report["train"].values():
        assert {"ours", "plain", "speedup_vs_plain"} <= set(figures)
        assert figures["ours"]["samples_per_s"] > 0 and figures["plain"]["samples_per_s"] > 0
    assert {"seconds", "val_nll_nats_per_dim"} <= set(report["epoch"]["ours"])
    assert {"speedup", "nll_gap_nats_per_dim", "nll_gap_per_seed"} <= set(report["epoch"])
    assert len(report["epoch"]["nll_gap_per_seed"]) == report["epoch"]["seeds"]
    # The arithmetic ratio the docs quote: the plain reference's separate scale and shift
    # nets do more multiply-adds than our fused ones at any size.
    assert report["macs_per_sample"]["plain"] > report["macs_per_sample"]["ours"] > 0
    assert report["sample"]["ours"]["ms_for_16"] > 0
    convergence = report["convergence"]
    assert len(convergence["ours"]) == len(convergence["plain"]) == len(convergence["gap"]) == convergence["epochs"]
    text = out.read_text()
    for heading in ("## Training step", "## One epoch", "## Sampling 16 queries", "GPU (H100): not measured",
                    "arithmetic ratio", "## Where both end up"):
        assert heading in text
    # --render writes the page again from the JSON alone, without timing anything
    again = tmp_path / "again.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--render", str(out.with_suffix(".json")),
                    "--out", str(again)], check=True, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert again.read_text() == text


def test_the_benchmarks_page_is_what_its_json_renders_to(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--render",
                    str(ROOT / "docs" / "benchmarks.json"), "--out", str(out)], check=True, capture_output=True,
                   text=True, timeout=60)
    assert out.read_text() == (ROOT / "docs" / "benchmarks.md").read_text()


def test_gpu_table_runs_on_the_cpu_at_tiny_size_and_names_its_reference(tmp_path: Path) -> None:
    """Issue 25's GPU table: every path but the CUDA graphs runs here, so that a session
    that is lent a GPU finds no Python error first. Without the paper's code prepared,
    the reference is our reading of it, and the report says so."""
    out = tmp_path / "gpu.md"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_table.py"), "--device", "cpu", "--size", "tiny",
         "--batches", "16", "32", "--steps", "2", "--repeats", "1", "--paper-code", str(tmp_path / "none"),
         "--out", str(out)],
        check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    report = json.loads(out.with_suffix(".json").read_text())
    assert set(report["train"]) == {"fp32 16", "fp32 32", "bf16 16", "bf16 32"}
    for key, res in report["train"].items():
        assert set(res) == {"paper", "τ"}  # no CUDA graph on the CPU
        batch = int(key.split()[1])
        for r in res.values():
            assert r["steps_per_s"] > 0 and r["samples_per_s"] == pytest.approx(r["steps_per_s"] * batch)
    assert all(report["sample_16"][p]["τ"]["ms"] > 0 for p in ("fp32", "bf16"))
    assert "PaperCINN" in report["reference"] and "agreement_nats" not in report
    text = out.read_text()
    assert "| fp32 | 16 |" in text and "| bf16 | 32 |" in text and "Goals (issue 25" in text
    assert "16 samples in" in text


def test_gpu_table_refuses_cuda_without_a_gpu_and_tiny_batches(tmp_path: Path) -> None:
    script = str(ROOT / "benchmarks" / "gpu_table.py")
    if not torch.cuda.is_available():
        run = subprocess.run([sys.executable, script, "--device", "cuda", "--out", str(tmp_path / "x.md")],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and "torch sees no GPU here" in run.stderr
    run = subprocess.run([sys.executable, script, "--device", "cpu", "--batches", "1", "--out", str(tmp_path / "x.md")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "at least 2" in run.stderr
    assert not (tmp_path / "x.md").exists()


def test_paper_code_is_copied_with_its_package_renamed_or_not_at_all(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import paper_code

    source = tmp_path / "CompVis-net2net"
    for rel in paper_code.FILES:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text("import torch\nfrom net2net.modules.flow.base import X\nimport net2net.modules\n")
    dest = paper_code.prepare(source, tmp_path / "copy")
    text = (dest / "paper_net2net" / "modules" / "flow" / "flatflow.py").read_text()
    assert text == "import torch\nfrom paper_net2net.modules.flow.base import X\nimport paper_net2net.modules\n"
    assert paper_code.load(tmp_path / "elsewhere") is None
    (source / paper_code.FILES[-1]).unlink()
    with pytest.raises(FileNotFoundError, match="loss.py is not in"):
        paper_code.prepare(source, tmp_path / "second")
    assert not (tmp_path / "second").exists()  # all or nothing
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "paper_code.py"), str(source),
                          "--dest", str(tmp_path / "third")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "is it a checkout or mirror of CompVis/net2net?" in run.stderr


@pytest.mark.slow
def test_gpu_levers_run_on_the_cpu_at_tiny_size() -> None:
    """The CUDA run's lever variants (TF32, bf16 autocast, torch.compile) are only timed on
    a GPU; here their code runs on the CPU so that a GPU session does not find a Python
    error first. About a minute, most of it compiling."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from run import SIZES, WORK, gpu_variants
    finally:
        sys.path.pop(0)
    from net2net.data.toy import LinearGaussianToy

    size = SIZES["tiny"]
    toy = LinearGaussianToy(dim=size["dim"], cond_dim=size["cond_dim"], seed=0)
    results = gpu_variants(size, toy, WORK["tiny"], 64, torch.device("cpu"))
    assert len(results) == 4
    for label, figures in results.items():
        assert "error" not in figures, (label, figures)
        assert figures["sample_16"]["ms_for_16"] > 0 and figures["train_b64"]["samples_per_s"] > 0


def test_real_pair_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    """benchmarks/real_pairs.py end to end on a few synthetic pairs: the cost per step,
    equal CPU time (a cheaper model gets more steps), the sweep, the matched and own-best
    settings, the time to the reference's NLL and the report with the matched rows first."""
    out = tmp_path / "real.md"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "real_pairs.py"), "--size", "tiny", "--seeds", "2",
         "--tasks", "fmnist-text2img", "--variant", 'τ, cond_base={"cond_base": true}', "--out", str(out)],
        check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    report = json.loads(out.with_suffix(".json").read_text())
    task = report["tasks"]["fmnist-text2img"]
    names = {"reference", "τ", "τ, half the time", "τ, cond_base"}
    assert set(task["cost_per_step"]) == names and set(task["best_lr"]) == names
    assert task["steps"]["reference"] == 12
    for n, cost in task["cost_per_step"].items():  # every model is given the reference's CPU time, or half of it
        budget = 0.5 if n == "τ, half the time" else 1.0
        assert task["steps"][n] == max(1, round(12 * task["cost_per_step"]["reference"] / cost * budget))
    assert list(task["groups"]) == ["lr 0.001", "lr 0.002", "own best"]
    assert set(task["sweep"]) == {"0.0005", "0.001", "0.002", "0.004", "0.008"}
    for label, seeds in task["groups"].items():
        assert len(seeds) == 2 and set(seeds[0]) == names
        for run in seeds[1].values():
            assert len(run["nll"]) == 3 and run["cpu"] > 0 and run["seconds"] == sorted(run["seconds"])
            assert run["steps"][-1] == run["total_steps"] == task["steps"][next(n for n in seeds[1] if seeds[1][n] is run)]
            if label != "own best":
                assert run["lr"] == float(label.split()[1])
        # the reference reaches its own final NLL at its last evaluation (or earlier)
        assert seeds[1]["reference"]["fraction_of_reference"] <= 1 + 1e-9
    for n, lr in task["best_lr"].items():
        assert all(s[n]["lr"] == lr for s in task["groups"]["own best"])
    text = out.read_text()
    assert "Written by `benchmarks/real_pairs.py`" in text and "--variant" in text
    assert text.index("| matched lr 0.001 | reference |") < text.index("| own best | reference |")
    assert "## The goal: at matched rates" in text and "| fmnist-text2img | lr 0.002 | τ, cond_base |" in text
    # runs of one task each and an ablation merge into one report
    ablation = tmp_path / "ablation.json"
    ablation.write_text(json.dumps({"command": "python benchmarks/real_pairs.py --ablate", "steps": 600, "ablation": {
        "fmnist-text2img": {"reference": {"settings": {"reference": True}, "params": 10, "mid_step": 300, "mid": -0.5,
                                          "final": -0.8, "cpu_ratio": 1.0}}}}))
    cost = tmp_path / "cost.json"
    cost.write_text(json.dumps({"command": "python benchmarks/real_pairs.py --step-cost", "step_cost": {
        "fmnist-text2img": {"τ, torch.compile": {"ms_per_step": 17.5, "first_two_steps_s": 5.25},
                            "τ": {"ms_per_step": 20.0, "first_two_steps_s": 0.1, "matmul_share": 0.5,
                                  "matmul_gflops": 61.2, "matmul_gflop_per_step": 0.91}}}}))
    # a longer budget, matched rates only, LU mixing, one seed: beside the default run, under a label of its own
    longer = tmp_path / "longer.md"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "real_pairs.py"), "--size", "tiny", "--seeds", "1", "--steps", "20",
         "--matched-only", "--mixing", "lu", "--tasks", "fmnist-text2img", "--out", str(longer)],
        check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    long_task = json.loads(longer.with_suffix(".json").read_text())["tasks"]["fmnist-text2img"]
    assert list(long_task["groups"]) == ["lr 0.001", "lr 0.002"] and not long_task["sweep"] and not long_task["best_lr"]
    assert all(len(seeds) == 1 for seeds in long_task["groups"].values()) and long_task["steps"]["reference"] == 20
    merged = tmp_path / "merged.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "real_pairs.py"), "--merge", str(out.with_suffix(".json")),
                    str(longer.with_suffix(".json")), str(ablation), str(cost), "--out", str(merged)],
                   check=True, capture_output=True, text=True, timeout=60)
    text = merged.read_text()
    label = "fmnist-text2img, τ with LU mixing, 20 reference steps"
    assert f"## {label}\n" in text and "the reference's CPU time for 20 steps" in text
    assert "the matched rates only (no sweep, no own-best rows)" in text and f"| {label} | lr 0.002 | τ |" in text
    assert "## fmnist-text2img\n" in text and text.count("The sweep (seed 0)") == 1
    # an earlier merge is a part too: its runs, ablations and step costs carry over once each
    again = tmp_path / "again.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "real_pairs.py"), "--merge", str(merged.with_suffix(".json")),
                    "--out", str(again)], check=True, capture_output=True, text=True, timeout=60)
    assert again.read_text().split("\n", 3)[3] == text.split("\n", 3)[3]  # all but the command line
    assert "## Ablations on fmnist-text2img: 600 steps, one seed" in text and "| reference | – | 10 |" in text
    assert "| fmnist-text2img | τ, torch.compile | 17.5 | 5.2 | – |" in text
    assert "| fmnist-text2img | τ | 20.0 | 0.1 | 50% / 61 / 0.91 |" in text


def test_step_cost_says_how_much_of_a_step_is_matrix_products() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from step_cost import step_costs

    from net2net.flow.cinn import ConditionalINN
    from net2net.train.fit import Pairs

    torch.manual_seed(0)
    train = Pairs(cond=torch.randn(512, 6), target=torch.randn(512, 8))
    small = {"n_blocks": 1, "embed_dim": 4, "embed_hidden": 8}  # the couplings' width is what differs
    make = {"narrow": lambda d, c: ConditionalINN(d, c, hidden=16, **small),
            "wide": lambda d, c: ConditionalINN(d, c, hidden=256, **small)}
    out = step_costs(make, train, tau="narrow", steps=4, rounds=1, variants=False)
    assert sorted(out) == ["narrow", "wide"]
    for name in ("narrow", "wide"):
        assert 0 < out[name]["matmul_share"] <= 1 and out[name]["matmul_gflops"] > 0
    assert out["wide"]["matmul_gflop_per_step"] > 5 * out["narrow"]["matmul_gflop_per_step"]


def test_follow_words_variants_choose_the_text_layer_they_name() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import follow_words as fw

    base = fw.shipped_recipe()
    assert base["translator"]["query"]["options"] == {"layer": "layer5"}  # what ships

    def layers(r: dict) -> list:
        entries = [*(r["data"]["cond"] if isinstance(r["data"]["cond"], list) else [r["data"]["cond"]]),
                   r["data"]["val_cond"], r["translator"]["query"]]
        return [q.get("options", {}).get("layer") for q in entries]

    # a row from before the layer choice reads the sentence embedding, as it was measured
    old = fw.variant_recipe(base, "text_varied", fw.VARIANTS["varied + aux. 1 + cond. noise 0.01"][1], 1500)
    assert layers(old) == [None, None, None]
    # a layer row reads its layer everywhere: training captions (each column), validation, prompts
    name = next(n for n in fw.VARIANTS if n.startswith("MiniLM layer5, varied ×3"))
    column, tau = fw.VARIANTS[name]
    r = fw.variant_recipe(base, column, tau, 1500)
    assert layers(r) == ["layer5"] * 6 and "layer" not in r["model"]
    assert base["translator"]["query"]["options"] == {"layer": "layer5"}  # the base is not changed


def test_text_layer_probes_run_at_tiny_size(minilm) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import text_layers as tl

    res = tl.run(n_train=80, n_test=40, c=1.0)
    assert list(res["rows"]) == [*minilm.layers, *tl.COMBOS]
    for row in res["rows"].values():
        assert set(row["held_out"]) == set(row["new_words"]) == {"shape", "colour", "size", "position", "style"}
        assert all(0.0 <= v <= 1.0 for v in row["held_out"].values())
    assert set(res["fmnist_class"]) == set(minilm.layers)
    md = tl.table(res, "docs/text-layers.md")
    assert "| `layer5` |" in md and "you can see … coloured …: left" in md and "## Fashion-MNIST captions" in md


def test_follow_words_merge_puts_rows_of_side_by_side_runs_in_the_variants_order(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import follow_words as fw

    row = json.loads((ROOT / "docs" / "follow-words.json").read_text())[0]
    names = list(fw.VARIANTS)
    page = tmp_path / "fw.md"
    page.with_suffix(".json").write_text(json.dumps([{**row, "name": names[0]}, {**row, "name": names[3]}]))
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{**row, "name": names[2], "steps": 7}, {**row, "name": names[3], "steps": 9}]))
    rows = fw.main(["--out", str(page), "--merge", str(other)])
    assert [r["name"] for r in rows] == [names[0], names[2], names[3]]
    assert [r.get("steps") for r in rows[1:]] == [7, 9]  # the merged run's rows replace those of the same name
    assert json.loads(page.with_suffix(".json").read_text()) == rows
    assert f"| {names[3]} | 9 |" in page.read_text()


def test_follow_words_page_says_which_autoencoder_codes_its_rows_read(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import follow_words as fw

    row = json.loads((ROOT / "docs" / "follow-words.json").read_text())[0]
    old = {k: v for k, v in row.items() if k != "target_fingerprint"}
    assert fw._target_provenance([old, old]) == f"Target codes the rows read: 2 on {fw._FIRST_AE} " \
                                                "(recorded before rows kept the fingerprint)."
    mixed = fw._target_provenance([old, {**old, "target_fingerprint": "ab" * 32}])
    assert "1 on the `shapes-ae` of fingerprint abababababab" in mixed and "compare only in part" in mixed
    page = tmp_path / "fw.md"
    page.with_suffix(".json").write_text(json.dumps([{**old, "name": next(iter(fw.VARIANTS))}]))
    fw.main(["--out", str(page), "--render"])
    assert f"Target codes the rows read: 1 on {fw._FIRST_AE}" in page.read_text()


@pytest.mark.parametrize("settings", [{"cond_whiten": 1e-9}, {"cond_scale": True}, {"shared_cond": True},
                                      {"z_whiten": True}, {"cond_whiten": 1e-9, "shared_cond": True, "z_whiten": True},
                                      {"spline_bins": 4}, {"first_hidden": 24}])
def test_ablated_tau_is_an_exact_flow_once_fitted_on_its_training_pairs(settings: dict) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from tau_ablations import ablated_tau

    from net2net.train.fit import Pairs

    torch.manual_seed(0)
    mix = torch.randn(5, 5, dtype=torch.float64)
    cond = torch.randn(400, 5, dtype=torch.float64) @ mix + 3.0  # correlated, off-centre conditions
    z = torch.randn(400, 4, dtype=torch.float64) @ torch.randn(4, 4, dtype=torch.float64) + cond[:, :4]
    flow = ablated_tau(4, 5, n_blocks=2, hidden=16, embed_dim=4, embed_hidden=8, mixing="lu", **settings).double()
    flow.fit_on_train(Pairs(cond=cond, target=z))
    flow.eval()
    v, log_det = flow(z[:8], cond[:8])
    back, inv_log_det = flow.inverse(v, cond[:8])
    torch.testing.assert_close(back, z[:8])
    torch.testing.assert_close(inv_log_det, -log_det)
    jac = torch.autograd.functional.jacobian(lambda x: flow(x.unsqueeze(0), cond[:1])[0].squeeze(0), z[0])
    torch.testing.assert_close(log_det[0], torch.linalg.slogdet(jac)[1])
    if settings.get("cond_whiten"):  # the fitted map whitens the training conditions (shrinkage ~0 here)
        white = flow.embedder[0](cond)
        torch.testing.assert_close(torch.cov(white.T, correction=0), torch.eye(5, dtype=torch.float64),
                                   atol=2e-3, rtol=0)
    if settings.get("first_hidden"):  # only the first coupling is wider
        widths = [layer.net_b[0].out_features for layer in flow.layers if hasattr(layer, "net_b")]
        assert widths == [24, 16]
    if settings.get("z_whiten"):  # ... and the targets' whitening is the first layer
        white, _ = flow.layers[0].transform(z)
        torch.testing.assert_close(torch.cov(white.T, correction=0), torch.eye(4, dtype=torch.float64))


def test_linear_layers_stored_at_half_scale_are_the_same_flow_and_train_as_at_twice_the_rate() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from tau_ablations import ablated_tau

    def build(**kw):
        torch.manual_seed(0)
        return ablated_tau(4, 5, n_blocks=2, hidden=16, embed_dim=4, embed_hidden=8, **kw).double()

    plain, stored = build(), build(weight_scale=2.0)
    z, cond = torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 5, dtype=torch.float64)
    for flow in (plain, stored):  # ActNorm's data-dependent start, then only the linear layers train
        flow(z, cond)
        linear = {id(p) for m in flow.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()}
        for p in flow.parameters():
            p.requires_grad_(id(p) in linear)
    torch.testing.assert_close(stored.log_prob(z, cond), plain.log_prob(z, cond))  # the same function
    linear = lambda m: [p for p in m.parameters() if p.requires_grad]  # noqa: E731
    opts = [torch.optim.Adam(linear(plain), lr=2e-3, eps=1e-30), torch.optim.Adam(linear(stored), lr=1e-3, eps=1e-30)]
    for _ in range(5):
        for flow, opt in zip((plain, stored), opts, strict=True):
            opt.zero_grad()
            (-flow.log_prob(z, cond).mean()).backward()
            opt.step()
    # Adam at 1e-3 on w / 2 moves w as Adam at 2e-3 on w does: a "matched rate" is a parametrisation's choice
    torch.testing.assert_close(stored.log_prob(z, cond), plain.log_prob(z, cond))
    assert not torch.allclose(plain.log_prob(z, cond), build().log_prob(z, cond))  # and both did train


def test_rational_quadratic_spline_inverts_exactly_and_its_log_derivative_is_autograds() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from tau_ablations import SPLINE_BOUND, rq_spline

    torch.manual_seed(0)
    x = torch.randn(64, 6, dtype=torch.float64) * 2  # about a seventh beyond the bound: identity there
    params = torch.randn(64, 6, 3 * 5 - 1, dtype=torch.float64)
    y, log_d = rq_spline(x, params)
    back, log_d_back = rq_spline(y, params, reverse=True)
    torch.testing.assert_close(back, x)
    torch.testing.assert_close(log_d_back, log_d)  # the forward map's log-derivative, at the reverse's output
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(rq_spline(xg, params)[0].sum(), xg)
    torch.testing.assert_close(log_d, grad.log())
    outside = x.abs() >= SPLINE_BOUND
    assert outside.any() and (y[outside] == x[outside]).all() and (log_d[outside] == 0).all()
    assert not torch.allclose(y[~outside], x[~outside])
    # a net that puts out zeros gives equal bins and slope 1 at every knot: the identity
    y0, log_d0 = rq_spline(x, torch.zeros_like(params))
    torch.testing.assert_close(y0, x)
    torch.testing.assert_close(log_d0, torch.zeros_like(log_d0))


def test_the_ablation_race_gives_a_batch_scaled_variant_that_many_batches_per_step() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real_pairs import builders, race, synthetic_pairs

    from net2net.flow import ConditionalINN

    seen: dict[str, list[int]] = {"one": [], "two": []}

    def recording(name: str, build):
        def make(dim: int, cond_dim: int) -> ConditionalINN:
            model = build(dim, cond_dim)
            loss = model.training_loss
            model.training_loss = lambda z, c: (seen[name].append(len(z)), loss(z, c))[1]
            return model
        make.lr_scale, make.batch_scale = build.lr_scale, build.batch_scale
        return make

    made = builders({"one": {"n_blocks": 1, "hidden": 8}, "two": {"n_blocks": 1, "hidden": 8, "batch_scale": 2}})
    train, val = synthetic_pairs(2048, 256)
    runs = race({n: recording(n, b) for n, b in made.items()}, train, val, steps=4, warmup=1, eval_every=2, turn=2,
                seed=0)
    assert seen["one"] == [256] * 4 and seen["two"] == [512] * 4
    assert runs["two"]["batch_scale"] == 2 and runs["one"]["steps"] == runs["two"]["steps"] == [2, 4]


def test_the_sweep_never_picks_a_rate_at_which_a_model_diverged() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from equal_cpu import best_rate

    finals = {5e-4: float("nan"), 1e-3: 0.41, 2e-3: 0.50, 4e-3: float("inf"), 8e-3: 0.45}
    assert best_rate(finals) == 1e-3
    assert min(finals, key=lambda lr: finals[lr]) == 5e-4  # what a plain min does with a NaN first


def test_real_pairs_report_says_diverged_instead_of_printing_a_blown_up_nll() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real_pairs_report import _nll

    assert _nll(-0.5346) == "-0.535" and _nll(0.25) == "+0.250"
    assert _nll(float("nan")) == _nll(float("inf")) == _nll(9.03e32) == "diverged"


@pytest.mark.slow
def test_a_compiled_tau_trains_as_the_eager_one_and_pays_for_its_compile() -> None:
    """--compile (benchmarks/equal_cpu.Compiled): the compiled training loss and its
    gradients are the eager ones; each run is charged what compiling costs, taken from its
    budget, and the models of one process share one compiled graph."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from equal_cpu import compile_cost, protocol, race_cpu, stepped
    from real_pairs import LU_TAU, builders, synthetic_pairs

    from net2net.train.fit import training_loss

    train, val = synthetic_pairs(600, 200)
    make = builders({"eager": LU_TAU, "compiled": {**LU_TAU, "compiled": True}})
    grads = {}
    for name in make:
        torch.manual_seed(0)
        model = make[name](train.target.shape[1], train.cond.shape[1]).train()
        step_model = stepped(make[name], model)
        assert (step_model is model) == (name == "eager")
        for _ in range(2):  # the first call initialises ActNorm from the batch, the second is a plain step
            model.zero_grad()
            loss = training_loss(step_model, train.target[:256], train.cond[:256])
            loss.backward()
        grads[name] = (loss.detach(), [p.grad.clone() for p in model.parameters()])
    assert torch.allclose(grads["eager"][0], grads["compiled"][0], atol=1e-5)
    for a, b in zip(grads["eager"][1], grads["compiled"][1], strict=True):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-3)
    cost = compile_cost(make["compiled"], train)
    assert cost["first"] > 0 and cost["warm"] > 0
    runs = race_cpu(make, {"eager": 1e-3, "compiled": 1e-3}, {"eager": 4, "compiled": 4}, train, val, evals=2,
                    warmup=0.25, seed=0, charge={"compiled": 100.0})
    assert runs["compiled"]["seconds"][0] > 100 > runs["eager"]["seconds"][-1]
    result = protocol(make, train, val, reference="eager", ref_steps=400, seeds=1, evals=2, warmup=0.25,
                      calib_steps=2, matched_only=True, log=lambda line: None)
    c, charge = result["cost_per_step"], result["compile_s"]["compiled"]["warm"]
    assert result["steps"]["compiled"] == max(1, round((400 * c["eager"] - charge) / c["compiled"]))
    assert result["groups"]["lr 0.001"][0]["compiled"]["cpu"] >= charge
