"""``lengthwise report RUN_DIR``: rebuild ``report.html`` from what a demo, eval or arena run left."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lengthwise.errors import InputError
from lengthwise.io import keyed_rows, read_jsonl

__all__ = ["rebuild_report"]


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None


def rebuild_report(run_dir: str | os.PathLike) -> Path:
    from lengthwise.evaluation import report as rep

    run = Path(run_dir)
    if not run.is_dir():
        raise InputError(f"{run}: not a folder")
    if (run / "leaderboard.json").exists():
        from lengthwise.jobs.arena import load_system

        summary = _json(run / "leaderboard.json")
        systems = {}
        for path, name in zip(summary.get("inputs", []), summary["systems"], strict=False):
            if Path(path).exists():
                systems[name] = load_system(path, skip_bad=True)[1]
        shared = sorted(set.intersection(*(set(v) for v in systems.values()))) if systems else []
        return rep.build_arena_report(run, summary, systems, shared)
    if (run / "items.jsonl").exists() and (run / "summary.json").exists():
        summary = _json(run / "summary.json")
        items = read_jsonl(run / "items.jsonl").rows
        source = Path(summary.get("responses", ""))
        rows = dict(keyed_rows(read_jsonl(source, skip_bad=True), skip_bad=True)) if source.is_file() else {}
        return rep.build_eval_report(run, items, summary, rows=rows)
    if (run / "before.jsonl").exists() and (run / "summary.json").exists():
        summary = _json(run / "summary.json")
        after = read_jsonl(run / "after.jsonl").rows if (run / "after.jsonl").exists() else None
        return rep.build_demo_report(run, read_jsonl(run / "before.jsonl").rows, after, summary,
                                     metrics_path=run / "train" / "metrics.jsonl")
    raise InputError(f"{run}: no demo, eval or arena results here (expected summary.json with items.jsonl or "
                     "before.jsonl, or leaderboard.json)")
