"""AgentWrite's plan: one line per section with its main point and word count, parsed robustly and
repaired so the counts obey the contract (each within [min, max], at most ``max_sections``
sections, summing exactly to the requested total).

The plan format asked of the model (LongWriter's AgentWrite):
``Paragraph 1 - Main Point: … - Word Count: 400 words``. Models vary it: other dashes, numbering
like ``1.`` or ``Section 2:``, counts in parentheses, Chinese labels (段落/主要内容/字数) with
full-width punctuation, missing counts, chatter before and after. Lines that carry no section are
ignored; sections without a count get one from the repair. Small models also copy the template's
placeholders (``[what this section covers…]``) and loop on one line: a placeholder is not a section,
and a main point seen before is the loop, not a new section.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["PlanSection", "PlanParseError", "parse_plan", "repair_plan", "even_plan", "plan_text", "PlanContract",
           "parse_point", "repeats_point", "section_count", "place_name"]


@dataclass
class PlanSection:
    main_point: str
    words: int | None = None

    def as_dict(self) -> dict:
        return {"main_point": self.main_point, "words": self.words}


@dataclass(frozen=True)
class PlanContract:
    """Bounds a repaired plan satisfies whenever the total allows it."""

    min_words: int = 200
    max_words: int = 1000
    max_sections: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.min_words <= self.max_words:
            raise ValueError(f"section bounds must satisfy 0 < min <= max, got [{self.min_words}, {self.max_words}]")
        if self.max_sections < 1:
            raise ValueError(f"max_sections must be >= 1, got {self.max_sections}")


class PlanParseError(ValueError):
    """No section could be read from the model's plan."""


_FULLWIDTH = str.maketrans("：，（）－—–０１２３４５６７８９", ":,()---0123456789")
_LEAD = re.compile(
    r"^\s*(?:[#*>\-•]+\s*)?(?:\*\*)?\s*"
    r"(?:(?:paragraph|section|part|para\.?|段落|第)\s*(?P<n1>\d+)\s*(?:段|部分|节)?|(?P<n2>\d+)\s*[.)、:]|step\s*(?P<n3>\d+))"
    r"\s*(?:\*\*)?\s*[-:.)、|]*\s*", re.IGNORECASE)
_COUNT = re.compile(
    r"(?:word\s*count|words?|length|字数(?:要求)?|字)\s*[:=]?\s*(?:about|around|approx\.?|约|大约)?\s*"
    r"(?P<a>\d[\d,]*)\s*(?:words?|字)?"
    r"|(?:about|around|approx\.?|约|大约|~)?\s*(?P<b>\d[\d,]*)\s*(?:words?|字)", re.IGNORECASE)
