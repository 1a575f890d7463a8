"""The main job: every application of the paper on the shipped zoo, as one HTML report.

``run_demo(out)`` writes ``out/index.html`` (self-contained: images inline), the grids
as PNGs beside it, and ``out/metrics.json``. Each section is a plain function over the
public API; a translator that is not installed is reported, not silently skipped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from net2net.applications import diagnose, diagnosis_translators
from net2net.data.derived import upsample
from net2net.data.domains import derive
from net2net.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist, to_float
from net2net.imageio import grid
from net2net.io import atomic_write_bytes, atomic_write_json
from net2net.translator import Translator, available_translators, load

__all__ = ["run_demo", "SECTIONS", "PROMPTS", "prompt_for", "METRICS", "baseline_notes"]

#: phrasings that are in neither caption template set (training or held-out evaluation)
PROMPTS = [
    "a shot of {} on its own",
    "product photo showing {}",
]


def prompt_for(class_index: int, variant: int = 0) -> str:
    """A prompt in unseen wording for a class, with the class's everyday noun."""
    from net2net.data.captions import NOUNS

    noun = NOUNS[CLASS_NAMES[class_index]][0]
    article = "an" if noun[0] in "aeiou" else "a"
    return PROMPTS[variant % len(PROMPTS)].format(f"{article} {noun}")

Section = Callable[["Report"], None]


class Report:
    """Collects HTML fragments, grids and metrics while the sections run."""

    def __init__(self, out: Path, n: int, seed: int) -> None:
        self.out, self.n, self.seed = out, n, seed
        self.parts: list[str] = []
        self.metrics: dict[str, Any] = {}
        self._cache: dict[str, Translator] = {}
        x, y = load_fashion_mnist("test")
        # A fixed, class-balanced set of test images: the first of each class.
        firsts = [int((y == c).nonzero()[0][0]) for c in range(len(CLASS_NAMES))]
        self.images = to_float(x[firsts])
        self.labels = torch.tensor([int(y[i]) for i in firsts])

    def translator(self, name: str) -> Translator | None:
        if name not in self._cache:
            if name not in available_translators():
                self.note(f"<p class=missing>{html.escape(name)} is not installed: "
                          f"<code>net2net zoo train {html.escape(name)}</code></p>")
                return None
            self._cache[name] = load(name)
        return self._cache[name]

    def note(self, fragment: str) -> None:
        self.parts.append(fragment)

    def heading(self, title: str, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(title)}</h2><p>{text}</p>")

    def figure(self, name: str, images: Tensor, nrow: int, caption: str, row_labels: list[str] | None = None) -> None:
        """One grid: saved as ``name.png`` and inlined into the page.

        With ``row_labels``, each row of the grid is shown on its own beside its label
        (e.g. the prompt), the PNG on disk stays one grid.
        """
        img = grid(images.cpu(), nrow=nrow, scale=3)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        atomic_write_bytes(self.out / f"{name}.png", buf.getvalue())
        if row_labels:
            rows = []
            for i, label in enumerate(row_labels):
                rb = io.BytesIO()
                grid(images[i * nrow : (i + 1) * nrow].cpu(), nrow=nrow, scale=3).save(rb, format="PNG")
                rows.append(f"<tr><th class=prompt>{html.escape(label)}</th><td><img alt='{html.escape(label)}' "
                            f"src='data:image/png;base64,{base64.b64encode(rb.getvalue()).decode()}'></td></tr>")
            self.parts.append(f"<figure><table class=rows>{''.join(rows)}</table>"
                              f"<figcaption>{caption}</figcaption></figure>")
            return
        b64 = base64.b64encode(buf.getvalue()).decode()
        self.parts.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{b64}'>"
                          f"<figcaption>{caption}</figcaption></figure>")


def _rows(query_images: Tensor, samples: Tensor, n: int) -> Tensor:
    """Interleaves each query image with its ``n`` samples: one row per query."""
    rows = [torch.cat([query_images[i : i + 1], samples[i * n : (i + 1) * n]]) for i in range(len(query_images))]
    return torch.cat(rows)


