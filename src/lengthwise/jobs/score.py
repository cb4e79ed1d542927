"""``lengthwise score``: score a responses JSONL with a reward stack, one output row per response.

Resumable: output rows are appended as they are scored and keyed by id; a rerun skips done ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lengthwise.io import ResumableJsonl, atomic_write_json, check_output, keyed_rows, read_jsonl
from lengthwise.manifest import check_run
from lengthwise.records import ResponseRecord, check_response_row
from lengthwise.resumable import Emit, run_pending
from lengthwise.rewards.stack import RewardStack

__all__ = ["ScoreReport", "score_responses", "check_response_row"]


@dataclass
class ScoreReport:
    total: int
    already_done: int
    scored: int
    skipped_rows: list[str] = field(default_factory=list)
    means: dict[str, float] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)


def score_responses(responses: str | os.PathLike, out: str | os.PathLike, stack: RewardStack, skip_bad: bool = False,
                    batch: int = 8, progress: bool = True, restart: bool = False) -> ScoreReport:
    check_output(out)
    data = read_jsonl(responses, check=check_response_row, skip_bad=skip_bad)
    rows = keyed_rows(data, skip_bad)
    skipped = data.skipped
    check_run(Path(str(out) + ".manifest.json"), [responses], {"stack_version": stack.version},
              [out, Path(str(out) + ".summary.json")], restart=restart)
    writer = ResumableJsonl(out)

    def work(chunk: list[tuple[str, dict[str, Any]]], emit: Emit) -> None:
        records = [ResponseRecord.from_row(item_id, row) for item_id, row in chunk]
        columns = {"length": [r.required for r in records], "answer": [r.answer for r in records]}
        scored = stack.score([r.prompt for r in records], [r.response for r in records], columns)
        for record, row in zip(records, scored, strict=True):
            emit({"id": record.id, **row})

    loop = run_pending(rows, writer, key=lambda item: item[0], work=work, chunk=batch, progress=progress,
                       desc="score", unit="resp")
    done = [writer.done[i] for i, _ in rows if i in writer.done]
    means = {}
    for name in [*stack.names, "score"]:
        values = [d[name] for d in done if d.get(name) is not None]
        means[name] = sum(values) / len(values) if values else None
    flagged: dict[str, int] = {}
    for d in done:
        for det_name, det in (d.get("detectors") or {}).items():
            flagged[det_name] = flagged.get(det_name, 0) + int(bool(det.get("flagged")))
    report = ScoreReport(loop.total, loop.already_done, loop.processed, skipped, means, flagged)
    atomic_write_json(Path(str(out) + ".summary.json"), {**report.__dict__, "stack_version": stack.version,
                                                          "counter": stack.counter})
    return report
