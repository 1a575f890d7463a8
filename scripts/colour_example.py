"""The worked colour example of docs/data.md, run and measured: writes docs/colour-example.md.

A folder of captioned colour images of three sizes (``net2net.data.tiles``: a stand-in
for your photos) goes to colour samples in three commands, each run here exactly as a
user types it (one CPU thread), and timed:

    net2net --threads 1 expert train autoencoder --dataset my-tiles --out my-ae
    net2net --threads 1 train my-tiles.json
    net2net sample runs/my-tiles/translator --prompt "a red 7 on black" -n 8 --out samples

plus a fourth pair that edits the folder's own columns (``digit``, ``fg``, ``bg``):

    net2net --threads 1 train my-tiles-attr.json
    net2net edit runs/my-tiles-attr/translator --image my-tiles/test/00000.png --from digit=5 \\
        --from fg=cyan --from bg=grey --set fg=red --out edited

Then it measures, from pixels (:func:`net2net.data.tiles.measure_colours`): the
autoencoder's held-out PSNR, τ's held-out NLL, how often samples for the test split's
captions (a phrasing no training caption uses) have the named foreground and background
colour, and how often an edit of ``fg`` gives the new colour while keeping the
background. ``--size small`` and ``--size tiny`` run the same at smaller sizes (what the tests do).

    python scripts/colour_example.py                    # ~15 CPU-minutes; writes docs/colour-example.md
    python scripts/colour_example.py --tiny --work /tmp/ex --out /tmp/ex/colour-example.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SIZES = {
    # images, test images, autoencoder epochs (None: its recipe's), τ steps, prompts measured, edits measured
    "full": {"n_train": 3000, "n_test": 300, "ae_epochs": None, "tau_steps": 3000, "prompts": 300, "edits": 120},
    "small": {"n_train": 600, "n_test": 60, "ae_epochs": 300, "tau_steps": 1000, "prompts": 60, "edits": 30},
    "tiny": {"n_train": 120, "n_test": 24, "ae_epochs": 1, "tau_steps": 40, "prompts": 24, "edits": 12},
}
PROMPT = "a red 7 on black"


def recipe(name: str, query: dict | str, cond: dict, target: str, steps: int, info: dict | None = None) -> dict:
    """A translator recipe on the folder ``my-tiles``: τ as the zoo ships it (a bare ``cinn``)."""
    def ref(name: str, split: str, **kw) -> dict:
        return {"expert": name, "dataset": "my-tiles", "split": split, **kw}

    expert = query if isinstance(query, str) else query["name"]

    return {
        "name": name,
        "data": {"source": "features", "root": "store",
                 "cond": ref(expert, "train", **cond), "target": ref(target, "train"),
                 "val_cond": ref(expert, "test", **cond), "val_target": ref(target, "test")},
        "model": {"kind": "cinn"},
        "train": {"steps": steps, "batch_size": 128, "seed": 0},
        "translator": {"query": query, "target": target, **({"info": info} if info else {})},
    }


def run(cmd: list[str], cwd: Path, log: list[dict]) -> float:
    """Runs one ``net2net`` command as a user would; returns its wall time in seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "net2net", *cmd], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NET2NET_CACHE": str(cwd / "cache")})
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"`net2net {shlex.join(cmd)}` failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    log.append({"command": "net2net " + shlex.join(cmd), "seconds": round(seconds, 1)})
    return seconds


def colours_followed(folder: Path, data: Path, n_prompts: int) -> dict:
    """Samples 4 images for each of the first ``n_prompts`` test captions; the share whose
    pixels show the named foreground / background colour (and both)."""
    import net2net
    from net2net.data.datasets import get_dataset
    from net2net.data.tiles import measure_colours

    t = net2net.load(folder)
    split = get_dataset(str(data)).load("test")
    n = min(n_prompts, len(split))
    prompts = list(split.columns["text"][:n])
    images = torch.cat([t.sample(prompts[i:i + 50], n=4, seed=i) for i in range(0, n, 50)])
    got = measure_colours(images)
    fg = [v for v in split.columns["fg"][:n] for _ in range(4)]
    bg = [v for v in split.columns["bg"][:n] for _ in range(4)]
    hit_fg = [a == b for a, b in zip(fg, got["fg"], strict=True)]
    hit_bg = [a == b for a, b in zip(bg, got["bg"], strict=True)]
    return {"prompts": n, "samples": len(fg), "fg": sum(hit_fg) / len(fg), "bg": sum(hit_bg) / len(bg),
            "both": sum(a and b for a, b in zip(hit_fg, hit_bg, strict=True)) / len(fg)}


