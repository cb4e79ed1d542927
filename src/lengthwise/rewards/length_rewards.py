"""Length reward components: each reads the row's target (``records.row_constraint``) and scores the
answer's counted words with a formula of ``rewards.length`` (docs/reference.md §2)."""

from __future__ import annotations

from typing import Any

from lengthwise.records import row_constraint
from lengthwise.rewards.answers import is_correct
from lengthwise.rewards.components import Component, column, finite_positive, register_component
from lengthwise.rewards.length import (
    cosine_length_reward,
    dapo_overlong_penalty,
    kimi_length_penalty,
    lcpo_exact_reward,
    lcpo_max_reward,
    length_score,
    log_ratio_reward,
    lwz_range_reward,
    score_constraint,
)
from lengthwise.text import count_words, extract_answer

__all__ = ["LengthScoreReward", "LogRatioReward", "ConstraintScoreReward", "LWZRangeReward", "DAPOOverlongReward",
           "CosineLengthReward", "LCPOReward", "KimiLengthReward", "log_length_metrics"]


def log_length_metrics(prompts: list[str], texts: list[str], columns: dict[str, Any], counter: str, log_metric) -> None:
    """``length/words_mean``, ``length/words_median``, ``length/S_l_mean`` and per LongBench bucket
    ``length/S_l/<bucket>``, ``length/words/<bucket>`` for one batch of completions."""
    from statistics import mean, median

    from lengthwise.buckets import group_by_bucket

    words = [count_words(extract_answer(t), counter) for t in texts]
    log_metric("length/words_mean", float(mean(words)) if words else 0.0)
    log_metric("length/words_median", float(median(words)) if words else 0.0)
    constraints = [row_constraint(p, length) for p, length in zip(prompts, column(columns, "length", len(texts)),
                                                                    strict=True)]
    rows = [(c.required_words() if c else None, w) for c, w in zip(constraints, words, strict=True)]
    by_bucket = group_by_bucket(rows, lambda row: row[0])
    scored = {bucket: [(length_score(required=req, produced=w), w) for req, w in group]
              for bucket, group in by_bucket.items()}
    scores = [sl for pairs in scored.values() for sl, _ in pairs]
    if scores:
        log_metric("length/S_l_mean", float(mean(scores)))
    typed = [v for c, w in zip(constraints, words, strict=True) if c and (v := score_constraint(c, w)) is not None]
    if typed:
        log_metric("length/S_c_mean", float(mean(typed)))
    for bucket, pairs in scored.items():
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


@register_component("log_ratio")
class LogRatioReward(_LengthTelemetry, Component):
    """``max(0, 1 − |log2(words / required)| / octaves)`` (``rewards.length.log_ratio_reward``): too long and
    too short by the same factor cost the same; ``None`` when no length is stated."""

    def __init__(self, name=None, counter="longbench", octaves: float = 1.0):
        super().__init__(name, counter)
        if finite_positive(octaves) is None:
            raise ValueError(f"octaves must be a positive number, got {octaves!r}")
        self.octaves = float(octaves)

    def score_row(self, prompt, text, ids, row):
        c = row_constraint(prompt, row.get("length"))
        required = c.required_words() if c else None
        if not required:
            return None
        return log_ratio_reward(required, self.words(text), self.octaves)


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


@register_component("dapo_overlong")
class DAPOOverlongReward(Component):
    """DAPO's soft overlong punishment on the completion's token count (L_max, L_cache in tokens)."""

    def __init__(self, name=None, counter="longbench", max_length: int = 20480, cache_length: int = 4096):
        super().__init__(name, counter)
        self.max_length, self.cache_length = max_length, cache_length

    def score_row(self, prompt, text, ids, row):
        return dapo_overlong_penalty(self.token_length(ids, text), self.max_length, self.cache_length)


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
        return cosine_length_reward(self.token_length(ids, text), ok, self.max_length, **self.values)


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
        target = finite_positive(row.get("target_tokens"))
        if target is None:
            c = row_constraint(prompt, row.get("length"))
            target = c.required_words() * self.tokens_per_word if c and c.required_words() else None
        if target is None:
            return None
        n = self.token_length(ids, text)
        if self.mode == "exact":
            return lcpo_exact_reward(ok, target, n, self.alpha)
        return lcpo_max_reward(ok, target, n, self.alpha, self.delta)


@register_component("kimi")
class KimiLengthReward(Component):
    """Kimi k1.5's group length penalty; groups are runs of identical prompts (TRL's layout)."""

    def score_batch(self, prompts, texts, ids, columns):
        answers = column(columns, "answer", len(texts))
        out: list[float | None] = [None] * len(texts)
        start = 0
        while start < len(texts):
            end = start
            while end < len(texts) and prompts[end] == prompts[start]:
                end += 1
            group = range(start, end)
            correct = [is_correct(texts[k], answers[k]) for k in group]
            if all(c is not None for c in correct):
                lengths = [self.token_length(ids[k], texts[k]) for k in group]
                for k, v in zip(group, kimi_length_penalty(lengths, correct), strict=True):
                    out[k] = v
            start = end
        return out
