"""Generation through any OpenAI-compatible server (vLLM ``vllm serve``, llama.cpp server, OpenAI).

Async with bounded concurrency. Each request is retried on 429, 5xx, timeouts, refused or reset
connections, malformed responses and empty ``choices``, with exponential backoff (honouring
``Retry-After``) until ``RetryPolicy.max_attempts`` or its deadline; then it ends as a result with
``finish_reason="error"`` and the reason, never silently dropped.

Concurrency: a server computes as many requests at once as it has slots (vLLM: many; llama.cpp's
``llama-server --parallel N``: N; llama-cpp-python's server: 1) and queues the rest where the client
cannot see them, so a per-request timeout would count the queue. ``concurrency="auto"`` asks the
server (llama.cpp's ``/props`` reports its slots; vLLM answers ``/version``) and otherwise sends one
request at a time. A request the client gives up on is cancelled and its connection closed, so a
server that notices disconnects stops computing it.
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

__all__ = ["OpenAIGenerator", "RetryPolicy", "classify_error", "probe_concurrency", "status_hint"]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Ways servers spell structured output, tried in order; a server that refuses one (HTTP 400/422) is
# asked the next way, and after the last without a schema (free text, parsed by the caller).
SCHEMA_STYLES = ("json_schema", "json_object", None)
# Concurrency by server when ``auto`` can tell: OpenAI's API serves many; vLLM batches continuously.
AUTO_CONCURRENCY = {"openai": 16, "vllm": 32}


def status_hint(status: int, base_url: str) -> str | None:
    """The likely fix for an HTTP status that no retry will cure."""
    if status == 404:
        hint = f"the server has no such endpoint under {base_url}"
        if not base_url.rstrip("/").endswith("/v1"):
            hint += " (OpenAI-compatible base URLs usually end in /v1)"
        return hint + ", or it does not serve that model name: check --base-url and --model"
    if status in (401, 403):
        return "the server refused the API key: set the environment variable named by --api-key-env"
    return None


def probe_concurrency(base_url: str, timeout: float = 3.0) -> tuple[int, str]:
    """``(requests to keep in flight, why)`` for ``concurrency="auto"``."""
    import httpx

    root = base_url.rstrip("/").removesuffix("/v1")
    if "api.openai.com" in root:
        return AUTO_CONCURRENCY["openai"], "OpenAI's API"
    try:
        props = httpx.get(f"{root}/props", timeout=timeout)
        if props.status_code == 200:
            slots = props.json().get("total_slots")
            if isinstance(slots, int) and slots >= 1:
                return slots, f"llama.cpp server with {slots} slot(s)"
        version = httpx.get(f"{root}/version", timeout=timeout)
        if version.status_code == 200 and isinstance(version.json(), dict) and "version" in version.json():
            return AUTO_CONCURRENCY["vllm"], "vLLM server"
    except (httpx.HTTPError, ValueError):
        pass
    return 1, "server of unknown capacity: one request at a time (set --concurrency for more)"


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
        concurrency: int | str = "auto",
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        seed: int = 0,
        connect_timeout: float = 10.0,
        prefill_tokenizer: Any = None,
    ):
        if not model:
            raise ConfigError("the openai backend needs --model: the model name the server serves")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1) or OPENAI_BASE_URL")
        self.concurrency_reason = "set by the caller"
        if concurrency == "auto":
            concurrency, self.concurrency_reason = probe_concurrency(base_url)
        elif isinstance(concurrency, str):
            try:
                concurrency = int(concurrency)
            except ValueError:
                raise ConfigError(f"concurrency must be 'auto' or a whole number, got {concurrency!r}") from None
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        if timeout <= 0 or connect_timeout <= 0:
            raise ConfigError("timeout and connect_timeout must be > 0 seconds")
        self.model_name = model
        self.base_url = base_url
        self._api_key = api_key or os.environ.get(api_key_env) or "EMPTY"
        self.concurrency = int(concurrency)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry or RetryPolicy()
        self._rng = random.Random(seed)
        # Chat APIs cannot start the assistant's answer for it. With the served model's tokenizer we
        # render the chat template locally, answer prefix included, and send it to /v1/completions.
        self.prefill_tokenizer = prefill_tokenizer
        self._schema_style = 0  # index into SCHEMA_STYLES: the first style this server has not refused
        self.structured_fallbacks: list[str] = []  # styles the server refused, in order

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
        import httpx

        # connect: reaching the server; read: the gap between bytes of one reply (a whole reply for
        # a non-streamed request, which is why concurrency must not exceed the server's slots).
        timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=timeout)
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
                if self._refused_schema(request, exc):
                    attempt -= 1  # the server cannot take this form of the request: not a failed try
                    continue
                reason, retryable, retry_after = classify_error(exc)
                failures.append(reason)
                elapsed = time.monotonic() - started
                wait = self.retry.wait(attempt, retry_after, self._rng)
                out_of_time = self.retry.deadline is not None and elapsed + wait > self.retry.deadline
                if not retryable or attempt >= self.retry.max_attempts or out_of_time:
                    return GenerationResult(
                        text="", finish_reason="error", error=reason, attempts=attempt, failures=failures
                    )
                await asyncio.sleep(wait)

    def _refused_schema(self, request: GenerationRequest, exc: BaseException) -> bool:
        """True when ``exc`` is the server refusing the structured-output form just sent; moves on
        to the next form (shared by every later request to this server)."""
        style = SCHEMA_STYLES[self._schema_style]
        if request.json_schema is None or style is None:
            return False
        if not isinstance(exc, openai.APIStatusError):
            return False
        # 400/422 is how servers refuse an unknown field value; llama-cpp-python 0.3.x answers its own
        # validation error with a 500 whose message names the field, which no retry would cure.
        refused = exc.status_code in (400, 422) or (
            exc.status_code == 500 and "response_format" in str(getattr(exc, "message", "") or exc))
        if not refused:
            return False
        if SCHEMA_STYLES[self._schema_style] == style:  # concurrent refusals advance once
            self.structured_fallbacks.append(style)
            self._schema_style += 1
        return True

    @property
    def supports_prefill(self) -> bool:
        return self.prefill_tokenizer is not None and bool(getattr(self.prefill_tokenizer, "chat_template", None))

    def render_prefilled(self, messages: list[dict[str, str]]) -> str:
        """The prompt text of a chat whose last message is the start of the assistant's answer."""
        return self.prefill_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False,
                                                          continue_final_message=True)

    @property
    def structured_style(self) -> str | None:
        """How structured output is asked of this server now (``None``: free text)."""
        return SCHEMA_STYLES[self._schema_style]

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        style = SCHEMA_STYLES[self._schema_style]
        if style == "json_schema":  # OpenAI, vLLM, llama.cpp's llama-server
            return {"type": "json_schema", "json_schema": {"name": schema["name"], "schema": schema["schema"]}}
        if style == "json_object":  # llama-cpp-python's server, llama-server
            return {"type": "json_object", "schema": schema["schema"]}
        return None

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
        if request.repetition_penalty is not None:
            # not in OpenAI's API: vLLM reads repetition_penalty, llama.cpp repeat_penalty; each ignores the other
            common["extra_body"] = {"repetition_penalty": request.repetition_penalty,
                                    "repeat_penalty": request.repetition_penalty}
        if request.json_schema is not None and request.messages is not None:
            response_format = self._response_format(request.json_schema)
            if response_format is not None:
                common["response_format"] = response_format
        chat = request.messages is not None
        if chat and request.messages[-1]["role"] == "assistant" and self.supports_prefill:
            chat = False
            common.pop("response_format", None)
            response = await client.completions.create(prompt=self.render_prefilled(request.messages), **common)
        elif chat:
            response = await client.chat.completions.create(messages=request.messages, **common)
        else:
            response = await client.completions.create(prompt=request.prompt, **common)
        choices = getattr(response, "choices", None)
        if not choices:
            raise _RetryableReply("empty_choices")
        choice = choices[0]
        text = choice.message.content if chat else choice.text
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
