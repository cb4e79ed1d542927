"""LongBench-Write length buckets and per-bucket summaries of S_l."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from statistics import mean, median
from typing import Any

__all__ = ["BUCKET_EDGES", "bucket_of", "bucket_label", "summarize_by_bucket"]

# Declared convention: half-open [0,500) [500,2000) [2000,4000) [4000,inf).
BUCKET_EDGES = (0, 500, 2000, 4000, math.inf)


def bucket_label(index: int) -> str:
    lo, hi = BUCKET_EDGES[index], BUCKET_EDGES[index + 1]
    return f"[{lo},{hi})" if math.isfinite(hi) else f"[{lo},inf)"


def bucket_of(required: float) -> str:
    """The bucket label of a required length.

    >>> bucket_of(499), bucket_of(500), bucket_of(2000), bucket_of(4000)
    ('[0,500)', '[500,2000)', '[2000,4000)', '[4000,inf)')
    """
    if required is None or not required >= 0:
        raise ValueError(f"required length must be >= 0, got {required!r}")
    for i in range(len(BUCKET_EDGES) - 1):
        if BUCKET_EDGES[i] <= required < BUCKET_EDGES[i + 1]:
            return bucket_label(i)
    raise AssertionError("unreachable: the last bucket is open")


def summarize_by_bucket(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``{bucket: {n, S_l, required_mean, produced_mean, produced_median}}`` over rows that carry
    ``required``, ``words`` and ``S_l``; buckets in ascending order, empty ones left out."""
    groups: dict[str, list[Mapping[str, Any]]] = {bucket_label(i): [] for i in range(len(BUCKET_EDGES) - 1)}
    for row in rows:
        if row.get("required") is None or row.get("S_l") is None:
            continue
        groups[bucket_of(row["required"])].append(row)
    out = {}
    for label, members in groups.items():
        if not members:
            continue
        out[label] = {
            "n": len(members),
            "S_l": mean(r["S_l"] for r in members),
            "required_mean": mean(r["required"] for r in members),
            "produced_mean": mean(r["words"] for r in members),
            "produced_median": median(r["words"] for r in members),
        }
    return out
