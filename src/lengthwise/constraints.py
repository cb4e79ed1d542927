"""Typed length constraints parsed from English and Chinese writing requests.

``parse_length("Write about 2,000 words on tides")`` returns
``LengthConstraint(kind="about", lo=2000, hi=2000, target=2000, unit="words")``; a request that
states no length returns ``None`` (we never guess a length silently).

Pure module: no trainer, HTTP or CLI imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from lengthwise.numbers import NUM_ANY as _NUM_ANY
from lengthwise.numbers import NUM_EN as _NUM_EN
from lengthwise.numbers import NUM_ZH as _NUM_ZH
from lengthwise.numbers import parse_number

__all__ = ["LengthConstraint", "parse_length", "parse_number", "Kind", "Unit"]

Kind = Literal["exact", "about", "min", "max", "range"]
Unit = Literal["words", "characters", "pages", "tokens"]

WORDS_PER_PAGE = 500


@dataclass(frozen=True)
class LengthConstraint:
    """A stated length requirement.

    ``lo``/``hi`` are the bounds as stated (``None`` where open): exact and about give
    ``lo = hi = target``; ``min`` has ``hi=None``; ``max`` has ``lo=None``; ``range`` has both and
    ``target`` at the midpoint. ``multiplier`` > 1 when the request asks for several parts of a
    given length (values are already totals). ``language`` is the language the request was
    phrased in, which decides what a "character" is.
    """

    kind: Kind
    lo: float | None
    hi: float | None
    target: float
    unit: Unit = "words"
    multiplier: int = 1
    language: Literal["en", "zh"] = "en"
    text: str = ""

    def target_range(self, tolerance: float = 0.1) -> tuple[float, float]:
        """The LongWriter-Zero reward range: N → [0.9N, 1.1N]; at most N → [0.9N, N];
        at least N → [N, 1.1N]; a stated range as is.

        >>> parse_length("at most 500 words").target_range()
        (450.0, 500.0)
        """
        n = float(self.target)
        if self.kind == "range":
            return float(self.lo), float(self.hi)
        if self.kind == "max":
            return (1 - tolerance) * n, n
        if self.kind == "min":
            return n, (1 + tolerance) * n
        return (1 - tolerance) * n, (1 + tolerance) * n

    def required_words(self, words_per_page: int = WORDS_PER_PAGE) -> float | None:
        """Target in the units the ``longbench`` counter counts (words, or 字 for Chinese).

        Pages convert at ``words_per_page``; English characters and tokens do not convert to words,
        so they return ``None`` rather than a guess.
        """
        if self.unit == "words" or (self.unit == "characters" and self.language == "zh"):
            return float(self.target)
        if self.unit == "pages":
            return float(self.target) * words_per_page
        return None

    def in_words(self, words_per_page: int = WORDS_PER_PAGE) -> LengthConstraint | None:
        """The same constraint with its bounds in counted words (pages at ``words_per_page``, the
        documented rate); ``None`` where the unit does not convert (English characters, tokens).

        >>> parse_length("no more than 2 pages").in_words().hi
        1000.0
        """
        if self.required_words(words_per_page) is None:
            return None
        scale = self.required_words(words_per_page) / self.target
        return replace(self, lo=None if self.lo is None else self.lo * scale,
                       hi=None if self.hi is None else self.hi * scale, target=self.target * scale,
                       unit="words" if self.language == "en" or self.unit == "pages" else self.unit)


_Q_MIN_EN = (
    r"at\s{1,4}least|no\s{1,4}less\s{1,4}than|not\s{1,4}less\s{1,4}than|no\s{1,4}fewer\s{1,4}than|not\s{1,4}fewer\s{1,4}than|a\s{1,4}minimum\s{1,4}of"
    r"|minimum\s{1,4}of|min\.?|more\s{1,4}than|over|upwards\s{1,4}of|in\s{1,4}excess\s{1,4}of|exceeding|greater\s{1,4}than|no\s{1,4}shorter\s{1,4}than"
)
_Q_MAX_EN = (
    r"(?:must|should|shall|does|do|will|can)\s{1,4}not\s{1,4}(?:exceed|be\s{1,4}(?:more|longer)\s{1,4}than)"
    r"|(?:mustn't|shouldn't|doesn't|don't|can't|cannot)\s{1,4}(?:exceed|be\s{1,4}(?:more|longer)\s{1,4}than)"
    r"|at\s{1,4}most|no\s{1,4}more\s{1,4}than|not\s{1,4}more\s{1,4}than|no\s{1,4}longer\s{1,4}than|up\s{1,4}to|under|less\s{1,4}than|fewer\s{1,4}than"
    r"|a\s{1,4}maximum\s{1,4}of|maximum\s{1,4}of|max\.?|within|not\s{1,4}exceeding|not\s{1,4}to\s{1,4}exceed|below|limited\s{1,4}to|capped\s{1,4}at"
)
_Q_ABOUT_EN = (
    r"about|around|approximately|approx\.?|roughly|~|circa|some|nearly|close\s{1,4}to"
    r"|in\s{1,4}the\s{1,4}region\s{1,4}of"
)
_Q_EXACT_EN = r"exactly|precisely|a\s{1,4}total\s{1,4}of|totall?ing"
_UNIT_EN = r"(?P<unit>words?|characters?|chars|tokens?|pages?)\b"

# Negated comparatives first: "不要超过/不得超过/不能多于 N 字" is a maximum although "超过" alone is a
# minimum, and "不能少于" a minimum although "少于" alone is a maximum. Longer alternatives start
# earlier in the text, so the earliest-match rule picks them over the bare comparative inside.
_NEG = r"(?:不要|不得|不能|不可|不应|不宜|不准|切勿|请勿|勿)"
_Q_MIN_ZH = rf"{_NEG}(?:少于|低于|短于|小于)|不少于|至少|不低于|不小于|最少|起码|超过|多于|大于|不短于"
_Q_MAX_ZH = (
    rf"{_NEG}(?:超过|超出|多于|大于|长于|高于)|不超出|不超过|不多于|不大于|最多|至多|少于|低于|小于|不长于"
    r"|控制在|限制在|限于|以内的"
)
_Q_ABOUT_ZH = r"大约|大概|大致|约|左右"
_Q_AFTER_ZH = r"(?P<after>以上|以内|以下|之内|左右|上下|之间)"
_UNIT_ZH = r"(?P<unit>个?字|个?词|页)"
_RANGE_SEP = r"\s{0,4}(?:-|–|—|~|～|到|至|to)\s{0,4}"


def _kind_of_qualifier(q: str | None) -> Kind | None:
    if not q:
        return None
    q = re.sub(r"\s{1,4}", " ", q.strip().lower())
    for kind, pattern in (
        ("min", _Q_MIN_EN + "|" + _Q_MIN_ZH + "|以上"),
        ("max", _Q_MAX_EN + "|" + _Q_MAX_ZH + "|以内|以下|之内"),
        ("about", _Q_ABOUT_EN + "|" + _Q_ABOUT_ZH + "|上下"),
        ("exact", _Q_EXACT_EN),
    ):
        if re.fullmatch(pattern, q):
            return kind
    return None


_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # English ranges: "between 500 and 800 words", "500-800 words", "from 1,000 to 1,500 words".
    (
        "range",
        re.compile(
            rf"\bbetween\s{{1,4}}(?P<nums>{_NUM_EN}\s{{1,4}}and\s{{1,4}}{_NUM_EN})\s{{0,4}}-?\s{{0,4}}{_UNIT_EN}", re.I
        ),
    ),
    (
        "range",
        re.compile(
            rf"(?P<nums>{_NUM_EN}(?:\s{{0,4}}words?)?{_RANGE_SEP}{_NUM_EN})\s{{0,4}}-?\s{{0,4}}{_UNIT_EN}", re.I
        ),
    ),
    # Qualifier before the number: "at least 800 words", "no more than 300-word".
    (
        "qual",
        re.compile(
            rf"(?<![\w-])(?P<q>{_Q_MIN_EN}|{_Q_MAX_EN}|{_Q_ABOUT_EN}|{_Q_EXACT_EN})\s{{0,4}}(?:of\s{{1,4}})?"
            rf"(?P<nums>{_NUM_EN})\s{{0,4}}-?\s{{0,4}}{_UNIT_EN}",
            re.I,
        ),
    ),
    # Qualifier after: "800 words or more", "300 words max", "1000+ words".
    (
        "qual",
        re.compile(
            rf"(?P<nums>{_NUM_EN})\s{{0,4}}-?\s{{0,4}}{_UNIT_EN}\s{{0,4}}(?P<after_en>or\s{{1,4}}(?:more|longer|above)|minimum|at\s{{1,4}}minimum"
            rf"|or\s{{1,4}}(?:less|fewer|shorter|under)|max(?:imum)?|at\s{{1,4}}most|tops)\b",
            re.I,
        ),
    ),
    ("qual", re.compile(rf"(?P<nums>{_NUM_EN})\s{{0,4}}(?P<plus>\+)\s{{0,4}}{_UNIT_EN}", re.I)),
    # Unit named before the number: "word count: 800", "word limit of 500", "length: 1,200 words".
    (
        "unit_first",
        re.compile(
            rf"\b(?P<label>word\s{{0,4}}count|word\s{{0,4}}limit|word\s{{0,4}}target|length)\s{{0,4}}(?:of|:|=|is|should\s{{1,4}}be|must\s{{1,4}}be)?\s{{0,4}}"
            rf"(?:(?P<q>{_Q_MIN_EN}|{_Q_MAX_EN}|{_Q_ABOUT_EN}|{_Q_EXACT_EN})\s{{1,4}})?"
            rf"(?P<nums>{_NUM_EN}(?:{_RANGE_SEP}{_NUM_EN})?)(?:\s{{0,4}}-?\s{{0,4}}{_UNIT_EN})?",
            re.I,
        ),
    ),
    # Bare: "a 500-word essay", "1,000 words".
    ("plain", re.compile(rf"(?P<nums>{_NUM_EN})\s{{0,4}}-?\s{{0,4}}{_UNIT_EN}", re.I)),
    # Chinese ranges: "2000-3000字", "两千到三千字".
    ("range", re.compile(rf"(?P<nums>{_NUM_ZH}(?:个?字)?{_RANGE_SEP}{_NUM_ZH})\s{{0,4}}{_UNIT_ZH}")),
    # Chinese qualifier before (and maybe after): "不少于3000字", "约两千字左右", "控制在800字以内".
    (
        "qual",
        re.compile(
            rf"(?P<q>{_Q_MIN_ZH}|{_Q_MAX_ZH}|{_Q_ABOUT_ZH})\s{{0,4}}(?P<nums>{_NUM_ZH})\s{{0,4}}{_UNIT_ZH}{_Q_AFTER_ZH}?"
        ),
    ),
    # Unit before the number: "字数不少于3000", "字数：2000", "字数在2000到3000之间", "篇幅约五千字".
    (
        "unit_first",
        re.compile(
            rf"(?P<label>字数|篇幅|字数要求|长度)\s{{0,4}}(?:要求|限制|限定|控制)?\s{{0,4}}(?:为|是|在|:|：)?\s{{0,4}}"
            rf"(?P<q>{_Q_MIN_ZH}|{_Q_MAX_ZH}|{_Q_ABOUT_ZH})?\s{{0,4}}(?:在)?\s{{0,4}}"
            rf"(?P<nums>{_NUM_ZH}(?:{_RANGE_SEP}{_NUM_ZH})?)\s{{0,4}}(?:{_UNIT_ZH})?\s{{0,4}}{_Q_AFTER_ZH}?"
        ),
    ),
    # Chinese bare, maybe with a qualifier after: "一篇800字的文章", "两千字以上".
    ("plain", re.compile(rf"(?P<nums>{_NUM_ZH})\s{{0,4}}{_UNIT_ZH}{_Q_AFTER_ZH}?")),
]

_UNIT_NORMAL: dict[str, Unit] = {
    "word": "words", "words": "words", "character": "characters", "characters": "characters",
    "chars": "characters", "token": "tokens", "tokens": "tokens", "page": "pages", "pages": "pages",
    "字": "characters", "个字": "characters", "词": "words", "个词": "words", "页": "pages",
}

_PART_NOUNS_EN = (
    r"parts?|sections?|chapters?|paragraphs?|articles?|stories|story|essays?|poems?|letters?|episodes?"
    r"|installments?|pieces?|segments?|posts?|entries|entry|scenes?|acts?|emails?|reviews?|versions?|speeches|speech"
)
_PART_NOUNS_ZH = r"个部分|部分|个|篇|章|段|节|首|封|则|幕|期|集"
_MULT_EN = re.compile(
    rf"\b(?P<count>{_NUM_EN})\s{{1,4}}(?:[a-zA-Z-]{{1,30}}\s{{1,4}}){{0,2}}?(?:{_PART_NOUNS_EN})\b", re.I
)
_MULT_ZH = re.compile(rf"(?P<count>{_NUM_ZH})\s{{0,4}}(?:{_PART_NOUNS_ZH})")
_EACH_EN = re.compile(r"\b(?:each|apiece|per\s{1,4}\w+|every\s{1,4}\w+|a\s{1,4}piece)\b|\bof\s{0,4}$", re.I)
_TOTAL_ZH = re.compile(r"共|总计|合计|全文|全篇|总字数|一共|总长")
_TOTAL_EN = re.compile(
    r"\b(?:in\s{1,4}total|total(?:\s{1,4}of)?|altogether|overall|combined)\s{0,4}(?:of\s{1,4})?$", re.I
)
_TOTAL_EN_AFTER = re.compile(r"\s{0,4}(?:in\s{1,4}total|total|altogether|overall|combined|all\s{1,4}together)\b", re.I)
_EACH_ZH = re.compile(rf"每(?:{_PART_NOUNS_ZH})?|各")


def _language_of(text: str) -> Literal["en", "zh"]:
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def _build(kind_hint: str, m: re.Match[str], text: str) -> LengthConstraint | None:
    groups = m.groupdict()
    numbers = [parse_number(x.group(0)) for x in _NUM_ANY.finditer(groups["nums"])]
    numbers = [n for n in numbers if n is not None]
    if not numbers or any(n <= 0 for n in numbers):
        return None
    unit_raw = (groups.get("unit") or "").lower()
    if not unit_raw:
        label = (groups.get("label") or "").lower()
        unit_raw = "字" if re.search(r"[\u4e00-\u9fff]", label) else "words"
        if "length" in label and _language_of(text) == "zh":
            unit_raw = "字"
    unit = _UNIT_NORMAL[unit_raw]

    after = groups.get("after")
    kind: Kind | None
    if len(numbers) >= 2 or after == "之间":
        kind = "range"
    elif after:
        kind = _kind_of_qualifier(after)
    elif groups.get("after_en"):
        kind = "min" if re.match(r"or\s+(more|longer|above)|minimum|at\s+minimum", groups["after_en"], re.I) else "max"
    elif groups.get("plus"):
        kind = "min"
    elif groups.get("q"):
        kind = _kind_of_qualifier(groups["q"])
    elif kind_hint == "unit_first" and re.search(r"limit|限", groups.get("label", "") + m.group(0)):
        kind = "max"
    else:
        kind = "exact"
    if kind is None:
        kind = "exact"

    if kind == "range":
        if len(numbers) < 2:
            kind = "exact"
        else:
            lo, hi = sorted(numbers[:2])
            return LengthConstraint("range", lo, hi, (lo + hi) / 2, unit, text=m.group(0).strip())
    n = numbers[0]
    lo, hi = {"min": (n, None), "max": (None, n)}.get(kind, (n, n))
    return LengthConstraint(kind, lo, hi, n, unit, text=m.group(0).strip())


def _multiplier(text: str, start: int, end: int) -> int:
    """Count of parts when the length is per part ("two parts of 1000 words each", "三部分，每部分500字")."""
    window_before = text[max(0, start - 80):start]
    window_after = text[end:end + 20]
    tail = window_before[-12:]
    # A length marked as the whole ("共五幕（10000字）", "每部分详细，总共10000字", "10,000 words in
    # total") is already the total, whatever per-part wording comes before it.
    if _TOTAL_ZH.search(tail[-4:]) or _TOTAL_EN.search(window_before[-24:]) or _TOTAL_EN_AFTER.match(window_after):
        return 1
    zh_each = list(_EACH_ZH.finditer(tail))
    if zh_each:
        each_pos = len(window_before) - len(tail) + zh_each[-1].start()
        counts = list(_MULT_ZH.finditer(window_before[:each_pos]))
        if counts:
            return _positive_int(counts[-1].group("count"))
    counts = list(_MULT_EN.finditer(window_before))
    if counts:
        between = window_before[counts[-1].end():]
        if _EACH_EN.search(between) or re.match(r"\s*(?:each|apiece)\b", window_after, re.I):
            return _positive_int(counts[-1].group("count"))
    return 1


def _positive_int(s: str) -> int:
    n = parse_number(s)
    return int(n) if n and n >= 1 and n == int(n) and n <= 100 else 1


# Every phrase pattern contains a unit or a label; text without one states no length. The anchor
# scan is one cheap pass; the phrase patterns then run chunk by chunk from the start of the text and
# stop at the first chunk with a match, so the work is bounded by where the request is stated.
_ANCHOR = re.compile(r"words?|characters?|chars|tokens?|pages?|length|字|词|页|篇幅|长度", re.I)
_CHUNK = 4096
_OVERLAP = 640  # longer than any phrase a pattern can match (every repetition is bounded)


def _earliest_match(text: str) -> tuple[str, re.Match[str]] | None:
    """The earliest (then longest) phrase match in ``text``, as ``(pattern hint, match)``."""
    n = len(text)
    start = 0
    while start < n:
        end = min(n, start + _CHUNK + _OVERLAP)
        if _ANCHOR.search(text, start, end) is not None:
            best: tuple[int, int, str, re.Match[str]] | None = None
            for hint, pattern in _PATTERNS:
                m = pattern.search(text, start, end)
                if m is None or (end < n and m.start() >= start + _CHUNK):
                    continue  # none here, or it starts in the overlap: the next chunk holds it whole
                key = (m.start(), -(m.end() - m.start()))
                if best is None or key < (best[0], best[1]):
                    best = (key[0], key[1], hint, m)
            if best is not None:
                return best[2], best[3]
        start += _CHUNK
    return None


def parse_length(text: str | None) -> LengthConstraint | None:
    """Parse the length a writing request asks for; ``None`` when it states none.

    >>> parse_length("Write about 2,000 words on tides.").kind
    'about'
    >>> c = parse_length("写一篇不少于三千字的文章"); (c.kind, c.lo, c.unit)
    ('min', 3000.0, 'characters')
    >>> parse_length("Write two parts of 1000 words each.").target
    2000.0
    >>> parse_length("Write a poem about rain.") is None
    True
    """
    if not text:
        return None
    found = _earliest_match(text)
    if found is None:
        return None
    hint, m = found
    constraint = _build(hint, m, text)
    if constraint is None:
        return None
    language = _language_of(text)
    k = _multiplier(text, m.start(), m.end())
    scale = lambda v: None if v is None else v * k  # noqa: E731
    return replace(
        constraint, lo=scale(constraint.lo), hi=scale(constraint.hi), target=constraint.target * k,
        multiplier=k, language=language,
    )
