"""The probe's report: ``report.json``, ``report.html`` and its figures, all from the measurements.

Figures (matplotlib): ``information.png`` (information, diversity and labels kept
against depth) and ``samples.png`` (the same held-out queries through every layer's τ,
the same ``v`` for every layer). :func:`recommend` turns the numbers into one line;
:func:`write_docs` copies a finished report into the docs as a generated Markdown section.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from net2net.io import atomic_write_json, read_json
from net2net.probing import measure as M

__all__ = ["load_report", "markdown", "recommend", "table", "write_docs", "write_report"]

FORMAT = "net2net-probe-report"


def _mean_kept(row: dict[str, Any]) -> float | None:
    kept = row.get("labels_kept") or {}
    return float(np.mean(list(kept.values()))) if kept else None


def recommend(rows: list[dict[str, Any]]) -> str:
    """One line from the measurements: the layer that keeps the most of the target, and the
    least informative layer that still keeps the labels (within 90 % of the best layer's rate)."""
    most = max(rows, key=lambda r: r["information_nats"])
    line = (f"for translation that keeps the most of the target ({most['information_nats']:.1f} nats about its code), "
            f"tap {most['layer']}")
    kept = [(r, _mean_kept(r)) for r in rows]
    if all(k is not None for _, k in kept):
        best = max(k for _, k in kept)
        ok = [r for r, k in kept if k >= 0.9 * best]
        lean = min(ok, key=lambda r: r["information_nats"])
        if lean is not most:
            return (f"{line}; for conditioning on the labels only (labels kept {_mean_kept(lean):.0%}, the rest free: "
                    f"{lean['information_nats']:.1f} nats, diversity {lean['diversity']:.2f}), tap {lean['layer']}")
        return f"{line}; it also keeps the labels best ({_mean_kept(most):.0%})"
    least = min(rows, key=lambda r: r["information_nats"])
    if least is most:
        return line
    return f"{line}; for the most varied samples (least information, {least['information_nats']:.1f} nats), tap {least['layer']}"


def _plots(out: Path, rows: list[dict[str, Any]], uncond: dict[str, Any], context: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["layer"] for r in rows]
    x = np.arange(len(rows))
    cols = list(context["labels"])
    fig, axes = plt.subplots(1, 3 if cols else 2, figsize=(12 if cols else 8, 3.4))
    ax = axes[0]
    ax.plot(x, [r["information_nats"] for r in rows], "o-")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title="I(z_target; layer) ≈ H(z) − H(z | layer)", ylabel="nats (held-out NLL difference)")
    ax = axes[1]
    ax.plot(x, [r["diversity"] for r in rows], "o-", label="τ from the layer")
    ax.axhline(uncond["diversity"], color="grey", ls="--", label="τ from nothing")
    ax.set(title="diversity of samples per query", ylabel="pairwise distance / real pairs")
    ax.legend(fontsize=7)
    if cols:
        ax = axes[2]
        for c in cols:
            line, = ax.plot(x, [r["labels_kept"][c] for r in rows], "o-", label=c)
            ax.axhline(context["labels"][c]["chance"], color=line.get_color(), ls=":", lw=0.8)
        ax.set(title="labels kept by samples (dotted: chance)", ylabel="fraction", ylim=(0, 1.02))
        ax.legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(x, names)
        ax.set_xlabel("layer (input → output)")
    fig.tight_layout()
    fig.savefig(out / "information.png", dpi=110)
    plt.close(fig)
    made = ["information.png"]
    grids = {r["key"]: out / "taus" / r["key"] / "grid.npy" for r in [*rows, uncond]}
    if (out / "originals.npy").is_file() and all(p.is_file() for p in grids.values()):
        made.append(_sample_grid(out, rows, uncond, grids, plt))
    return made


