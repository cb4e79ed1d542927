"""Run one phase of a job in a fresh process.

A long job that loads models phase after phase (measure, fine-tune, train with RL, measure again) carries
each phase's heap into the next: glibc keeps freed arenas, and trimming them returns only part. The demo's
RL phase peaked at 2.2 GB in a fresh process but took the demo to 4.2 GB after fine-tuning in the same one
(benchmarks/results/demo.json). A phase run here starts from an empty heap and gives all of it back when it
ends; the caller keeps only the phase's (small, picklable) result.

The child is started with ``spawn`` (no forked torch thread pools), is killed if the parent dies (Linux), sends
its ``say`` messages to the parent's callback, and returns its result or re-raises its error in the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PhaseFailed", "PhaseRun", "run_isolated"]


class PhaseFailed(RuntimeError):
    """The phase's process died without a result (killed, out of memory)."""


@dataclass
class PhaseRun:
    result: Any
    peak_rss_mb: float  # the child's own peak resident set
    parent_rss_mb: float  # what the parent held meanwhile (the two add up on the machine)


def run_isolated(fn: Callable[..., Any], *args: Any, say: Callable[[str], None] | None = None,
                 log_path: str | os.PathLike | None = None, **kwargs: Any) -> PhaseRun:
    """``fn(*args, **kwargs)`` in a fresh process; ``fn`` must be importable (module level) and its arguments
    and result picklable. With ``say``, ``fn`` gets a ``say`` keyword that forwards each message to it.
    Library output (warnings, log records) goes to ``log_path``."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, fn, args, kwargs, say is not None,
                                                   str(log_path) if log_path else None))
    parent_rss = _current_rss_mb()
    process.start()
    send.close()  # the child holds the only writing end: its death ends the pipe
    try:
        while True:
            try:
                kind, *payload = receive.recv()
            except EOFError:
                process.join()
                raise PhaseFailed(f"{getattr(fn, '__name__', fn)} died without a result "
                                  f"(exit code {process.exitcode}); rerun the same command to resume") from None
            if kind == "say":
                if say is not None:
                    say(payload[0])
            elif kind == "ok":
                result, peak = payload
                return PhaseRun(result, peak, parent_rss)
            else:
                error, text = payload
                if error is None:
                    raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in its process:\n{text}")
                raise error
    finally:
        receive.close()
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
            process.join()


def _child(send, fn, args, kwargs, forward_say: bool, log_path: str | None) -> None:
    _die_with_parent()
    if forward_say:
        kwargs = {**kwargs, "say": lambda message: send.send(("say", str(message)))}
    try:
        if log_path:
            from lengthwise.logs import library_output_to

            with library_output_to(log_path):
                result = fn(*args, **kwargs)
        else:
            result = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which re-raises it
        text = traceback.format_exc()
        try:
            send.send(("error", exc, text))
        except Exception:  # noqa: BLE001 - an exception that does not pickle still reaches the parent as text
            send.send(("error", None, text))
        send.close()
        return
    send.send(("ok", result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    send.close()


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to this process when its parent dies (``kill -9`` of the job must not
    leave an orphan writing beside the rerun)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() == 1:  # the parent was already gone before the request took effect
        os._exit(1)


def _current_rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