def section_text(r: Report) -> None:
    r.heading("Text → image (MiniLM → autoencoder)",
              "Prompts in wording never seen in training; each row is one prompt, eight samples. "
              "Below, the paper's Fig. 12 comparison: the same prompt through the MLP and least-squares "
              "baselines gives one mean image, however often you sample.")
    t = r.translator("fmnist-text2img")
    if t is None:
        return
    prompts = [prompt_for(c, c) for c in range(len(CLASS_NAMES))]
    images = t.sample(prompts, n=r.n, seed=r.seed)
    r.figure("text2img", images, r.n, "each row: the prompt on its left, then its samples", row_labels=prompts)
    compare = [images[:r.n]]
    names = ["cINN τ"]
    for base in ("fmnist-text2img-mlp", "fmnist-text2img-linear"):
        b = r.translator(base)
        if b is not None:
            compare.append(b.sample(prompts[:1], n=r.n, seed=r.seed))
            names.append(base.rsplit("-", 1)[1])
    r.figure("text2img-vs-baselines", torch.cat(compare), r.n, f"all rows: “{html.escape(prompts[0])}”",
             row_labels=[f"{n}: “{prompts[0]}”" for n in names])


def _image_section(r: Report, name: str, title: str, text: str, domain: str) -> None:
    r.heading(title, text)
    t = r.translator(name)
    if t is None:
        return
    queries = derive(domain, r.images[:5])
    samples = t.sample(queries, n=r.n, seed=r.seed)
    shown = _as_shown(queries, samples)
    r.figure(name, _rows(shown, samples, r.n), r.n + 1, "first column: the query; then samples")


def _as_shown(queries: Tensor, samples: Tensor) -> Tensor:
    """Queries as they sit beside the samples: small ones (low resolution) enlarged
    block by block, grey ones beside colour samples repeated to three channels."""
    if queries.shape[-2:] != samples.shape[-2:]:
        queries = upsample(queries, samples.shape[-1])
    if queries.shape[1] != samples.shape[1]:
        queries = queries.expand(-1, samples.shape[1], -1, -1)
    return queries


def section_edges(r: Report) -> None:
    _image_section(r, "fmnist-edge2img", "Sketch → image (shape-biased edge expert → AE)",
                   "Sobel edges of test images, read by the classifier trained on edges.", "edges")
    _image_section(r, "fmnist-edge2img-plain", "Sketch → image with the plain classifier",
                   "The same edges read by the ordinary classifier (Sec. 4.1.2: a texture-biased expert "
                   "keeps less of the shape).", "edges")


def section_inpaint(r: Report) -> None:
    _image_section(r, "fmnist-inpaint", "Inpainting (classifier of the masked image → AE)",
                   "One grey box hidden per image.", "masked")


def section_superres(r: Report) -> None:
    _image_section(r, "fmnist-superres", "Super-resolution (7×7 autoencoder → 28×28 autoencoder)",
                   "The query is a 7×7 image (shown enlarged); samples agree with it when downsampled.",
                   "lowres-7")


def section_silhouette(r: Report) -> None:
    _image_section(r, "fmnist-silhouette2img", "Silhouette → image", "A garment/background mask as the query.", "silhouette")


def _into_every_class(t: Any, r: Report, start: int, stop: int) -> list[tuple[torch.Tensor, list[Any]]]:
    """For each test image ``start..stop-1``: its residual ``v`` (ten copies) and the queries of
    the ten classes with everything else the image's own (its brightness and width levels,
    where the translator reads them)."""
    from net2net.applications import attribute_columns, attribute_query, read_attributes

    names = attribute_columns(t)["class"]
    out = []
    for i in range(start, stop):
        own = read_attributes(t, r.images[i : i + 1], classes=[int(r.labels[i])])
        v = t.invert(r.images[i : i + 1], attribute_query(t, own))
        targets = attribute_query(t, {**{c: own[c] * len(names) for c in own}, "class": list(names)})
        out.append((v.expand(len(names), -1), targets))
    return out


def section_attr(r: Report) -> None:
    r.heading("Class editing and unpaired class-to-class translation",
              "y* = Λ(τ(τ⁻¹(Θ(y)|c)|c*)): each row is one test image (first column), then its edit into every "
              "class. The image's brightness and width levels (read from its pixels) and what the query does not "
              "say (pose, details) are kept.")
    t = r.translator("fmnist-attr")
    if t is None:
        return
    rows = [torch.cat([r.images[i : i + 1], t.render(v, targets, 1)]) for i, (v, targets) in enumerate(_into_every_class(t, r, 0, 4))]
    r.figure("edit", torch.cat(rows), 11, "columns after the first: " + ", ".join(CLASS_NAMES))
    r.heading("Exemplar-guided translation (Fig. 7a)",
              "The residual v of the exemplar (first column) rendered with each class query.")
    out = [torch.cat([r.images[4 + i : 5 + i], t.render(v, targets, 1)]) for i, (v, targets) in enumerate(_into_every_class(t, r, 4, 7))]
    r.figure("exemplar", torch.cat(out), 11, "first column: exemplar; then its style in every class")


