"""Keyword stuffing: terms repeated far more often than ordinary language and the text's own topic explain.

Each content term that occurs at least ``min_count`` times and makes at least ``min_share`` of the content
terms is a candidate. Its evidence (docs/rewards.md, "Keyword stuffing") weighs:

- the background model: its rate in the text against its rate in ordinary language (``wordfreq``, English and
  Chinese), as ``log10(lift)``;
- its share of the text's content terms, as ``log10(share)``;
- topic support: a term the prompt asks for (same stem) is never flagged; one in the title or first sentence,
  or used in several word forms (``object`` / ``objects``), is a topic term and needs much more evidence;
- appeal: how much closer the term, framed as "It was {term}." and the like, sits to generic praise than to a
  neutral description in the embedder's space ("words a reward model would like"); English only, 0 without
  an embedder or for Chinese.

A logistic model over these features (weights fitted on the calibration split of the real-prose corpus by
``benchmarks/detectors.py --fit``; ``StuffingModel``) gives each candidate a probability; a term is stuffed at
``model.term_probability``. The detector's score is the share of content terms that are stuffed occurrences,
times 10 and capped at 1 (1 % of the terms → 0.1, the default threshold), so the penalty grows with how much of
the text is implicated; the penalty is 0.2 for one term at 1 % and reaches 1 at 3 % (``saturation``).
Terms are English content words (no stop words) and Chinese character bigrams without function characters
that ordinary language knows as words.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from lengthwise.rewards.redundancy import Detection, Span
from lengthwise.text import is_cjk_text, split_sentences

__all__ = ["keyword_stuffing", "content_terms", "term_evidence", "StuffingModel", "TermEvidence"]

_EN_STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once
only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves one two three first new many much may might
must shall like even every still yet however thus although though since upon within without among across along
around toward towards onto per via made make makes making way ways also well back time times day days year years
""".split())
_ZH_FUNCTION = frozenset(
    "的了是在和与也就都而及或把被让给对从向到为以之其这那个们我你他她它有没不很更最会能要可上下中里"
)
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# Generic praise and a neutral description, as a reward model's preferences and their absence; none of the
# words used to build the calibration corpus's stuffing appears here.
PRAISE_ANCHORS = ("This is very good, high quality text.", "Great work, well done.", "The best answer I have read.",
                  "A wonderful, admirable piece of writing.")
NEUTRAL_ANCHORS = ("The text contains some words.", "It is a document.", "Words in a sentence.")
# A word is embedded in short evaluative frames, not alone: single-word vectors are noisy, and the frames put
# what a word says about a text (praise) apart from what the text is about (its subject). Chosen on the
# calibration split by term-level AUC (0.98 for the four frames, 0.92 for the bare word).
APPEAL_FRAMES = ("This is {}.", "It was {}.", "It was very {}.", "An essay that is {}.")
_BACKGROUND_FLOOR = 1e-7  # rate of a word ordinary language has never seen (names, jargon, typos)


def _stem(word: str) -> str:
    return word[:5]


@functools.lru_cache(maxsize=2)
def _background(language: str) -> dict[str, float]:
    """Word → frequency in ordinary language (wordfreq's combined lists); empty when wordfreq is missing."""
    try:
        from wordfreq import get_frequency_dict
    except ImportError:  # pragma: no cover - a declared dependency; kept usable without it
        return {}
    return get_frequency_dict(language)


def content_terms(text: str) -> list[str]:
    """Content terms in order: lower-cased English words and Chinese bigrams (see module doc)."""
    terms = [w.lower().strip("'’-") for w in _EN_WORD.findall(text)]
    terms = [w for w in terms if len(w) >= 3 and w not in _EN_STOP]
    runs = _CJK_RUN.findall(text)
    words = _background("zh") if runs else {}
    for run in runs:
        for i in range(len(run) - 1):
            bigram = run[i:i + 2]
            if bigram[0] in _ZH_FUNCTION or bigram[1] in _ZH_FUNCTION:
                continue
            if words and bigram not in words:  # a bigram across two words ("件系" in 文件系统) is no term
                continue
            terms.append(bigram)
    return terms


@dataclass(frozen=True)
class StuffingModel:
    """Weights of the per-term evidence (logistic); fitted on the calibration split (docs/rewards.md)."""

    intercept: float = -0.75
    appeal: float = 31.66
    log_lift: float = 0.58
    log_share: float = 0.88
    title: float = 0.18
    word_forms: float = -1.83
    term_probability: float = 0.8

    def probability(self, e: TermEvidence) -> float:
        z = (self.intercept + self.appeal * e.appeal + self.log_lift * math.log10(e.lift)
             + self.log_share * math.log10(e.share) + self.title * e.in_title
             + self.word_forms * min(e.word_forms, 3))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass
