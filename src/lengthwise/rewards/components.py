"""Reward components: picklable callables with TRL's reward-function contract.

``component(prompts, completions, completion_ids=None, **columns) -> list[float | None]``. Prompts and
completions may be strings or chat messages; per-row targets come from dataset columns (``length``,
``answer``) and extra keyword arguments TRL passes are ignored. ``None`` means "does not apply to this
row" (TRL turns it into NaN and leaves it out of that reward's statistics).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from lengthwise.constraints import LengthConstraint, parse_length
from lengthwise.rewards.embeddings import Embedder
from lengthwise.rewards.format import check_markdown, check_think_answer
from lengthwise.rewards.keywords import keyword_stuffing
from lengthwise.rewards.length import (
    cosine_length_reward,
    dapo_overlong_penalty,
    kimi_length_penalty,
    lcpo_exact_reward,
    lcpo_max_reward,
    length_score,
    lwz_range_reward,
    score_constraint,
)
from lengthwise.rewards.redundancy import (
    Detection,
    exact_repetition,
    hack_penalty,
    near_duplicate_paragraphs,
    paraphrase_repetition,
)
from lengthwise.text import count_words, extract_answer

__all__ = ["COMPONENTS", "register_component", "Component", "HackAudit", "as_text", "row_constraint",
           "constraint_score"]

COMPONENTS: dict[str, type[Component]] = {}
# Keyword arguments TRL adds for reward functions that are not dataset columns.
_TRAINER_KWARGS = ("trainer_state", "log_extra", "environments")


def register_component(name: str):
    def wrap(cls):
        if name in COMPONENTS:
            raise ValueError(f"component type {name!r} is already registered")
        cls.type_name = name
        COMPONENTS[name] = cls
        return cls

    return wrap


def as_text(item: Any) -> str:
    """A completion or prompt as plain text: strings as they are; chat messages → the last
    assistant turn for completions, the last user turn for prompts; ``None`` → ``""``."""
    if item is None:
        return ""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return str(item.get("content") or "")
    if isinstance(item, Sequence):
        for role in ("assistant", "user"):
            for m in reversed(list(item)):
                if isinstance(m, dict) and m.get("role") == role:
                    return str(m.get("content") or "")
        return " ".join(as_text(m) for m in item)
    return str(item)


def _finite_positive(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def row_constraint(prompt: str, length: Any = None) -> LengthConstraint | None:
    """The row's target: a numeric ``length`` column wins; else the prompt's parsed request.

    A ``length`` column that equals what the prompt asks for keeps the prompt's typed constraint
    ("no more than 500 words" stays a maximum for the constraint-aware score); one that differs
    (or a prompt that states none) is taken as exactly N."""
    n = _finite_positive(length)
    parsed = parse_length(prompt)
    if n is None:
        return parsed
    if parsed is not None and parsed.required_words() is not None and math.isclose(parsed.required_words(), n):
        return parsed
    return LengthConstraint("exact", n, n, n, "words", text="length column")


def constraint_score(prompt: str, required: float | None, words: float) -> tuple[float | None, str | None]:
    """S_c of an answer of ``words`` counted words to a row asking for ``required`` (docs/reference.md
    §6), and the constraint kind it read; ``(None, None)`` when no length is required or its unit does
    not convert to counted words."""
    if not required:
        return None, None
    c = row_constraint(prompt, required)
    return (score_constraint(c, words), c.kind) if c is not None else (None, None)


def _column(columns: dict[str, Any], name: str, n: int) -> list[Any]:
    values = columns.get(name)
    if values is None:
        return [None] * n
    if isinstance(values, str) or not isinstance(values, Sequence):
        return [values] * n
    return list(values)


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
            "near_duplicate_paragraphs": near_duplicate_paragraphs(answer, threshold=t.get("near_duplicate_paragraphs", 0.15)),
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


class Component:
    """Base: subclasses implement ``score_row`` (or ``score_batch`` for group-aware rewards)."""

    type_name = "component"

    def __init__(self, name: str | None = None, counter: str = "longbench"):
        self.__name__ = name or self.type_name  # TRL logs rewards/<__name__>/mean
        self.counter = counter

    def __call__(self, prompts, completions, completion_ids=None, **columns) -> list[float | None]:
        n = len(completions)
        log_metric = columns.pop("log_metric", None)
        for trainer_only in _TRAINER_KWARGS:
            columns.pop(trainer_only, None)
        prompt_texts = [as_text(p) for p in (prompts if prompts is not None else [None] * n)]
        texts = [as_text(c) for c in completions]
        ids = list(completion_ids) if completion_ids is not None else [None] * n
        values = self.score_batch(prompt_texts, texts, ids, columns)
        if log_metric is not None:
            self.telemetry(prompt_texts, texts, columns, log_metric)
        return values

    def telemetry(self, prompts: list[str], texts: list[str], columns: dict[str, Any], log_metric) -> None:
        """Extra metrics for the trainer's logs (TRL passes ``log_metric``); none by default."""

    def score_batch(self, prompts: list[str], texts: list[str], ids: list[Any], columns: dict[str, Any]) -> list[float | None]:
        rows = [{k: v for k, v in zip(columns, vals, strict=True)} for vals in zip(*(_column(columns, k, len(texts)) for k in columns), strict=True)] \
            if columns else [{} for _ in texts]
        return [self._safe(self.score_row, p, t, i, r) for p, t, i, r in zip(prompts, texts, ids, rows, strict=True)]

    @staticmethod
    def _safe(fn: Callable[..., float | None], *args: Any) -> float | None:
        value = fn(*args)
        if value is None:
            return None
        value = float(value)
        return value if math.isfinite(value) else None

    def score_row(self, prompt: str, text: str, ids: Any, row: dict[str, Any]) -> float | None:
        raise NotImplementedError

    def words(self, text: str) -> int:
        return count_words(extract_answer(text), self.counter)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r})"


