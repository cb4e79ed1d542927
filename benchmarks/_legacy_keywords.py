"""The keyword-stuffing detector as it was before issue #15 (frozen copy for the detectors benchmark).
prompt does not ask about.

Terms are English content words (no stop words) and Chinese character bigrams without function
characters. A term is stuffed when it occurs at least ``min_count`` times, takes more than
``min_share`` of the content terms, stands out from the text's own frequency profile (robust z-score
of log counts above ``z``: 2.5 for English, 2.0 for Chinese) and shares no stem with the prompt.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from lengthwise.rewards.redundancy import Detection, Span
from lengthwise.text import is_cjk_text, split_sentences

__all__ = ["keyword_stuffing", "content_terms"]

# The word lists are the current module's (unchanged since); what differs is how terms are judged.
from lengthwise.rewards.keywords import _CJK_RUN, _EN_STOP, _EN_WORD, _ZH_FUNCTION  # noqa: E402


def _stem(word: str) -> str:
    return word[:5]


def content_terms(text: str) -> list[str]:
    """Content terms in order: lower-cased English words and Chinese bigrams (see module doc)."""
    terms = [w.lower().strip("'’-") for w in _EN_WORD.findall(text)]
    terms = [w for w in terms if len(w) >= 3 and w not in _EN_STOP]
    for run in _CJK_RUN.findall(text):
        for i in range(len(run) - 1):
            bigram = run[i:i + 2]
            if bigram[0] not in _ZH_FUNCTION and bigram[1] not in _ZH_FUNCTION:
                terms.append(bigram)
    return terms


@dataclass(frozen=True)
class _Flag:
    term: str
    count: int
    share: float
    z: float


def keyword_stuffing(
    text: str | None,
    prompt: str | None = None,
    min_count: int = 8,
    min_share: float = 0.015,
    z: float | None = None,
    threshold: float = 0.2,
    max_spans: int = 50,
) -> Detection:
    """Detect stuffed keywords; the score is ``min(1, 10 × Σ excess share)`` over flagged terms,
    where the excess is the share above ``min_share`` (so 2 percentage points of stuffing reach the
    default threshold 0.2). Defaults are calibrated on ``lengthwise.synthetic.hacking_corpus``.
    ``details["terms"]`` lists the stuffed terms with their counts."""
    name = "keyword_stuffing"
    # Chinese bigram counts are flatter than English word counts, so the same outlier stands out less.
    z = z if z is not None else (2.0 if is_cjk_text(text) else 2.5)
    if not text or not text.strip():
        return Detection(name, 0.0, threshold, details={"terms": []})
    # Distinct sentences only: a refrain repeats its words by design, stuffing spreads them around.
    distinct = list(dict.fromkeys(split_sentences(text)))
    terms = [t for sentence in distinct for t in content_terms(sentence)]
    if len(terms) < 50:
        return Detection(name, 0.0, threshold, details={"terms": [], "content_terms": len(terms)})
    counts = Counter(terms)
    supported = {_stem(t) for t in content_terms(prompt or "")} | set(content_terms(prompt or ""))
    logs = np.log(np.array(sorted(counts.values(), reverse=True)[:200], dtype=np.float64))
    median = float(np.median(logs))
    mad = float(np.median(np.abs(logs - median))) or 0.5  # flat profiles: one log-unit ≈ e-fold
    flags: list[_Flag] = []
    for term, c in counts.most_common(50):
        if c < min_count:
            break
        share = c / len(terms)
        score_z = (math.log(c) - median) / (1.4826 * mad)
        if share >= min_share and score_z >= z and term not in supported and _stem(term) not in supported:
            flags.append(_Flag(term, c, share, score_z))
    excess = sum(f.share - min_share for f in flags)
    spans: list[Span] = []
    for f in flags:
        pattern = re.compile(re.escape(f.term), re.IGNORECASE)
        for m in pattern.finditer(text):
            spans.append(Span(m.start(), m.end()))
            if len(spans) >= max_spans:
                break
    return Detection(name, float(min(1.0, 10 * excess)), threshold, spans, {
        "terms": [{"term": f.term, "count": f.count, "share": round(f.share, 4), "z": round(f.z, 2)} for f in flags],
        "content_terms": len(terms),
    })


# The paraphrase settings before the real-prose calibration: cosine 0.85 for English (0.9 CJK with Dice 0.6, the
# function default); flag at 0.08 / 0.12 CJK (the defaults); short sentences had no lower cosine of their own (no
# sentence is shorter than 0 units: every pair needs the main cosine).
PARAPHRASE_EN: dict = {"similarity": 0.85, "short_units": 0}
PARAPHRASE_CJK: dict = {"short_units": 0}
