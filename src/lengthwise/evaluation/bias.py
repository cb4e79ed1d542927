"""Length bias of each loss aggregation, measured with autograd (``lengthwise bias``).

One on-policy batch holds one sequence per (length, advantage sign). For every preset we take the
gradient of the reference loss with respect to each token's log-probability: the per-token weight,
and its sum over the sequence (the sequence's total push). A length-unbiased aggregation gives a
sequence a total push proportional to its length (every token counts the same); GRPO and GSPO give
every sequence the same total, so each token of a long sequence counts less.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lengthwise.losses import PRESETS, LossSettings, get_preset, policy_loss

__all__ = ["DEFAULT_LENGTHS", "gradient_weights", "plot_bias"]

DEFAULT_LENGTHS = (16, 32, 64, 128, 256, 512, 1024)


def gradient_weights(preset: str, lengths: Sequence[int] = DEFAULT_LENGTHS) -> list[dict[str, Any]]:
    """Rows ``{preset, length, sign, per_token, per_sequence, per_sequence_ratio}``; the ratio is the
    sequence total relative to the shortest sequence of the same sign."""
    p = get_preset(preset)
    lengths = sorted(int(n) for n in lengths)
    width = max(lengths)
    rows_spec = [(n, s) for s in (+1.0, -1.0) for n in lengths]
    mask = torch.zeros(len(rows_spec), width)
    for i, (n, _) in enumerate(rows_spec):
        mask[i, :n] = 1
    adv = torch.tensor([s for _, s in rows_spec])
    logp = torch.zeros(len(rows_spec), width, requires_grad=True)
    settings = LossSettings(p.loss.epsilon, p.loss.epsilon_high, max_completion_length=width)
    loss, _ = policy_loss(preset, logp, logp.detach(), adv, mask, settings)
    (grad,) = torch.autograd.grad(loss, logp)
    out = []
    base: dict[float, float] = {}
    for i, (n, s) in enumerate(rows_spec):
        total = float(grad[i].sum())
        base.setdefault(s, total)
        out.append({"preset": preset, "length": n, "sign": "+" if s > 0 else "-", "per_token": float(grad[i, 0]),
                    "per_sequence": total, "per_sequence_ratio": total / base[s] if base[s] else float("nan")})
    return out


def plot_bias(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Log-log plot of |per-sequence gradient| against length for positive advantages, one line per preset."""
    from lengthwise.evaluation.plots import plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    for preset in PRESETS:
        pts = [r for r in rows if r["preset"] == preset and r["sign"] == "+"]
        if not pts:
            continue
        xs = [r["length"] for r in pts]
        axes[0].plot(xs, [abs(r["per_sequence"]) for r in pts], marker="o", label=preset)
        axes[1].plot(xs, [abs(r["per_token"]) for r in pts], marker="o", label=preset)
    for ax, title in zip(axes, ("per-sequence total |∂L/∂log π|", "per-token |∂L/∂log π|"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Length weighting of each loss aggregation (one batch, advantage +1)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
