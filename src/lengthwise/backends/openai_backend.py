"""Generation through any OpenAI-compatible server (vLLM ``vllm serve``, llama.cpp server, OpenAI).

Async with bounded concurrency. Each request is retried on 429, 5xx, timeouts, refused or reset
connections, malformed responses and empty ``choices``, with exponential backoff (honouring
``Retry-After``) until ``RetryPolicy.max_attempts`` or its deadline; then it ends as a result with
``finish_reason="error"`` and the reason, never silently dropped.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai

from lengthwise.backends.base import GenerationRequest, GenerationResult, ResultCallback
from lengthwise.errors import ConfigError

__all__ = ["OpenAIGenerator", "RetryPolicy", "classify_error"]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request.

    ``max_attempts`` counts the first try. The wait before attempt k+1 is
    ``min(backoff_max, backoff_base·2^(k−1))`` with ±25% jitter, or the server's ``Retry-After``
    (capped at ``backoff_max``) when it sends one. ``deadline`` bounds the total seconds one
    request may take across attempts (``None``: no bound beyond the attempts).
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    deadline: float | None = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ConfigError("backoff_base and backoff_max must be >= 0")

    def wait(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(self.backoff_max, max(0.0, retry_after))
        base = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return base * rng.uniform(0.75, 1.25)


class _RetryableReply(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def classify_error(exc: BaseException) -> tuple[str, bool, float | None]:
    """``(reason, retryable, retry_after_seconds)`` for an exception from the client."""
    if isinstance(exc, _RetryableReply):
        return exc.reason, True, None
    if isinstance(exc, openai.APITimeoutError | asyncio.TimeoutError):
        return "timeout", True, None
    if isinstance(exc, openai.APIConnectionError):
        return "connection", True, None
    if isinstance(exc, openai.APIStatusError):
        retry_after = None
        header = exc.response.headers.get("retry-after") if exc.response is not None else None
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        return f"http_{exc.status_code}", exc.status_code in RETRYABLE_STATUS, retry_after
    if isinstance(exc, openai.APIResponseValidationError | ValueError | KeyError | TypeError):
        return "bad_response", True, None
    return f"error_{type(exc).__name__}", False, None


class OpenAIGenerator:
    """Generate through an OpenAI-compatible HTTP server.

    ``api_key`` may be passed (the CLI's ``--api-key``) or read from the environment variable named by
    ``api_key_env``; servers that need none (vLLM, llama.cpp) get a placeholder. Chat requests go to
    ``/chat/completions``, raw prompts to ``/completions``.
    """

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        seed: int = 0,
    ):
        if not model:
            raise ConfigError("the openai backend needs --model: the model name the server serves")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1) or OPENAI_BASE_URL")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        self.model_name = model
        self.base_url = base_url
        self._api_key = api_key or os.environ.get(api_key_env) or "EMPTY"
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(seed)

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIGenerator(model={self.model_name!r}, base_url={self.base_url!r})"

    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.agenerate(requests, on_result))
        # Called from inside an event loop (a notebook): run ours on a private thread.
        box: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: box.setdefault("r", asyncio.run(self.agenerate(requests, on_result))))
        thread.start()
        thread.join()
        return box["r"]

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout)
        semaphore = asyncio.Semaphore(self.concurrency)
        results: list[GenerationResult | None] = [None] * len(requests)

        async def run_one(i: int) -> None:
            async with semaphore:
                result = await self._with_retries(client, requests[i])
            results[i] = result
            if on_result is not None:
                on_result(i, result)

        try:
            await asyncio.gather(*(run_one(i) for i in range(len(requests))))
        finally:
            await client.close()
        return results  # type: ignore[return-value]

    async def _with_retries(self, client: openai.AsyncOpenAI, request: GenerationRequest) -> GenerationResult:
        failures: list[str] = []
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                # The client's own timeout covers one HTTP exchange; wait_for also bounds a server
                # that trickles bytes forever.
                result = await asyncio.wait_for(self._call(client, request), timeout=self.timeout + 5)
                result.attempts, result.failures = attempt, failures
                return result
            except Exception as exc:  # every failure is classified, counted and maybe retried
                reason, retryable, retry_after = classify_error(exc)
                failures.append(reason)
                elapsed = time.monotonic() - started
                wait = self.retry.wait(attempt, retry_after, self._rng)
                out_of_time = self.retry.deadline is not None and elapsed + wait > self.retry.deadline
                if not retryable or attempt >= self.retry.max_attempts or out_of_time:
                    return GenerationResult(text="", finish_reason="error", error=reason, attempts=attempt, failures=failures)
                await asyncio.sleep(wait)

    async def _call(self, client: openai.AsyncOpenAI, request: GenerationRequest) -> GenerationResult:
        common: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.stop:
            common["stop"] = list(request.stop)
        if request.seed is not None:
            common["seed"] = request.seed
        if request.messages is not None:
            response = await client.chat.completions.create(messages=request.messages, **common)
        else:
            response = await client.completions.create(prompt=request.prompt, **common)
        choices = getattr(response, "choices", None)
        if not choices:
            raise _RetryableReply("empty_choices")
        choice = choices[0]
        text = choice.message.content if request.messages is not None else choice.text
        if text is None:
            raise _RetryableReply("bad_response")
        usage = getattr(response, "usage", None)
        finish = choice.finish_reason if choice.finish_reason in ("stop", "length") else "stop"
        return GenerationResult(
            text=text,
            finish_reason=finish,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        )

    def close(self) -> None:
        pass
