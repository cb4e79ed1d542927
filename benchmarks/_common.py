"""Shared by every benchmark: the results-file shape of DESIGN.md and a one-line summary."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def goal(value: float, target: str) -> dict[str, Any]:
    """``target`` like "<= 10" or ">= 0.9"; ``met`` is computed, never typed in."""
    op, bound = target.split()
    bound_value = float(bound)
    met = value <= bound_value if op == "<=" else value >= bound_value
    return {"value": round(value, 4), "target": target, "met": bool(met)}


def write_results(name: str, goals: dict[str, dict], figures: dict[str, Any], summary: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "commit": commit(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "goals": goals,
        "figures": figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    met = all(g["met"] for g in goals.values())
    verdict = "no goals (observation)" if not goals else ("all goals met" if met else "GOALS NOT MET")
    print(f"[{name}] {verdict}: {summary} -> {path.relative_to(RESULTS.parent.parent)}")
    return path
