"""Detectors for padding by repetition: exact repeated spans, near-duplicate paragraphs, paraphrase.

Each detector returns a ``Detection``: a score in [0, 1] (the share of the text's units that copy
earlier text), whether it crosses the detector's threshold, and the offending character spans with
the span each one copies. Units are ASCII/Latin words and single CJK characters, so English and
Chinese texts are measured alike.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lengthwise.text import is_cjk_text, split_paragraphs, split_sentences

__all__ = [
    "Span",
    "Detection",
    "units",
    "exact_repetition",
    "near_duplicate_paragraphs",
    "naive_near_duplicate_paragraphs",
    "paraphrase_repetition",
    "hack_penalty",
]

_UNIT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]|[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` that repeat ``[ref_start, ref_end)`` earlier in the text."""

    start: int
    end: int
    ref_start: int | None = None
    ref_end: int | None = None
    similarity: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Detection:
    name: str
    score: float
    threshold: float
    spans: list[Span] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # Score at which the hack penalty reaches 1 (None: at the threshold). Keyword stuffing saturates later, so
    # one borderline term costs little and a stuffed text costs everything.
    saturation: float | None = None

    @property
    def flagged(self) -> bool:
        return self.score >= self.threshold

    def as_dict(self, max_spans: int = 20) -> dict[str, Any]:
        return {"score": round(self.score, 6), "flagged": self.flagged, "threshold": self.threshold,
                "spans": [s.as_dict() for s in self.spans[:max_spans]], **self.details}


def units(text: str) -> list[tuple[str, int, int]]:
    """``(lower-cased unit, start, end)`` for every word or CJK character."""
    return [(m.group(0).lower(), m.start(), m.end()) for m in _UNIT.finditer(text or "")]


def _empty(name: str, threshold: float) -> Detection:
    return Detection(name, 0.0, threshold, details={"units": 0})


# ---------------------------------------------------------------------------------------------
# Exact repetition


def _copy_spans(toks, source, run_start: int, last_start: int, run_end: int, n: int, min_span: int) -> list[Span]:
    """Evidence for one repeated run: its pieces that each copy one earlier passage verbatim (the
    source index advances with the position), or the whole run when it is a periodic repetition."""
    pieces, k = [], run_start
    while k < last_start:
        j = k + 1
        while j < last_start and source[j] == source[j - 1] + 1:
            j += 1
        end = min(j + n - 1, run_end)
        if end - k >= min_span:
            pieces.append((k, end, source[k]))
        k = j
    if not pieces:  # "x x x x …": each position copies the one a period earlier
        pieces = [(run_start, run_end, source[run_start])]
    return [
        Span(toks[a][1], toks[b - 1][2], toks[ref][1], toks[min(ref + (b - a), len(toks)) - 1][2])
        for a, b, ref in pieces
    ]


def exact_repetition(
    text: str | None, n: int | None = None, min_span: int | None = None, threshold: float = 0.15
) -> Detection:
    """Share of units inside a repeated run of at least ``min_span`` units.

    A position is repeated when the ``n``-gram starting there occurred earlier; consecutive repeated
    positions form a run. Runs shorter than ``min_span`` are ignored, so a poem's refrain or a stock
    phrase is not padding, while a pasted paragraph is. Defaults: n = 8, min_span = 25 for word
    text; n = 16, min_span = 50 for CJK text (characters, not words). Linear time.
    """
    name = "exact_repetition"
    toks = units(text or "")
    if not toks:
        return _empty(name, threshold)
    cjk = is_cjk_text(text)
    n = n or (16 if cjk else 8)
    min_span = min_span or (50 if cjk else 25)
    words = [t[0] for t in toks]
    first_seen: dict[tuple[str, ...], int] = {}
    source = [-1] * len(words)  # for a repeated start position, where its n-gram first appeared
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        j = first_seen.setdefault(gram, i)
        if j != i:
            source[i] = j
    covered = np.zeros(len(words), dtype=bool)
    spans: list[Span] = []
    i = 0
    while i < len(words):
        if source[i] < 0:
            i += 1
            continue
        run_start = i
        while i < len(words) and source[i] >= 0:
            i += 1
        run_end = min(i + n - 1, len(words))  # the last repeated n-gram covers n − 1 more units
        if run_end - run_start < min_span:
            continue
        covered[run_start:run_end] = True
        spans.extend(_copy_spans(toks, source, run_start, i, run_end, n, min_span))
    score = float(covered.mean())
    n_grams = max(1, len(words) - n + 1)
    repeated_rate = sum(1 for k in range(n_grams) if source[k] >= 0) / n_grams  # raw, before the min_span rule
    longest = max((s.end - s.start for s in spans), default=0)
    spans.sort(key=lambda s: s.start - s.end)
    return Detection(name, score, threshold, spans,
                     {"units": len(words), "n": n, "min_span": min_span, "longest_span_chars": longest,
                      "repeated_ngram_rate": round(repeated_rate, 6)})


