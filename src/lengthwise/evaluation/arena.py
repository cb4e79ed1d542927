"""Arena-Write-style pairwise evaluation: every pair of systems on every shared prompt, judged in
both orders, rated with a Bradley–Terry fit and bootstrap intervals (docs/reference.md §5).

A comparison's outcome (from a ``judging.pairwise`` judge) is the first-shown response's share of
the win. The two orders are averaged per (prompt, pair), so a split
verdict (position bias) counts 0.5 each, and the order in which systems are given cannot matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Comparison", "fit_bradley_terry", "leaderboard", "combine_orders", "ELO_SCALE"]

ELO_SCALE = 400 / math.log(10)


@dataclass
class Comparison:
    """System ``i`` against system ``j`` on one prompt; ``score`` is ``i``'s share of the win."""

    prompt: str
    i: str
    j: str
    score: float


def fit_bradley_terry(comparisons: Sequence[Comparison], systems: Sequence[str], anchor: str | None = None,
                      l2: float = 1e-4) -> dict[str, float]:
    """Bradley–Terry ratings on the Elo scale: maximise Σ s·log σ(θ_i − θ_j) + (1 − s)·log σ(θ_j − θ_i)
    (``s`` fractional for ties and probabilities), with a tiny L2 penalty ``l2·Σθ²`` that keeps
    ratings finite when a system wins every comparison. Rating = 1000 + (θ − θ_anchor)·400/ln 10;
    the anchor defaults to the first system."""
    from scipy.optimize import minimize

    index = {s: k for k, s in enumerate(systems)}
    if not comparisons:
        return {s: 1000.0 for s in systems}
    ii = np.array([index[c.i] for c in comparisons])
    jj = np.array([index[c.j] for c in comparisons])
    ss = np.array([c.score for c in comparisons], dtype=float)
    n = len(systems)

    def objective(theta):
        d = theta[ii] - theta[jj]
        # log σ(d) = −log(1 + e^{−d}), computed stably with logaddexp
        ll = -(ss * np.logaddexp(0.0, -d) + (1 - ss) * np.logaddexp(0.0, d)).sum()
        p = 1 / (1 + np.exp(-d))
        grad_d = ss - p
        grad = np.zeros(n)
        np.add.at(grad, ii, grad_d)
        np.add.at(grad, jj, -grad_d)
        return -ll + l2 * len(ss) * (theta @ theta), -grad + 2 * l2 * len(ss) * theta

    result = minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B")
    theta = result.x
    base = theta[index[anchor]] if anchor is not None else theta[0]
    return {s: float(1000 + (theta[index[s]] - base) * ELO_SCALE) for s in systems}


def leaderboard(comparisons: Sequence[Comparison], systems: Sequence[str], anchor: str | None = None,
                n_bootstrap: int = 200, seed: int = 0, confidence: float = 0.95) -> list[dict[str, Any]]:
    """Ratings with bootstrap intervals (prompts resampled with replacement, ratings refit each
    time), win rates and comparison counts, best first."""
    ratings = fit_bradley_terry(comparisons, systems, anchor)
    by_prompt: dict[str, list[Comparison]] = {}
    for c in comparisons:
        by_prompt.setdefault(c.prompt, []).append(c)
    prompts = sorted(by_prompt)
    rng = np.random.default_rng(seed)
    samples = {s: [] for s in systems}
    for _ in range(n_bootstrap if prompts else 0):
        chosen = rng.integers(0, len(prompts), len(prompts))
        boot = [c for k in chosen for c in by_prompt[prompts[k]]]
        for s, r in fit_bradley_terry(boot, systems, anchor).items():
            samples[s].append(r)
    tail = (1 - confidence) / 2 * 100
    rows = []
    for s in systems:
        wins = [c.score for c in comparisons if c.i == s] + [1 - c.score for c in comparisons if c.j == s]
        low, high = (np.percentile(samples[s], [tail, 100 - tail]) if samples[s] else (ratings[s], ratings[s]))
        rows.append({"system": s, "rating": round(ratings[s], 2), "low": round(float(low), 2),
                     "high": round(float(high), 2), "win_rate": round(float(np.mean(wins)), 4) if wins else None,
                     "comparisons": len(wins)})
    return sorted(rows, key=lambda r: -r["rating"])


def combine_orders(first: Mapping[tuple[str, str, str], float]) -> list[Comparison]:
    """Average each (prompt, i, j) outcome with its swapped order (j, i) into one comparison of i
    against j; a missing order (failed judge) leaves the other alone."""
    out = []
    seen = set()
    for (prompt, i, j), _s in first.items():
        key = (prompt, *sorted((i, j)))
        if key in seen:
            continue
        seen.add(key)
        a, b = key[1], key[2]
        scores = []
        if (prompt, a, b) in first:
            scores.append(first[(prompt, a, b)])
        if (prompt, b, a) in first:
            scores.append(1 - first[(prompt, b, a)])
        out.append(Comparison(prompt, a, b, float(np.mean(scores))))
    return out
