"""The hacking audit: every detector once per (prompt, answer), cached, shared by the rewards that
multiply by (1 − hack penalty), by ``eval`` and by ``audit``."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from lengthwise.rewards.embeddings import Embedder
from lengthwise.rewards.keywords import keyword_stuffing
from lengthwise.rewards.redundancy import (
    Detection,
    exact_repetition,
    hack_penalty,
    near_duplicate_paragraphs,
    paraphrase_repetition,
)

__all__ = ["HackAudit", "AUDIT_NAMES"]

AUDIT_NAMES = ("exact_repetition", "near_duplicate_paragraphs", "paraphrase_repetition", "keyword_stuffing")


class HackAudit:
    """Runs the hacking detectors once per (prompt, answer) and caches the result, so the format and
    quality components share one pass. ``paraphrase`` needs the embedder (off by default: it is the
    expensive one)."""

    def __init__(self, paraphrase: bool = True, embedder: Embedder | None = None, cache_size: int = 4096,
                 thresholds: dict[str, float] | None = None):
        self.paraphrase = paraphrase
        self.embedder = embedder or (Embedder() if paraphrase else None)
        self.cache_size = cache_size
        self.thresholds = dict(thresholds or {})
        self._cache: OrderedDict[str, dict[str, Detection]] = OrderedDict()

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
            "keyword_stuffing": keyword_stuffing(answer, prompt, threshold=t.get("keyword_stuffing", 0.2)),
        }
        if self.paraphrase:
            result["paraphrase_repetition"] = paraphrase_repetition(
                answer, self.embedder, threshold=t.get("paraphrase_repetition"))
        self._cache[key] = result
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def penalty(self, prompt: str, answer: str) -> float:
        return hack_penalty(list(self(prompt, answer).values()))
