"""One set of rules for the numbers users give us, used wherever a value is read (pure).

A required length is a finite number > 0 and at most ``MAX_LENGTH``; booleans are not numbers and
strings are not lengths (``"500"`` is an error, not 500), in every command alike.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_LENGTH", "length_problem", "resolve_length", "finite_number_problem"]

MAX_LENGTH = 10_000_000  # words; longer than any document a model writes, short of float trouble


def length_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable ``length`` (``None`` counts as absent, not a problem): one
    message for every way to be wrong, so every command says the same thing."""
    if value is None:
        return None
    problem = f"field 'length' must be a positive number of words (at most {MAX_LENGTH:,}), got {value!r:.40}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return problem
    try:
        number = float(value)
    except OverflowError:
        return problem
    if not math.isfinite(number) or number <= 0 or number > MAX_LENGTH:
        return problem
    return None


def resolve_length(value: Any) -> float | None:
    """``value`` as a length in words, ``None`` when absent; ``ValueError`` when unusable.

    >>> resolve_length(500), resolve_length(None)
    (500.0, None)
    """
    problem = length_problem(value)
    if problem:
        raise ValueError(problem)
    return None if value is None else float(value)


def finite_number_problem(name: str, value: Any, low: float | None = None, high: float | None = None,
                          low_open: bool = False) -> str | None:
    """Why ``value`` is not a finite number within [low, high] (``low_open``: strictly above low)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number, got {value!r:.40}"
    try:
        number = float(value)
    except OverflowError:
        return f"{name} is too large"
    if not math.isfinite(number):
        return f"{name} must be finite, got {value!r:.40}"
    if low is not None and (number <= low if low_open else number < low):
        return f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r:.40}"
    if high is not None and number > high:
        return f"{name} must be <= {high:g}, got {value!r:.40}"
    return None
