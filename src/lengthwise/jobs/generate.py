"""Single-pass generation of a prompts JSONL into a responses JSONL: the baseline for every comparison.

Resumable by construction: the output is append-only and keyed by id; a rerun of the same command
skips the ids already written. Failed requests are not written as done (a rerun retries them); they
are appended to ``<out>.failures.jsonl`` and counted in ``<out>.summary.json``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lengthwise.backends.base import GenerationRequest, GenerationResult, Generator, summarize_results
from lengthwise.errors import ConfigError
from lengthwise.io import ResumableJsonl, atomic_write_json
from lengthwise.prompts import build_messages
from lengthwise.records import PromptRecord
from lengthwise.rewards.length import length_score
from lengthwise.text import count_words, extract_answer

__all__ = ["GenerateSettings", "GenerateReport", "auto_max_new_tokens", "generate_responses"]

# SmolLM2's tokenizer spends about 1.35 tokens per English word and ~1.1 per 字; the factor 1.5 on
# top leaves room to overshoot, which S_l also measures.
TOKENS_PER_WORD = 1.35
OVERSHOOT = 1.5


def auto_max_new_tokens(required: float | None, cap: int, default: int = 1024) -> int:
    """Token budget for a request: enough to overshoot the target by half, never above ``cap``.

    >>> auto_max_new_tokens(1000, cap=4096)
    2089
    >>> auto_max_new_tokens(None, cap=512)
    512
    """
    if required is None:
        return min(default, cap)
    return max(32, min(cap, math.ceil(required * TOKENS_PER_WORD * OVERSHOOT) + 64))


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
    total: int
    already_done: int
    completed: int
    failed: int
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    retries_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    completion_tokens: int = 0
    repaired_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _request_for(record: PromptRecord, settings: GenerateSettings, index: int) -> GenerationRequest:
    messages = build_messages(record.prompt, think=settings.think)
    if settings.system:
        messages = [{"role": "system", "content": settings.system}] + [m for m in messages if m["role"] != "system"]
    budget = settings.max_new_tokens or auto_max_new_tokens(record.length, settings.max_tokens_cap)
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
        "completion_tokens": result.completion_tokens,
    })
    return row


def generate_responses(
    records: list[PromptRecord],
    out_path: str | os.PathLike,
    generator: Generator,
    settings: GenerateSettings,
    progress: bool = True,
) -> GenerateReport:
    """Generate a response for every record not yet in ``out_path``; write each as it completes."""
    out_path = Path(out_path)
    started = time.monotonic()
    writer = ResumableJsonl(out_path)
    failures_path = out_path.with_name(out_path.name + ".failures.jsonl")
    todo = [(r, _request_for(r, settings, k)) for k, r in enumerate(records) if r.id not in writer]
    # Similar budgets share a batch, so short requests do not wait for long ones.
    todo.sort(key=lambda item: item[1].max_new_tokens)
    already = len(records) - len(todo)
    results: list[GenerationResult] = []
    bar = tqdm(total=len(records), initial=already, desc="generate", unit="resp", disable=not progress, dynamic_ncols=True)
    try:
        for start in range(0, len(todo), settings.chunk):
            chunk = todo[start:start + settings.chunk]
            requests = [request for _, request in chunk]

            def on_result(i: int, result: GenerationResult, chunk=chunk) -> None:
                record = chunk[i][0]
                results.append(result)
                if result.ok:
                    writer.append(response_row(record, result, generator.model_name, settings.counter))
                else:
                    with open(failures_path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"id": record.id, "error": result.error, "attempts": result.attempts,
                                             "failures": result.failures}) + "\n")
                bar.update(1)

            generator.generate(requests, on_result=on_result)
    finally:
        bar.close()
        writer.close()
    stats = summarize_results(results)
    report = GenerateReport(
        total=len(records), already_done=already, completed=stats["completed"], failed=stats["failed"],
        failed_by_reason=stats["failed_by_reason"], retries_by_reason=stats["retries_by_reason"],
        seconds=round(time.monotonic() - started, 3), completion_tokens=stats["completion_tokens"],
        repaired_bytes=writer.repaired_bytes,
    )
    atomic_write_json(out_path.with_name(out_path.name + ".summary.json"), report.as_dict())
    return report
