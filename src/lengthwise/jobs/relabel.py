"""``lengthwise relabel``: length-following SFT data from a model's own answers (self-relabeling).

Build → run → report:
1. sample answers to writing tasks that state no length (the built-in train-split tasks, or a
   prompts file), resumably through ``generate`` (``<out>.samples.jsonl``);
2. keep the answers the model ended itself (finish reason ``stop``) with at least ``min_words``;
   optionally also cut each one at the sentence boundary nearest each of ``cut_targets`` below its
   length (short targets a small model rarely stops at by itself);
3. restate each task with the produced length in one of the built-in phrasings, so the request and
   the answer agree exactly; drop duplicate answers; write chat rows for ``lengthwise sft``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lengthwise.agentwrite.writer import cut_at_sentence
from lengthwise.errors import ConfigError
from lengthwise.io import check_output, read_jsonl, write_jsonl
from lengthwise.jobs.generate import GenerateSettings, generate_responses
from lengthwise.prompts import task_prompts, with_length
from lengthwise.records import PromptRecord, load_prompts
from lengthwise.text import count_words, detect_language, extract_answer

__all__ = ["RelabelSettings", "RelabelReport", "relabel", "relabel_rows"]


@dataclass
class RelabelSettings:
    """``tasks``: built-in tasks used when no prompts file is given; ``samples``: answers sampled per
    task (seeds differ); ``cut_targets``: extra examples cut to these lengths (words);
    ``cut_tolerance``: a cut is kept when within this fraction of its target."""

    tasks: int = 155
    samples: int = 2
    max_new_tokens: int = 320
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int = 0
    min_words: int = 10
    cut_targets: Sequence[int] = field(default_factory=tuple)
    cut_tolerance: float = 0.15
    counter: str = "longbench"
    languages: Sequence[str] = ("en",)

    def check(self) -> None:
        problems = []
        if self.tasks < 1 or self.samples < 1 or self.max_new_tokens < 1 or self.min_words < 1:
            problems.append("tasks, samples, max_new_tokens and min_words must be >= 1")
        if any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in self.cut_targets):
            problems.append(f"cut targets must be whole numbers >= 1, got {list(self.cut_targets)}")
        if not 0 < self.cut_tolerance < 1:
            problems.append(f"cut_tolerance must be in (0, 1), got {self.cut_tolerance}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class RelabelReport:
    samples: int
    ended_by_model: int
    examples: int
    from_cuts: int
    duplicates: int
    out: Path


def relabel_rows(samples: list[dict[str, Any]], tasks: dict[str, dict[str, Any]],
                 settings: RelabelSettings) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Chat rows from sampled answers (pure given the samples): the model-ended answers, their cuts,
    each with the task restated at its produced length; duplicate answers dropped."""
    rng = random.Random(settings.seed)
    rows, seen = [], set()
    counts = {"ended_by_model": 0, "from_cuts": 0, "duplicates": 0}
    for sample in samples:
        if sample.get("finish_reason") != "stop":
            continue
        task = tasks[sample["task_id"]]
        text = extract_answer(sample["response"]).strip()
        words = count_words(text, settings.counter)
        if words < settings.min_words:
            continue
        counts["ended_by_model"] += 1
        versions = [(text, words, "whole")]
        for target in sorted(set(settings.cut_targets)):
            if target < (1 - settings.cut_tolerance) * words:
                cut = cut_at_sentence(text, target, settings.counter).strip()
                n = count_words(cut, settings.counter)
                if n >= settings.min_words and abs(n - target) <= settings.cut_tolerance * target:
                    versions.append((cut, n, f"cut:{target}"))
        for body, n, how in versions:
            if body in seen:
                counts["duplicates"] += 1
                continue
            seen.add(body)
            language = task.get("language") or detect_language(task["prompt"])
            prompt = with_length(task["prompt"], n, language, rng)
            rows.append({"id": f"{sample['id']}:{how}", "messages": [{"role": "user", "content": prompt},
                                                                      {"role": "assistant", "content": body}],
                         "length": n, "source": sample["id"], "how": how})
            counts["from_cuts"] += how != "whole"
    return rows, counts


def relabel(out: str | os.PathLike, generator, settings: RelabelSettings, prompts: str | os.PathLike | None = None,
            progress: bool = True, restart: bool = False) -> RelabelReport:
    settings.check()
    out = check_output(out)
    if prompts is not None:
        records, _ = load_prompts(prompts)
        tasks = {r.id: {"prompt": r.prompt, "language": detect_language(r.prompt)} for r in records}
    else:
        rows = task_prompts("train", n=settings.tasks, seed=settings.seed, languages=tuple(settings.languages))
        tasks = {r["id"]: r for r in rows}
    sample_records = [PromptRecord(id=f"{task_id}#s{k}", prompt=task["prompt"], extra={"task_id": task_id})
                      for task_id, task in tasks.items() for k in range(settings.samples)]
    samples_path = out.with_name(out.name + ".samples.jsonl")
    gen = GenerateSettings(max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
                           top_p=settings.top_p, seed=settings.seed, counter=settings.counter)
    report = generate_responses(sample_records, samples_path, generator, gen, progress=progress, source=prompts,
                                restart=restart)
    if report.failed:
        raise ConfigError(f"{report.failed} samples failed ({report.failed_by_reason}); rerun to retry them")
    samples = read_jsonl(samples_path).rows
    rows, counts = relabel_rows(samples, tasks, settings)
    write_jsonl(out, rows)
    return RelabelReport(len(samples), counts["ended_by_model"], len(rows), counts["from_cuts"], counts["duplicates"],
                         out)
