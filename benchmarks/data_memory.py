"""Peak memory of ``net2net extract`` on a large folder of your own images (run on demand, not a test).

    python benchmarks/data_memory.py --n 50000 --size 64 --out docs/data-memory.md

Makes a folder of ``--n`` colour PNGs of ``--size`` × ``--size`` pixels (a coloured
square on a gradient, so the files stay small) with a ``metadata.jsonl`` (``text``,
``big``), then runs, each in its own process (``net2net --threads 1``), an image
extraction with the zoo's ``shapes-ae`` (every image decoded, hashed and converted
to 32 × 32) and a column extraction (``onehot --column big``, no image opened). Peak
memory is the child's maximum resident set size (``getrusage``), with the wall time.
Writes a Markdown table to ``--out`` and the numbers beside it as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_folder(root: Path, n: int, size: int) -> None:
    root.mkdir(parents=True)
    ramp = np.linspace(0, 120, size, dtype=np.float32)
    with open(root / "metadata.jsonl", "w", encoding="utf-8") as meta:
        for i in range(n):
            rng = np.random.default_rng(i)
            a = np.empty((size, size, 3), dtype=np.uint8)
            a[...] = (ramp[:, None, None] + ramp[None, :, None] * 0.5).astype(np.uint8)
            side = int(rng.integers(size // 4, size // 2))
            top, left = (int(v) for v in rng.integers(0, size - side, 2))
            a[top:top + side, left:left + side] = rng.integers(60, 255, 3)
            Image.fromarray(a).save(root / f"{i:06d}.png")
            meta.write(json.dumps({"file_name": f"{i:06d}.png", "text": f"square {i}", "big": int(side > size // 3)}) + "\n")


def run(argv: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "net2net", "--threads", "1", *argv], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"net2net {' '.join(argv)} failed: {out.stderr.strip()}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib < before:  # ru_maxrss is the largest child so far: run the largest last
        raise SystemExit("run the commands from the smallest to the largest")
    return {"peak_mib": round(peak_kib / 1024, 1), "seconds": round(seconds, 1), "stdout": out.stdout.strip()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", default="docs/data-memory.md")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="net2net-bench-") as tmp:
        folder, store = Path(tmp) / "photos", Path(tmp) / "store"
        t = time.perf_counter()
        make_folder(folder, args.n, args.size)
        made = time.perf_counter() - t
        disk = sum(f.stat().st_size for f in folder.iterdir())
        common = ["--dataset", str(folder), "--root", str(store), "--no-progress"]
        results = {
            "column (onehot --column big)": run(["extract", "--expert", "onehot", "--column", "big", *common]),
            "images (shapes-ae)": run(["extract", "--expert", "shapes-ae", *common]),
        }
    record = {"n": args.n, "size": args.size, "folder_mib": round(disk / 2**20, 1), "make_seconds": round(made, 1),
              "python": platform.python_version(), "machine": platform.machine(), "results": results}
    lines = [
        "# Peak memory of `net2net extract` on a folder of your own images",
        "",
        f"Written by `python benchmarks/data_memory.py --n {args.n} --size {args.size} --out {args.out}` "
        "(not a test; run on demand).",
        "",
        f"Folder: {args.n} PNGs of {args.size}×{args.size} RGB ({record['folder_mib']} MiB on disk) with a "
        "`metadata.jsonl`. Each command runs in its own process, `net2net --threads 1`; peak memory is its "
        "maximum resident set size.",
        "",
        "| extraction | peak memory (MiB) | wall time (s) |",
        "|---|---:|---:|",
        *[f"| {k} | {v['peak_mib']} | {v['seconds']} |" for k, v in results.items()],
        "",
        "The image extraction hashes every file once (the pre-scan that keys the entry), then decodes, checks",
        "and encodes the images a chunk at a time; the column extraction reads `metadata.jsonl` only.",
        "",
    ]
    out = Path(args.out)
    out.write_text("\n".join(lines), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return record


if __name__ == "__main__":
    main()