def log_length_metrics(prompts: list[str], texts: list[str], columns: dict[str, Any], counter: str, log_metric) -> None:
    """``length/words_mean``, ``length/words_median``, ``length/S_l_mean`` and per LongBench bucket
    ``length/S_l/<bucket>``, ``length/words/<bucket>`` for one batch of completions."""
    from statistics import mean, median

    from lengthwise.evaluation.buckets import bucket_of

    words = [count_words(extract_answer(t), counter) for t in texts]
    log_metric("length/words_mean", float(mean(words)) if words else 0.0)
    log_metric("length/words_median", float(median(words)) if words else 0.0)
    by_bucket: dict[str, list[tuple[float, int]]] = {}
    for p, w, length in zip(prompts, words, _column(columns, "length", len(texts)), strict=True):
        c = row_constraint(p, length)
        required = c.required_words() if c else None
        if required:
            by_bucket.setdefault(bucket_of(required), []).append((length_score(required=required, produced=w), w))
    scores = [sl for pairs in by_bucket.values() for sl, _ in pairs]
    if scores:
        log_metric("length/S_l_mean", float(mean(scores)))
    typed = [score_constraint(c, w) for p, w, length in zip(prompts, words, _column(columns, "length", len(texts)),
                                                             strict=True) if (c := row_constraint(p, length))]
    typed = [v for v in typed if v is not None]
    if typed:
        log_metric("length/S_c_mean", float(mean(typed)))
    for bucket, pairs in by_bucket.items():
        log_metric(f"length/S_l/{bucket}", float(mean(sl for sl, _ in pairs)))
        log_metric(f"length/words/{bucket}", float(mean(w for _, w in pairs)))


class _LengthTelemetry:
    def telemetry(self, prompts, texts, columns, log_metric) -> None:
        log_length_metrics(prompts, texts, columns, self.counter, log_metric)


@register_component("length_score")
class LengthScoreReward(_LengthTelemetry, Component):
    """S_l / 100 against the row's required length; ``None`` when no length is stated."""

    def score_row(self, prompt, text, ids, row):
        c = row_constraint(prompt, row.get("length"))
        required = c.required_words() if c else None
        if not required:
            return None
        return length_score(required=required, produced=self.words(text)) / 100.0


@register_component("constraint_score")
class ConstraintScoreReward(_LengthTelemetry, Component):
    """The constraint-aware length score / 100 (docs/reference.md §6): full marks wherever a stated
    bound ("at most", "at least", a range) is met, S_l against the bound outside; exact and about
    requests score S_l. ``method``: ``constraint`` (default) or ``lifebench`` (LIFEBench's LS)."""

    def __init__(self, name=None, counter="longbench", method: str = "constraint"):
        super().__init__(name, counter)
        if method not in ("constraint", "lifebench"):
            raise ValueError(f"method must be constraint or lifebench, got {method!r}")
        self.method = method

    def score_row(self, prompt, text, ids, row):
        c = row_constraint(prompt, row.get("length"))
        value = score_constraint(c, self.words(text), self.method) if c is not None else None
        return None if value is None else value / 100.0


