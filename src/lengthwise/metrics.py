"""Reading a training run's ``metrics.jsonl`` (one row per logged step), without loading a trainer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lengthwise.errors import InputError

__all__ = ["read_metrics"]


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of ``path`` (``[]`` when it does not exist). A last line without its newline is a run
    still writing, or killed mid-append, and is dropped if it does not parse; any other unreadable
    line is an ``InputError`` naming ``file:line``."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if lineno == len(lines) and not text.endswith("\n"):
                break  # the torn last line of a run in progress
            raise InputError(f"{path}:{lineno}: not a valid metrics row (JSON)") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows
