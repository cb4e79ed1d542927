"""Matplotlib figures shared by the demo, eval and reports (PNG files, Agg backend, no display)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_required_vs_produced", "plot_training_curves"]

# S_l >= 80 holds for produced y in [x/1.4, 1.6x]: 1 - (x/y - 1)/2 = 0.8 and 1 - (y/x - 1)/3 = 0.8.
_SL80_LOW, _SL80_HIGH = 1 / 1.4, 1.6


def plot_required_vs_produced(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | os.PathLike,
    title: str = "Required vs produced length",
    unit: str = "words",
) -> Path:
    """Log-log scatter of produced against required length, one colour per series, with the ideal
    line y = x and the band where S_l >= 80. Zero lengths are drawn at 1 so they stay visible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=110)
    all_x = [x for xs, _ in series.values() for x in xs] or [1]
    lo, hi = max(1.0, min(all_x) / 2), max(all_x) * 3
    grid = [lo * (hi / lo) ** (k / 100) for k in range(101)]
    ax.fill_between(grid, [g * _SL80_LOW for g in grid], [g * _SL80_HIGH for g in grid], color="#2ca02c",
                    alpha=0.12, label="S_l ≥ 80")
    ax.plot(grid, grid, color="#2ca02c", lw=1.2, ls="--", label="ideal (y = x)")
    markers = "osD^v<>"
    for k, (name, (xs, ys)) in enumerate(series.items()):
        ax.scatter(xs, [max(1.0, y) for y in ys], s=28, alpha=0.8, marker=markers[k % len(markers)], label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"required length ({unit})")
    ax.set_ylabel(f"produced length ({unit})")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_training_curves(rows, path: str | os.PathLike, title: str = "Length dynamics during training") -> Path:
    """Four panels from ``metrics.jsonl`` rows: produced words (mean, median), mean S_l and S_l by
    bucket, each reward component's mean, and truncation / clip fractions by advantage sign."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), dpi=100)
    steps = [r["step"] for r in rows]

    def series(ax, keys, labels=None):
        for k, key in enumerate(keys):
            ys = [r.get(key) for r in rows]
            pts = [(s, y) for s, y in zip(steps, ys, strict=True) if y is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=(labels or keys)[k])
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=7)

    keys = sorted({k for r in rows for k in r})
    series(axes[0, 0], ["length/words_mean", "length/words_median"], ["mean words", "median words"])
    axes[0, 0].set_title("produced length (words)")
    sl_keys = ["length/S_l_mean"] + [k for k in keys if k.startswith("length/S_l/")]
    series(axes[0, 1], sl_keys, ["mean S_l"] + [k.split("/")[-1] for k in sl_keys[1:]])
    axes[0, 1].set_title("S_l (overall and by target bucket)")
    reward_keys = [k for k in keys if k.startswith("rewards/") and k.endswith("/mean")]
    series(axes[1, 0], reward_keys, [k.split("/")[1] for k in reward_keys])
    axes[1, 0].set_title("reward components (mean)")
    series(axes[1, 1], ["completions/clipped_ratio", "clip_ratio/low_mean", "clip_ratio/high_mean"],
           ["truncated completions", "clipped, negative advantage", "clipped, positive advantage"])
    axes[1, 1].set_title("truncation and clipping")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