@register_component("lwz_range")
class LWZRangeReward(_LengthTelemetry, Component):
    """LongWriter-Zero's range reward on the row's target range; L_max = ``max_length`` or
    ``max_length_factor`` × the range's upper end."""

    def __init__(self, name=None, counter="longbench", tolerance: float = 0.1, max_length: float | None = None,
                 max_length_factor: float = 3.0):
        super().__init__(name, counter)
        if max_length_factor <= 1:
            raise ValueError(f"max_length_factor must be > 1, got {max_length_factor}")
        self.tolerance, self.max_length, self.max_length_factor = tolerance, max_length, max_length_factor

    def score_row(self, prompt, text, ids, row):
        c = row_constraint(prompt, row.get("length"))
        if c is None or c.required_words() is None:
            return None
        scale = c.required_words() / c.target
        lo, hi = (v * scale for v in c.target_range(self.tolerance))
        cap = self.max_length or self.max_length_factor * hi
        return lwz_range_reward(self.words(text), lo=lo, hi=hi, max_length=max(cap, hi + 1))


@register_component("format")
class FormatReward(Component):
    """1 for a well-formed response, scaled down by markdown problems and by the hacking penalty.

    ``think``: require the think/answer grammar (a broken one scores 0). ``markdown``: multiply by
    the markdown structure score. ``penalize_hacks``: multiply by (1 − hack penalty) from the audit,
    so padding cannot pay through the length reward alone."""

    def __init__(self, name=None, counter="longbench", think: bool = True, markdown: bool = False,
                 penalize_hacks: bool = True, audit: HackAudit | None = None):
        super().__init__(name, counter)
        self.think, self.markdown, self.penalize_hacks = think, markdown, penalize_hacks
        self.audit = audit or (HackAudit() if penalize_hacks else None)

    def score_row(self, prompt, text, ids, row):
        if self.think and not check_think_answer(text).ok:
            return 0.0
        answer = extract_answer(text)
        if not answer.strip():
            return 0.0
        value = 1.0
        if self.markdown:
            value *= check_markdown(answer)[0]
        if self.penalize_hacks:
            value *= 1.0 - self.audit.penalty(prompt, answer)
        return value


@register_component("quality")
class QualityReward(Component):
    """Writing quality in [0, 1] from a ``QualityScorer`` (``scorer``: proxy, reward_model or judge),
    times (1 − hack penalty) when ``penalize_hacks``."""

    def __init__(self, name=None, counter="longbench", scorer: Any = "proxy", penalize_hacks: bool = True,
                 audit: HackAudit | None = None, embedder: Embedder | None = None, **scorer_kwargs):
        super().__init__(name, counter)
        from lengthwise.rewards.quality import EmbeddedProxyScorer, RewardModelScorer

        if scorer == "proxy":
            scorer = EmbeddedProxyScorer(embedder or (audit.embedder if audit and audit.embedder else None))
        elif scorer == "reward_model":
            scorer = RewardModelScorer(**scorer_kwargs)
        elif isinstance(scorer, str):
            raise ValueError(f"unknown quality scorer {scorer!r}; choose proxy or reward_model, or pass a scorer object "
                             "(an LLMJudgeScorer needs a generator)")
        self.scorer = scorer
        self.penalize_hacks = penalize_hacks
        self.audit = audit or (HackAudit(embedder=embedder) if penalize_hacks else None)

    def score_batch(self, prompts, texts, ids, columns):
        answers = [extract_answer(t) for t in texts]
        out: list[float | None] = [0.0] * len(texts)
        todo = [k for k, a in enumerate(answers) if a.strip()]
        scores = self.scorer.score([prompts[k] for k in todo], [answers[k] for k in todo]) if todo else []
        for k, s in zip(todo, scores, strict=True):
            if s is None:
                out[k] = None
                continue
            if self.penalize_hacks:
                s *= 1.0 - self.audit.penalty(prompts[k], answers[k])
            out[k] = self._safe(lambda v: v, s)
        return out


