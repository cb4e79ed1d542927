"""Reward components: picklable callables with TRL's reward-function contract, and their registry.

``component(prompts, completions, completion_ids=None, **columns) -> list[float | None]``. Prompts and
completions may be strings or chat messages; per-row targets come from dataset columns (``length``,
``answer``) and extra keyword arguments TRL passes are ignored. ``None`` means "does not apply to this
row" (TRL turns it into NaN and leaves it out of that reward's statistics).

The component families live beside this base: ``length_rewards`` (S_l, S_c, LongWriter-Zero's range,
DAPO overlong, cosine, LCPO, Kimi) and ``content_rewards`` (format, quality, hacking, accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from lengthwise.text import count_words, extract_answer

__all__ = ["COMPONENTS", "register_component", "Component", "as_text", "column", "finite_positive"]

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


def finite_positive(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def column(columns: dict[str, Any], name: str, n: int) -> list[Any]:
    values = columns.get(name)
    if values is None:
        return [None] * n
    if isinstance(values, str) or not isinstance(values, Sequence):
        return [values] * n
    return list(values)


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

    def score_batch(
        self, prompts: list[str], texts: list[str], ids: list[Any], columns: dict[str, Any]
    ) -> list[float | None]:
        rows = (
            [
                {k: v for k, v in zip(columns, vals, strict=True)}
                for vals in zip(*(column(columns, k, len(texts)) for k in columns), strict=True)
            ]
            if columns
            else [{} for _ in texts]
        )
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

    def token_length(self, ids: Any, text: str) -> int:
        """The completion's length in the policy's tokens: its ids when the trainer passes them, else the
        ``tokens`` counter when the stack has the tokenizer, else whitespace words (a stated fallback)."""
        if ids is not None:
            return len(ids)
        if getattr(self.counter, "name", None) == "tokens":
            return self.counter(text)
        return len(text.split())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r})"


# The families register themselves when imported; importing them here makes ``COMPONENTS`` complete
# for whoever reads it (they import this module's names, all defined above).
from lengthwise.rewards import content_rewards, length_rewards  # noqa: E402, F401
