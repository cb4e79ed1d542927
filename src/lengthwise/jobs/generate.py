"""Single-pass generation of a prompts JSONL into a responses JSONL: the baseline for every comparison.

Resumable by construction: the output is append-only and keyed by id; a rerun of the same command
skips the ids already written. Failed requests are not written as done (a rerun retries them); they
are appended to ``<out>.failures.jsonl`` and counted in ``<out>.summary.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lengthwise.backends.base import GenerationRequest, GenerationResult, Generator, summarize_results
from lengthwise.errors import ConfigError
from lengthwise.evaluation.longbench import constraint_score
from lengthwise.io import ResumableJsonl, atomic_write_json, check_output
from lengthwise.manifest import check_run
from lengthwise.prompts import build_messages
from lengthwise.records import PromptRecord
from lengthwise.resumable import Emit, run_pending
from lengthwise.rewards.length import length_score
from lengthwise.text import count_words, detect_language, extract_answer
from lengthwise.token_budget import DEFAULT_RATE, TokenRate, auto_max_new_tokens, token_rate_of

__all__ = ["GenerateSettings", "GenerateReport", "generate_responses"]


@dataclass
class GenerateSettings:
    """Sampling and budget for ``lengthwise generate``.

    ``max_new_tokens``: an int, or ``None`` for auto (from the required length, capped at
    ``max_tokens_cap``). ``think``: wrap prompts in the think template.
    """

    max_new_tokens: int | None = None
    max_tokens_cap: int = 4096
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 0
    counter: str = "longbench"
    think: bool = False
    system: str | None = None
    chunk: int = 8

    def __post_init__(self) -> None:
        problems = []
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.max_tokens_cap < 1:
            problems.append(f"max_tokens_cap must be >= 1, got {self.max_tokens_cap}")
        if self.temperature < 0:
            problems.append(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p}")
        if self.chunk < 1:
            problems.append(f"chunk must be >= 1, got {self.chunk}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class GenerateReport:
    """``<out>.summary.json``: totals over the whole output file, across every resumed run
    (``runs`` counts the invocations); ``this_run`` has what the last invocation did."""

    total: int
    already_done: int
    completed: int
    failed: int
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    retries_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    completion_tokens: int = 0
    repaired_bytes: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)
    responses: int = 0
    runs: int = 1
    token_rate: dict[str, Any] = field(default_factory=dict)
    this_run: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _request_for(record: PromptRecord, settings: GenerateSettings, index: int,
                 rate: TokenRate = DEFAULT_RATE) -> GenerationRequest:
    messages = build_messages(record.prompt, think=settings.think)
    if settings.system:
        messages = [{"role": "system", "content": settings.system}] + [m for m in messages if m["role"] != "system"]
    language = record.constraint.language if record.constraint is not None else detect_language(record.prompt)
    budget = settings.max_new_tokens or auto_max_new_tokens(record.length, settings.max_tokens_cap, rate, language)
    return GenerationRequest(
        messages=messages, max_new_tokens=budget, temperature=settings.temperature, top_p=settings.top_p,
        seed=settings.seed + index,
    )


def response_row(record: PromptRecord, result: GenerationResult, model: str, counter: str) -> dict[str, Any]:
    """One output row: the prompt's fields plus the response and its measured length."""
    words = count_words(extract_answer(result.text), counter)
    row = record.to_row()
    row.update({
        "response": result.text,
        "model": model,
        "finish_reason": result.finish_reason,
        "counter": counter,
        "words": words,
        "required": record.length,
        "S_l": length_score(required=record.length, produced=words) if record.length else None,
        "S_c": constraint_score(record.prompt, record.length, words)[0],
        "completion_tokens": result.completion_tokens,
    })
    return row


def _previous_summary(path: Path) -> dict[str, Any]:
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return previous if isinstance(previous, dict) else {}


