"""``lengthwise arena A.jsonl B.jsonl …``: pairwise judging of systems on shared prompts, a
Bradley–Terry leaderboard with bootstrap intervals, and the HTML report.

Each file is one system (named by its ``model`` field, else the file name). Arena-Write rows
``{idx, question, type, length, baseline_response}`` load as the system ``baseline``. Every judged
comparison is appended to ``OUT/comparisons.jsonl`` keyed by (judge, prompt, A, B): a rerun after a
crash asks the judge only what is missing. Failed comparisons are counted by reason and excluded.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lengthwise.errors import InputError, RemoteError
from lengthwise.evaluation.arena import Comparison, combine_orders, leaderboard
from lengthwise.io import ResumableJsonl, atomic_write_json, check_output, keyed_rows, read_jsonl
from lengthwise.judging.pairwise import pair_key
from lengthwise.manifest import check_run
from lengthwise.records import ResponseRecord
from lengthwise.resumable import Emit, run_pending

__all__ = ["load_system", "run_arena"]


def _check_row(row: dict[str, Any]) -> str | None:
    if "response" not in row and "baseline_response" not in row:
        return "missing field 'response' (or Arena-Write's 'baseline_response')"
    value = row.get("response", row.get("baseline_response"))
    if value is not None and not isinstance(value, str):
        return f"field 'response' must be a string, got {type(value).__name__}"
    prompt = row.get("prompt", row.get("question"))
    if not isinstance(prompt, str):
        return "missing field 'prompt' (or Arena-Write's 'question')"
    return None


def load_system(path: str | os.PathLike, skip_bad: bool = False) -> tuple[str, dict[str, dict[str, str]]]:
    """``(system name, {prompt id: {prompt, response}})`` from one responses JSONL."""
    data = read_jsonl(path, check=_check_row, skip_bad=skip_bad)
    rows = keyed_rows(data, skip_bad)
    if not rows:
        raise InputError(f"{path}: no responses")
    first = rows[0][1]
    baseline = "response" not in first and "baseline_response" in first
    name = "baseline" if baseline else str(first.get("model") or Path(path).stem)
    records = [ResponseRecord.from_row(i, r) for i, r in rows]
    items = {r.id: {"prompt": r.prompt, "response": r.answer_part} for r in records}
    return name, items


def run_arena(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike, judge, anchor: str | None = None,
              n_bootstrap: int = 200, seed: int = 0, batch: int = 8, skip_bad: bool = False, progress: bool = True,
              report: bool = True, restart: bool = False) -> dict[str, Any]:
    if len(paths) < 2:
        raise InputError("arena needs at least two responses files (systems)")
    check_output(Path(out_dir) / "comparisons.jsonl")
    systems: dict[str, dict[str, dict[str, str]]] = {}
    for p in paths:
        name, items = load_system(p, skip_bad)
        if name in systems:  # two files from the same model: keep both, told apart by file name
            name = f"{name} ({Path(p).stem})"
        if name in systems:
            raise InputError(f"{p}: system {name!r} given twice")
        systems[name] = items
    names = list(systems)
    if anchor is not None and anchor not in systems:
        raise InputError(f"--anchor {anchor!r} is not one of the systems: {', '.join(names)}")
    shared = sorted(set.intersection(*(set(v) for v in systems.values())))
    if not shared:
        raise InputError("the systems share no prompt ids; arena compares responses to the same prompts")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_run(out / "manifest.json", list(paths), {"judge": judge.name},
              [out / "comparisons.jsonl", out / "leaderboard.json"], restart=restart)
    jobs = []  # (key, prompt id, first system, second system, prompt, a, b)
    for pid in shared:
        prompt = systems[names[0]][pid]["prompt"]
        for x, y in itertools.combinations(names, 2):
            for a, b in ((x, y), (y, x)):
                ra, rb = systems[a][pid]["response"], systems[b][pid]["response"]
                jobs.append((pair_key(judge.name, prompt, ra, rb), pid, a, b, prompt, ra, rb))
    # A failed comparison is recorded with the judge's raw reply, and asked again on the next run.
    cache = ResumableJsonl(out / "comparisons.jsonl", key="key", is_done=lambda row: row.get("outcome") is not None)
    failures: Counter[str] = Counter()

    def work(chunk: list[tuple], emit: Emit) -> None:
        for job, verdict in zip(chunk, judge.compare([(j[4], j[5], j[6]) for j in chunk]), strict=True):
            row = {"key": job[0], "judge": judge.name, "prompt_id": job[1], "first": job[2],
                   "second": job[3], "outcome": verdict.outcome, "attempts": verdict.attempts}
            if not verdict.ok:
                failures[verdict.error or "unknown"] += 1
                row.update(error=verdict.error, raw=getattr(verdict, "raw", None))
            emit(row)

    run_pending(jobs, cache, key=lambda job: job[0], work=work, chunk=batch, progress=progress, desc="arena",
                unit="cmp")
    outcomes = {}
    for job in jobs:
        row = cache.done.get(job[0])
        if row is not None:
            outcomes[(job[1], job[2], job[3])] = row["outcome"]
    if not outcomes:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or "none judged"
        raise RemoteError(f"nothing to rank: none of the {len(jobs)} comparisons has a verdict ({reasons}); the "
                          f"judge's raw replies are in {out / 'comparisons.jsonl'}; rerun the same command to retry")
    comparisons: list[Comparison] = combine_orders(outcomes)
    board = leaderboard(comparisons, names, anchor=anchor or ("baseline" if "baseline" in systems else names[0]),
                        n_bootstrap=n_bootstrap, seed=seed)
    summary = {
        "inputs": [str(Path(p).resolve()) for p in paths],
        "systems": names,
        "prompts": len(shared),
        "judged": len(outcomes),
        "requested": len(jobs),
        "judge": judge.name,
        "judge_failures": {"count": sum(failures.values()), "by_reason": dict(failures)},
        "anchor": anchor or ("baseline" if "baseline" in systems else names[0]),
        "leaderboard": board,
        "unmatched": {n: len(v) - len(shared) for n, v in systems.items()},
    }
    atomic_write_json(out / "leaderboard.json", summary)
    if report:
        from lengthwise.evaluation.report import build_arena_report

        summary["report"] = str(build_arena_report(out, summary, systems, shared))
    return summary
