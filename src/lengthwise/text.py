"""Counting and slicing text: the length counters, think/answer extraction, CJK detection, splitting.

Pure module: no trainer, HTTP or CLI imports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COUNTERS",
    "DEFAULT_COUNTER",
    "WordCounter",
    "count_words",
    "get_counter",
    "extract_answer",
    "split_think_answer",
    "cjk_ratio",
    "is_cjk_text",
    "detect_language",
    "split_sentences",
    "split_paragraphs",
]

DEFAULT_COUNTER = "longbench"

# LongBench-Write's counter, reproduced with its quirks: only the basic CJK block, and only pure-ASCII
# letter runs bounded by Python's Unicode-aware \b (so "4o", "café" and "word1" never count).
_LB_CJK = re.compile(r"[\u4e00-\u9fff]")
_LB_ASCII_WORD = re.compile(r"\b[a-zA-Z]+\b")

# Ideographs (basic + extension A + compatibility), kana and Hangul syllables: one unit each.
_CJK_CHAR_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u309f\u30a0-\u30ff\uac00-\ud7af"
_UNICODE_UNIT = re.compile(rf"[{_CJK_CHAR_CLASS}]|[^\W_{_CJK_CHAR_CLASS}]+")
_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER_OR_IDEOGRAPH = re.compile(r"[^\W\d_]")


def _count_longbench(text: str) -> int:
    return len(_LB_CJK.findall(text)) + len(_LB_ASCII_WORD.findall(text))


def _count_whitespace(text: str) -> int:
    return len(text.split())


def _count_unicode(text: str) -> int:
    # NFC first so that a decomposed "i + combining diaeresis" stays inside its word.
    return len(_UNICODE_UNIT.findall(unicodedata.normalize("NFC", text)))


@dataclass(frozen=True)
class WordCounter:
    """A named length counter; call it on a text to get its length.

    >>> get_counter("whitespace")("a b  c")
    3
    """

    name: str
    fn: Callable[[str], int]

    def __call__(self, text: str | None) -> int:
        if not text:
            return 0
        return self.fn(text)


class _TokenCounter:
    """Counts a tokenizer's ids (no special tokens). Picklable when the tokenizer is."""

    name = "tokens"

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def __call__(self, text: str | None) -> int:
        if not text:
            return 0
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


COUNTERS: dict[str, WordCounter] = {
    "longbench": WordCounter("longbench", _count_longbench),
    "whitespace": WordCounter("whitespace", _count_whitespace),
    "unicode": WordCounter("unicode", _count_unicode),
}
_ALL_COUNTER_NAMES = (*COUNTERS, "tokens")


def get_counter(counter: str | WordCounter | _TokenCounter = DEFAULT_COUNTER, tokenizer: Any = None):
    """Return the counter object for a name (``longbench``, ``whitespace``, ``unicode``, ``tokens``).

    ``tokens`` needs ``tokenizer`` (anything with the Hugging Face ``__call__`` returning ``input_ids``).
    Raises ``ValueError`` naming the valid counters for an unknown name.
    """
    if not isinstance(counter, str):
        return counter
    if counter == "tokens":
        if tokenizer is None:
            raise ValueError("the 'tokens' counter needs a tokenizer: pass tokenizer=AutoTokenizer...(...)")
        return _TokenCounter(tokenizer)
    try:
        return COUNTERS[counter]
    except KeyError:
        raise ValueError(
            f"unknown counter {counter!r}; choose one of: {', '.join(_ALL_COUNTER_NAMES)}"
        ) from None