def _sample_grid(out: Path, rows: list[dict[str, Any]], uncond: dict[str, Any], grids: dict[str, Path], plt: Any) -> str:
    def rgb(a: np.ndarray) -> np.ndarray:  # (..., C, H, W) or (H, W, C) uint8 -> (H, W, 3)
        return np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a

    originals = [rgb(np.asarray(o)) for o in np.load(out / "originals.npy")]
    strips, labels = [], []
    for r in [*rows, uncond]:
        g = np.load(grids[r["key"]])  # (k, S, C, H, W)
        k = min(len(g), len(originals))
        blocks = []
        for i in range(k):
            imgs = [originals[i]] + [rgb(np.moveaxis(im, 0, -1)) for im in g[i]]
            pad = np.full((imgs[0].shape[0], 3, 3), 255, np.uint8)
            blocks.append(np.concatenate([imgs[0], pad, *imgs[1:]], axis=1))
            blocks.append(np.full((imgs[0].shape[0], 12, 3), 255, np.uint8))
        strips.append(np.concatenate(blocks[:-1], axis=1))
        labels.append(r["layer"] if r["layer"] else "nothing")
    fig, axes = plt.subplots(len(strips), 1, figsize=(min(16, strips[0].shape[1] / 28), 0.9 * len(strips) + 0.4))
    for ax, strip, name in zip(np.atleast_1d(axes), strips, labels, strict=True):
        ax.imshow(strip, cmap="gray", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle("each block: a held-out query image, then samples of τ(v | layer) with the same v in every row",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "samples.png", dpi=110)
    plt.close(fig)
    return "samples.png"


def write_report(out: str | os.PathLike, settings: Any, results: dict[str, dict[str, Any]],
                 context: dict[str, Any]) -> dict[str, Any]:
    """Builds the rows (information against the unconditional τ), the recommendation, the
    figures, ``report.json`` and ``report.html`` in ``out``; returns the report."""
    out = Path(out)
    s = settings.to_dict()
    uncond = results["unconditional"]
    dim = int(context["target_dim"])
    rows = []
    for layer in s["layers"]:
        r = dict(next(v for v in results.values() if v.get("layer") == layer))
        info = M.information(uncond["heldout_nll_nats_per_dim"], r["heldout_nll_nats_per_dim"], dim)
        r.update(information_nats=info["nats"], information_bits=info["bits"], information_nats_per_dim=info["nats_per_dim"])
        rows.append(r)
    budget = ("process CPU time (time.process_time), " + f"{s['budget_minutes']} min for all τs"
              if s["budget_minutes"] is not None else f"{s['budget_steps']} optimiser steps for all τs")
    report = {
        "format": FORMAT, "version": 1, "settings": s, "context": context, "rows": rows, "unconditional": uncond,
        "budget": {"kind": budget, "taus": len(rows) + 1, "threads": context["threads"],
                   "fit_cpu_seconds": sum(r["fit_cpu_seconds"] for r in [*rows, uncond])},
        "recommendation": recommend(rows),
    }
    report["figures"] = _plots(out, rows, uncond, context)
    atomic_write_json(out / "report.json", json.loads(json.dumps(report)))
    (out / "report.html").write_text(_html(report), encoding="utf-8")
    return report


def load_report(folder: str | os.PathLike) -> dict[str, Any]:
    """A finished report (``folder/report.json``); a one-line error when there is none."""
    folder = Path(folder)
    if not (folder / "report.json").is_file():
        raise ValueError(f"{folder}: no report.json; run `net2net probe ... --out {folder}` first")
    report = read_json(folder / "report.json")
    if report.get("format") != FORMAT:
        raise ValueError(f"{folder / 'report.json'}: not a probe report (format {report.get('format')!r})")
    return report


def table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The report's table: a header and one row of strings per layer, then the unconditional τ."""
    cols = list(report["context"]["labels"])
    head = ["layer", "pool", "width", "steps", "NLL nats/dim", "NLL bits/dim", "information nats", "information bits",
            "diversity", *[f"{c} kept" for c in cols]]
    body = []
    for r in [*report["rows"], report["unconditional"]]:
        body.append([r["layer"] or "(nothing)", str(r["pool"] or "–"), str(r["dim"]), str(r["steps"]),
                     f"{r['heldout_nll_nats_per_dim']:.3f}", f"{r['heldout_nll_bits_per_dim']:.3f}",
                     f"{r['information_nats']:.2f}" if "information_nats" in r else "0 (reference)",
                     f"{r['information_bits']:.2f}" if "information_bits" in r else "0",
                     f"{r['diversity']:.2f}", *[f"{r['labels_kept'][c]:.2f}" for c in cols]])
    return head, body


def _notes(report: dict[str, Any]) -> list[str]:
    s, c = report["settings"], report["context"]
    labels = "; ".join(f"{k}: judged by {v['judge']}, on real held-out codes {v['on_real']:.2f}, chance {v['chance']:.2f}"
                       for k, v in c["labels"].items()) or "none (the data set has no label columns)"
    return [f"query {s['query']} → target {s['target']} ({c['target_dim']}-d code), data {s['dataset']}: "
            f"{c['train_rows']} training rows ({c['train_split']}), {c['heldout_rows']} held out ({c['heldout_split']})",
            f"budget: {report['budget']['kind']}, split evenly over {report['budget']['taus']} τs "
            f"({report['budget']['fit_cpu_seconds']:.0f} CPU s spent fitting, {report['budget']['threads']} torch thread(s))",
            "information: the unconditional τ's held-out NLL minus the layer's, times the code's dimension: "
            "a mutual-information estimate (NLLs estimate entropies), not a bound",
            f"diversity and labels kept: {s['queries']} held-out queries × {s['samples']} samples; labels: {labels}",
            f"pooling: the finest of flatten, grid7, grid4, grid2, avg with width ≤ {s['max_dim']}"]


def _html(report: dict[str, Any]) -> str:
    head, body = table(report)
    e = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in body)
    figs = "".join(f'<p><img src="{e(f)}" style="max-width:100%"></p>' for f in report["figures"])
    notes = "".join(f"<li>{e(n)}</li>" for n in _notes(report))
    return (f"<!doctype html><meta charset='utf-8'><title>net2net probe</title>"
            f"<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 8px;"
            f"text-align:right}}table{{border-collapse:collapse}}tr:nth-child(even){{background:#f4f4f4}}</style>"
            f"<h1>Which layer? {e(report['settings']['query'])} → {e(report['settings']['target'])}</h1>"
            f"<p><b>Recommendation:</b> {e(report['recommendation'])}</p>"
            f"<table><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr>{rows}</table>"
            f"<ul>{notes}</ul>{figs}")


