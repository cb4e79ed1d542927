"""``lengthwise eval``: LongBench-Write scoring of a responses JSONL (S_l, optional judged S_q, S̄),
with the hacking-audit columns, a summary by bucket and type, and the HTML report (the scoring
itself: ``evaluation.longbench``).

Build → run → report. Per-item rows are appended to ``OUT/items.jsonl`` as they are finished and
keyed by id, and judge verdicts are cached in ``OUT/judge_cache.jsonl``: rerunning the same command
after a crash redoes only what is missing. Items whose required length is neither in ``length`` nor
stated in the prompt are kept and reported apart (``n_unscored``); they are never scored as zero.
Judge failures are counted by reason and excluded from S_q explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lengthwise.evaluation.longbench import item_row, summarize_items
from lengthwise.io import ResumableJsonl, atomic_write_json, check_output, keyed_rows, read_jsonl
from lengthwise.judging.rubric import Verdict, judge_with_cache
from lengthwise.manifest import check_run
from lengthwise.records import ResponseRecord, check_response_row
from lengthwise.resumable import Emit, run_pending
from lengthwise.rewards.hack_audit import HackAudit
from lengthwise.text import get_counter

__all__ = ["EvalSettings", "evaluate_responses"]


@dataclass
class EvalSettings:
    """``counter``: how words are counted (recorded in every row). ``paraphrase``: run the embedding
    paraphrase detector too (slower). ``max_spans``: evidence spans kept per detector. ``detectors``: a
    ``detectors:`` block (``lengthwise audit --calibrate``) replacing the shipped cuts."""

    counter: str = "longbench"
    paraphrase: bool = False
    detectors: dict[str, Any] | None = None
    skip_bad: bool = False
    batch: int = 8
    max_spans: int = 20

    def __post_init__(self) -> None:
        get_counter(self.counter)  # unknown names raise with the valid list


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
              {"counter": settings.counter, "paraphrase": settings.paraphrase, "judge": getattr(judge, "name", None),
               **({"detectors": settings.detectors} if settings.detectors else {})},
              [out / "items.jsonl", out / "judge_cache.jsonl", out / "summary.json"], restart=restart)
    audit = HackAudit.from_config(settings.detectors, paraphrase=settings.paraphrase)
    # With a judge, an item is finished only once it has a verdict: a judge failure is recorded (with
    # the raw reply) but asked again on the next run, and so is an item scored earlier without a judge.
    done = (lambda row: row.get("S_q") is not None) if judge is not None else None
    writer = ResumableJsonl(out / "items.jsonl", is_done=done)

    def work(chunk: list[tuple[str, dict[str, Any]]], emit: Emit) -> None:
        records = [ResponseRecord.from_row(item_id, row) for item_id, row in chunk]
        verdicts: list[Verdict | None] = [None] * len(records)
        if judge is not None:
            pairs = [(r.prompt, r.answer_part) for r in records]
            verdicts = list(judge_with_cache(judge, pairs, out / "judge_cache.jsonl", batch=settings.batch))
        for record, verdict in zip(records, verdicts, strict=True):
            emit(item_row(record, audit, settings.counter, settings.max_spans, verdict))

    run_pending(rows, writer, key=lambda item: item[0], work=work, chunk=settings.batch, progress=progress,
                desc="eval")
    items = [writer.latest[i] for i, _ in rows]
    summary = summarize_items(items, judged=judge is not None)
    summary.update(responses=str(responses), skipped_rows=data.skipped, judge=getattr(judge, "name", None))
    atomic_write_json(out / "summary.json", summary)
    if report:
        from lengthwise.evaluation.report import build_eval_report

        summary["report"] = str(build_eval_report(out, items, summary, rows=dict(rows)))
    return summary