# ---------------------------------------------------------------------------------------------
# Near-duplicate paragraphs (MinHash + LSH)


def _shingles(paragraph: str, cjk: bool) -> set[str]:
    toks = [t[0] for t in units(paragraph)]
    k = 4 if cjk else 3
    if len(toks) < k:
        return {" ".join(toks)} if toks else set()
    return {" ".join(toks[i:i + k]) for i in range(len(toks) - k + 1)}


def _paragraph_offsets(text: str, paragraphs: Sequence[str]) -> list[tuple[int, int]]:
    offsets, cursor = [], 0
    for p in paragraphs:
        start = text.find(p, cursor)
        start = cursor if start < 0 else start
        offsets.append((start, start + len(p)))
        cursor = start + len(p)
    return offsets


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@functools.lru_cache(maxsize=8)
def _minhash_template(num_perm: int):
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=1)


@functools.lru_cache(maxsize=32)
def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands × rows whose S-curve midpoint (1/b)^(1/r) is closest to ``threshold`` (datasketch
    would integrate the false-positive/negative areas on every construction, which costs more than
    the detection itself)."""
    best = min(((b, r) for r in range(1, num_perm + 1) for b in range(1, num_perm // r + 1)),
               key=lambda br: (abs((1 / br[0]) ** (1 / br[1]) - threshold), -br[0] * br[1]))
    return best


def near_duplicate_paragraphs(
    text: str | None, similarity: float = 0.5, min_units: int = 20, threshold: float = 0.15, num_perm: int = 64
) -> Detection:
    """Share of units in paragraphs whose shingle Jaccard with an earlier paragraph is at least
    ``similarity``. Candidates come from MinHash LSH (datasketch), confirmed by exact Jaccard, so the
    cost grows with the number of paragraphs, not its square. Paragraphs under ``min_units`` units
    (headings, refrains) are skipped."""
    from datasketch import MinHash, MinHashLSH

    name = "near_duplicate_paragraphs"
    if not text or not text.strip():
        return _empty(name, threshold)
    cjk = is_cjk_text(text)
    paragraphs = split_paragraphs(text)
    offsets = _paragraph_offsets(text, paragraphs)
    sizes = [len(units(p)) for p in paragraphs]
    total = sum(sizes)
    if not total:
        return _empty(name, threshold)
    bands, rows = _lsh_params(similarity * 0.8, num_perm)  # a looser LSH; candidates get an exact check
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    template = _minhash_template(num_perm)
    shingle_sets: list[set[str]] = []
    spans: list[Span] = []
    dup_units = 0
    for idx, p in enumerate(paragraphs):
        sh = _shingles(p, cjk)
        shingle_sets.append(sh)
        if sizes[idx] < min_units or not sh:
            continue
        mh = MinHash(num_perm=num_perm, permutations=template.permutations, scheme=template.scheme)
        mh.update_batch([s.encode("utf-8") for s in sh])
        best, best_j = None, 0.0
        for key in sorted(lsh.query(mh))[:50]:  # a heavily copied paragraph has many candidates; 50 suffice
            j = _jaccard(sh, shingle_sets[key])
            if j >= similarity and j > best_j:
                best, best_j = key, j
        if best is not None:
            dup_units += sizes[idx]
            spans.append(Span(*offsets[idx], *offsets[best], similarity=round(best_j, 4)))
        lsh.insert(idx, mh)
    return Detection(name, dup_units / total, threshold, spans,
                     {"units": total, "paragraphs": len(paragraphs), "duplicates": len(spans)})


def naive_near_duplicate_paragraphs(text: str, similarity: float = 0.5, min_units: int = 20) -> float:
    """All-pairs reference (exact Jaccard against every earlier paragraph): the benchmark baseline."""
    cjk = is_cjk_text(text)
    paragraphs = split_paragraphs(text)
    sizes = [len(units(p)) for p in paragraphs]
    sets = [_shingles(p, cjk) for p in paragraphs]
    dup = 0
    for i in range(len(paragraphs)):
        if sizes[i] < min_units:
            continue
        if any(sizes[j] >= min_units and _jaccard(sets[i], sets[j]) >= similarity for j in range(i)):
            dup += sizes[i]
    total = sum(sizes)
    return dup / total if total else 0.0


# ---------------------------------------------------------------------------------------------
# Paraphrased repetition (sentence embeddings)


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _unit_bigrams(sentence: str) -> set[str]:
    toks = [t[0] for t in units(sentence)]
    return {toks[i] + " " + toks[i + 1] for i in range(len(toks) - 1)}


def _is_prose(unit: str) -> bool:
    """Whether a unit reads as language: table rows and rules (``| a | b |``, ``+----+``), ASCII art and similar
    are compared by the exact-repetition detectors only. An embedding of a table row measures its layout: two
    rows of one table in the Python docs scored cosine 0.99 and made an honest page look paraphrased."""
    visible = unit.replace(" ", "")
    return bool(visible) and "|" not in unit and "+--" not in unit and (
        sum(c.isalpha() for c in visible) >= 0.6 * len(visible))


def paraphrase_repetition(
    text: str | None,
    embed,
    similarity: float | None = None,
    lexical: float | None = None,
    min_units: int = 6,
    threshold: float | None = None,
    max_sentences: int = 3000,
    refrain_units: int = 12,
    short_similarity: float | None = None,
    short_units: int = 10,
) -> Detection:
    """Share of units in sentences that restate an earlier sentence: embedding cosine ≥
    ``similarity`` (reordered clauses, synonym swaps that lexical checks miss).

    Short sentences (both under ``short_units`` units: lines of verse, stock phrases) need only
    ``short_similarity`` (English default 0.82): each swapped word moves a 7-word line's embedding
    much further than a 25-word sentence's, so lines restated with synonyms went unseen at the long cosine.
    The English operating point (cosine 0.86, short 0.82, flag at 0.08) was swept on the calibration split of
    the real-prose corpus (docs/rewards.md): the setting with the lowest false-positive rate in its worst
    domain among those with recall ≥ 0.9 that flag no hard negative. Parallel definitions in technical
    documentation ("… then added together" / "… then multiplied together") are what remains: cosine 0.93.

    Defaults differ by script because all-MiniLM-L6-v2 is an English model that puts unrelated
    Chinese sentences close together: English uses cosine ≥ 0.86 and flags at a score of 0.08;
    CJK text needs cosine ≥ 0.9 *and* a unit-bigram Dice overlap ≥ ``lexical`` = 0.6 with that
    earlier sentence, and flags at 0.12 (a multilingual embedder does better; its cosines need their own
    ``similarity`` values: docs/rewards.md). Verbatim
    copies of short sentences (under ``refrain_units`` units: refrains, stock lines; the same words,
    whatever the punctuation and capitals) are not counted, nor are units that are not prose (table
    rows, rules: ``_is_prose``).
    Neighbour search is an exact blocked matrix product over earlier sentences; texts with more than
    ``max_sentences`` eligible sentences are measured on an even stride of them (``sampled``).
    """
    name = "paraphrase_repetition"
    cjk = is_cjk_text(text)
    similarity = similarity if similarity is not None else (0.9 if cjk else 0.86)
    lexical = lexical if lexical is not None else (0.6 if cjk else None)
    threshold = threshold if threshold is not None else (0.12 if cjk else 0.08)
    short_similarity = short_similarity if short_similarity is not None else (similarity if cjk else 0.82)
    if not text or not text.strip():
        return _empty(name, threshold)
    sentences = split_sentences(text)
    # a sentence's words, lower-cased: a refrain sung again with other punctuation or capitals is still verbatim
    words = [tuple(u[0] for u in units(s)) for s in sentences]
    sizes = [len(w) for w in words]
    total = sum(sizes)
    eligible = [i for i, n in enumerate(sizes) if n >= min_units and _is_prose(sentences[i])]
    sampled = len(eligible) > max_sentences
    if sampled:
        stride = math.ceil(len(eligible) / max_sentences)
        eligible = eligible[::stride]
    if len(eligible) < 2 or not total:
        return Detection(
            name, 0.0, threshold, details={"units": total, "sentences": len(sentences), "sampled": sampled}
        )
    vectors = np.asarray(embed([sentences[i] for i in eligible]), dtype=np.float32)  # (S, d)
    bigrams = [_unit_bigrams(sentences[i]) for i in eligible] if lexical else None
    offsets = _paragraph_offsets(text, sentences)
    spans, dup_units = [], 0
    matched: dict[int, tuple[int, float]] = {}
    block = 512
    for lo in range(0, len(eligible), block):
        hi = min(lo + block, len(eligible))
        sims = vectors[lo:hi] @ vectors[:hi].T  # (b, hi)
        sims[np.arange(hi)[None, :] >= np.arange(lo, hi)[:, None]] = -1.0  # only earlier sentences count
        for r in range(hi - lo):
            k = lo + r
            i = eligible[k]
            candidates = np.flatnonzero(sims[r] >= min(similarity, short_similarity))
            best, best_sim = None, -1.0
            for j in candidates[np.argsort(-sims[r, candidates])]:
                ref = eligible[int(j)]
                if sizes[i] < refrain_units and words[i] == words[ref]:
                    continue
                short = max(sizes[i], sizes[ref]) < short_units
                if sims[r, j] < (short_similarity if short else similarity):
                    continue
                if bigrams is not None and _dice(bigrams[k], bigrams[int(j)]) < lexical:
                    continue
                best, best_sim = ref, float(sims[r, j])
                break
            if best is not None:
                matched[i] = (best, best_sim)
    for i, (best, best_sim) in sorted(matched.items()):
        dup_units += sizes[i]
        spans.append(Span(*offsets[i], *offsets[best], similarity=round(best_sim, 4)))
    if sampled:  # keep the score a share of the whole text
        eligible_units = sum(sizes[i] for i in eligible)
        all_eligible = sum(n for n in sizes if n >= min_units)
        score = dup_units / eligible_units * all_eligible / total
    else:
        score = dup_units / total
    return Detection(name, float(min(1.0, score)), threshold, spans,
                     {"units": total, "sentences": len(sentences), "compared": len(eligible), "sampled": sampled,
                      "similarity": similarity, "short_similarity": short_similarity, "short_units": short_units,
                      "lexical": lexical})


def hack_penalty(detections: Sequence[Detection]) -> float:
    """One number in [0, 1] from several detectors: 0 below half of each threshold, rising linearly to 1 at
    the detector's saturation (its threshold unless it sets one); the worst detector wins. Scores measure how
    much of the text is implicated, so the penalty grows with the evidence.

    >>> round(hack_penalty([Detection("a", 0.05, 0.2), Detection("b", 0.15, 0.2)]), 6)
    0.5
    >>> round(hack_penalty([Detection("stuffing", 0.1, 0.1, saturation=0.3)]), 6)
    0.2
    """
    worst = 0.0
    for d in detections:
        half = d.threshold / 2
        full = max(d.saturation or d.threshold, d.threshold)
        worst = max(worst, min(1.0, max(0.0, (d.score - half) / (full - half))))
    return worst
