"""``lengthwise score``: score a responses JSONL with a reward stack, one output row per response.

Resumable: output rows are appended as they are scored and keyed by id; a rerun skips done ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lengthwise.io import ResumableJsonl, atomic_write_json, check_output, keyed_rows, read_jsonl
from lengthwise.manifest import check_run
from lengthwise.rewards.stack import RewardStack

__all__ = ["ScoreReport", "score_responses", "check_response_row"]


def check_response_row(row: dict[str, Any]) -> str | None:
    if "response" not in row:
        return "missing field 'response'"
    if row["response"] is not None and not isinstance(row["response"], str):
        return f"field 'response' must be a string, got {type(row['response']).__name__}"
    prompt = row.get("prompt", row.get("question"))
    if prompt is not None and not isinstance(prompt, str):
        return f"field 'prompt' must be a string, got {type(prompt).__name__}"
    return None


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
    todo = [(i, r) for i, r in rows if i not in writer]
    bar = tqdm(total=len(rows), initial=len(rows) - len(todo), desc="score", unit="resp", disable=not progress)
    try:
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            prompts = [r.get("prompt", r.get("question")) or "" for _, r in chunk]
            completions = [r.get("response") or "" for _, r in chunk]
            columns = {"length": [r.get("length") for _, r in chunk], "answer": [r.get("answer") for _, r in chunk]}
            for (item_id, _), scored in zip(chunk, stack.score(prompts, completions, columns), strict=True):
                writer.append({"id": item_id, **scored})
                bar.update(1)
    finally:
        bar.close()
        writer.close()
    done = [writer.done[i] for i, _ in rows if i in writer.done]
    means = {}
    for name in [*stack.names, "score"]:
        values = [d[name] for d in done if d.get(name) is not None]
        means[name] = sum(values) / len(values) if values else None
    flagged: dict[str, int] = {}
    for d in done:
        for det_name, det in (d.get("detectors") or {}).items():
            flagged[det_name] = flagged.get(det_name, 0) + int(bool(det.get("flagged")))
    report = ScoreReport(len(rows), len(rows) - len(todo), len(todo), skipped, means, flagged)
    atomic_write_json(Path(str(out) + ".summary.json"), {**report.__dict__, "stack_version": stack.version,
                                                          "counter": stack.counter})
    return report
