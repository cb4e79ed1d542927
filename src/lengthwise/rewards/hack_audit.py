"""The hacking audit: every detector once per (prompt, answer), cached, shared by the rewards that
multiply by (1 − hack penalty), by ``eval`` and by ``audit``."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections import OrderedDict
from typing import Any

from lengthwise.rewards.embeddings import Embedder
from lengthwise.rewards.keywords import StuffingModel, keyword_stuffing
from lengthwise.rewards.redundancy import (
    Detection,
    exact_repetition,
    hack_penalty,
    near_duplicate_paragraphs,
    paraphrase_repetition,
)

__all__ = ["HackAudit", "AUDIT_NAMES"]

log = logging.getLogger(__name__)

AUDIT_NAMES = ("exact_repetition", "near_duplicate_paragraphs", "paraphrase_repetition", "keyword_stuffing")


def _is_embedded_default(embedder: object) -> bool:
    return isinstance(embedder, Embedder) and embedder.model_ref is None


@functools.lru_cache(maxsize=8)
def _warn_uncalibrated_cosine(model: object) -> None:
    log.warning("paraphrase cosines 0.86 / 0.82 (CJK 0.9) were chosen for all-MiniLM-L6-v2, not for %s: set "
                "detectors.paraphrase_similarity and paraphrase_short_similarity for it (benchmarks/"
                "detector_embedders.py sweeps them); `lengthwise audit --calibrate` only raises score cuts", model)


class HackAudit:
    """Runs the hacking detectors once per (prompt, answer) and caches the result, so the format and
    quality components share one pass. ``paraphrase`` needs the embedder (the expensive detector).
    Thresholds, the paraphrase cosine and the stuffing model are configuration (docs/rewards.md: the
    calibrated defaults and how they were chosen).

    Keyword stuffing's appeal feature is always measured with the embedded all-MiniLM-L6-v2, whatever
    ``embedder`` is: the stuffing model's weights were fitted on that model's cosines, and another model's
    differ by up to 0.05 for the same word (all-mpnet-base-v2), about one logit at the fitted weight. The
    paraphrase cosines (0.86 / 0.82, CJK 0.9) are that model's too: with another embedder set
    ``paraphrase_similarity`` and ``paraphrase_short_similarity`` (a warning says so once)."""

    def __init__(self, paraphrase: bool = True, embedder: Embedder | None = None, cache_size: int = 4096,
                 thresholds: dict[str, float] | None = None, paraphrase_similarity: float | None = None,
                 stuffing: StuffingModel | dict[str, float] | None = None,
                 paraphrase_short_similarity: float | None = None):
        self.paraphrase = paraphrase
        self.paraphrase_similarity = paraphrase_similarity
        self.paraphrase_short_similarity = paraphrase_short_similarity
        self.stuffing = StuffingModel(**stuffing) if isinstance(stuffing, dict) else (stuffing or StuffingModel())
        # Loaded on first use; without the paraphrase detector it only embeds stuffing candidates (a few words).
        self.embedder = embedder or Embedder()
        self.appeal_embedder = self.embedder if _is_embedded_default(self.embedder) else Embedder()
        if not _is_embedded_default(self.embedder) and paraphrase and paraphrase_similarity is None:
            _warn_uncalibrated_cosine(getattr(self.embedder, "model_ref", self.embedder))
        self.cache_size = cache_size
        self.thresholds = dict(thresholds or {})
        self._cache: OrderedDict[str, dict[str, Detection]] = OrderedDict()

    @classmethod
    def from_config(cls, detectors: dict[str, Any] | None = None, paraphrase: bool = True,
                    embedder: Embedder | None = None) -> HackAudit:
        """From a ``detectors:`` block (stack YAML, ``lengthwise audit --calibrate``); ``paraphrase=False``
        turns the paraphrase detector off whatever the block says."""
        d = detectors or {}
        return cls(paraphrase=paraphrase and bool(d.get("paraphrase", True)), embedder=embedder,
                   thresholds=d.get("thresholds"), paraphrase_similarity=d.get("paraphrase_similarity"),
                   paraphrase_short_similarity=d.get("paraphrase_short_similarity"), stuffing=d.get("stuffing"))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": OrderedDict()}

    def __call__(self, prompt: str, answer: str) -> dict[str, Detection]:
        key = hashlib.blake2b(f"{prompt}\x00{answer}".encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        t = self.thresholds
        result = {
            "exact_repetition": exact_repetition(answer, threshold=t.get("exact_repetition", 0.15)),
            "near_duplicate_paragraphs": near_duplicate_paragraphs(
                answer, threshold=t.get("near_duplicate_paragraphs", 0.15)
            ),
            "keyword_stuffing": keyword_stuffing(answer, prompt, embed=self.appeal_embedder, model=self.stuffing,
                                                 threshold=t.get("keyword_stuffing", 0.1)),
        }
        if self.paraphrase:
            result["paraphrase_repetition"] = paraphrase_repetition(
                answer, self.embedder, similarity=self.paraphrase_similarity,
                threshold=t.get("paraphrase_repetition"), short_similarity=self.paraphrase_short_similarity)
        self._cache[key] = result
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def penalty(self, prompt: str, answer: str) -> float:
        return hack_penalty(list(self(prompt, answer).values()))
