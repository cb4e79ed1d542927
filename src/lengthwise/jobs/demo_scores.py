"""What the writing demo reports for each measured model: its scores, the paired gain between two
measurements, and the per-target table the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean
from typing import Any

from lengthwise.buckets import summarize_by_bucket

__all__ = ["PhaseScores", "gain_intervals", "demo_table_rows"]


@dataclass
class PhaseScores:
    name: str
    rows: list[dict[str, Any]]
    by_bucket: dict[str, dict[str, float]]
    mean_S_l: float
    mean_words: float
    mean_S_c: float | None = None

    @classmethod
    def of(cls, name: str, rows: list[dict[str, Any]]) -> PhaseScores:
        scored = [r for r in rows if r.get("S_l") is not None]
        typed = [r["S_c"] for r in rows if r.get("S_c") is not None]
        return cls(name, rows, summarize_by_bucket(rows),
                   mean(r["S_l"] for r in scored) if scored else 0.0,
                   mean(r["words"] for r in rows) if rows else 0.0,
                   mean(typed) if typed else None)

    def as_dict(self) -> dict[str, Any]:
        return {"n": len(self.rows), "S_l": round(self.mean_S_l, 2),
                "S_c": None if self.mean_S_c is None else round(self.mean_S_c, 2),
                "words_mean": round(self.mean_words, 1), "by_bucket": self.by_bucket}


def gain_intervals(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """The S_l gain after − before over the prompts both phases scored, with its paired-bootstrap 95%
    interval (docs/reference.md §7), overall and per requested length."""
    from lengthwise.stats import paired_bootstrap_ci

    scored = {r["id"]: r for r in before if r.get("S_l") is not None}
    pairs = [(scored[r["id"]], r) for r in after if r.get("S_l") is not None and r["id"] in scored]
    if not pairs:
        return {}
    out: dict[str, Any] = {
        "S_l": paired_bootstrap_ci([b["S_l"] for b, _ in pairs], [a["S_l"] for _, a in pairs]).as_dict()
    }
    by_target: dict[str, Any] = {}
    for target in sorted({b.get("required") for b, _ in pairs if b.get("required") is not None}):
        group = [(b, a) for b, a in pairs if b.get("required") == target]
        key = str(int(target)) if float(target).is_integer() else str(target)
        by_target[key] = paired_bootstrap_ci([b["S_l"] for b, _ in group], [a["S_l"] for _, a in group]).as_dict()
    out["S_l_by_target"] = by_target
    return out


def demo_table_rows(result) -> list[list[str]]:
    """Rows of the per-target before/after table the CLI prints: required, n, words, S_l."""
    from lengthwise.evaluation.report import by_target_table

    systems = {"before": result.before.rows}
    if result.after:
        systems["after"] = result.after.rows
    table = by_target_table("", systems)
    rows = []
    for line in table.rows:
        required, n, *cells = (str(c) for c in line)
        before_words, before_sl = cells[0], cells[1]
        after_words, after_sl = (cells[2], cells[3]) if result.after else ("-", "-")
        rows.append([required, n, before_words, after_words, before_sl, after_sl])
    return rows