@register_component("hacking")
class HackingReward(Component):
    """1 − hack penalty, as a component of its own."""

    def __init__(self, name=None, counter="longbench", audit: HackAudit | None = None):
        super().__init__(name, counter)
        self.audit = audit or HackAudit()

    def score_row(self, prompt, text, ids, row):
        return 1.0 - self.audit.penalty(prompt, extract_answer(text))


_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _normalize_answer(s: str) -> str:
    s = s.strip().strip("$").replace(" ", "").replace(",", "").rstrip(".")
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            return repr(round(float(num) / float(den), 9))
        return repr(round(float(s), 9))
    except ValueError:
        return s.lower()


def is_correct(text: str, answer: Any) -> bool | None:
    """The last ``\\boxed{…}`` (else the last number) of the answer part against the reference;
    ``None`` when the row has no reference answer."""
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None
    body = extract_answer(text)
    boxed = _BOXED.findall(body)
    guess = boxed[-1] if boxed else (_NUMBER.findall(body) or [""])[-1]
    return bool(guess) and _normalize_answer(guess) == _normalize_answer(str(answer))


@register_component("accuracy")
class AccuracyReward(Component):
    """1 when the final answer matches the ``answer`` column (math RLVR), else 0."""

    def score_row(self, prompt, text, ids, row):
        ok = is_correct(text, row.get("answer"))
        return None if ok is None else float(ok)


def _token_length(ids: Any, text: str) -> int:
    return len(ids) if ids is not None else len(text.split())


@register_component("dapo_overlong")
class DAPOOverlongReward(Component):
    """DAPO's soft overlong punishment on the completion's token count (L_max, L_cache in tokens)."""

    def __init__(self, name=None, counter="longbench", max_length: int = 20480, cache_length: int = 4096):
        super().__init__(name, counter)
        self.max_length, self.cache_length = max_length, cache_length

    def score_row(self, prompt, text, ids, row):
        return dapo_overlong_penalty(_token_length(ids, text), self.max_length, self.cache_length)


@register_component("cosine")
class CosineLengthReward(Component):
    """Cosine length-scaled correctness reward on the token count (needs the ``answer`` column)."""

    def __init__(self, name=None, counter="longbench", max_length: int = 4096, **values: float):
        super().__init__(name, counter)
        self.max_length, self.values = max_length, values

    def score_row(self, prompt, text, ids, row):
        ok = is_correct(text, row.get("answer"))
        if ok is None:
            return None
        return cosine_length_reward(_token_length(ids, text), ok, self.max_length, **self.values)


@register_component("lcpo")
class LCPOReward(Component):
    """L1's LCPO reward (``mode`` exact or max) against a token target: the ``target_tokens`` column,
    else the row's length target in words × ``tokens_per_word``."""

    def __init__(self, name=None, counter="longbench", mode: str = "exact", alpha: float = 3e-4, delta: float = 0.5,
                 tokens_per_word: float = 1.35):
        super().__init__(name, counter)
        if mode not in ("exact", "max"):
            raise ValueError(f"lcpo mode must be exact or max, got {mode!r}")
        self.mode, self.alpha, self.delta, self.tokens_per_word = mode, alpha, delta, tokens_per_word

    def score_row(self, prompt, text, ids, row):
        ok = is_correct(text, row.get("answer"))
        if ok is None:
            return None
        target = _finite_positive(row.get("target_tokens"))
        if target is None:
            c = row_constraint(prompt, row.get("length"))
            target = c.required_words() * self.tokens_per_word if c and c.required_words() else None
        if target is None:
            return None
        n = _token_length(ids, text)
        if self.mode == "exact":
            return lcpo_exact_reward(ok, target, n, self.alpha)
        return lcpo_max_reward(ok, target, n, self.alpha, self.delta)


@register_component("kimi")
class KimiLengthReward(Component):
    """Kimi k1.5's group length penalty; groups are runs of identical prompts (TRL's layout)."""

    def score_batch(self, prompts, texts, ids, columns):
        answers = _column(columns, "answer", len(texts))
        out: list[float | None] = [None] * len(texts)
        start = 0
        while start < len(texts):
            end = start
            while end < len(texts) and prompts[end] == prompts[start]:
                end += 1
            group = range(start, end)
            correct = [is_correct(texts[k], answers[k]) for k in group]
            if all(c is not None for c in correct):
                lengths = [_token_length(ids[k], texts[k]) for k in group]
                for k, v in zip(group, kimi_length_penalty(lengths, correct), strict=True):
                    out[k] = v
            start = end
        return out