def section_diagnosis(r: Report) -> None:
    r.heading("What does a classifier layer keep? (Fig. 5)",
              "τ translates each layer of the zoo classifier into the autoencoder; samples that all look like the "
              "input mean the layer keeps that much, variety shows what it discards. Rows: "
              + ", ".join(n.rsplit("-", 1)[1] for n in diagnosis_translators()) + ".")
    if not diagnosis_translators():
        r.note("<p class=missing>no diagnosis translators installed</p>")
        return
    img = r.images[0:1]
    images, layers = diagnose(img, n=r.n, seed=r.seed)
    rows = [torch.cat([img, images[i * r.n : (i + 1) * r.n]]) for i in range(len(layers))]
    r.figure("diagnosis", torch.cat(rows), r.n + 1, "first column: the input; rows shallow → deep: " + ", ".join(layers))


#: every metric of the table: (key, name in words, unit, True when higher is better)
METRICS = [
    ("nll_nats_per_dim", "held-out negative log-likelihood of the target code", "nats/dim", False),
    ("fid", "Fréchet distance to real test images (classifier fc1 space)", "FID", False),
    ("class_accuracy", "class accuracy of the samples (zoo classifier)", "fraction", True),
    ("diversity", "diversity: spread of one query's samples / spread of real images of its class", "ratio", True),
    ("edit_success", "class edits the classifier agrees with", "fraction", True),
    ("superres_psnr_downsampled_vs_input", "super-resolution consistency: downsampled output vs 7×7 query", "dB", True),
    ("inpaint_mse_outside_box", "inpainting error where the pixels were visible", "MSE", False),
]

WHY = {
    "class_accuracy": "a deterministic baseline always returns the mean image of a class, which is easy to classify, "
                      "and never draws an unusual one",
    "fid": "its mean image per query can sit near the feature mean of the real images",
    "nll_nats_per_dim": "its density fits these held-out codes better",
    "diversity": "its samples spread more",
}


def baseline_notes(metrics: dict[str, dict[str, Any]], tau: str = "fmnist-text2img",
                   baselines: tuple[str, ...] = ("fmnist-text2img-mlp", "fmnist-text2img-linear")) -> list[str]:
    """One sentence per metric on which a baseline beats τ, with the numbers and why."""
    out = []
    if tau not in metrics:
        return out
    for b in baselines:
        if b not in metrics:
            continue
        for key, words, unit, higher in METRICS:
            tv, bv = metrics[tau].get(key), metrics[b].get(key)
            if not (isinstance(tv, float) and isinstance(bv, float)) or (bv > tv) != higher or bv == tv:
                continue
            out.append(f"{b} beats τ on {words} ({bv:.3f} against {tv:.3f} {unit}): {WHY.get(key, 'see the table')}; "
                       f"its diversity is {metrics[b].get('diversity', 0.0):.3f} against τ's "
                       f"{metrics[tau].get('diversity', 0.0):.3f}.")
    return out


def section_metrics(r: Report, n_queries: int) -> None:
    from net2net.evaluate.translators import FEATURE_SPACE, evaluate_translator

    r.heading("Metrics", f"The first {n_queries} test images as queries × 4 samples each (held-out wording for "
              f"text), seed {r.seed}; FID, accuracy and diversity in the feature space of {FEATURE_SPACE}. A quick "
              f"look, not the documented figures: <code>net2net eval NAME --queries {n_queries} --samples 4</code> "
              "reproduces a row; docs/results.md uses <code>net2net eval NAME</code>'s defaults "
              "(1000 queries). ↑: higher is better, ↓: lower is better.")
    from net2net.zoo.domains import translators_of

    # the Fashion-MNIST domain's translators (the shapes have their own section), but the per-layer diagnosis ones
    names = [n for n, info in translators_of("fashion-mnist").items() if info.get("task") != "diagnose"]
    rows = []
    for name in tqdm(names, desc="evaluate", unit="translator", disable=None):
        m = evaluate_translator(r.translator(name), n_queries=n_queries, n_samples=4, seed=r.seed, n_real=1000)
        r.metrics[name] = m
        rows.append("<tr><td>" + html.escape(name) + "</td>" + "".join(
            f"<td>{m[c]:.3f}</td>" if isinstance(m.get(c), float) else "<td>–</td>" for c, *_ in METRICS) + "</tr>")
    head = "".join(f"<th title='{html.escape(w)}'>{html.escape(w)}<br><small>{html.escape(u)} {'↑' if hi else '↓'}"
                   "</small></th>" for _, w, u, hi in METRICS)
    r.note(f"<div class=scroll><table class=metrics><tr><th>translator</th>{head}</tr>{''.join(rows)}</table></div>")
    for sentence in baseline_notes(r.metrics):
        r.note(f"<p class=why>{html.escape(sentence)}</p>")
    if r.metrics:
        r.note("<p>classifier accuracy on the real query images: "
               f"{next(iter(r.metrics.values()))['classifier_accuracy_on_real']:.3f}</p>")