def _prune_failures(path: Path, done: set[str], new_failures: list[dict[str, Any]]) -> int:
    """Keep in ``path`` only the failures whose ids are still not done (the latest per id); a fully
    successful rerun removes the file. Returns the failures left."""
    kept: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and str(row.get("id")) not in done:
                kept[str(row.get("id"))] = row
    for row in new_failures:
        kept[str(row["id"])] = row
    if kept:
        from lengthwise.io import write_jsonl

        write_jsonl(path, kept.values())
    else:
        path.unlink(missing_ok=True)
    return len(kept)


def generate_responses(
    records: list[PromptRecord],
    out_path: str | os.PathLike,
    generator: Generator,
    settings: GenerateSettings,
    progress: bool = True,
    source: str | os.PathLike | None = None,
    restart: bool = False,
) -> GenerateReport:
    """Generate a response for every record not yet in ``out_path``; write each as it completes.
    ``source``: the prompts file, fingerprinted with the settings so a resume never mixes runs."""
    out_path = check_output(out_path)
    started = time.monotonic()
    failures_path = out_path.with_name(out_path.name + ".failures.jsonl")
    summary_path = out_path.with_name(out_path.name + ".summary.json")
    check_run(out_path.with_name(out_path.name + ".manifest.json"), [source] if source else [],
              {"model": generator.model_name, "backend": getattr(generator, "name", None),
               **{k: v for k, v in settings.__dict__.items() if k != "chunk"}},
              [out_path, failures_path, summary_path], restart=restart)
    writer = ResumableJsonl(out_path)
    rate = token_rate_of(generator, settings.counter)
    # every record keeps its seed (seed + position) however many are already done
    items = [(r, _request_for(r, settings, k, rate)) for k, r in enumerate(records)]
    results: list[GenerationResult] = []
    new_failures: list[dict[str, Any]] = []

    def work(chunk: list[tuple[PromptRecord, GenerationRequest]], emit: Emit) -> None:
        def on_result(i: int, result: GenerationResult) -> None:
            record = chunk[i][0]
            results.append(result)
            if result.ok:
                emit(response_row(record, result, generator.model_name, settings.counter))
                return
            failure = {"id": record.id, "error": result.error, "attempts": result.attempts,
                       "failures": result.failures}
            new_failures.append(failure)
            with open(failures_path, "a", encoding="utf-8") as fh:  # kept even if we are killed next
                fh.write(json.dumps(failure) + "\n")
            emit(None)

        generator.generate([request for _, request in chunk], on_result=on_result)

    # Similar budgets share a batch, so short requests do not wait for long ones.
    loop = run_pending(items, writer, key=lambda item: item[0].id, work=work, chunk=settings.chunk,
                       progress=progress, desc="generate", unit="resp", order=lambda item: item[1].max_new_tokens)
    already = loop.already_done
    ids = {r.id for r in records}
    done_ids = {i for i in writer.done if i in ids}
    _prune_failures(failures_path, done_ids, new_failures)
    stats = summarize_results(results)
    previous = _previous_summary(summary_path)
    seconds = round(time.monotonic() - started, 3)
    rows = [writer.done[i] for i in done_ids]
    report = GenerateReport(
        total=len(records), already_done=already, completed=stats["completed"], failed=stats["failed"],
        failed_by_reason=stats["failed_by_reason"],
        # Retries add up over runs: each run's retries happened once.
        retries_by_reason=dict(Counter(previous.get("retries_by_reason") or {}) + Counter(stats["retries_by_reason"])),
        seconds=round(float(previous.get("seconds") or 0.0) + seconds, 3),
        completion_tokens=sum(int(r.get("completion_tokens") or 0) for r in rows),
        repaired_bytes=writer.repaired_bytes,
        finish_reasons=dict(Counter(str(r.get("finish_reason")) for r in rows)),
        responses=len(rows), runs=int(previous.get("runs") or 0) + 1,
        token_rate={"en": rate.en, "zh": rate.zh, "source": rate.source},
        this_run={"completed": stats["completed"], "failed": stats["failed"], "seconds": seconds,
                  "completion_tokens": stats["completion_tokens"], "retries_by_reason": stats["retries_by_reason"],
                  "finish_reasons": stats["finish_reasons"]},
    )
    atomic_write_json(summary_path, report.as_dict())
    return report