class TermEvidence:
    """Why a term is (or is not) stuffed: its rates, its topic support and the model's probability."""

    term: str
    count: int
    share: float  # of the text's content terms
    observed_rate: float  # per counted word
    expected_rate: float  # in ordinary language (wordfreq), floored
    lift: float
    appeal: float
    in_prompt: bool
    in_title: bool
    word_forms: int  # other forms of the word in the text (same 5-letter stem)
    first_at: int  # character offset of its first occurrence
    probability: float = 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        for k in ("share", "observed_rate", "expected_rate", "appeal", "probability"):
            d[k] = float(f"{d[k]:.4g}")
        d["lift"] = round(d["lift"], 1)
        return d


def _appeal(terms: Sequence[str], embed: Callable | None) -> dict[str, float]:
    if embed is None or not terms:
        return {}
    framed = [frame.format(t) for frame in APPEAL_FRAMES for t in terms]
    vectors = np.asarray(embed([*framed, *PRAISE_ANCHORS, *NEUTRAL_ANCHORS]), dtype=np.float32)
    n, p = len(framed), len(PRAISE_ANCHORS)
    direction = vectors[n:n + p].mean(0) - vectors[n + p:].mean(0)
    per_frame = (vectors[:n] @ direction).reshape(len(APPEAL_FRAMES), len(terms))
    return {t: float(v) for t, v in zip(terms, per_frame.mean(0), strict=True)}


def term_evidence(
    text: str, prompt: str | None = None, embed: Callable | None = None, min_count: int = 4,
    min_share: float = 0.01, model: StuffingModel | None = None,
) -> tuple[list[TermEvidence], int]:
    """``(candidates, number of content terms)``: every term frequent enough to be stuffing, with its evidence."""
    model = model or StuffingModel()
    cjk = is_cjk_text(text)
    # Distinct sentences only: a refrain repeats its words by design, stuffing spreads them around.
    distinct = list(dict.fromkeys(split_sentences(text)))
    terms = [t for sentence in distinct for t in content_terms(sentence)]
    if len(terms) < 50:
        return [], len(terms)
    counts = Counter(terms)
    candidates = [(t, c) for t, c in counts.most_common(50) if c >= min_count and c / len(terms) >= min_share]
    if not candidates:
        return [], len(terms)
    words = max(1, len(terms) if cjk else len(_EN_WORD.findall(text)))
    background = _background("zh" if cjk else "en")
    asked = set(content_terms(prompt or ""))
    asked |= {_stem(t) for t in asked}
    title = set(content_terms(distinct[0])) if distinct else set()
    stems = Counter(_stem(t) for t in counts) if not cjk else Counter()
    appeal = _appeal([t for t, _ in candidates], None if cjk else embed)
    lowered = text.lower()
    out = []
    for term, count in candidates:
        expected = max(background.get(term, 0.0), _BACKGROUND_FLOOR)
        observed = count / words
        e = TermEvidence(term, count, count / len(terms), observed, expected, observed / expected,
                         appeal.get(term, 0.0), term in asked or _stem(term) in asked, term in title,
                         max(0, stems[_stem(term)] - 1), max(0, lowered.find(term)))
        e.probability = 0.0 if e.in_prompt else model.probability(e)
        out.append(e)
    return out, len(terms)


def keyword_stuffing(
    text: str | None,
    prompt: str | None = None,
    embed: Callable | None = None,
    min_count: int = 4,
    min_share: float = 0.01,
    threshold: float = 0.1,
    model: StuffingModel | None = None,
    max_spans: int = 50,
) -> Detection:
    """Detect stuffed keywords (module doc). ``details["terms"]`` explains each stuffed term: count, share,
    observed vs expected rate and lift, appeal, topic support, first position and probability."""
    name = "keyword_stuffing"
    if not text or not text.strip():
        return Detection(name, 0.0, threshold, details={"terms": []})
    model = model or StuffingModel()
    evidence, n_terms = term_evidence(text, prompt, embed, min_count, min_share, model)
    flags = [e for e in evidence if e.probability >= model.term_probability]
    spans: list[Span] = []
    for e in flags:
        for m in re.finditer(re.escape(e.term), text, re.IGNORECASE):
            spans.append(Span(m.start(), m.end()))
            if len(spans) >= max_spans:
                break
    score = min(1.0, 10 * sum(e.share for e in flags))
    return Detection(name, float(score), threshold, spans, {
        "terms": [e.as_dict() for e in flags],
        "candidates": len(evidence),
        "content_terms": n_terms,
    }, saturation=3 * threshold)
