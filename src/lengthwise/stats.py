"""Confidence intervals for comparing two models on the same prompts (docs/reference.md §7), and for a rate
counted over a few texts (``proportion_ci``, §7).

Pure: numpy only. A before/after comparison is paired — the same prompt, seed and decoding for both
models — so its uncertainty comes from the per-prompt differences d_i = after_i − before_i. The
paired bootstrap resamples prompts (the d_i) with replacement and takes percentiles of the resampled
mean; with few prompts the resamples are enumerated exactly, so small cases are hand-checkable.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "paired_bootstrap_ci", "mean_ci", "proportion_ci"]

# n^n resamples are enumerated exactly up to this many prompts (7^7 = 823,543); above, sampled.
EXACT_UP_TO = 7


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval: ``mean`` in [``low``, ``high``] at ``confidence``."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self, digits: int = 2) -> dict[str, float]:
        return {"mean": round(self.mean, digits), "low": round(self.low, digits), "high": round(self.high, digits),
                "n": self.n, "confidence": self.confidence}


def _resampled_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    n = len(values)
    if n <= EXACT_UP_TO:
        # every resample of n indices, each equally likely: the exact bootstrap distribution
        return np.array([values[list(idx)].mean() for idx in itertools.product(range(n), repeat=n)])
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, 1000):  # bounded memory for large n
        stop = min(n_resamples, start + 1000)
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means


def mean_ci(values: Sequence[float], confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0) -> Interval:
    """The mean of ``values`` with its percentile-bootstrap interval.

    >>> mean_ci([0, 0, 3]).as_dict()
    {'mean': 1.0, 'low': 0.0, 'high': 2.35, 'n': 3, 'confidence': 0.95}
    """
    data = np.asarray([float(v) for v in values], dtype=float)
    if len(data) == 0:
        raise ValueError("no values to summarise")
    if not np.all(np.isfinite(data)):
        raise ValueError("values must be finite")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    means = _resampled_means(data, n_resamples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(data.mean()), float(low), float(high), len(data), confidence)


def paired_bootstrap_ci(before: Sequence[float], after: Sequence[float], confidence: float = 0.95,
                        n_resamples: int = 10_000, seed: int = 0) -> Interval:
    """The mean gain ``after − before`` over paired items, with its paired-bootstrap interval.

    >>> paired_bootstrap_ci([50, 60, 70], [50, 60, 73]).as_dict()
    {'mean': 1.0, 'low': 0.0, 'high': 2.35, 'n': 3, 'confidence': 0.95}
    """
    if len(before) != len(after):
        raise ValueError(f"paired scores differ in number: {len(before)} before, {len(after)} after")
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    if any(not math.isfinite(d) for d in diffs):
        raise ValueError("scores must be finite")
    return mean_ci(diffs, confidence, n_resamples, seed)


def proportion_ci(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a rate ``successes / n`` (docs/reference.md §7): unlike the normal
    approximation it stays inside [0, 1] and is not a point at 0 or n, which matters for a false-positive
    rate counted on 19–48 texts.

    >>> i = proportion_ci(3, 48)
    >>> round(i.mean, 4), round(i.low, 4), round(i.high, 4)
    (0.0625, 0.0215, 0.1684)
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    scale = 1 + z * z / n
    center = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at k = 0 and k = n the bounds are exactly 0 and 1 (floating point lands a hair inside)
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return Interval(p, low, high, n, confidence)
