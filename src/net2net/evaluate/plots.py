"""Plots where a person would rather look than read (matplotlib, headless)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from net2net.data.fashion_mnist import CLASS_NAMES  # noqa: E402
from net2net.io import atomic_write_bytes  # noqa: E402

__all__ = ["per_class_bars", "nll_curve", "diversity_bars"]


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    fig.tight_layout()
    buf = io.BytesIO()  # rendered in memory, then written atomically: a kill leaves no half a PNG
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def per_class_bars(series: dict[str, dict[str, float]], path: str | os.PathLike, title: str = "class accuracy of samples") -> Path:
    """Grouped bars: one group per class, one bar per named series."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    width = 0.8 / max(1, len(series))
    for i, (name, per_class) in enumerate(series.items()):
        xs = [k + i * width for k in range(len(CLASS_NAMES))]
        ax.bar(xs, [per_class.get(c, 0.0) for c in CLASS_NAMES], width=width, label=name)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(CLASS_NAMES))], CLASS_NAMES, rotation=30, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def nll_curve(histories: dict[str, dict], path: str | os.PathLike) -> Path:
    """Training and validation NLL (nats/dim) against steps."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, h in histories.items():
        if h.get("step"):
            ax.plot(h["step"], h["train_nll"], alpha=0.6, label=f"{name} train")
        if h.get("val_step"):
            ax.plot(h["val_step"], h["val_nll"], "o-", label=f"{name} validation")
    ax.set_xlabel("step")
    ax.set_ylabel("NLL (nats/dim)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def diversity_bars(values: dict[str, float], path: str | os.PathLike) -> Path:
    """Diversity (sample spread / real same-class spread) per translator: τ against baselines."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(list(values), list(values.values()), color=["tab:blue"] + ["tab:gray"] * (len(values) - 1))
    ax.axhline(1.0, ls="--", c="k", lw=0.8)
    ax.set_ylabel("diversity ratio")
    ax.set_title("samples per query: spread vs real")
    return _save(fig, path)