_MAIN = re.compile(r"(?:main\s*point|主要内容|要点|内容|主题)\s*:\s*", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_BRACKETED_NUMBER = re.compile(r"\[\s*(\d[\d,]*)\s*\]")
# a main point that is still the template's placeholder: wholly in brackets, or the template's words
_PLACEHOLDER = re.compile(r"^\[[^\]]*\]$|what this section covers|这一段写什么", re.IGNORECASE)
# the template's count placeholder left unfilled: the section is real, its count missing
_COUNT_PLACEHOLDER = re.compile(
    r"(?:word\s*count|字数)\s*:?\s*\[\s*(?:number|数字)\s*\]\s*(?:words?|字)?", re.IGNORECASE
)


def _count_of(text: str) -> tuple[int | None, str]:
    """The word count stated in a plan line and the line without it."""
    matches = list(_COUNT.finditer(text))
    if not matches:
        return None, text
    m = matches[-1]
    value = int((m.group("a") or m.group("b")).replace(",", ""))
    rest = (text[:m.start()] + text[m.end():]).strip()
    return (value if value > 0 else None), rest


def _clean_point(text: str) -> str:
    text = _MAIN.sub("", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = re.sub(r"[\s\-|,;:*]+$", "", text)
    text = re.sub(r"^[\s\-|,;:*]+", "", text)
    return re.sub(r"\s+-\s+-\s+", " - ", text).strip()


def _point_key(point: str) -> str:
    return re.sub(r"\W+", " ", point.translate(_FULLWIDTH)).strip().lower()


def _overlap(a: str, b: str) -> float:
    """How much of the shorter point key the other contains, by word (by character for CJK text):
    a copied example line is often shortened, so Jaccard would miss it. Points of fewer than three
    units overlap only when equal, so a short real point ("The queen") is not taken for a copy."""
    ta, tb = (set(x.replace(" ", "")) if _CJK.search(x) else set(x.split()) for x in (a, b))
    if min(len(ta), len(tb)) < 3:
        return float(a == b)
    return len(ta & tb) / min(len(ta), len(tb))


def parse_plan(text: str | None, ignore: Iterable[str] = ()) -> list[PlanSection]:
    """Sections of a plan in the order written; raises ``PlanParseError`` when there are none.
    Lines whose main point is one of ``ignore`` (the prompt's worked example, copied) are skipped.

    >>> [(s.main_point, s.words) for s in parse_plan("Paragraph 1 - Main Point: Tides - Word Count: 300 words")]
    [('Tides', 300)]
    """
    if not text or not text.strip():
        raise PlanParseError("empty plan")
    sections: list[PlanSection] = []
    copied = {_point_key(p) for p in ignore}
    seen: set[str] = set()
    placeholders = 0
    for raw in text.splitlines():
        line = raw.translate(_FULLWIDTH).replace("\ufffd", "").strip()  # U+FFFD: a character cut mid-token
        if not line:
            continue
        lead = _LEAD.match(line)
        has_main = _MAIN.search(line) is not None
        if not lead and not has_main:
            continue
        body = _COUNT_PLACEHOLDER.sub("", line[lead.end():] if lead else line)
        body = _BRACKETED_NUMBER.sub(r"\1", body)
        words, rest = _count_of(body)
        point = _clean_point(rest)
        if not point or _PLACEHOLDER.search(point):
            placeholders += bool(point)
            continue
        key = _point_key(point)
        if key in seen or any(_overlap(key, c) >= 0.75 for c in copied):
            continue
        seen.add(key)
        sections.append(PlanSection(point, words))
    if not sections:
        if placeholders:
            raise PlanParseError(f"the plan only repeats the template's placeholders ({placeholders} line(s))")
        raise PlanParseError("no line of the form 'Paragraph N - Main Point: … - Word Count: N words'")
    return sections


def _bounded_allocation(weights: list[float], total: int, lo: int, hi: int) -> list[float]:
    """Proportional shares of ``total`` clamped to [lo, hi] (water-filling): shares that hit a
    bound are fixed there and the rest is redistributed by weight. Needs n·lo <= total <= n·hi."""
    n = len(weights)
    fixed: dict[int, float] = {}
    for _ in range(n + 1):
        free = [i for i in range(n) if i not in fixed]
        remaining = total - sum(fixed.values())
        wsum = sum(weights[i] for i in free) or float(len(free))
        shares = {i: remaining * (weights[i] if sum(weights[j] for j in free) else 1.0) / wsum for i in free}
        over = {i for i, v in shares.items() if v > hi}
        under = {i for i, v in shares.items() if v < lo}
        if not over and not under:
            return [fixed.get(i, shares.get(i, 0.0)) for i in range(n)]
        # fix the side that violates more; the other side may be fine after redistribution
        if sum(shares[i] - hi for i in over) >= sum(lo - shares[i] for i in under):
            fixed.update({i: float(hi) for i in over})
        else:
            fixed.update({i: float(lo) for i in under})
    return [fixed.get(i, 0.0) for i in range(n)]


def _round_to_total(values: list[float], total: int) -> list[int]:
    """Integers summing exactly to ``total``, each within 1 of its value (largest remainder)."""
    floors = [math.floor(v) for v in values]
    short = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: values[i] - floors[i], reverse=True)
    for i in order[:max(0, short)]:
        floors[i] += 1
    return floors


@dataclass
class RepairResult:
    sections: list[PlanSection]
    notes: list[str] = field(default_factory=list)


def repair_plan(sections: list[PlanSection], total: int, contract: PlanContract = PlanContract()) -> RepairResult:
    """Make a parsed plan obey the contract and sum exactly to ``total`` words.

    Missing counts get the average of the stated ones (or an even share); then sections are split
    (longest first) or merged (shortest with its shorter neighbour) until their number can hold
    ``total`` within [min, max] and is at most ``max_sections``; finally counts are rescaled in
    proportion, clamped to the bounds and rounded so they add up to ``total``. When ``total`` is
    too small for one minimum section, or too large for ``max_sections`` maximum ones, the bound
    gives way (noted); the sum never does.
    """
    if total < 1:
        raise ValueError(f"total must be >= 1, got {total}")
    if not sections:
        raise ValueError("no sections to repair")
    notes: list[str] = []
    secs = [PlanSection(s.main_point, s.words) for s in sections]
    known = [s.words for s in secs if s.words]
    if len(known) < len(secs):
        fill = (sum(known) / len(known)) if known else total / len(secs)
        notes.append(f"filled {len(secs) - len(known)} missing word count(s)")
        for s in secs:
            s.words = s.words or max(1, round(fill))
    lo, hi = contract.min_words, contract.max_words
    n_min = max(1, math.ceil(total / hi))
    n_max = max(1, min(contract.max_sections, total // lo))
    if n_min > contract.max_sections:
        notes.append(f"{total} words need more than {contract.max_sections} sections of <= {hi}: sections exceed {hi}")
        hi = math.ceil(total / contract.max_sections)
        n_min = n_max = contract.max_sections
    if total < lo:
        notes.append(f"{total} words is below the minimum section length {lo}: one section")
        lo, n_min, n_max = 1, 1, 1
    n_min = min(n_min, n_max)
    scale = total / sum(s.words for s in secs)
    while len(secs) < n_min or (len(secs) < n_max and max(s.words * scale for s in secs) > hi):
        k = max(range(len(secs)), key=lambda i: secs[i].words)
        s = secs[k]
        parts = max(2, min(math.ceil(s.words * scale / hi), n_max - len(secs) + 1))
        secs[k:k + 1] = [PlanSection(f"{s.main_point} (part {p + 1})", s.words / parts) for p in range(parts)]
        notes.append(f"split section {k + 1} in {parts}")
    while len(secs) > n_max or (len(secs) > n_min and min(s.words * scale for s in secs) < lo):
        k = min(range(len(secs)), key=lambda i: secs[i].words)
        if k == 0:
            j = 1
        elif k == len(secs) - 1:
            j = k - 1
        else:
            j = k - 1 if secs[k - 1].words <= secs[k + 1].words else k + 1
        a, b = sorted((k, j))
        secs[a:b + 1] = [PlanSection(f"{secs[a].main_point}; {secs[b].main_point}", secs[a].words + secs[b].words)]
        notes.append(f"merged sections {a + 1} and {b + 1}")
    n = len(secs)
    if not n * lo <= total <= n * hi:  # no count of sections fits the bounds exactly: they give way
        notes.append(f"no {n} section(s) of [{lo}, {hi}] words sum to {total}: bounds relaxed")
        lo, hi = min(lo, math.floor(total / n)), max(hi, math.ceil(total / n))
    shares = _bounded_allocation([float(s.words) for s in secs], total, lo, hi)
    counts = _round_to_total(shares, total)
    if [s.words for s in secs] != counts and sum(s.words for s in secs) != total:
        notes.append(f"rescaled counts to sum to {total}")
    for s, c in zip(secs, counts, strict=True):
        s.words = c
    return RepairResult(secs, notes)


def even_plan(total: int, contract: PlanContract = PlanContract(), language: str = "en") -> list[PlanSection]:
    """The fallback when no plan could be parsed: the fewest sections within bounds, counts even,
    each named by its place in the text (the writer still has the task itself in every prompt)."""
    n = max(1, min(contract.max_sections, math.ceil(total / contract.max_words)))
    sections = [PlanSection(_place(k, n, language), total / n) for k in range(n)]
    return repair_plan(sections, total, contract).sections


def _place(k: int, n: int, language: str) -> str:
    if language == "zh":
        role = "开篇，引出主题" if k == 0 else ("收尾，总结全文" if k == n - 1 and n > 1 else "展开主题的一个新方面")
        return f"全文第{k + 1}部分（共{n}部分）：{role}"
    role = ("the opening, introducing the subject" if k == 0
            else "the close, drawing the whole text together" if k == n - 1 and n > 1
            else "a new aspect of the subject, not covered before")
    return f"Part {k + 1} of {n}: {role}"


def plan_text(sections: list[PlanSection], language: str = "en") -> str:
    """The plan in its canonical form, as shown to the model while writing."""
    if language == "zh":
        return "\n".join(f"段落 {k + 1} - 主要内容：{s.main_point} - 字数：{s.words}字" for k, s in enumerate(sections))
    return "\n".join(f"Paragraph {k + 1} - Main Point: {s.main_point} - Word Count: {s.words} words"
                     for k, s in enumerate(sections))


def section_count(total: int, contract: PlanContract = PlanContract()) -> int:
    """How many sections an incrementally built plan gets: sections of the contract's middle length, within its
    bounds and ``max_sections``."""
    middle = (contract.min_words + contract.max_words) / 2
    fewest = math.ceil(total / contract.max_words)
    most = max(1, total // contract.min_words)
    return max(1, min(contract.max_sections, max(fewest, min(most, round(total / middle)))))


def place_name(k: int, n: int, language: str = "en") -> str:
    """A section named by its place in the text (the even split's names)."""
    return _place(k, n, language)


def parse_point(text: str | None, max_units: int = 40) -> str | None:
    """The main point in a reply to the incremental planner: its first line that says something, without
    numbering, labels or quotes, at most ``max_units`` words (characters for Chinese); None when there is none.

    >>> parse_point('Section 3: "The harbour at night."\\nMore chatter')
    'The harbour at night.'
    """
    for raw in (text or "").splitlines():
        line = raw.translate(_FULLWIDTH).replace("\ufffd", "").strip()
        lead = _LEAD.match(line)
        line = line[lead.end():] if lead else line
        line = re.sub(r"^(?:main\s*point(?:\s+of\s+section\s+\d+)?|主要内容)\s*[:：]\s*", "", line, flags=re.I)
        line = _clean_point(line).strip("\"'“”‘’ ")
        if not line or _PLACEHOLDER.search(line):
            continue
        if _CJK.search(line):
            return line[:max_units]
        words = line.split()
        return " ".join(words[:max_units])
    return None


_FUNCTION_WORDS = frozenset(
    "the and for with from into about this that these those its their our your his her are was were been "
    "how what why when where who which part section paragraph".split())


def _content_stems(point: str) -> set[str]:
    """A point's content words cut to five letters (word forms meet: harbour/harbours), or its CJK characters.
    Numbers are not content: "the 1990 and 2000 floods" does not repeat "the 1990 and 2000 elections"."""
    key = _point_key(point)
    if _CJK.search(key):
        return {c for c in key.replace(" ", "") if not c.isdigit()}
    return {w[:5] for w in key.split() if len(w) >= 3 and w not in _FUNCTION_WORDS and not w.isdigit()}


def repeats_point(point: str, earlier: Iterable[str], overlap: float = 0.6, topic: str = "") -> str | None:
    """The earlier point that ``point`` repeats, or None: at least ``overlap`` of the shorter one's content words
    shared. Neither function words nor the document's topic words count (those of ``topic``, the task, and those
    in at least half of the earlier points, two at least): every point of a guide to Lisbon names Lisbon, and
    "the food of Lisbon" does not repeat "the history of Lisbon"."""
    earlier = list(earlier)
    counts: dict[str, int] = {}
    for other in earlier:
        for stem in _content_stems(other):
            counts[stem] = counts.get(stem, 0) + 1
    common = _content_stems(topic) | {s for s, c in counts.items() if c >= max(2, len(earlier) / 2)}
    mine = _content_stems(point) - common
    for other in earlier:
        theirs = _content_stems(other) - common
        if not mine or not theirs:
            if _point_key(point) == _point_key(other):
                return other
            continue
        if len(mine & theirs) / min(len(mine), len(theirs)) >= overlap:
            return other
    return None