def edits_followed(folder: Path, data: Path, n_edits: int) -> dict:
    """Edits ``fg`` of the first ``n_edits`` test images to another colour (values from the
    metadata, as ``--from`` gives them); the share whose pixels show the new ``fg`` and keep ``bg``."""
    import net2net
    from net2net.applications import edit, read_image_for
    from net2net.data.datasets import get_dataset
    from net2net.data.tiles import FG, measure_colours

    t = net2net.load(folder)
    split = get_dataset(str(data)).load("test")
    n = min(n_edits, len(split))
    names = list(FG)
    hit_fg = hit_bg = 0
    for i in range(n):
        row = {c: split.columns[c][i] for c in ("digit", "fg", "bg")}
        to = names[(names.index(row["fg"]) + 1 + i % (len(names) - 1)) % len(names)]
        image = read_image_for(t, data / split.files[i])
        out, _ = edit(t, image, [f"fg={to}"], source=[f"{k}={v}" for k, v in row.items()])
        got = measure_colours(out)
        hit_fg += got["fg"][0] == to
        hit_bg += got["bg"][0] == row["bg"]
    return {"edits": n, "fg": hit_fg / n, "bg_kept": hit_bg / n}


def shipped_nll(metrics: dict) -> float:
    """The held-out NLL of the τ a run ships (the best by default)."""
    return metrics.get("shipped", metrics)["val_nll_nats_per_dim"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="full",
                   help="full (the docs' figures), small (minutes: the slow test) or tiny (seconds: the fast test)")
    p.add_argument("--tiny", action="store_const", const="tiny", dest="size", help="the same as --size tiny")
    p.add_argument("--work", default=None, help="working folder (default: a fresh one under /tmp)")
    p.add_argument("--out", default=str(ROOT / "docs" / "colour-example.md"))
    args = p.parse_args(argv)
    size = SIZES[args.size]
    out = Path(args.out).resolve()
    work = Path(args.work or f"/tmp/net2net-colour-example-{os.getpid()}").resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    torch.set_num_threads(1)
    from net2net.data.tiles import make_tiles

    data = make_tiles(work / "my-tiles", n_train=size["n_train"], n_test=size["n_test"])
    log: list[dict] = []
    ae_cmd = ["--threads", "1", "expert", "train", "autoencoder", "--dataset", "my-tiles", "--out", "my-ae"]
    if size["ae_epochs"]:
        ae_cmd += ["--epochs", str(size["ae_epochs"])]
    run(ae_cmd, work, log)
    ae = json.loads((work / "my-ae" / "config.json").read_text())["extra"]["metrics"]

    (work / "my-tiles.json").write_text(json.dumps(
        recipe("my-tiles", "minilm", {"column": "text"}, "my-ae", size["tau_steps"]), indent=2))
    run(["--threads", "1", "train", "my-tiles.json"], work, log)
    run(["sample", "runs/my-tiles/translator", "--prompt", PROMPT, "-n", "8", "--out", "samples"], work, log)
    text = json.loads((work / "runs" / "my-tiles" / "metrics.json").read_text())

    from net2net.data.tiles import BG, FG

    names = ",".join([f"digit={d}" for d in range(10)] + [f"fg={c}" for c in FG] + [f"bg={c}" for c in BG])
    query = {"name": "multihot", "options": {"attributes": names}}
    (work / "my-tiles-attr.json").write_text(json.dumps(
        recipe("my-tiles-attr", query, {"options": query["options"], "column": "digit,fg,bg"}, "my-ae",
               size["tau_steps"], info={"task": "attr"}), indent=2))
    run(["--threads", "1", "train", "my-tiles-attr.json"], work, log)
    from net2net.data.datasets import get_dataset

    first = get_dataset(str(data)).load("test")
    src = {c: first.columns[c][0] for c in ("digit", "fg", "bg")}
    to = "red" if src["fg"] != "red" else "blue"
    edit_image = f"my-tiles/{first.files[0]}"
    run(["edit", "runs/my-tiles-attr/translator", "--image", edit_image,
         *[a for k, v in src.items() for a in ("--from", f"{k}={v}")], "--set", f"fg={to}", "--out", "edited"],
        work, log)
    attr = json.loads((work / "runs" / "my-tiles-attr" / "metrics.json").read_text())

    os.chdir(work)  # the translators name the expert folder my-ae as the user typed it
    os.environ["NET2NET_CACHE"] = str(work / "cache")
    followed = colours_followed(work / "runs" / "my-tiles" / "translator", data, size["prompts"])
    edited = edits_followed(work / "runs" / "my-tiles-attr" / "translator", data, size["edits"])
    figures = {"size": args.size, "images": size["n_train"] + size["n_test"],
               "commands": log, "psnr": ae["test"]["psnr"], "ae_seconds": ae["train_seconds"],
               "text_nll": shipped_nll(text), "attr_nll": shipped_nll(attr), "followed": followed, "edited": edited,
               "edit_image": edit_image, "edit": {**src, "to": to}}
    write_report(out, figures, work, argv)
    print(json.dumps(figures, indent=2))
    return 0