def count_words(text: str | None, counter: str = DEFAULT_COUNTER, tokenizer: Any = None) -> int:
    """Length of ``text`` under ``counter``.

    ``longbench`` (default) is LongBench-Write's: CJK ideographs in U+4E00–U+9FFF plus ASCII words
    matching ``\\b[a-zA-Z]+\\b``. ``unicode`` counts each ideograph, kana or Hangul syllable as 1 and
    every other run of letters/digits as 1. ``whitespace`` splits on white space. ``tokens`` counts
    a tokenizer's ids. ``None`` or empty text counts 0.

    >>> count_words("don't stop"), count_words("In 2024, GPT-4o won."), count_words("你好，世界")
    (3, 3, 4)
    >>> count_words("café naïve"), count_words("café naïve", counter="unicode")
    (0, 2)
    """
    return get_counter(counter, tokenizer)(text)


# ---------------------------------------------------------------------------------------------
# Think / answer template

_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"


def split_think_answer(text: str | None) -> tuple[str | None, str]:
    """Split a completion into ``(think, answer)``.

    ``think`` is ``None`` when there is no complete ``<think>…</think>`` block. The answer is the
    ``<answer>`` part when present (a missing ``</answer>`` is tolerated, since generation is often
    stopped at it); else the text after ``</think>``; else the whole text.

    >>> split_think_answer("<think>a</think><answer>b")
    ('a', 'b')
    >>> split_think_answer("plain text")
    (None, 'plain text')
    """
    if not text:
        return None, ""
    think_match = _THINK_BLOCK.search(text)
    think = think_match.group(1) if think_match else None
    rest = text[think_match.end():] if think_match else text
    start = rest.find(_ANSWER_OPEN)
    if start >= 0:
        body = rest[start + len(_ANSWER_OPEN):]
        end = body.find(_ANSWER_CLOSE)
        answer = body if end < 0 else body[:end]
    else:
        answer = rest
    return think, answer.strip()


def extract_answer(text: str | None) -> str:
    """The part of a completion whose length and quality are measured (see ``split_think_answer``).

    >>> extract_answer("<think>plan</think>\\n<answer>The essay.</answer>")
    'The essay.'
    """
    return split_think_answer(text)[1]


# ---------------------------------------------------------------------------------------------
# Script detection


def cjk_ratio(text: str | None) -> float:
    """Share of ideographs among letter-like characters (0.0 for text with no letters)."""
    if not text:
        return 0.0
    letters = _LETTER_OR_IDEOGRAPH.findall(text)
    if not letters:
        return 0.0
    return len(_IDEOGRAPH.findall(text)) / len(letters)


def is_cjk_text(text: str | None, threshold: float = 0.3) -> bool:
    """True when ideographs make up at least ``threshold`` of the letters (word-count conventions flip)."""
    return cjk_ratio(text) >= threshold


def detect_language(text: str | None) -> str:
    """``"zh"`` for mostly-ideograph text, else ``"en"`` (the two template languages we ship)."""
    return "zh" if is_cjk_text(text) else "en"


# ---------------------------------------------------------------------------------------------
# Splitting

# End of sentence: Latin terminators followed by space/end, or CJK terminators (no space needed).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|(?<=[。！？；!?])[”’」』）]*")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")


def split_sentences(text: str | None) -> list[str]:
    """Split English or Chinese text into sentences (non-empty, stripped).

    >>> split_sentences("One. Two! 三。四？")
    ['One.', 'Two!', '三。', '四？']
    """
    if not text:
        return []
    pieces: list[str] = []
    for line in text.splitlines():
        pieces.extend(p.strip() for p in _SENTENCE_END.split(line))
    return [p for p in pieces if p]


def split_paragraphs(text: str | None) -> list[str]:
    """Split on blank lines; text with no blank line but several lines is split on lines.

    >>> split_paragraphs("a\\n\\nb\\n\\n\\nc")
    ['a', 'b', 'c']
    """
    if not text:
        return []
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text)]
    paragraphs = [p for p in paragraphs if p]
    if len(paragraphs) == 1 and "\n" in paragraphs[0]:
        paragraphs = [line.strip() for line in paragraphs[0].splitlines() if line.strip()]
    return paragraphs
