"""Run fingerprints: a resumable output remembers what made it, so a resume never mixes runs.

Beside every resumable output lies ``<name>.manifest.json``: the inputs (path, size and a SHA-256
of their bytes) and the settings that change results (counter, reward-stack version, model,
judge, sampling, seeds). A rerun with the same inputs and settings resumes. An input that only
grew (rows appended) still resumes — its old bytes are a prefix of the new. Anything else is an
error naming what changed; ``--restart`` deletes the old outputs and starts over.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from lengthwise.errors import InputError
from lengthwise.io import atomic_write_json

__all__ = ["check_run", "file_identity"]

VERSION = 1


def _sha256(path: Path, limit: int | None = None) -> str:
    h = hashlib.sha256()
    remaining = limit
    with open(path, "rb") as fh:
        while True:
            size = 1 << 20 if remaining is None else min(1 << 20, remaining)
            if size == 0:
                break
            block = fh.read(size)
            if not block:
                break
            h.update(block)
            if remaining is not None:
                remaining -= len(block)
    return h.hexdigest()


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    return {"path": str(p.resolve()), "size": p.stat().st_size, "sha256": _sha256(p)}


def _input_changed(old: dict[str, Any], path: Path) -> str | None:
    """Why ``path`` is not the input ``old`` described (``None``: same bytes, or only appended to)."""
    if not path.exists():
        return f"input {path} is missing"
    size = path.stat().st_size
    if size == old.get("size") and _sha256(path) == old.get("sha256"):
        return None
    if size > int(old.get("size") or 0) and _sha256(path, int(old["size"])) == old.get("sha256"):
        return None  # rows were appended: the done ones are still valid
    return f"input {old.get('path')} has other contents"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def check_run(manifest: str | os.PathLike, inputs: list[str | os.PathLike], settings: dict[str, Any],
              outputs: list[str | os.PathLike], restart: bool = False) -> None:
    """Resume only what these inputs and settings made. ``outputs``: the files the run writes
    (deleted by ``restart``). Raises ``InputError`` naming every difference."""
    manifest = Path(manifest)
    if restart:
        for out in [*outputs, manifest]:
            Path(out).unlink(missing_ok=True)
    settings = json.loads(json.dumps(settings, default=str))  # what it will look like on disk
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputError(f"{manifest}: unreadable run manifest; rerun with --restart to start over") from None
        changes = []
        old_inputs = old.get("inputs") or []
        if len(old_inputs) != len(inputs):
            changes.append(f"{len(old_inputs)} input file(s) before, {len(inputs)} now")
        for before, path in zip(old_inputs, inputs, strict=False):
            if str(Path(path).resolve()) != before.get("path"):
                changes.append(f"input {before.get('path')} -> {Path(path).resolve()}")
            else:
                problem = _input_changed(before, Path(path))
                if problem:
                    changes.append(problem)
        old_settings = old.get("settings") or {}
        for key in sorted(set(old_settings) | set(settings)):
            if old_settings.get(key) != settings.get(key):
                changes.append(f"{key}: {_short(old_settings.get(key))} -> {_short(settings.get(key))}")
        if changes:
            done = ", ".join(str(o) for o in outputs if Path(o).exists()) or "the outputs"
            raise InputError(f"{done} came from another run ({'; '.join(changes)}); rerun with --restart to "
                             "start over, or write to another output")
    atomic_write_json(manifest, {"version": VERSION, "inputs": [file_identity(p) for p in inputs],
                                 "settings": settings})