#: the colour domain's demo prompts: wording in neither caption template set; the first two
#: are colour-shape pairs no training image has; the last names only shape and colour.
SHAPES_PROMPTS = [
    "show me a large filled green star in the middle",
    "show me a medium-sized outlined red triangle at the top",
    "show me a small filled blue square in the bottom left corner",
    "show me a large outlined yellow circle on the right",
    "show me a medium-sized filled magenta cross at the lower right",
    "show me a small outlined white star at the upper left",
    "show me a red star",
]


def section_shapes(r: Report) -> None:
    """The colour domain: compositional text → image, single-attribute edits, unpaired style transfer."""
    from net2net.applications import edit_attributes, style_transfer
    from net2net.data.shapes import CONTENT, VOCAB
    from net2net.evaluate.shapes import ShapesTest

    r.heading("Colour: compositional shapes (Sec. 4.3, Tab. 4 and 5)",
              "The shapes data set knows every attribute of every image (shape, colour, size, position, style), so "
              "each word of a prompt and each single-attribute edit can be checked. Prompts are in wording no "
              "training caption uses; the first two ask for colour-shape pairs no training image shows. The last "
              "names only shape and colour: the translator completes it for each sample with a size, style and "
              "position drawn at random (net2net.completion), so they vary from image to image.")
    test = ShapesTest.generated(12, seed=0)
    t = r.translator("shapes-text2img")
    if t is not None:
        images = t.sample(SHAPES_PROMPTS, n=r.n, seed=r.seed)
        r.figure("shapes-text2img", images, r.n, "each row: the prompt on its left, then its samples",
                 row_labels=SHAPES_PROMPTS)
        b = r.translator("shapes-text2img-mlp")
        if b is not None:
            r.figure("shapes-text2img-vs-mlp", torch.cat([images[:r.n], b.sample(SHAPES_PROMPTS[:1], n=r.n, seed=r.seed)]),
                     r.n, f"both rows: “{html.escape(SHAPES_PROMPTS[0])}”", row_labels=["cINN τ", "MLP baseline"])
    a, st = r.translator("shapes-attr"), r.translator("shapes-style")
    if a is not None:
        src = test.rows(slice(0, 4))
        rows, labels = [], []
        for i in range(len(src)):
            changes = [{attr: VOCAB[attr][(VOCAB[attr].index(src.attrs[attr][i]) + 1) % len(VOCAB[attr])]}
                       for attr in CONTENT]
            one = src.rows([i] * len(CONTENT))
            edited = edit_attributes(a, one.images, one.attrs, changes)
            rows.append(torch.cat([src.images[i : i + 1], edited]))
            labels.append(", ".join(f"{k}={v}" for ch in changes for k, v in ch.items()))
        r.heading("Attribute editing (Tab. 4)",
                  "y* = Λ(τ(τ⁻¹(Θ(y)|a)|a*)) with a the multi-hot attributes: each row is a test image, then "
                  "four edits, each changing one attribute (shape, colour, size, position) to the next value.")
        r.figure("shapes-edit", torch.cat(rows), 1 + len(CONTENT), "first column: the test image; then its edits",
                 row_labels=labels)
    if st is not None:
        src = test.rows(slice(4, 12))
        other = [VOCAB["style"][1 - VOCAB["style"].index(v)] for v in src.attrs["style"]]
        moved = style_transfer(st, src.images, src.attrs["style"], other)
        r.heading("Unpaired style transfer (Tab. 5)",
                  "Filled and outlined images are disjoint sets; τ only ever saw (style, image) pairs. Top row: test "
                  "images; bottom row: each rendered in the other style, keeping shape, colour, size and position.")
        r.figure("shapes-style", torch.cat([src.images, moved]), len(src), "top: test images; bottom: other style")


