"""Matplotlib figures shared by the demo, eval and reports (PNG files, Agg backend, no display)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_required_vs_produced", "plot_training_curves", "plot_bars", "plot_leaderboard", "plot_budget_scatter",
           "plot_grouped_bars", "plot_reasoning_curves", "plot_preset_lengths", "plot_gain_curve"]

# S_l >= 80 holds for produced y in [x/1.4, 1.6x]: 1 - (x/y - 1)/2 = 0.8 and 1 - (y/x - 1)/3 = 0.8.
_SL80_LOW, _SL80_HIGH = 1 / 1.4, 1.6


def _save(fig, path: Path) -> Path:
    """Lay out, write and release a figure (pyplot keeps every open figure alive otherwise)."""
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


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
    return _save(fig, path)


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
    return _save(fig, path)


def plot_bars(values: Mapping[str, float | None], path: str | os.PathLike, title: str, ylabel: str,
              ymax: float | None = 100.0, reference: float | None = None) -> Path:
    """One bar per key (``None`` values are drawn empty and labelled n/a), with an optional
    horizontal reference line (e.g. S_l = 80)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = list(values) or ["(none)"]
    heights = [values.get(k) or 0.0 for k in labels] if values else [0.0]
    fig, ax = plt.subplots(figsize=(max(4.8, 0.9 * len(labels) + 2), 3.8), dpi=110)
    bars = ax.bar(range(len(labels)), heights, color="#2f6fd6", alpha=0.85)
    for bar, key in zip(bars, labels, strict=True):
        v = values.get(key) if values else None
        ax.annotate("n/a" if v is None else f"{v:.1f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    if reference is not None:
        ax.axhline(reference, color="#2ca02c", ls="--", lw=1)
    ax.set_xticks(
        range(len(labels)), labels, rotation=20 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center"
    )
    if ymax is not None:
        ax.set_ylim(0, ymax * 1.08)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def plot_leaderboard(
    rows: Sequence[Mapping[str, float]], path: str | os.PathLike, title: str = "Arena ratings"
) -> Path:
    """Horizontal rating bars with their bootstrap intervals; ``rows``: ``{system, rating, low, high}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["rating"])
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 1.6), dpi=110)
    ys = range(len(rows))
    ratings = [r["rating"] for r in rows]
    err = [[r["rating"] - r["low"] for r in rows], [r["high"] - r["rating"] for r in rows]]
    ax.errorbar(ratings, list(ys), xerr=err, fmt="o", color="#2f6fd6", ecolor="#667085", capsize=4)
    ax.set_yticks(list(ys), [str(r["system"]) for r in rows])
    ax.axvline(1000, color="#999", lw=0.8, ls=":")
    ax.set_xlabel("rating (Bradley–Terry, 95% bootstrap interval)")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def plot_budget_scatter(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | os.PathLike,
                        title: str = "Requested vs produced reasoning tokens") -> Path:
    """Produced against requested tokens, one colour per series (x spread a little around each budget so
    the points of one budget do not hide each other), the mean per budget as a line, and y = x."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=110)
    budgets = sorted({x for xs, _ in series.values() for x in xs}) or [1.0]
    rng = np.random.default_rng(0)
    offsets = np.linspace(-0.06, 0.06, max(1, len(series)))
    for k, (name, (xs, ys)) in enumerate(series.items()):
        spread = np.exp(rng.uniform(-0.04, 0.04, len(xs)) + offsets[k])
        dots = ax.scatter(np.asarray(xs, float) * spread, [max(1.0, y) for y in ys], s=16, alpha=0.45, label=name)
        means = [float(np.mean([y for x, y in zip(xs, ys, strict=True) if x == b] or [np.nan])) for b in budgets]
        ax.plot(budgets, means, color=dots.get_facecolor()[0][:3], lw=2, marker="o", label=f"{name}: mean")
    lo, hi = min(budgets) / 1.6, max(budgets) * 1.8
    ax.plot([lo, hi], [lo, hi], color="#2ca02c", lw=1.2, ls="--", label="requested (y = x)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xticks(budgets, [str(int(b)) for b in budgets])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("requested tokens (budget)")
    ax.set_ylabel("produced tokens")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_grouped_bars(groups: Mapping[str, Mapping[str, tuple[float, float, float] | None]], path: str | os.PathLike,
                      title: str, ylabel: str, ymax: float | None = 100.0) -> Path:
    """Bars per category (``groups[series][category] = (mean, low, high)``), one colour per series, with the
    interval as an error bar; ``None`` leaves a gap."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    categories = list(dict.fromkeys(c for values in groups.values() for c in values))
    fig, ax = plt.subplots(figsize=(max(4.8, 1.2 * len(categories) + 2), 3.8), dpi=110)
    width = 0.8 / max(1, len(groups))
    for k, (name, values) in enumerate(groups.items()):
        xs = np.arange(len(categories)) + (k - (len(groups) - 1) / 2) * width
        cells = [values.get(c) for c in categories]
        heights = [c[0] if c else 0.0 for c in cells]
        err = [[c[0] - c[1] if c else 0.0 for c in cells], [c[2] - c[0] if c else 0.0 for c in cells]]
        ax.bar(xs, heights, width, yerr=err, capsize=3, alpha=0.85, label=name)
    ax.set_xticks(range(len(categories)), categories)
    if ymax is not None:
        ax.set_ylim(0, ymax * 1.08)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_reasoning_curves(rows, path: str | os.PathLike, title: str = "Reasoning within a budget: training") -> Path:
    """Three panels from ``metrics.jsonl`` rows: produced tokens (mean, and of the completions that ended), the
    reward components' means, and truncation / clip fractions by advantage sign."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    steps = [r["step"] for r in rows]

    def series(ax, keys, labels):
        for key, label in zip(keys, labels, strict=True):
            pts = [(s, r.get(key)) for s, r in zip(steps, rows, strict=True) if r.get(key) is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=label)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=7)

    series(axes[0], ["completions/mean_length", "completions/mean_terminated_length"], ["mean", "ended by EOS"])
    axes[0].set_title("produced tokens")
    reward_keys = sorted({k for r in rows for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    series(axes[1], ["reward", *reward_keys], ["reward (weighted)", *[k.split("/")[1] for k in reward_keys]])
    axes[1].set_title("rewards (mean)")
    series(axes[2], ["completions/clipped_ratio", "clip_ratio/low_mean", "clip_ratio/high_mean"],
           ["truncated", "clipped, negative advantage", "clipped, positive advantage"])
    axes[2].set_title("truncation and clipping")
    fig.suptitle(title)
    return _save(fig, path)


def plot_preset_lengths(runs: Mapping[str, Sequence[Mapping[str, float | None]]], path: str | os.PathLike,
                        title: str = "Response length per step by loss preset") -> Path:
    """Mean completion tokens per step for each preset, and the clip fractions by advantage sign."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=100)
    for k, (preset, rows) in enumerate(runs.items()):
        colour = f"C{k}"
        pts = [(r["step"], r["mean_length"]) for r in rows if r.get("mean_length") is not None]
        axes[0].plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colour, label=preset)
        for key, style, sign in (("clipped_negative", "--", "A<0"), ("clipped_positive", "-", "A>0")):
            pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
            axes[1].plot([p[0] for p in pts], [p[1] for p in pts], ls=style, marker=".", color=colour,
                         label=f"{preset} {sign}")
    axes[0].set_title("mean completion tokens")
    axes[1].set_title("clipped token fraction by advantage sign")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def plot_gain_curve(series: Mapping[str, Sequence[tuple[float, float, float, float]]], path: str | os.PathLike,
                    goal: float | None = None, title: str = "Held-out S_l gain by training time") -> Path:
    """Gain against training minutes, one line per series of ``(minutes, mean, low, high)`` points (the
    interval as error bars), and the goal as a dashed line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for name, points in series.items():
        points = sorted(points)
        xs = [p[0] for p in points]
        means = [p[1] for p in points]
        errors = [[p[1] - p[2] for p in points], [p[3] - p[1] for p in points]]
        ax.errorbar(xs, means, yerr=errors, marker="o", capsize=4, lw=1.8, label=name,
                    ls="-" if len(points) > 1 else "none")
    if goal is not None:
        ax.axhline(goal, color="#2ca02c", ls="--", lw=1.2, label=f"goal (+{goal:g})")
    ax.axhline(0.0, color="#888888", lw=0.8)
    ax.set_xlabel("training minutes (everything between the two measurements)")
    ax.set_ylabel("S_l gain over the untrained model (95% CI)")
    ax.set_title(title)
    ax.grid(True, alpha=0.25)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)
