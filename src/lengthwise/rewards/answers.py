"""Answer checking for verifiable rewards: the final answer of a response against the reference."""

from __future__ import annotations

import re
from typing import Any

from lengthwise.text import extract_answer

__all__ = ["is_correct"]

_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _normalize_answer(s: str) -> str:
    s = s.strip().strip("$").replace(" ", "").replace(",", "").rstrip(".")
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            return repr(round(float(num) / float(den), 9))
        return repr(round(float(s), 9))
    except ValueError:
        return s.lower()


def is_correct(text: str, answer: Any) -> bool | None:
    """The last ``\\boxed{…}`` (else the last number) of the answer part against the reference;
    ``None`` when the row has no reference answer."""
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None
    body = extract_answer(text)
    boxed = _BOXED.findall(body)
    guess = boxed[-1] if boxed else (_NUMBER.findall(body) or [""])[-1]
    return bool(guess) and _normalize_answer(guess) == _normalize_answer(str(answer))
