"""Give memory back to the operating system between and during CPU training phases.

A CPU run allocates tensors of a new shape at every step (answers of different lengths); glibc keeps the freed
blocks in its heaps, so the resident set grows with the variety of shapes, not with what is alive (measured on
the writing demo: 2.8 GB at the first fine-tuning step, 4.4 GB at the last, 5.5 GB in the RL phase that
followed in the same process). ``release_memory`` collects Python's reference cycles (a finished Trainer holds
its model through its callbacks) and asks glibc to return free pages (``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc

__all__ = ["release_memory"]


@functools.lru_cache(maxsize=1)
def _libc_trim():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:  # pragma: no cover - not a glibc system
        return None
    return getattr(libc, "malloc_trim", None)


def release_memory() -> None:
    """Collect reference cycles and, on glibc, return free heap pages to the system (no-op elsewhere)."""
    gc.collect()
    trim = _libc_trim()
    if trim is not None:
        trim(0)
