"""The writing demo's warm start: fine-tune on the model's own answers cut to the lengths the demo asks for,
each request restated with the length its answer has, before RL.

Why: the untrained SmolLM2-135M writes ~40-190 words whatever it is asked (greedy, held-out: 36 words for a
20-word request, 76 for 40, 192 for 100; ``benchmarks/results/demo.json``), and a CPU demo's dozen RL steps
move its mean length, not its reading of the number. Cut answers state the mapping directly: the same kind of
text, ending where the request says.

1. ``sample``: ``tasks`` training-split writing tasks (no length stated) answered at ``temperature`` up to
   ``max_new_tokens`` (append-only, resumable: ``warm/samples.jsonl``). Most answers run past the cap — the
   model rarely stops by itself (4 of 40 within 320 tokens) — which does not matter: only their beginnings
   are used;
2. ``cut``: each answer cut at the sentence boundary nearest each target (``agentwrite.writer.cut_at_sentence``),
   kept when within ``tolerance`` of the target and free of repetition (the exact-run and near-duplicate
   detectors); the request restated with the cut's own word count in one of the built-in phrasings;
3. ``sft``: LoRA on TRL's ``SFTTrainer``; the adapter is merged into the weights (``warm/model``) so RL trains a
   fresh adapter of its own on top (and its KL reference, the adapter disabled, is the warm start).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lengthwise.errors import ConfigError
from lengthwise.io import atomic_write_json, read_jsonl, write_jsonl

__all__ = ["WritingWarmStart", "WritingWarmStartResult", "cut_examples", "warm_start_writing"]


@dataclass(frozen=True)
class WritingWarmStart:
    """``tasks``: training-split tasks sampled (one answer each per ``samples``); ``tolerance``: a cut is kept
    within this fraction of its target; the rest configure the fine-tuning."""

    tasks: int = 80
    samples: int = 1
    max_new_tokens: int = 200
    temperature: float = 0.7
    tolerance: float = 0.15
    # 3.5 epochs at 5e-4, constant for 75 % of the steps, then decaying linearly to 0, with the end token weighted
    # 2x. Fine-tuning long enough is what makes the number read, and at a constant rate the end state swings with
    # the last few steps: greedy held-out S_l 62.3 after 2.5 epochs (every answer stops early), 83.3 after 3.3,
    # 72.4 after 3.5, 82.0 after ~3.8; the decaying end gave 79.6 after 3.5 (20/35/55/68/83/77 words at
    # 20..120). 3 epochs decaying from the start gave 71.7; at 1e-3 every answer ended near 20 words; an end
    # weight of 10 stops every answer near 20 words; LoRA on the top 20 or 10 layers only (14 % / 42 % faster
    # steps) learned less: 73.3 / 59.6 (benchmarks/results/demo.json, attempts)
    epochs: float = 3.5
    learning_rate: float = 5e-4
    lr_scheduler: str = "warmup_stable_decay"
    batch_size: int = 16  # answers per optimizer step
    # answers per forward/backward pass, sorted by length within each step (training.batching): 16 at once
    # peaked at 10.2 GB (the logits over the 49k-token vocabulary and every layer's activations), 4 at 4.7 GB,
    # 2 at 3.6 GB (~7.4 s per step of 16 on 2 cores, vs ~6.4 s for 4)
    micro_batch: int = 2
    lora_r: int = 16
    lora_layers: int | None = None  # LoRA on the top N decoder layers only (None: all); see SFTSettings
    decay_fraction: float = 0.25  # with lr_scheduler "warmup_stable_decay": the decaying share of the steps
    save_steps: int = 10
    end_weight: float = 2.0  # the end-of-answer token's loss weight (lengthwise.sft_loss)
    max_minutes: float | None = None  # fine-tuning wall-clock budget (with a large ``epochs``: train for a time)
    save_at_minutes: tuple[float, ...] = ()  # extra checkpoints after these minutes of fine-tuning

    def check(self) -> list[str]:
        problems = []
        for name in ("tasks", "samples", "max_new_tokens", "batch_size", "micro_batch", "lora_r", "save_steps"):
            if getattr(self, name) < 1:
                problems.append(f"warm start {name} must be >= 1, got {getattr(self, name)}")
        if self.micro_batch >= 1 and self.batch_size % self.micro_batch:
            problems.append(f"warm start batch_size ({self.batch_size}) must be a multiple of micro_batch "
                            f"({self.micro_batch})")
        if not 0 < self.tolerance < 1:
            problems.append(f"warm start tolerance must be in (0, 1), got {self.tolerance}")
        if not 0 <= self.temperature <= 2:
            problems.append(f"warm start temperature must be in [0, 2], got {self.temperature}")
        if self.epochs <= 0 or self.learning_rate <= 0 or self.end_weight <= 0:
            problems.append("warm start epochs, learning_rate and end_weight must be > 0")
        if self.max_minutes is not None and self.max_minutes <= 0:
            problems.append(f"warm start max_minutes must be > 0, got {self.max_minutes}")
        return problems


@dataclass
class WritingWarmStartResult:
    model: Path  # the merged weights RL starts from
    samples: int
    examples: int
    dropped: dict[str, int]
    seconds: dict[str, float]  # per stage (sample, sft, merge), as first run (``warm/seconds.json``)


def cut_examples(samples: Sequence[dict[str, Any]], tasks: dict[str, dict[str, Any]], targets: Sequence[int],
                 tolerance: float, seed: int = 0, counter: str = "longbench") -> tuple[list[dict[str, Any]],
                                                                                       dict[str, int]]:
    """Chat rows (pure given the samples): each answer cut at each target, the request restated with the cut's
    length; and how many cuts were dropped, by reason (``off``: no sentence boundary within tolerance, or the
    answer is shorter than the target; ``repetitive``: the cut repeats itself)."""
    from lengthwise.agentwrite.writer import cut_at_sentence
    from lengthwise.prompts import with_length
    from lengthwise.rewards.redundancy import exact_repetition, near_duplicate_paragraphs
    from lengthwise.text import count_words, extract_answer

    rng = random.Random(f"lengthwise-writing-warm:{seed}")
    rows, dropped, seen = [], {"off": 0, "repetitive": 0, "duplicate": 0}, set()
    for sample in samples:
        task = tasks[sample["task_id"]]
        text = extract_answer(sample["response"]).strip()
        for target in targets:
            cut = cut_at_sentence(text, target, counter).strip()
            n = count_words(cut, counter)
            if abs(n - target) > tolerance * target:
                dropped["off"] += 1
                continue
            if exact_repetition(cut).flagged or near_duplicate_paragraphs(cut).flagged:
                dropped["repetitive"] += 1
                continue
            if cut in seen:
                dropped["duplicate"] += 1
                continue
            seen.add(cut)
            prompt = with_length(task["prompt"], n, task.get("language", "en"), rng)
            rows.append({"id": f"{sample['id']}:{target}", "length": n, "target": target,
                         "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": cut}]})
    rng.shuffle(rows)
    return rows, dropped


def warm_start_writing(out: Path, targets: Sequence[int], model: str | None, settings: WritingWarmStart,
                       device: str | None = None, dtype: str | None = None, batch_size: int = 16, seed: int = 0,
                       progress: bool = True, say: Callable[[str], None] = lambda _m: None) -> WritingWarmStartResult:
    """Run (or resume, or skip when finished) the warm start in ``out``; returns the merged model's folder."""
    from lengthwise.jobs.generate import GenerateSettings, generate_responses
    from lengthwise.prompts import task_prompts
    from lengthwise.records import PromptRecord
    from lengthwise.training.merge import MERGED_MARKER, merge_adapter
    from lengthwise.training.sft import SFTSettings, train_sft

    problems = settings.check()
    if problems:
        raise ConfigError("; ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    seconds_path = out / "seconds.json"
    seconds = json.loads(seconds_path.read_text()) if seconds_path.exists() else {}
    t = time.monotonic()
    merged = out / "model"
    tasks = {t["id"]: t for t in task_prompts("train", n=settings.tasks, seed=seed)}
    records = [PromptRecord(id=f"{task_id}#s{k}", prompt=task["prompt"], extra={"task_id": task_id})
               for task_id, task in tasks.items() for k in range(settings.samples)]
    samples_path = out / "samples.jsonl"
    done = len(read_jsonl(samples_path).rows) if samples_path.exists() else 0
    if not (merged / MERGED_MARKER).exists() and done < len(records):
        from lengthwise.backends.transformers_backend import TransformersGenerator

        generator = TransformersGenerator.from_pretrained(model, device=device, dtype=dtype, batch_size=batch_size)
        report = generate_responses(records, samples_path, generator, GenerateSettings(
            max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
            top_p=0.95 if settings.temperature > 0 else 1.0, seed=seed, chunk=batch_size), progress=progress)
        del generator  # the sampling model is not needed during fine-tuning (it stayed loaded: +RSS)
        if report.failed:
            raise ConfigError(f"warm start: {report.failed} samples failed; rerun to retry them")
        seconds["sample"] = round(seconds.get("sample", 0.0) + time.monotonic() - t, 1)
        atomic_write_json(seconds_path, seconds)
    samples = read_jsonl(samples_path).rows
    data = out / "sft.jsonl"
    rows, dropped = cut_examples(samples, tasks, targets, settings.tolerance, seed)
    if not data.exists():
        if len(rows) < settings.batch_size:
            raise ConfigError(f"the warm start kept only {len(rows)} cut answers of {len(samples)} sampled "
                              f"(dropped: {dropped}); sample more tasks or use --no-warm-start")
        write_jsonl(data, rows)
        say(f"   warm start: {len(rows)} answers cut to {len(targets)} lengths from {len(samples)} samples "
            f"(dropped: " + ", ".join(f"{k} {v}" for k, v in dropped.items()) + ")")
    if not (merged / MERGED_MARKER).exists():
        if not (out / "sft" / "final" / "adapter_config.json").exists():
            t = time.monotonic()
            train_sft(SFTSettings(data=str(data), output_dir=str(out / "sft"), model=model, lora_r=settings.lora_r,
                                  lora_alpha=2 * settings.lora_r, epochs=settings.epochs,
                                  learning_rate=settings.learning_rate, batch_size=settings.micro_batch,
                                  gradient_accumulation_steps=settings.batch_size // settings.micro_batch,
                                  max_length=512, save_steps=settings.save_steps, seed=seed, dtype=dtype,
                                  end_weight=settings.end_weight, max_minutes=settings.max_minutes,
                                  lr_scheduler=settings.lr_scheduler, decay_fraction=settings.decay_fraction,
                                  lora_layers=settings.lora_layers,
                                  save_at_minutes=settings.save_at_minutes),
                      progress=progress)
            seconds["sft"] = round(seconds.get("sft", 0.0) + time.monotonic() - t, 1)
        t = time.monotonic()
        merge_adapter(out / "sft" / "final", merged)
        seconds["merge"] = round(time.monotonic() - t, 1)
        atomic_write_json(seconds_path, seconds)
    return WritingWarmStartResult(merged.resolve(), len(samples), len(read_jsonl(data).rows), dropped, seconds)
