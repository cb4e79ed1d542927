"""Records: one normalised shape for a prompt row and one for a response row, and the one rule for
the length a row requires.

``{"id", "prompt", "length"?, "constraint"?, "type"?}`` is ours; LongBench-Write's
``{prompt, type, length}`` and Arena-Write's ``{idx, question, type, length, baseline_response}``
load unchanged. Other fields are kept and carried into every output row.

The required length (``row_constraint`` / ``resolve_required``): a usable ``length`` column wins (a
finite number > 0; booleans, strings, NaN and ≤ 0 are not lengths and count as absent here — files
are refused earlier by ``io.row_problem``), else the length the prompt states, else none.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lengthwise.constraints import LengthConstraint, parse_length
from lengthwise.errors import InputError
from lengthwise.io import keyed_rows, read_jsonl
from lengthwise.text import extract_answer
from lengthwise.values import length_problem

__all__ = ["PromptRecord", "ResponseRecord", "load_prompts", "check_prompt_row", "check_response_row",
           "row_constraint", "resolve_required", "prompt_of"]

RequiredFrom = Literal["length", "prompt", "none"]


def _column_length(length: Any) -> float | None:
    return None if length is None or length_problem(length) else float(length)


def row_constraint(prompt: str, length: Any = None) -> LengthConstraint | None:
    """The row's target: a usable ``length`` column wins; else the prompt's parsed request.

    A ``length`` column that equals what the prompt asks for keeps the prompt's typed constraint
    ("no more than 500 words" stays a maximum for the constraint-aware score); one that differs
    (or a prompt that states none) is taken as exactly N."""
    n = _column_length(length)
    parsed = parse_length(prompt)
    if n is None:
        return parsed
    if parsed is not None and parsed.required_words() is not None and math.isclose(parsed.required_words(), n):
        return parsed
    return LengthConstraint("exact", n, n, n, "words", text="length column")


def resolve_required(prompt: str, length: Any = None) -> tuple[float | None, RequiredFrom]:
    """The length in counted words to score against, and where it came from."""
    n = _column_length(length)
    if n is not None:
        return n, "length"
    parsed = parse_length(prompt) if prompt else None
    required = parsed.required_words() if parsed is not None else None
    return (required, "prompt") if required else (None, "none")


def prompt_of(row: dict[str, Any]) -> str:
    """The request of a row: ``prompt``, else Arena-Write's ``question``; ``""`` when neither."""
    value = row.get("prompt", row.get("question"))
    return value if isinstance(value, str) else ""


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


def check_response_row(row: dict[str, Any]) -> str | None:
    """The problem with a response row, or ``None`` when it is usable."""
    if "response" not in row:
        return "missing field 'response'"
    if row["response"] is not None and not isinstance(row["response"], str):
        return f"field 'response' must be a string, got {type(row['response']).__name__}"
    prompt = row.get("prompt", row.get("question"))
    if prompt is not None and not isinstance(prompt, str):
        return f"field 'prompt' must be a string, got {type(prompt).__name__}"
    return None


@dataclass(frozen=True)
class ResponseRecord:
    """A response row as every command reads it: ``id``, ``prompt`` (from ``prompt`` or
    ``question``), the required length and where it came from, the ``response`` (``None`` → ``""``),
    its answer part (the ``<answer>`` body when the think template was used), the ground-truth
    ``answer`` column for verifiable tasks, and the row itself for any other field."""

    id: str
    prompt: str
    response: str
    required: float | None
    required_from: RequiredFrom
    answer: Any = None
    type: str | None = None
    model: str | None = None
    row: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_row(cls, item_id: str, row: dict[str, Any]) -> ResponseRecord:
        prompt = prompt_of(row)
        required, source = resolve_required(prompt, row.get("length"))
        # Arena-Write rows carry their answer as ``baseline_response``
        response = row.get("response", row.get("baseline_response")) or ""
        return cls(id=item_id, prompt=prompt, response=response, required=required,
                   required_from=source, answer=row.get("answer"), type=row.get("type"), model=row.get("model"),
                   row=row)

    @property
    def answer_part(self) -> str:
        return extract_answer(self.response)


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
                length=resolve_required(prompt, row.get("length"))[0],
                constraint=constraint,
                type=row.get("type"),
                extra=extra,
            )
        )
    if not records:
        raise InputError(f"{data.path}: no usable rows ({len(data.skipped)} skipped)")
    return records, list(data.skipped)
