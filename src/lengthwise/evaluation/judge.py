"""The six-dimension writing-quality rubric (LongBench-Write S_q) and strict parsing of judge replies.

A reply must contain one JSON object with an integer 1–5 for each of the six dimensions (an
``analysis`` string may come first, braces inside it allowed; code fences are accepted). Anything
else is a ``JudgeParseError`` with the reason: callers retry, then count the failure. Never guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

__all__ = ["DIMENSIONS", "JudgeParseError", "judge_messages", "parse_judge_reply", "quality_score"]

DIMENSIONS = ("Relevance", "Accuracy", "Coherence", "Clarity", "Breadth and Depth", "Reading Experience")

_RUBRIC = """You are an expert judge of writing quality. Rate the response to the user's writing request on six
dimensions, each an integer from 1 (very poor) to 5 (excellent):
- Relevance: does it address the request and its requirements?
- Accuracy: are its facts and reasoning correct?
- Coherence: is it logically organised, with smooth transitions?
- Clarity: is the language clear and precise?
- Breadth and Depth: does it cover the topic widely and in depth?
- Reading Experience: is it engaging and pleasant to read?
Judge quality only: ignore whether the response meets any requested length.

First write a short analysis, then give the scores as one JSON object with exactly these keys:
{"analysis": "...", "Relevance": n, "Accuracy": n, "Coherence": n, "Clarity": n, "Breadth and Depth": n, "Reading Experience": n}"""


class JudgeParseError(ValueError):
    """The judge's reply could not be read as a complete, valid score set."""


def judge_messages(prompt: str, response: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": _RUBRIC},
        {"role": "user", "content": f"[Writing request]\n{prompt}\n\n[Response]\n{response}\n\n[Your judgement]"},
    ]


def _json_objects(text: str) -> list[str]:
    """Every top-level ``{…}`` in ``text``, respecting JSON strings (braces inside them don't count)."""
    found, depth, start, in_string, escaped = [], 0, None, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0 and start is not None:
                found.append(text[start:i + 1])
    return found


def parse_judge_reply(reply: str | None) -> dict[str, int]:
    """``{dimension: score}`` for all six dimensions, or ``JudgeParseError``.

    >>> parse_judge_reply('```json\\n{"analysis": "ok {fine}", "Relevance": 5, "Accuracy": 4, "Coherence": 4, '
    ...                   '"Clarity": 5, "Breadth and Depth": 3, "Reading Experience": 4}\\n```')["Breadth and Depth"]
    3
    """
    if not reply or not reply.strip():
        raise JudgeParseError("empty reply")
    text = re.sub(r"```(?:json)?", "", reply)
    candidates = _json_objects(text)
    if not candidates:
        raise JudgeParseError("no JSON object in the reply")
    last_problem = "no JSON object with the six scores"
    for raw in reversed(candidates):
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            last_problem = f"invalid JSON ({exc.msg})"
            continue
        if not isinstance(obj, dict):
            continue
        missing = [d for d in DIMENSIONS if d not in obj]
        if missing:
            last_problem = f"missing dimension(s): {', '.join(missing)}"
            continue
        scores = {}
        for d in DIMENSIONS:
            v = obj[d]
            if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v):
                raise JudgeParseError(f"{d} must be an integer 1-5, got {v!r}")
            if not 1 <= v <= 5:
                raise JudgeParseError(f"{d} must be between 1 and 5, got {v!r}")
            scores[d] = int(v)
        return scores
    raise JudgeParseError(last_problem)


def quality_score(scores: Mapping[str, float]) -> float:
    """S_q in [0, 100]: the mean over the six dimensions of ``(score − 1) · 25``.

    >>> quality_score({d: 3 for d in DIMENSIONS})
    50.0
    """
    missing = [d for d in DIMENSIONS if d not in scores]
    if missing:
        raise ValueError(f"missing dimension(s): {', '.join(missing)}")
    return sum((scores[d] - 1) * 25 for d in DIMENSIONS) / len(DIMENSIONS)
