"""Numbers as requests write them: Arabic digits (with thousands separators and k/千/万 suffixes),
Chinese numerals (两千, 三千五百, 1.5万) and English number words ("two thousand five hundred").

Pure module: the regular expressions here are the building blocks of ``constraints``' patterns.
"""

from __future__ import annotations

import re

__all__ = ["NUM_ANY", "NUM_EN", "NUM_ZH", "parse_number"]


_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_EN_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_EN_SCALES = {"hundred": 100, "thousand": 1000}

_EN_WORD = "|".join(sorted([*_EN_SMALL, *_EN_SCALES], key=len, reverse=True))
# Every repetition below is bounded (a number has at most a dozen digits, an English number phrase
# at most eight words, a gap at most a few spaces). With unbounded ones the regex engine retries
# each start position against the rest of the text, and 4 KB of "one-one-one-…" took minutes;
# bounded, the scan is linear in the prompt (tests/reliability: 100 KB in well under a second).
_ARABIC = r"\d{1,3}(?:,\d{3}){1,5}(?:\.\d{1,6})?|\d{1,12}(?:\.\d{1,6})?"
_ARABIC_SCALED = rf"(?:{_ARABIC})(?:\s?(?:[kK](?![a-zA-Z])|[千万]))?"
NUM_EN = (
    rf"(?:(?:{_ARABIC})(?:\s?[kK](?![a-zA-Z]))?"
    rf"|(?:an?\s{{1,4}})?\b(?:{_EN_WORD})(?:[\s-]{{1,4}}(?:and[\s-]{{1,4}})?(?:{_EN_WORD})){{0,7}}\b)"
)
NUM_ZH = rf"(?:(?:{_ARABIC})\s?[千万]?|[零〇一二两三四五六七八九十百千万]{{1,12}})"
NUM_ANY = re.compile(rf"{_ARABIC_SCALED}|{NUM_ZH}|{NUM_EN}")


def _parse_zh_numeral(s: str) -> int | None:
    total, section, digit = 0, 0, None
    last_unit = None
    for ch in s:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            unit = _ZH_UNITS[ch]
            if unit == 10000:
                section = (section + (digit or 0)) or 1
                total += section * unit
                section = 0
            else:
                section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    if digit is not None:
        # Colloquial "一千二" = 1200, "三千五" = 3500, "一万五" = 15000: a trailing digit is one place below.
        if last_unit is not None and last_unit >= 100 and s[-2] in _ZH_UNITS:
            digit *= last_unit // 10
        section += digit
    return total + section


def _parse_en_words(s: str) -> int | None:
    total, current = 0, 0
    seen = False
    tokens = [t for t in re.split(r"[\s-]+", s.lower()) if t not in ("and", "")]
    for k, tok in enumerate(tokens):
        if tok in ("a", "an"):
            # "a hundred", "a thousand" mean one; "a five-hundred-word essay" is an article.
            if k + 1 < len(tokens) and tokens[k + 1] in _EN_SCALES:
                current = max(current, 1)
            continue
        if tok in _EN_SMALL:
            current += _EN_SMALL[tok]
        elif tok == "hundred":
            current = max(current, 1) * 100
        elif tok == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def parse_number(s: str) -> float | None:
    """Parse one number as written in a request.

    >>> [parse_number(x) for x in ["2,000", "3k", "1.5万", "两千", "三千五百", "一万", "一千二",
    ...                            "two thousand five hundred"]]
    [2000.0, 3000.0, 15000.0, 2000.0, 3500.0, 10000.0, 1200.0, 2500.0]
    """
    s = s.strip()
    m = re.fullmatch(rf"({_ARABIC})\s?([kK千万])?", s)
    if m:
        value = float(m.group(1).replace(",", ""))
        scale = {"k": 1000, "K": 1000, "千": 1000, "万": 10000}.get(m.group(2) or "", 1)
        return value * scale
    if re.fullmatch(r"[零〇一二两三四五六七八九十百千万]+", s):
        v = _parse_zh_numeral(s)
        return float(v) if v is not None else None
    v = _parse_en_words(s)
    return float(v) if v is not None else None


# ---------------------------------------------------------------------------------------------
# Phrase patterns. Each yields (kind, numbers, unit). The earliest match in the text wins; at the
# same start the longer match wins, so a qualifier or range beats the bare number inside it.
