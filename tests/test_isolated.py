"""jobs.isolated: a phase in a fresh process returns its result, forwards its messages and re-raises its error."""

from __future__ import annotations

import os
import signal

import pytest

from lengthwise.errors import ConfigError
from lengthwise.jobs.isolated import PhaseFailed, run_isolated


def _square_and_talk(x: int, say=lambda _m: None) -> dict:
    say(f"squaring {x}")
    return {"value": x * x, "pid": os.getpid()}


def _fails(message: str) -> None:
    raise ConfigError(message)


def _dies() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_the_phase_runs_in_another_process_and_returns_its_result():
    heard = []
    done = run_isolated(_square_and_talk, 7, say=heard.append)
    assert done.result["value"] == 49 and done.result["pid"] != os.getpid()
    assert heard == ["squaring 7"]
    assert done.peak_rss_mb > 5 and done.parent_rss_mb > 5


def test_the_phase_error_is_raised_in_the_caller_with_its_type_and_message():
    with pytest.raises(ConfigError, match="bad prompts file"):
        run_isolated(_fails, "bad prompts file")


def test_a_killed_phase_is_reported_not_hung_on():
    with pytest.raises(PhaseFailed, match=r"_dies died without a result \(exit code -9\).*rerun"):
        run_isolated(_dies)
