"""Prompt records: one normalised shape for our prompts, LongBench-Write rows and Arena-Write rows.

``{"id", "prompt", "length"?, "constraint"?, "type"?}`` is ours; LongBench-Write's
``{prompt, type, length}`` and Arena-Write's ``{idx, question, type, length, baseline_response}``
load unchanged. Other fields are kept and carried into every output row.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from lengthwise.constraints import LengthConstraint, parse_length
from lengthwise.errors import InputError
from lengthwise.io import keyed_rows, read_jsonl

__all__ = ["PromptRecord", "load_prompts", "check_prompt_row", "required_length"]


@dataclass
class PromptRecord:
    id: str
    prompt: str
    length: float | None = None
    constraint: LengthConstraint | None = None
    type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """The fields every output row starts with."""
        row = dict(self.extra)
        row.update({"id": self.id, "prompt": self.prompt, "length": self.length, "type": self.type})
        if self.constraint is not None:
            row["constraint"] = asdict(self.constraint)
        return row


def _prompt_field(row: dict[str, Any]) -> str:
    return "prompt" if "prompt" in row else "question"


def check_prompt_row(row: dict[str, Any]) -> str | None:
    """The problem with a prompt row, or ``None`` when it is usable."""
    key = _prompt_field(row)
    if key not in row:
        return "missing field 'prompt' (or Arena-Write's 'question')"
    if not isinstance(row[key], str):
        return f"field '{key}' must be a string, got {type(row[key]).__name__}"
    if not row[key].strip():
        return f"field '{key}' is empty"
    # ``length`` is checked for every row of every file by ``io.row_problem`` (one rule everywhere)
    for id_key in ("id", "idx"):
        if id_key in row and not isinstance(row[id_key], str | int):
            return f"field '{id_key}' must be a string or integer, got {type(row[id_key]).__name__}"
    return None


def required_length(record_length: float | None, constraint: LengthConstraint | None) -> float | None:
    """The length to score against: the row's ``length`` if given, else the parsed request's target."""
    if record_length is not None:
        return float(record_length)
    if constraint is not None:
        return constraint.required_words()
    return None


def load_prompts(path: str | os.PathLike, skip_bad: bool = False) -> tuple[list[PromptRecord], list[str]]:
    """Load prompt rows; returns the records and the messages for skipped rows.

    Ids come from ``id``, else Arena-Write's ``idx``, else the line number (``line-N``), and must be
    unique: a duplicate is an error naming both lines.
    """
    data = read_jsonl(path, check=check_prompt_row, skip_bad=skip_bad)
    records: list[PromptRecord] = []
    for item_id, row in keyed_rows(data, skip_bad):
        prompt = row[_prompt_field(row)]
        constraint = parse_length(prompt)
        extra = {k: v for k, v in row.items() if k not in ("id", "prompt", "length", "type", "constraint")}
        records.append(
            PromptRecord(
                id=item_id,
                prompt=prompt,
                length=required_length(row.get("length"), constraint),
                constraint=constraint,
                type=row.get("type"),
                extra=extra,
            )
        )
    if not records:
        raise InputError(f"{data.path}: no usable rows ({len(data.skipped)} skipped)")
    return records, list(data.skipped)
