"""The repetition guard of the write loop: how much of a new section repeats the text so far, and how a section
that repeats too much is regenerated.

A section is scored against the document before it is accepted, with the project's detectors run on the text so
far followed by the section: exact repeated runs, near-duplicate paragraphs and (given an embedder) paraphrased
sentences. Its redundancy is the share of the section's characters inside a span those detectors mark as
repeating earlier text (the section's own loops count too: a span is a later copy of something earlier).

Above the threshold the section is written again, each attempt a little more insistent (``escalation``): first a
new seed, then a repetition penalty, then the penalty with a ban on repeating 4-grams. The least redundant attempt
is kept (the first of equals), and every decision is recorded with the section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lengthwise.rewards.redundancy import exact_repetition, near_duplicate_paragraphs, paraphrase_repetition

__all__ = ["GuardSettings", "Escalation", "escalation", "section_redundancy", "pick_least_redundant"]

# Paragraph break between the text so far and the new section, as the writer joins sections.
JOINER = "\n\n"


@dataclass(frozen=True)
class GuardSettings:
    """``threshold``: the redundancy above which a section is regenerated (the benchmark's document goal is 0.35;
    a section over 0.3 is most of the way to making the document fail it). ``attempts``: regenerations at most.
    ``paraphrase``: also count paraphrased sentences (needs the embedder; slower)."""

    enabled: bool = True
    threshold: float = 0.3
    attempts: int = 3
    paraphrase: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"guard threshold must be in (0, 1], got {self.threshold}")
        if self.attempts < 0:
            raise ValueError(f"guard attempts must be >= 0, got {self.attempts}")


@dataclass(frozen=True)
class Escalation:
    """What a regeneration changes: its seed salt and the anti-repetition settings of the request."""

    salt: int
    repetition_penalty: float | None = None
    no_repeat_ngram_size: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"repetition_penalty": self.repetition_penalty, "no_repeat_ngram_size": self.no_repeat_ngram_size}


def escalation(attempt: int) -> Escalation:
    """Attempt 0 is the first writing; 1: another seed; 2: repetition penalty 1.2; 3 and later: penalty 1.3 and no
    repeated 4-gram (strong enough to break a loop, mild enough to leave ordinary function words usable).

    >>> [(e.repetition_penalty, e.no_repeat_ngram_size) for e in map(escalation, range(4))]
    [(None, None), (None, None), (1.2, None), (1.3, 4)]
    """
    if attempt <= 1:
        return Escalation(salt=7919 * attempt)
    if attempt == 2:
        return Escalation(salt=7919 * attempt, repetition_penalty=1.2)
    return Escalation(salt=7919 * attempt, repetition_penalty=1.3, no_repeat_ngram_size=4)


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> int:
    """Characters of [start, end) inside the union of ``spans``."""
    total, reach = 0, start
    for s, e in sorted((max(s, start), min(e, end)) for s, e in spans):
        if e <= s or e <= reach:
            continue
        total += e - max(s, reach)
        reach = e
    return total


def section_redundancy(previous: str, section: str, embed: Callable | None = None) -> dict[str, Any]:
    """``{score, exact, near_duplicate, paraphrase}``: the share of ``section``'s characters that repeat earlier text
    (overall, and per detector), with ``previous`` the document so far."""
    section = section.strip()
    if not section:
        return {"score": 0.0, "exact": 0.0, "near_duplicate": 0.0, "paraphrase": None}
    text = f"{previous}{JOINER}{section}" if previous.strip() else section
    start, end = len(text) - len(section), len(text)
    detections = {"exact": exact_repetition(text), "near_duplicate": near_duplicate_paragraphs(text)}
    if embed is not None:
        detections["paraphrase"] = paraphrase_repetition(text, embed)
    spans = {name: [(s.start, s.end) for s in d.spans] for name, d in detections.items()}
    length = end - start
    out: dict[str, Any] = {name: round(_covered(v, start, end) / length, 4) for name, v in spans.items()}
    out.setdefault("paraphrase", None)
    out["score"] = round(_covered([s for v in spans.values() for s in v], start, end) / length, 4)
    return out


def pick_least_redundant(attempts: list[dict[str, Any]]) -> int:
    """Index of the attempt to keep: the lowest redundancy score, the earliest of equals."""
    if not attempts:
        raise ValueError("no attempts to choose from")
    return min(range(len(attempts)), key=lambda k: (attempts[k]["redundancy"]["score"], k))
