"""LongBench-Write length buckets and per-bucket summaries of S_l."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from statistics import mean, median
from typing import Any

__all__ = ["BUCKET_EDGES", "bucket_of", "bucket_label", "bucket_sort_key", "group_by_bucket", "summarize_by_bucket"]

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


def bucket_sort_key(label: str) -> float:
    """Sort key of a bucket label: its lower edge (``"[500,2000)"`` → 500)."""
    return float(label[1:].split(",")[0])


def group_by_bucket(rows: Iterable[Any], required: Callable[[Any], float | None]) -> dict[str, list[Any]]:
    """``rows`` grouped by the bucket of ``required(row)`` (rows without a required length are left
    out), buckets in ascending order, empty ones left out."""
    groups: dict[str, list[Any]] = {}
    for row in rows:
        value = required(row)
        if value:
            groups.setdefault(bucket_of(value), []).append(row)
    return {label: groups[label] for label in sorted(groups, key=bucket_sort_key)}


def summarize_by_bucket(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``{bucket: {n, S_l, required_mean, produced_mean, produced_median}}`` over rows that carry
    ``required``, ``words`` and ``S_l``; buckets in ascending order, empty ones left out."""
    groups = group_by_bucket((r for r in rows if r.get("S_l") is not None), lambda r: r.get("required"))
    out = {}
    for label, members in groups.items():
        out[label] = {
            "n": len(members),
            "S_l": mean(r["S_l"] for r in members),
            "required_mean": mean(r["required"] for r in members),
            "produced_mean": mean(r["words"] for r in members),
            "produced_median": median(r["words"] for r in members),
        }
    return out
