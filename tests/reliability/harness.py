"""Run a CLI command in a subprocess, kill -9 it at a chosen point, rerun it, and compare with an
uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def cli(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lengthwise.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_when(args: list[str], ready: Callable[[], bool], timeout: float = 300) -> None:
    """Start the command; SIGKILL it as soon as ``ready()`` holds. Fails if it ends first."""
    proc = subprocess.Popen([sys.executable, "-m", "lengthwise.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            break
        if proc.poll() is not None:
            raise AssertionError(f"the command ended before it could be killed: {proc.stderr.read().decode()[-1500:]}")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def tear_last_line(path: Path, junk: bytes = b'{"id": "torn-by-a-crash", "resp') -> None:
    """What a crash during a write leaves: a last line without its end."""
    with open(path, "ab") as fh:
        fh.write(junk)


def jsonl_rows(path: Path) -> list[dict]:
    """Every line must parse: a truncated line left in place is a failure of the repair."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_same_items(interrupted: Path, clean: Path, key: str = "id") -> list[str]:
    rows, ref = jsonl_rows(interrupted), jsonl_rows(clean)
    ids = [str(r[key]) for r in rows]
    assert len(ids) == len(set(ids)), f"duplicated items in {interrupted.name}"
    assert sorted(ids) == sorted(str(r[key]) for r in ref), f"{interrupted.name}: completed items differ"
    return ids
