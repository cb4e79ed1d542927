"""Content reward components: format, writing quality, the hacking penalty and answer accuracy."""

from __future__ import annotations

from typing import Any

from lengthwise.rewards.answers import is_correct
from lengthwise.rewards.components import Component, register_component
from lengthwise.rewards.embeddings import Embedder
from lengthwise.rewards.format import check_markdown, check_think_answer
from lengthwise.rewards.hack_audit import HackAudit
from lengthwise.text import extract_answer

__all__ = ["FormatReward", "QualityReward", "HackingReward", "AccuracyReward"]


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
            raise ValueError(
                f"unknown quality scorer {scorer!r}; choose proxy or reward_model, or pass a scorer object "
                "(an LLMJudgeScorer needs a generator)"
            )
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


@register_component("accuracy")
class AccuracyReward(Component):
    """1 when the final answer matches the ``answer`` column (math RLVR), else 0."""

    def score_row(self, prompt, text, ids, row):
        ok = is_correct(text, row.get("answer"))
        return None if ok is None else float(ok)
