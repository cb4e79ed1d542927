"""Answer checking for verifiable rewards: the final answer of a response against the reference.

Hugging Face's ``math-verify`` does the work (boxed answers, fractions, LaTeX, units, numeric
equality: ``\\frac{1}{2}`` = ``0.5`` = ``1/2``, ``2.50`` = ``2.5``). Only where it cannot read the
reference at all do we fall back to comparing the last ``\\boxed{…}`` (else the last number) as text or
number.
"""

from __future__ import annotations

import re
import threading
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


def _math_verify(body: str, gold: str) -> bool | None:
    """math-verify's verdict, or ``None`` when it cannot parse the reference."""
    from math_verify import parse, verify

    # its timeouts use SIGALRM, which only the main thread may set (TRL may score in a worker thread)
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    reference = parse(gold, parsing_timeout=timeout)
    if not reference:
        return None
    prediction = parse(body, parsing_timeout=timeout)
    return bool(prediction) and bool(verify(reference, prediction, timeout_seconds=timeout))


def is_correct(text: str, answer: Any) -> bool | None:
    """The final answer of the response's answer part against the reference (math-verify);
    ``None`` when the row has no reference answer."""
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None
    body = extract_answer(text)
    verdict = _math_verify(body, str(answer))
    if verdict is not None:
        return verdict
    boxed = _BOXED.findall(body)
    guess = boxed[-1] if boxed else (_NUMBER.findall(body) or [""])[-1]
    return bool(guess) and _normalize_answer(guess) == _normalize_answer(str(answer))
