"""Training prompts as a Hugging Face ``Dataset`` in TRL's conversational format, with targets."""

from __future__ import annotations

from typing import Any

from lengthwise.prompts import build_messages, writing_tasks
from lengthwise.records import load_prompts
from lengthwise.training.config import DataConfig

__all__ = ["training_rows", "build_dataset"]


def training_rows(data: DataConfig) -> list[dict[str, Any]]:
    """``{prompt: messages, length, id}`` rows from the user's JSONL or the built-in train split."""
    if data.prompts is not None:
        records, _ = load_prompts(data.prompts)
        raw = [{"id": r.id, "prompt": r.prompt, "length": r.length} for r in records]
    else:
        raw = writing_tasks("train", n=data.builtin_n, seed=data.seed, lengths=data.lengths, languages=data.languages)
    return [
        {"id": r["id"], "prompt": build_messages(r["prompt"], think=data.think), "length": r["length"]} for r in raw
    ]


def build_dataset(data: DataConfig):
    from datasets import Dataset

    rows = training_rows(data)
    return Dataset.from_list(rows)
