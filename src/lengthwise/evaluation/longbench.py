"""LongBench-Write scoring as pure functions: one item's row, and the summary over items (S_l, S_c,
S_q, S̄ = (S_l + S_q)/2, by bucket and by type). Formulas: docs/reference.md §2 and §6.

Items whose required length is neither in ``length`` nor stated in the prompt are kept and
reported apart (``n_unscored``); they are never scored as zero. Judge failures are counted by
reason and excluded from S_q explicitly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import mean
from typing import Any

from lengthwise.buckets import bucket_of, group_by_bucket
from lengthwise.judging.rubric import DIMENSIONS, Verdict
from lengthwise.records import ResponseRecord, row_constraint
from lengthwise.rewards.format import check_think_answer
from lengthwise.rewards.hack_audit import AUDIT_NAMES, HackAudit
from lengthwise.rewards.length import length_score, score_constraint
from lengthwise.text import count_words

__all__ = ["constraint_score", "format_check", "item_row", "summarize_items"]

_HAS_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def constraint_score(prompt: str, required: float | None, words: float) -> tuple[float | None, str | None]:
    """S_c of an answer of ``words`` counted words to a row asking for ``required`` (docs/reference.md
    §6), and the constraint kind it read; ``(None, None)`` when no length is required or its unit does
    not convert to counted words."""
    if not required:
        return None, None
    c = row_constraint(prompt, required)
    return (score_constraint(c, words), c.kind) if c is not None else (None, None)


def format_check(response: str) -> dict[str, Any]:
    """Malformed = empty, or think/answer tags used but not in the documented grammar."""
    if not response.strip():
        return {"ok": False, "problems": ["empty"]}
    if any(tag in response for tag in _HAS_TAGS):
        check = check_think_answer(response)
        return {"ok": check.ok, "problems": check.problems}
    return {"ok": True, "problems": []}


def item_row(record: ResponseRecord, audit: HackAudit, counter: str = "longbench", max_spans: int = 20,
             verdict: Verdict | None = None) -> dict[str, Any]:
    """One ``items.jsonl`` row: lengths, S_l, S_c, bucket, audit columns and (with a judge) S_q."""
    answer = record.answer_part
    words = count_words(answer, counter)
    required = record.required
    detections = audit(record.prompt, answer)
    s_c, kind = constraint_score(record.prompt, required, words)
    out: dict[str, Any] = {
        "id": record.id, "type": record.type, "model": record.model, "counter": counter,
        "required": required, "required_from": record.required_from, "words": words,
        "S_l": length_score(required=required, produced=words) if required else None,
        "S_c": s_c, "constraint_kind": kind,
        "bucket": bucket_of(required) if required else None,
        "format": format_check(record.response),
        "audit": {name: det.as_dict(max_spans=max_spans) for name, det in detections.items()},
        "flags": sorted(name for name, det in detections.items() if det.flagged),
    }
    if not out["format"]["ok"]:
        out["flags"].append("malformed")
    if verdict is not None:
        out.update(judge_scores=verdict.scores, S_q=verdict.S_q, judge_error=verdict.error,
                   judge_attempts=verdict.attempts)
        if not verdict.ok:
            out["judge_raw"] = verdict.raw  # the reply that could not be read, for diagnosis
        if out["S_l"] is not None and out["S_q"] is not None:
            out["S"] = (out["S_l"] + out["S_q"]) / 2
    return out


def _group_summary(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    sl = [i["S_l"] for i in items if i.get("S_l") is not None]
    sc = [i["S_c"] for i in items if i.get("S_c") is not None]
    sq = [i["S_q"] for i in items if i.get("S_q") is not None]
    s_l, s_q = (mean(sl) if sl else None), (mean(sq) if sq else None)
    return {"n": len(items), "n_scored": len(sl), "S_l": s_l, "S_c": mean(sc) if sc else None, "S_q": s_q,
            "S": (s_l + s_q) / 2 if s_l is not None and s_q is not None else None,
            "words_mean": mean(i["words"] for i in items) if items else None}


def summarize_items(items: Sequence[dict[str, Any]], judged: bool) -> dict[str, Any]:
    """``summary.json``: overall, ``by_bucket`` (LongBench edges 500/2000/4000), ``by_type``, judge
    failures by reason, audit flag counts. S̄ = (S_l + S_q)/2 of the means (docs/reference.md §2)."""
    summary = _group_summary(items)
    summary["n_unscored"] = summary["n"] - summary["n_scored"]
    buckets = group_by_bucket(items, lambda i: i.get("required"))
    summary["by_bucket"] = {b: _group_summary(group) for b, group in buckets.items()}
    types: dict[str, list[dict[str, Any]]] = {}
    for i in items:
        types.setdefault(str(i.get("type") or "untyped"), []).append(i)
    summary["by_type"] = {t: _group_summary(v) for t, v in sorted(types.items())}
    failures = Counter(i["judge_error"] for i in items if i.get("judge_error"))
    summary["judge_failures"] = {"count": sum(failures.values()), "by_reason": dict(failures)} if judged else None
    if judged:
        dims = [i["judge_scores"] for i in items if i.get("judge_scores")]
        summary["S_q_by_dimension"] = {d: (mean(s[d] for s in dims) - 1) * 25 for d in DIMENSIONS} if dims else {}
    summary["flagged"] = {name: sum(name in i["flags"] for i in items) for name in (*AUDIT_NAMES, "malformed")}
    summary["counter"] = items[0]["counter"] if items else None
    return summary
