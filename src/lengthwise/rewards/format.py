"""Format checks: the think/answer grammar and, optionally, markdown structure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["FormatCheck", "check_think_answer", "check_markdown"]

_TAG = re.compile(r"</?(think|answer)>")
_HEADING = re.compile(r"^(#{1,6})\s+\S", re.MULTILINE)


@dataclass
class FormatCheck:
    ok: bool
    problems: list[str] = field(default_factory=list)


def check_think_answer(text: str | None) -> FormatCheck:
    """Exactly one ``<think>…</think>`` block, then exactly one ``<answer>`` block, nothing else
    outside them but white space. A missing final ``</answer>`` is accepted (generation is commonly
    stopped at it); a second block, text outside the tags, or an empty answer fails.

    >>> check_think_answer("<think>plan</think>\\n<answer>text").ok
    True
    >>> check_think_answer("intro <think>p</think><answer>t</answer>").problems
    ['text outside the tags']
    """
    if not text:
        return FormatCheck(False, ["empty"])
    tags = [m.group(0) for m in _TAG.finditer(text)]
    expected = ["<think>", "</think>", "<answer>", "</answer>"]
    problems = []
    if tags not in (expected, expected[:3]):
        if tags.count("<think>") != 1 or tags.count("</think>") != 1:
            problems.append("needs exactly one <think>…</think> block")
        if tags.count("<answer>") != 1 or tags.count("</answer>") > 1:
            problems.append("needs exactly one <answer> block")
        if not problems:
            problems.append("blocks out of order")
        return FormatCheck(False, problems)
    before = text[: text.index("<think>")]
    between = text[text.index("</think>") + len("</think>"): text.index("<answer>")]
    answer_start = text.index("<answer>") + len("<answer>")
    close = text.find("</answer>")
    after = text[close + len("</answer>"):] if close >= 0 else ""
    answer = text[answer_start: close if close >= 0 else len(text)]
    if before.strip() or between.strip() or after.strip():
        problems.append("text outside the tags")
    if not answer.strip():
        problems.append("empty answer")
    return FormatCheck(not problems, problems)


def check_markdown(text: str | None) -> tuple[float, list[str]]:
    """Markdown structure score in [0, 1]: 1 − (violations / headings), where a violation is a
    heading that skips a level (``#`` then ``###``) or a section with no text before the next heading
    of the same or a higher level. Text without headings scores 1 (plain prose is fine)."""
    if not text:
        return 1.0, []
    headings = list(_HEADING.finditer(text))
    if not headings:
        return 1.0, []
    problems = []
    previous_level = None
    for k, h in enumerate(headings):
        level = len(h.group(1))
        if previous_level is not None and level > previous_level + 1:
            problems.append(f"heading level jumps from {previous_level} to {level} at char {h.start()}")
        body_end = headings[k + 1].start() if k + 1 < len(headings) else len(text)
        line_end = text.find("\n", h.start())
        body = text[line_end + 1: body_end] if 0 <= line_end < body_end else ""
        next_level = len(headings[k + 1].group(1)) if k + 1 < len(headings) else 0
        if not body.strip() and (k + 1 == len(headings) or next_level <= level):
            problems.append(f"empty section at char {h.start()}")
        previous_level = level
    return max(0.0, 1.0 - len(problems) / len(headings)), problems
