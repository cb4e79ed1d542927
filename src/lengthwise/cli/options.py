"""Options shared by several commands, defined once: their names, help and defaults, and the two
option groups (``BackendOptions``, ``JudgeOptions``) that turn them into a generator or a judge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from lengthwise.cli.app import err_console
from lengthwise.errors import LengthwiseError

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Local model folder or hub id (default: the embedded SmolLM2-135M-Instruct). "
                 "With --backend openai: the model name the server serves."),
]
SkipBadOpt = Annotated[bool, typer.Option(
    "--skip-bad", help="Skip unusable input rows (and report how many) instead of stopping.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
RestartOpt = Annotated[bool, typer.Option(
    "--restart", help="Discard what an earlier run with other inputs or settings left in the output, and start over.")]
SeedOpt = Annotated[int, typer.Option(help="Seed.")]
CounterOpt = Annotated[str, typer.Option(help="Word counter: longbench, whitespace, unicode.")]

# --- generation backends ---------------------------------------------------------------------------
BackendOpt = Annotated[str, typer.Option(help="transformers (local) or openai (any OpenAI-compatible server).")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1.")]
ApiKeyOpt = Annotated[str | None, typer.Option(help="openai backend: API key (prefer --api-key-env).")]
ApiKeyEnvOpt = Annotated[str, typer.Option(help="openai backend: environment variable holding the API key.")]
ConcurrencyOpt = Annotated[str, typer.Option(
    help="openai backend: requests in flight, or 'auto': the server's slots where it tells them (llama.cpp "
         "/props), 32 for vLLM, 16 for OpenAI, else 1 (a single-slot server such as llama-cpp-python's queues "
         "the rest, and a queued request would time out). See docs/evaluation.md.")]
TimeoutOpt = Annotated[float, typer.Option(help="openai backend: seconds to wait for a reply once connected.")]
MaxAttemptsOpt = Annotated[int, typer.Option(help="openai backend: attempts per request, first one included.")]
BackoffOpt = Annotated[float, typer.Option(
    help="openai backend: first retry wait in seconds, doubled per attempt (±25% jitter, capped at 30 s; a "
         "server's Retry-After wins).")]
DeadlineOpt = Annotated[float, typer.Option(
    help="openai backend: total seconds one request may take across its attempts.")]
BatchSizeOpt = Annotated[int, typer.Option(help="transformers backend: prompts per forward pass.")]
DeviceOpt = Annotated[str | None, typer.Option(
    help="transformers backend: cpu, cuda, cuda:1 (default: cuda if present).")]
DtypeOpt = Annotated[str | None, typer.Option(
    help="transformers backend: float32, bfloat16, float16 or auto (default: bf16 on GPUs and on CPUs with "
         "native bf16 such as AVX512-BF16/AMX, else fp32).")]

# --- judges ------------------------------------------------------------------------------------------
JudgeOpt = Annotated[str | None, typer.Option(
    "--judge", help="Judge: an OpenAI-compatible server URL (http://…/v1, with --judge-model), or 'local' / a model "
                    "folder for the local probability judge (default model: the embedded SmolLM2).")]
JudgeModelOpt = Annotated[str | None, typer.Option(
    "--judge-model", help="Model name on the judge server, or the local judge's model folder.")]
JudgeKeyEnvOpt = Annotated[str, typer.Option(
    "--judge-api-key-env", help="Environment variable holding the judge server's API key.")]
JudgeAttemptsOpt = Annotated[int, typer.Option(
    "--judge-attempts", help="Judge attempts per item (parse failures and HTTP errors) before it counts as a failure.")]
JudgeConcurrencyOpt = Annotated[str, typer.Option(
    "--judge-concurrency", help="Judge requests in flight (server judges), or 'auto' (as --concurrency).")]
JudgeStructuredOpt = Annotated[bool, typer.Option(
    "--judge-structured/--no-judge-structured",
    help="Ask server judges for structured output (a JSON schema) where the server offers it; free text otherwise.")]
JudgeTimeoutOpt = Annotated[float, typer.Option(
    "--judge-timeout", help="Seconds per judge HTTP request (3 HTTP attempts each, within 3x this).")]
JudgeDeviceOpt = Annotated[str | None, typer.Option("--device", help="Local judge device: cpu or cuda.")]


@dataclass
class BackendOptions:
    """The generation-backend options of ``generate``, ``write`` and ``relabel``."""

    backend: str = "transformers"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: str = "auto"
    timeout: float = 120.0
    max_attempts: int = 5
    backoff: float = 0.5
    deadline: float = 600.0
    batch_size: int = 8
    device: str | None = None
    dtype: str | None = None
    reuse_prefix: bool = False  # transformers: keep KV caches of recent prompts (AgentWrite's growing sections)

    def generator(self, prefill_tokenizer=None):
        from lengthwise.backends import make_generator
        from lengthwise.backends.openai_backend import RetryPolicy

        if self.deadline <= 0:
            raise LengthwiseError(f"--deadline must be > 0, got {self.deadline}")
        # checked for every backend, so a bad value is reported the same way whichever is chosen
        retry = RetryPolicy(max_attempts=self.max_attempts, backoff_base=self.backoff, deadline=self.deadline)
        if self.backend == "openai":
            return make_generator("openai", model=self.model, base_url=self.base_url, api_key=self.api_key,
                                  api_key_env=self.api_key_env, concurrency=self.concurrency, timeout=self.timeout,
                                  retry=retry, prefill_tokenizer=prefill_tokenizer)
        extra = {"reuse_prefix": True} if self.reuse_prefix else {}
        return make_generator(self.backend, model=self.model, device=self.device, dtype=self.dtype,
                              batch_size=self.batch_size, **extra)


@dataclass
class JudgeOptions:
    """The judge options of ``eval`` and ``arena``."""

    spec: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    attempts: int = 3
    concurrency: str = "auto"
    structured: bool = True
    timeout: float = 120.0
    device: str | None = None

    def judge(self, pairwise: bool = False):
        from lengthwise.judging.factory import make_judge

        return make_judge(self.spec, self.model, self.api_key_env, self.attempts, self.concurrency, pairwise=pairwise,
                          device=self.device, timeout=self.timeout, structured=self.structured)


def check_counter(counter: str) -> None:
    from lengthwise.text import get_counter

    try:
        get_counter(counter)
    except ValueError as exc:
        raise LengthwiseError(str(exc)) from None


def int_list(value: str, option: str) -> list[int]:
    """``"20,40,60"`` → ``[20, 40, 60]``; anything else is a usage error naming the option."""
    try:
        return [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise LengthwiseError(f"{option} takes whole numbers separated by commas, got {value!r}") from None


def remote_failure_exit(count: int, by_reason: dict[str, int], what: str, base_url: str | None) -> None:
    """Say what failed and what to do, then exit 1. Failures no retry can cure (a wrong URL, a
    refused key) get their fix instead of the advice to rerun."""
    from lengthwise.backends.openai_backend import status_hint

    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(by_reason.items()))
    hints = []
    for reason in sorted(by_reason):
        code = reason.rsplit("_", 1)[-1] if "http_" in reason else ""
        hint = status_hint(int(code), base_url or "") if code.isdigit() else None
        if hint and hint not in hints:
            hints.append(hint)
    advice = "; ".join(hints) if hints else "rerun the same command to retry them"
    err_console.print(f"{count} {what} failed ({reasons}); {advice}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)