def section_shapes_metrics(r: Report, n_queries: int) -> None:
    from net2net.data.shapes import ATTRIBUTES
    from net2net.evaluate.shapes import FEATURE_SPACE, ShapesTest, evaluate_shapes

    names = [n for n in ("shapes-text2img", "shapes-text2img-mlp", "shapes-attr", "shapes-style")
             if n in available_translators()]
    if not names:
        return
    test = ShapesTest.generated(n_queries + 300, seed=0)
    rows = []
    for name in names:
        m = evaluate_shapes(r.translator(name), n_queries=n_queries, n_samples=4, seed=r.seed, n_real=300, test=test)
        r.metrics[name] = m
        if m["task"].startswith("text2img"):
            cells = [f"{a} {m[f'accuracy_{a}_seen']:.2f} / {m[f'accuracy_{a}_heldout']:.2f}" for a in ATTRIBUTES]
            cells.append(f"diversity {m.get('diversity', 0.0):.2f}")
        elif m["task"] == "attr":
            cells = [f"edit hit {m['edit_hit']:.2f}", f"others kept {m['edit_others_kept']:.2f}"]
        else:
            cells = [f"style hit {m['style_hit']:.2f}", f"content kept {m['style_content_kept']:.2f}"]
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape('; '.join(cells))}</td></tr>")
    r.heading("Colour metrics",
              f"The first {n_queries} test images × 4 samples, judged by the attribute classifier ({FEATURE_SPACE}). "
              "Text → image: accuracy of each attribute on seen / held-out colour-shape pairs (↑). Edits and style "
              "transfer: how often the asked-for value is reached, and how often every other attribute is kept (↑). "
              f"<code>net2net eval NAME --queries {n_queries}</code> gives the same on the data set's files; "
              "docs/results.md uses 1,000 queries.")
    r.note(f"<div class=scroll><table class=metrics><tr><th>translator</th><th>figures</th></tr>{''.join(rows)}"
           "</table></div>")


SECTIONS: list[Section] = [section_text, section_edges, section_inpaint, section_superres, section_silhouette,
                           section_attr, section_diagnosis, section_shapes]

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
img{image-rendering:pixelated;max-width:100%}figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
.scroll{overflow-x:auto;max-width:100%}table.metrics{border-collapse:collapse;font-size:.8em;width:100%;table-layout:fixed}
table.metrics td,table.metrics th{border:1px solid #ccc;padding:.25em .35em;text-align:right;overflow-wrap:anywhere;
hyphens:auto}table.metrics th{font-weight:600;vertical-align:bottom}table.metrics td:first-child,
table.metrics th:first-child{text-align:left;width:14em}table.rows th.prompt{text-align:right;font-weight:normal;
font-style:italic;padding-right:.6em;max-width:16em}.why{background:#fff8e0;padding:.4em .6em}.missing{color:#a00}"""


def run_demo(out: str | os.PathLike, *, n: int = 8, seed: int = 0, n_queries: int = 100,
             metrics: bool = True) -> dict[str, Any]:
    """Runs every section into ``out``; returns the metrics (also in ``out/metrics.json``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    r = Report(out, n=n, seed=seed)
    for section in tqdm(SECTIONS, desc="demo", unit="section", disable=None):
        with torch.no_grad():
            section(r)
    if metrics:
        section_metrics(r, n_queries)
        with torch.no_grad():
            section_shapes_metrics(r, n_queries)
    seconds = time.perf_counter() - t0
    page = (f"<!doctype html><meta charset=utf-8><title>net2net demo</title><style>{STYLE}</style>"
            "<h1>net2net: network-to-network translation on Fashion-MNIST and colour shapes</h1>"
            "<p>Every image below comes from a frozen expert's decoder; only the small conditional INN τ between "
            "two experts was trained (Rombach, Esser, Ommer, NeurIPS 2020). "
            f"Seed {seed}; made in {seconds:.0f} s.</p>" + "".join(r.parts))
    atomic_write_bytes(out / "index.html", page.encode("utf-8"))
    atomic_write_json(out / "metrics.json", json.loads(json.dumps({"seconds": seconds, "translators": r.metrics})))
    return {"seconds": seconds, "translators": r.metrics, "report": str(out / "index.html")}