def markdown(report: dict[str, Any], figures: str = "", *, images: bool = True) -> str:
    """The report as a Markdown section (figures linked relative to ``figures``; none when not ``images``)."""
    head, body = table(report)
    lines = [f"**Recommendation** (generated): {report['recommendation']}.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    lines += ["", *[f"- {n}" for n in _notes(report)], ""]
    lines += [f"![{f}]({figures}{f})" for f in report["figures"]] if images else []
    return "\n".join(lines) + "\n"


def write_docs(folder: str | os.PathLike, docs: str | os.PathLike, *, command: str = "",
               into: str | os.PathLike | None = None) -> Path:
    """Copies a finished report's figures to ``docs`` and writes ``docs/report.md`` from it.

    With ``into`` (a Markdown file), the section between ``<!-- probe: NAME -->`` and
    ``<!-- /probe: NAME -->`` there (``NAME``: the folder name of ``docs``) is replaced by
    the same text, figures linked relative to that file.
    """
    report = load_report(folder)
    docs = Path(docs)
    docs.mkdir(parents=True, exist_ok=True)
    for f in report["figures"]:
        shutil.copyfile(Path(folder) / f, docs / f)
    head = "<!-- generated by `net2net probe ... --docs`; do not edit -->\n\n"
    made = f"Made by:\n\n    {command}\n\n" if command else ""
    (docs / "report.md").write_text(head + made + markdown(report), encoding="utf-8")
    if into is not None:
        into = Path(into)
        text = into.read_text(encoding="utf-8") if into.is_file() else ""
        start, end = f"<!-- probe: {docs.name} -->", f"<!-- /probe: {docs.name} -->"
        if start not in text or end not in text:
            raise ValueError(f"{into} has no section {start} ... {end} to fill; add those two lines where it goes")
        rel = os.path.relpath(docs, into.parent).replace(os.sep, "/") + "/"
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        into.write_text(f"{before}{start}\n{made}{markdown(report, rel)}{end}{after}", encoding="utf-8")
    return docs / "report.md"
