"""Training prompts as a Hugging Face ``Dataset`` in TRL's conversational format, with targets."""

from __future__ import annotations

from typing import Any

from lengthwise.prompts import build_messages, writing_tasks
from lengthwise.records import load_prompts
from lengthwise.training.config import DataConfig

__all__ = ["training_rows", "build_dataset"]


# Prompt-file fields the rewards read (TRL hands every dataset column to every reward function): the reference
# answer for accuracy-style rewards and the token budget for LCPO.
REWARD_COLUMNS = ("answer", "target_tokens")


def training_rows(data: DataConfig) -> list[dict[str, Any]]:
    """``{prompt: messages, length, id}`` rows from the user's JSONL or the built-in train split, plus the
    ``REWARD_COLUMNS`` a prompt file carries (``answer`` as text, ``target_tokens`` as a number)."""
    if data.prompts is not None:
        records, _ = load_prompts(data.prompts)
        raw = [{"id": r.id, "prompt": r.prompt, "length": r.length, **r.extra} for r in records]
    else:
        raw = writing_tasks("train", n=data.builtin_n, seed=data.seed, lengths=data.lengths, languages=data.languages)
    present = [c for c in REWARD_COLUMNS if any(r.get(c) is not None for r in raw)]
    rows = []
    for r in raw:
        row = {"id": r["id"], "prompt": build_messages(r["prompt"], think=data.think), "length": r["length"]}
        if "answer" in present:
            row["answer"] = None if r.get("answer") is None else str(r["answer"])
        if "target_tokens" in present:
            row["target_tokens"] = None if r.get("target_tokens") is None else float(r["target_tokens"])
        rows.append(row)
    return rows


def build_dataset(data: DataConfig):
    from datasets import Dataset

    rows = training_rows(data)
    return Dataset.from_list(rows)
