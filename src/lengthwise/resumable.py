"""The one resumable-job loop: skip what is done → progress bar → chunk → work → append.

Every command that turns inputs into output rows (generate, score, eval, arena, the judge cache) runs
this loop over a ``ResumableJsonl``: an item whose key the file already holds as done is skipped, the
rest go to ``work`` a chunk at a time, and each finished row is appended (and flushed) as it arrives,
so a crash loses at most the rows in flight and a rerun redoes only what is missing. Reading the
inputs and summarising the outputs stay with each command: they differ; the loop does not.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lengthwise.io import ResumableJsonl

__all__ = ["Emit", "LoopReport", "run_pending"]

T = TypeVar("T")

# ``emit(row)`` appends a finished row and advances the bar; ``emit(None)`` only advances the bar
# (an item that failed and is recorded elsewhere, to be retried by the next run).
Emit = Callable[[dict[str, Any] | None], None]


@dataclass
class LoopReport(Generic[T]):
    total: int
    already_done: int
    todo: list[T]

    @property
    def processed(self) -> int:
        return len(self.todo)


def run_pending(items: Sequence[T], store: ResumableJsonl, key: Callable[[T], Hashable],
                work: Callable[[list[T], Emit], None], *, chunk: int = 8, progress: bool = True,
                desc: str = "work", unit: str = "item", order: Callable[[T], Any] | None = None,
                close: bool = True) -> LoopReport[T]:
    """Run ``work(chunk, emit)`` over the items of ``items`` that ``store`` does not hold as done.

    ``order`` sorts the pending items (e.g. by token budget, so short requests share a batch). The
    store is closed at the end, also on errors and interrupts, unless ``close`` is false.
    """
    from tqdm.auto import tqdm

    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    todo = [item for item in items if key(item) not in store]
    if order is not None:
        todo.sort(key=order)
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=desc, unit=unit, disable=not progress,
               dynamic_ncols=True)

    def emit(row: dict[str, Any] | None) -> None:
        if row is not None:
            store.append(row)
        bar.update(1)

    try:
        for start in range(0, len(todo), chunk):
            work(todo[start:start + chunk], emit)
    finally:
        bar.close()
        if close:
            store.close()
    return LoopReport(len(items), len(items) - len(todo), todo)
