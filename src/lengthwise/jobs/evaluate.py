"""``lengthwise eval``: LongBench-Write scoring of a responses JSONL (S_l, optional judged S_q, S̄),
with the hacking-audit columns, a summary by bucket and type, and the HTML report.

Build → run → report. Per-item rows are appended to ``OUT/items.jsonl`` as they are finished and
keyed by id, and judge verdicts are cached in ``OUT/judge_cache.jsonl``: rerunning the same command
after a crash redoes only what is missing. Items whose required length is neither in ``length`` nor
stated in the prompt are kept and reported apart (``n_unscored``); they are never scored as zero.
Judge failures are counted by reason and excluded from S_q explicitly.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from tqdm.auto import tqdm

from lengthwise.constraints import parse_length
from lengthwise.evaluation.buckets import bucket_of
from lengthwise.evaluation.judge import DIMENSIONS, Verdict, judge_with_cache
from lengthwise.io import ResumableJsonl, atomic_write_json, check_output, keyed_rows, read_jsonl
from lengthwise.jobs.score import check_response_row
from lengthwise.manifest import check_run
from lengthwise.records import required_length
from lengthwise.rewards.components import HackAudit, constraint_score
from lengthwise.rewards.format import check_think_answer
from lengthwise.rewards.length import length_score
from lengthwise.text import count_words, extract_answer, get_counter

__all__ = ["EvalSettings", "evaluate_responses", "item_row", "summarize_items", "AUDIT_NAMES"]

AUDIT_NAMES = ("exact_repetition", "near_duplicate_paragraphs", "paraphrase_repetition", "keyword_stuffing")
_HAS_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


@dataclass
class EvalSettings:
    """``counter``: how words are counted (recorded in every row). ``paraphrase``: run the embedding
    paraphrase detector too (slower). ``max_spans``: evidence spans kept per detector."""

    counter: str = "longbench"
    paraphrase: bool = False
    skip_bad: bool = False
    batch: int = 8
    max_spans: int = 20

    def __post_init__(self) -> None:
        get_counter(self.counter)  # unknown names raise with the valid list


def _required(row: dict[str, Any], prompt: str) -> tuple[float | None, str]:
    length = row.get("length")
    if isinstance(length, int | float) and not isinstance(length, bool) and length > 0:
        return float(length), "length"
    constraint = parse_length(prompt) if prompt else None
    required = required_length(None, constraint)
    return (required, "prompt") if required else (None, "none")


def format_check(response: str) -> dict[str, Any]:
    """Malformed = empty, or think/answer tags used but not in the documented grammar."""
    if not response.strip():
        return {"ok": False, "problems": ["empty"]}
    if any(tag in response for tag in _HAS_TAGS):
        check = check_think_answer(response)
        return {"ok": check.ok, "problems": check.problems}
    return {"ok": True, "problems": []}


def item_row(item_id: str, row: dict[str, Any], audit: HackAudit, settings: EvalSettings,
             verdict: Verdict | None = None) -> dict[str, Any]:
    """One ``items.jsonl`` row: lengths, S_l, bucket, audit columns and (with a judge) S_q."""
    prompt = row.get("prompt", row.get("question")) or ""
    response = row.get("response") or ""
    answer = extract_answer(response)
    words = count_words(answer, settings.counter)
    required, source = _required(row, prompt)
    detections = audit(prompt, answer)
    s_c, kind = constraint_score(prompt, required, words)
    out: dict[str, Any] = {
        "id": item_id, "type": row.get("type"), "model": row.get("model"), "counter": settings.counter,
        "required": required, "required_from": source, "words": words,
        "S_l": length_score(required=required, produced=words) if required else None,
        "S_c": s_c, "constraint_kind": kind,
        "bucket": bucket_of(required) if required else None,
        "format": format_check(response),
        "audit": {name: det.as_dict(max_spans=settings.max_spans) for name, det in detections.items()},
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
    failures by reason, audit flag counts. S̄ = (S_l + S_q)/2 of the means (REFERENCE.md §2)."""
    summary = _group_summary(items)
    summary["n_unscored"] = summary["n"] - summary["n_scored"]
    buckets: dict[str, list[dict[str, Any]]] = {}
    for i in items:
        if i.get("bucket"):
            buckets.setdefault(i["bucket"], []).append(i)
    summary["by_bucket"] = {b: _group_summary(buckets[b]) for b in sorted(buckets, key=lambda b: float(b[1:].split(",")[0]))}
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


def evaluate_responses(responses: str | os.PathLike, out_dir: str | os.PathLike, settings: EvalSettings | None = None,
                       judge=None, progress: bool = True, report: bool = True,
                       on_message: Callable[[str], None] | None = None, restart: bool = False) -> dict[str, Any]:
    """Score every response (resuming), write ``items.jsonl``, ``summary.json`` and the report.
    ``restart``: discard what an earlier run of other inputs or settings left in ``out_dir``."""
    settings = settings or EvalSettings()
    out = Path(out_dir)
    check_output(out / "items.jsonl")
    data = read_jsonl(responses, check=check_response_row, skip_bad=settings.skip_bad)
    rows = keyed_rows(data, settings.skip_bad)
    out.mkdir(parents=True, exist_ok=True)
    check_run(out / "manifest.json", [responses],
              {"counter": settings.counter, "paraphrase": settings.paraphrase, "judge": getattr(judge, "name", None)},
              [out / "items.jsonl", out / "judge_cache.jsonl", out / "summary.json"], restart=restart)
    audit = HackAudit(paraphrase=settings.paraphrase)
    # With a judge, an item is finished only once it has a verdict: a judge failure is recorded (with
    # the raw reply) but asked again on the next run, and so is an item scored earlier without a judge.
    done = (lambda row: row.get("S_q") is not None) if judge is not None else None
    writer = ResumableJsonl(out / "items.jsonl", is_done=done)
    todo = [(i, r) for i, r in rows if i not in writer]
    bar = tqdm(total=len(rows), initial=len(rows) - len(todo), desc="eval", unit="item", disable=not progress,
               dynamic_ncols=True)
    try:
        for start in range(0, len(todo), settings.batch):
            chunk = todo[start:start + settings.batch]
            verdicts: list[Verdict | None] = [None] * len(chunk)
            if judge is not None:
                pairs = [(r.get("prompt", r.get("question")) or "", extract_answer(r.get("response") or ""))
                         for _, r in chunk]
                verdicts = list(judge_with_cache(judge, pairs, out / "judge_cache.jsonl", batch=settings.batch))
            for (item_id, row), verdict in zip(chunk, verdicts, strict=True):
                writer.append(item_row(item_id, row, audit, settings, verdict))
                bar.update(1)
    finally:
        bar.close()
        writer.close()
    items = [writer.latest[i] for i, _ in rows]
    summary = summarize_items(items, judged=judge is not None)
    summary.update(responses=str(responses), skipped_rows=data.skipped, judge=getattr(judge, "name", None))
    atomic_write_json(out / "summary.json", summary)
    if report:
        from lengthwise.evaluation.report import build_eval_report

        summary["report"] = str(build_eval_report(out, items, summary, rows=dict(rows)))
    return summary
