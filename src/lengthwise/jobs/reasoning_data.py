"""Prompt files for reasoning-length training and evaluation: built-in verifiable tasks or a math set in its hub
format, each row with L1's budget sentence and its ``target_tokens`` (``lengthwise tasks``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lengthwise.errors import InputError
from lengthwise.io import check_output, read_jsonl, write_jsonl
from lengthwise.tasks import KINDS, from_hub_row, problems, reasoning_rows

__all__ = ["TaskFileSettings", "write_task_file"]


@dataclass(frozen=True)
class TaskFileSettings:
    split: Literal["train", "heldout"] = "train"
    n: int = 500
    kinds: tuple[str, ...] = KINDS
    levels: tuple[int, ...] = (1,)  # the level the untrained embedded model solves 20-70 % of (task_levels.json)
    budgets: tuple[int, ...] | None = (64, 256)  # a range to draw from, or with ``grid`` the budgets to list
    grid: bool = False
    mode: Literal["exact", "max"] = "exact"
    language: str = "en"
    seed: int = 0


def _hub_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        raw = pq.read_table(path).to_pylist()
    else:
        raw = list(read_jsonl(path))
    rows = []
    for k, item in enumerate(raw):
        try:
            row = from_hub_row(item)
        except ValueError as exc:
            raise InputError(f"{path}: row {k + 1}: {exc}") from None
        rows.append({"id": str(row.get("id", row.get("unique_id", k))), **row})
    return rows


def write_task_file(out: str | Path, settings: TaskFileSettings, source: str | Path | None = None) -> int:
    """Write the prompt rows to ``out`` (atomically); returns how many. ``source`` is a GSM8K / MATH /
    DAPO-Math file (JSONL or parquet) to restate with budgets instead of the built-in tasks."""
    out = check_output(out)
    if settings.budgets is not None and not settings.grid and len(settings.budgets) != 2:
        raise InputError("a budget range is two numbers LO,HI (or list budgets with --grid)")
    if source is not None:
        items: list[Any] = _hub_rows(Path(source))[: settings.n]
    else:
        items = problems(settings.split, settings.n, settings.kinds, settings.levels, settings.seed)
    rows = reasoning_rows(items, settings.budgets, settings.mode, settings.language, settings.seed,
                          draw=not settings.grid)
    write_jsonl(out, rows)
    return len(rows)
