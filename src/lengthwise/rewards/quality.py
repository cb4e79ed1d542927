"""Writing-quality scorers behind one interface: ``scorer.score(prompts, responses) -> list[float | None]``
in [0, 1] (``None`` where a judge failed after its retries; failures are counted, never dropped).

* ``EmbeddedProxyScorer``: a *proxy*, not a judge: prompt relevance, paragraph-to-paragraph
  coherence and lexical diversity from the embedded all-MiniLM-L6-v2. Cheap and local.
* ``RewardModelScorer``: a Hugging Face sequence-classification reward model from a path.
* ``LLMJudgeScorer``: any ``Generator`` backend asked the six-dimension rubric.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lengthwise.judging.rubric import DIMENSIONS, GeneratorJudge
from lengthwise.rewards.embeddings import Embedder
from lengthwise.rewards.redundancy import units
from lengthwise.text import split_paragraphs, split_sentences

__all__ = ["QualityScorer", "EmbeddedProxyScorer", "RewardModelScorer", "LLMJudgeScorer", "mattr"]


@runtime_checkable
class QualityScorer(Protocol):
    name: str

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float | None]: ...


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def mattr(tokens: Sequence[str], window: int = 50) -> float:
    """Moving-average type-token ratio: mean distinct share over every ``window``-token window,
    a lexical-diversity measure that does not fall with text length (Covington & McFall, 2010)."""
    n = len(tokens)
    if n == 0:
        return 0.0
    if n <= window:
        return len(set(tokens)) / n
    counts: Counter[str] = Counter(tokens[:window])
    total = len(counts)
    for i in range(window, n):
        out, new = tokens[i - window], tokens[i]
        counts[out] -= 1
        if counts[out] == 0:
            del counts[out]
        counts[new] += 1
        total += len(counts)
    return total / (n - window + 1) / window


class EmbeddedProxyScorer:
    """Proxy quality in [0, 1]: the mean of relevance (cosine of prompt and text, ramped over
    [0.1, 0.6]), coherence (mean cosine of adjacent paragraphs, ramped over [0.2, 0.7]) and
    diversity (MATTR over 50 units, ramped over [0.5, 0.8]). The ramps are calibrations for
    all-MiniLM-L6-v2, not truths; ``details`` keeps the raw parts."""

    name = "proxy"

    def __init__(self, embedder: Embedder | None = None, max_sentences: int = 2000):
        self.embedder = embedder or Embedder()
        self.max_sentences = max_sentences

    def details(self, prompt: str, response: str) -> dict[str, float]:
        sentences = [s for s in split_sentences(response) if len(s) > 1]
        if len(sentences) > self.max_sentences:  # bound the cost on huge texts: an even stride of sentences
            sentences = sentences[:: -(-len(sentences) // self.max_sentences)]
        toks = [u[0] for u in units(response)]
        if not sentences or not toks:
            return {"relevance": 0.0, "coherence": 0.0, "diversity": 0.0, "score": 0.0}
        vecs = self.embedder(sentences)  # (S, d)
        doc = vecs.mean(axis=0)
        doc /= np.linalg.norm(doc) or 1.0
        relevance_raw = float(self.embedder([prompt or ""])[0] @ doc) if prompt else 0.0
        index = {s: k for k, s in enumerate(sentences)}
        para_vecs = []
        for p in split_paragraphs(response):
            rows = [index[s] for s in split_sentences(p) if s in index]
            if rows:
                v = vecs[rows].mean(axis=0)
                para_vecs.append(v / (np.linalg.norm(v) or 1.0))
        coherence_raw = (
            float(np.mean([a @ b for a, b in zip(para_vecs, para_vecs[1:], strict=False)]))
            if len(para_vecs) > 1
            else 0.45
        )
        diversity_raw = mattr(toks)
        parts = {
            "relevance": _ramp(relevance_raw, 0.1, 0.6),
            "coherence": _ramp(coherence_raw, 0.2, 0.7),
            "diversity": _ramp(diversity_raw, 0.5, 0.8),
        }
        return {**parts, "score": sum(parts.values()) / 3, "relevance_raw": relevance_raw,
                "coherence_raw": coherence_raw, "diversity_raw": diversity_raw}

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float | None]:
        return [self.details(p, r)["score"] for p, r in zip(prompts, responses, strict=True)]


class RewardModelScorer:
    """A sequence-classification reward model (one logit): score = sigmoid(logit). The pair is
    rendered with the tokenizer's chat template when it has one. Loaded lazily; picklable."""

    name = "reward_model"

    def __init__(self, path: str, device: str | None = None, dtype: str | None = None, max_length: int = 8192,
                 batch_size: int = 4):
        self.path, self.device, self.dtype = path, device, dtype
        self.max_length, self.batch_size = max_length, batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None, "_tokenizer": None}

    def _load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from lengthwise.models import pick_device, pick_dtype

        device = pick_device(self.device)
        self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._model = AutoModelForSequenceClassification.from_pretrained(
            self.path, dtype=pick_dtype(device, self.dtype)
        )
        self._model.config.pad_token_id = self._tokenizer.pad_token_id
        self._model.to(device).eval()

    def _render(self, prompt: str, response: str) -> str:
        tok = self._tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(
                [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], tokenize=False)
        return f"{prompt}\n\n{response}"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float | None]:
        import torch

        if self._model is None:
            self._load()
        out: list[float | None] = []
        texts = [self._render(p, r) for p, r in zip(prompts, responses, strict=True)]
        for start in range(0, len(texts), self.batch_size):
            enc = self._tokenizer(texts[start:start + self.batch_size], return_tensors="pt", padding=True,
                                  truncation=True, max_length=self.max_length).to(self._model.device)
            with torch.inference_mode():
                logits = self._model(**enc).logits[:, 0].float()
            out.extend(torch.sigmoid(logits).tolist())
        return out


class LLMJudgeScorer:
    """The six-dimension rubric through any ``Generator``; the score is S_q/100. Unparseable replies
    are asked again up to ``max_attempts`` times; then the item scores ``None`` and the failure is
    counted in ``failures`` by reason."""

    name = "judge"

    def __init__(self, generator, max_attempts: int = 3, max_new_tokens: int = 512, temperature: float = 0.0):
        self.generator = generator
        self.max_attempts = max_attempts
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.failures: Counter[str] = Counter()

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[dict[str, int] | None]:
        verdicts = GeneratorJudge(self.generator, self.max_attempts, self.max_new_tokens, self.temperature).judge(
            list(zip(prompts, responses, strict=True)))
        for v in verdicts:
            if not v.ok:
                self.failures[(v.error or "unknown")[:80]] += 1
        return [v.scores for v in verdicts]

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float | None]:
        out: list[float | None] = []
        for scores in self.judge(prompts, responses):
            out.append(None if scores is None else sum((scores[d] - 1) / 4 for d in DIMENSIONS) / len(DIMENSIONS))
        return out