def write_report(out: Path, f: dict, work: Path, argv: list[str] | None) -> None:
    """The markdown page, and its pictures beside it (``colour-example-*.png``)."""
    from net2net.data.convert import fit_image
    from net2net.imageio import grid, load_image

    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(work / "my-ae" / "reconstructions.png", out.parent / f"{out.stem}-reconstructions.png")

    def read(path: Path) -> torch.Tensor:  # at the expert's 32x32, centre-cropped as the translator read it
        return fit_image(load_image(path, None, invert=False, channels=3)[0], 32)[None]

    samples = torch.cat([read(p) for p in sorted((work / "samples").glob("[0-9]*.png"))])  # not grid.png
    grid(samples, nrow=len(samples)).save(out.parent / f"{out.stem}-samples.png")
    source = read(work / f["edit_image"])
    edited = torch.cat([read(p) for p in sorted((work / "edited").glob("[0-9]*.png"))])
    grid(torch.cat([source, edited]), nrow=1 + len(edited)).save(out.parent / f"{out.stem}-edited.png")
    command = "python scripts/colour_example.py" + ("" if not argv else " " + shlex.join(argv))
    lines = [
        "# Worked example: a folder of colour images → your own expert → text to image",
        "",
        f"Written by `scripts/colour_example.py`; do not edit by hand. Command: `{command}` "
        f"({platform.machine()}, torch {torch.__version__}, one CPU thread, size {f['size']}).",
        "",
        f"The folder: {f['images']:,} captioned RGB images (`net2net.data.tiles`: a seven-segment digit in one of "
        "six colours on one of three backgrounds) in three sizes, 48×48, 64×40 and 33×57; the test split's "
        "captions use a phrasing no training caption uses. The commands, as run (wall time on this machine):",
        "",
        "| command | seconds |",
        "|---|---|",
        *[f"| `{c['command']}` | {c['seconds']:.0f} |" for c in f["commands"]],
        "",
        "| figure | value |",
        "|---|---|",
        f"| autoencoder, held-out PSNR at 32×32 | {f['psnr']:.2f} dB |",
        f"| autoencoder, training time | {f['ae_seconds']:.0f} s |",
        f"| text → image τ, held-out NLL | {f['text_nll']:.3f} nats/dim |",
        f"| samples with the named foreground colour ({f['followed']['samples']} samples, "
        f"{f['followed']['prompts']} held-out prompts × 4) | {f['followed']['fg']:.3f} |",
        f"| ... with the named background colour | {f['followed']['bg']:.3f} |",
        f"| ... with both | {f['followed']['both']:.3f} |",
        f"| attribute τ (digit, fg, bg), held-out NLL | {f['attr_nll']:.3f} nats/dim |",
        f"| `edit --set fg=...` on {f['edited']['edits']} test images: the new colour | {f['edited']['fg']:.3f} |",
        f"| ... background kept | {f['edited']['bg_kept']:.3f} |",
        "",
        "Colours are read from the pixels (`net2net.data.tiles.measure_colours`: the border's median names the "
        "background, the strokes' cores the foreground).",
        "",
        f"Reconstructions (test images above, the autoencoder's below): ![]({out.stem}-reconstructions.png)",
        "",
        f"Eight samples of `{PROMPT}`: ![]({out.stem}-samples.png)",
        "",
        f"The edit (`--set fg={f['edit']['to']}` on a {f['edit']['fg']} {f['edit']['digit']} on {f['edit']['bg']}: the "
        f"test image, fitted to 32×32, then the edit): ![]({out.stem}-edited.png)",
        "",
    ]
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
