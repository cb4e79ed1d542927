"""How well a model reasons within a token budget (docs/reasoning.md): pure functions of response rows.

Each row needs the requested budget (``target_tokens``), the produced length in the policy's tokens
(``completion_tokens``, as ``lengthwise generate`` writes it, or ``tokens``), the ``response`` and the reference
``answer``. The summary gives, overall and per budget: accuracy (math-verify) with its bootstrap interval, the mean
produced tokens, the relative error |produced − requested| / requested, the share within the budget (for "at
most" prompts), and the Spearman rank correlation between requested and produced tokens.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from lengthwise.rewards.answers import is_correct
from lengthwise.stats import mean_ci, paired_bootstrap_ci

__all__ = ["reasoning_item", "summarize_reasoning", "compare_reasoning", "spearman"]


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when either side is constant.

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40]), spearman([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    """
    if len(x) != len(y):
        raise ValueError(f"spearman needs pairs, got {len(x)} and {len(y)} values")
    if len(x) < 2:
        return None
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _produced(row: dict[str, Any]) -> int | None:
    for key in ("completion_tokens", "tokens"):
        value = row.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
            return int(value)
    return None


def reasoning_item(row: dict[str, Any]) -> dict[str, Any]:
    """One row's figures: ``{id, target, produced, correct, relative_error, within}`` (None where unknown)."""
    target = row.get("target_tokens")
    target = float(target) if isinstance(target, int | float) and not isinstance(target, bool) and target > 0 \
        else None
    produced = _produced(row)
    correct = is_correct(str(row.get("response") or ""), row.get("answer"))
    return {
        "id": row.get("id"),
        "target": target,
        "produced": produced,
        "correct": None if correct is None else bool(correct),
        "relative_error": None if target is None or produced is None else abs(produced - target) / target,
        "within": None if target is None or produced is None else produced <= target,
    }


def _block(items: list[dict[str, Any]]) -> dict[str, Any]:
    checked = [float(i["correct"]) for i in items if i["correct"] is not None]
    produced = [i["produced"] for i in items if i["produced"] is not None]
    errors = [i["relative_error"] for i in items if i["relative_error"] is not None]
    within = [float(i["within"]) for i in items if i["within"] is not None]
    return {
        "n": len(items),
        "accuracy": mean_ci(checked).as_dict(4) if checked else None,
        "mean_produced_tokens": round(float(np.mean(produced)), 2) if produced else None,
        "mean_relative_error": round(float(np.mean(errors)), 4) if errors else None,
        "within_budget": round(float(np.mean(within)), 4) if within else None,
    }


def _spearman_of(items: list[dict[str, Any]]) -> float | None:
    pairs = [(i["target"], i["produced"]) for i in items if i["target"] is not None and i["produced"] is not None]
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
    return None if rho is None else round(rho, 4)


def summarize_reasoning(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-budget figures plus the Spearman correlation of requested vs produced tokens."""
    items = [reasoning_item(r) for r in rows]
    if not items:
        raise ValueError("no response rows to summarise")
    by_budget: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for i in items:
        if i["target"] is not None:
            by_budget[i["target"]].append(i)
    return {
        **_block(items),
        "spearman_requested_produced": _spearman_of(items),
        "by_budget": {str(int(b) if float(b).is_integer() else b): _block(v) for b, v in sorted(by_budget.items())},
        "items": items,
    }


def compare_reasoning(before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Paired before/after on the same rows (matched by id): accuracy gain and relative-error change with their
    paired-bootstrap intervals, and both Spearman correlations."""
    b = {i["id"]: i for i in (reasoning_item(r) for r in before)}
    a = {i["id"]: i for i in (reasoning_item(r) for r in after)}
    common = [k for k in b if k in a]
    if not common:
        raise ValueError("before and after share no row ids")
    acc = [(float(b[k]["correct"]), float(a[k]["correct"])) for k in common
           if b[k]["correct"] is not None and a[k]["correct"] is not None]
    err = [(b[k]["relative_error"], a[k]["relative_error"]) for k in common
           if b[k]["relative_error"] is not None and a[k]["relative_error"] is not None]
    return {
        "n": len(common),
        "accuracy_gain": paired_bootstrap_ci([x for x, _ in acc], [y for _, y in acc]).as_dict(4) if acc else None,
        "relative_error_change": paired_bootstrap_ci([x for x, _ in err], [y for _, y in err]).as_dict(4)
        if err else None,
        "spearman_before": _spearman_of(list(b.values())),
        "spearman_after": _spearman_of(list(a.values())),
    }
