"""The ``Generator`` protocol every backend implements, and its request/result records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["GenerationRequest", "GenerationResult", "Generator", "ResultCallback", "summarize_results"]

FinishReason = Literal["stop", "length", "error"]


@dataclass
class GenerationRequest:
    """One generation. Give ``messages`` (chat, rendered with the model's chat template) or ``prompt``
    (raw text, sent as is). ``stop`` strings end generation and are not included in the text."""

    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    max_new_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    stop: Sequence[str] = ()
    seed: int | None = None
    # Structured output: ``{"name": ..., "schema": <JSON schema>}``. Servers that offer it constrain
    # the reply to the schema; backends that do not (or a server that refuses it) generate free text,
    # which callers parse the same way.
    json_schema: dict[str, Any] | None = None
    # Anti-repetition for a regenerated passage (the AgentWrite guard): CTRL's repetition penalty (> 1 lowers the
    # logits of tokens already in the context) and a ban on repeating any n-gram of that size. Local models apply
    # both; servers get the penalty (vLLM ``repetition_penalty``, llama.cpp ``repeat_penalty``) and no n-gram ban.
    repetition_penalty: float | None = None
    no_repeat_ngram_size: int | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages= or prompt=")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.no_repeat_ngram_size is not None and self.no_repeat_ngram_size < 1:
            raise ValueError(f"no_repeat_ngram_size must be >= 1, got {self.no_repeat_ngram_size}")


@dataclass
class GenerationResult:
    """What came back: ``finish_reason`` is ``stop`` (EOS or a stop string), ``length`` (hit
    ``max_new_tokens``) or ``error`` (every attempt failed; ``error`` says why)."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    attempts: int = 1
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.finish_reason != "error"


ResultCallback = Callable[[int, GenerationResult], None]


@runtime_checkable
class Generator(Protocol):
    """Turns requests into results. ``on_result(index, result)`` is called as each one finishes,
    so callers can write results to disk before the whole batch is done."""

    name: str
    model_name: str

    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]: ...

    def close(self) -> None: ...


def summarize_results(results: Sequence[GenerationResult]) -> dict[str, Any]:
    """Counts for a run summary: completed, failed by final reason, and retried attempts by reason."""
    failed = Counter(r.error or "unknown" for r in results if not r.ok)
    # A failed request's last failure ended it: only the failures that were followed by another
    # attempt are retries.
    retried = Counter(reason for r in results for reason in (r.failures if r.ok else r.failures[:-1]))
    return {
        "requests": len(results),
        "completed": sum(r.ok for r in results),
        "failed": sum(failed.values()),
        "failed_by_reason": dict(failed),
        "retries_by_reason": dict(retried),
        "finish_reasons": dict(Counter(r.finish_reason for r in results)),
        "completion_tokens": sum(r.completion_tokens for r in results),
    }
