"""The ``lengthwise`` command line. Each command parses its options and calls one library function."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from lengthwise.errors import LengthwiseError

app = typer.Typer(
    name="lengthwise",
    help="Control how long language models write: generate, score, train and evaluate for length.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
class _Console(Console):
    """A closed pipe (`lengthwise eval … | head`) is the reader saying it has enough, not an error:
    the rest of the output goes nowhere and the command ends normally (rich would exit 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), (sys.stderr if self.stderr else sys.stdout).fileno())


console = _Console(soft_wrap=True)
err_console = _Console(stderr=True, soft_wrap=True)

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Local model folder or hub id (default: the embedded SmolLM2-135M-Instruct). "
                 "With --backend openai: the model name the server serves."),
]
SkipBadOpt = Annotated[bool, typer.Option("--skip-bad", help="Skip unusable input rows (and report how many) instead of stopping.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
BackendOpt = Annotated[str, typer.Option(help="transformers (local) or openai (any OpenAI-compatible server).")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1.")]
ApiKeyOpt = Annotated[str | None, typer.Option(help="openai backend: API key (prefer --api-key-env).")]
ApiKeyEnvOpt = Annotated[str, typer.Option(help="openai backend: environment variable holding the API key.")]
RestartOpt = Annotated[bool, typer.Option(
    "--restart", help="Discard what an earlier run with other inputs or settings left in the output, and start over.")]
ConcurrencyOpt = Annotated[str, typer.Option(
    help="openai backend: requests in flight, or 'auto': the server's slots where it tells them (llama.cpp "
         "/props), 32 for vLLM, 16 for OpenAI, else 1 (a single-slot server such as llama-cpp-python's queues "
         "the rest, and a queued request would time out). See docs/evaluation.md.")]
MaxAttemptsOpt = Annotated[int, typer.Option(help="openai backend: attempts per request, first one included.")]
DeviceOpt = Annotated[str | None, typer.Option(help="transformers backend: cpu, cuda, cuda:1 (default: cuda if present).")]
DtypeOpt = Annotated[str | None, typer.Option(help="transformers backend: float32, bfloat16, float16 or auto (default: bf16 on GPUs and on CPUs with native bf16 such as AVX512-BF16/AMX, else fp32).")]
BackoffOpt = Annotated[float, typer.Option(help="openai backend: first retry wait in seconds, doubled per attempt (±25% jitter, capped at 30 s; a server's Retry-After wins).")]
DeadlineOpt = Annotated[float, typer.Option(help="openai backend: total seconds one request may take across its attempts.")]


def _retry_policy(max_attempts: int, backoff: float, deadline: float):
    from lengthwise.backends.openai_backend import RetryPolicy

    if deadline <= 0:
        raise LengthwiseError(f"--deadline must be > 0, got {deadline}")
    return RetryPolicy(max_attempts=max_attempts, backoff_base=backoff, deadline=deadline)


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c not in ("bucket", "name", "model") else "left")
    for r in rows:
        table.add_row(*r)
    console.print(table)


@app.command()
def models(
    prepare: Annotated[bool, typer.Option("--prepare", help="Convert the embedded SmolLM2 GGUF into a cached checkpoint now.")] = False,
) -> None:
    """List the embedded default models and where they live (and optionally prepare them)."""
    from lengthwise.models import ensure_smollm2, model_status

    if prepare:
        path = ensure_smollm2()
        console.print(f"SmolLM2-135M-Instruct checkpoint ready at {path}")
    rows = model_status()
    _print_table("embedded models", ["name", "model", "ready", "path"],
                 [[r["name"], r["model"], "yes" if r["ready"] else "no", str(r.get("checkpoint") or r.get("problem"))] for r in rows])


@app.command()
def count(
    text: Annotated[str, typer.Argument(help="Text to count, or @FILE to read a file, or - for standard input.")],
    counter: Annotated[str, typer.Option(help="longbench (default), whitespace, unicode.")] = "longbench",
) -> None:
    """Count words the LongBench-Write way (or with another counter) and parse any length request."""
    from lengthwise.constraints import parse_length
    from lengthwise.text import count_words

    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise LengthwiseError(f"{path}: file not found")
        text = path.read_text(encoding="utf-8", errors="replace")
    try:
        n = count_words(text, counter)
    except ValueError as exc:
        raise LengthwiseError(str(exc)) from None
    constraint = parse_length(text)
    console.print(json.dumps({"counter": counter, "words": n,
                              "constraint": None if constraint is None else constraint.__dict__}, ensure_ascii=False))


def _report_skipped(skipped: list[str]) -> None:
    if skipped:
        err_console.print(f"skipped {len(skipped)} bad rows; first: {skipped[0]}", markup=False, highlight=False,
                          soft_wrap=True)


def _check_counter(counter: str) -> None:
    from lengthwise.text import get_counter

    try:
        get_counter(counter)
    except ValueError as exc:
        raise LengthwiseError(str(exc)) from None


def _generator_from_options(backend: str, model, base_url, api_key, api_key_env, concurrency, timeout, retry,
                            device, dtype, batch_size, prefill_tokenizer=None):
    """The generator the shared backend options describe (``generate`` and ``write``)."""
    from lengthwise.backends import make_generator

    if backend == "openai":
        return make_generator(backend, model=model, base_url=base_url, api_key=api_key, api_key_env=api_key_env,
                              concurrency=concurrency, timeout=timeout, retry=retry,
                              prefill_tokenizer=prefill_tokenizer)
    return make_generator(backend, model=model, device=device, dtype=dtype, batch_size=batch_size)


@app.command()
def generate(
    prompts: Annotated[Path, typer.Argument(help="Prompts JSONL: {id?, prompt, length?}; LongBench-Write and Arena-Write rows load as they are.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Responses JSONL (append-only; rerun to resume).")],
    model: ModelOpt = None,
    backend: BackendOpt = "transformers",
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = "auto",
    timeout: Annotated[float, typer.Option(help="openai backend: seconds to wait for a reply once connected.")] = 120.0,
    max_attempts: MaxAttemptsOpt = 5,
    backoff: BackoffOpt = 0.5,
    deadline: DeadlineOpt = 600.0,
    batch_size: Annotated[int, typer.Option(help="transformers backend: prompts per forward pass.")] = 8,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Token budget per response (default: from the required length).")] = None,
    max_tokens_cap: Annotated[int, typer.Option(help="Upper bound on the automatic token budget.")] = 4096,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0 = greedy).")] = 0.7,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Base seed; request k uses seed + k.")] = 0,
    counter: Annotated[str, typer.Option(help="Word counter recorded with each response.")] = "longbench",
    think: Annotated[bool, typer.Option(help="Use the think template (plan in <think>, write in <answer>).")] = False,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Single-pass generation: one response per prompt, written as each finishes; rerun to resume."""
    from lengthwise.io import check_output
    from lengthwise.jobs.generate import GenerateSettings, generate_responses
    from lengthwise.records import load_prompts

    _check_counter(counter)
    records, skipped = load_prompts(prompts, skip_bad=skip_bad)
    check_output(out)  # before a model loads
    _report_skipped(skipped)
    generator = _generator_from_options(backend, model, base_url, api_key, api_key_env, concurrency, timeout,
                                        _retry_policy(max_attempts, backoff, deadline), device, dtype, batch_size)
    in_flight = getattr(generator, "concurrency", 1)
    settings = GenerateSettings(max_new_tokens=max_new_tokens, max_tokens_cap=max_tokens_cap, temperature=temperature,
                                top_p=top_p, seed=seed, counter=counter, think=think,
                                chunk=max(batch_size, in_flight * 4) if backend == "openai" else batch_size)
    if backend == "openai" and not quiet:
        err_console.print(f"concurrency {in_flight} ({generator.concurrency_reason})")
    report = generate_responses(records, out, generator, settings, progress=not quiet, source=prompts, restart=restart)
    console.print(f"{report.responses}/{report.total} responses in {out} "
                  f"({report.already_done} already done, {report.completed} new, {report.failed} failed, "
                  f"{report.this_run['seconds']:.1f}s; finish: "
                  f"{', '.join(f'{k} {v}' for k, v in sorted(report.finish_reasons.items())) or '-'})")
    if report.failed:
        _remote_failure_exit(report.failed, report.failed_by_reason, "requests", base_url)


@app.command()
def score(
    responses: Annotated[Path, typer.Argument(help="Responses JSONL: {id?, prompt, response, length?, answer?}.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scores JSONL (append-only; rerun to resume).")],
    stack: Annotated[Path | None, typer.Option(help="Reward stack YAML (default: length + quality proxy + format).")] = None,
    think: Annotated[bool, typer.Option(help="Default stack only: require the <think>/<answer> format.")] = False,
    paraphrase: Annotated[bool, typer.Option(help="Run the embedding-based paraphrase detector (slower).")] = True,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score responses with a reward stack: every component, the total, and the hacking detectors' evidence."""
    from lengthwise.jobs.score import score_responses
    from lengthwise.rewards.stack import RewardStack

    try:
        if stack is not None:
            if not stack.is_file():
                raise LengthwiseError(f"{stack}: reward stack file not found")
            reward_stack = RewardStack.from_yaml(stack)
        else:
            reward_stack = RewardStack.default(think=think, paraphrase=paraphrase)
    except ValueError as exc:
        raise LengthwiseError(f"{stack or 'default stack'}: {exc}") from None
    report = score_responses(responses, out, reward_stack, skip_bad=skip_bad, progress=not quiet, restart=restart)
    _report_skipped(report.skipped_rows)
    _print_table(f"{report.total} responses scored ({report.already_done} already done)", ["name", "mean"],
                 [[k, "n/a" if v is None else f"{v:.4f}"] for k, v in report.means.items()])
    if report.flagged:
        console.print("flagged by detector: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.flagged.items())))


@app.command()
def bias(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for bias.json and bias.png.")] = Path("runs/bias"),
    lengths: Annotated[str, typer.Option(help="Comma-separated sequence lengths in tokens.")] = "16,32,64,128,256,512,1024",
    trl_check: Annotated[bool, typer.Option(help="Also check our reference losses against TRL's on --model.")] = False,
    model: ModelOpt = None,
) -> None:
    """Length bias of each loss preset: per-token and per-sequence gradient weight by length and advantage sign."""
    from lengthwise.evaluation.bias import gradient_weights, plot_bias
    from lengthwise.io import atomic_write_json
    from lengthwise.losses import PRESETS

    try:
        values = [int(x) for x in lengths.split(",") if x.strip()]
    except ValueError:
        raise LengthwiseError(f"--lengths must be comma-separated integers, got {lengths!r}") from None
    if not values or min(values) < 1:
        raise LengthwiseError(f"--lengths must be positive integers, got {lengths!r}")
    rows = [r for name in PRESETS for r in gradient_weights(name, values)]
    table = [[r["preset"], str(r["length"]), r["sign"], f"{r['per_token']:+.3e}", f"{r['per_sequence']:+.3e}",
              f"{r['per_sequence_ratio']:.2f}"] for r in rows if r["sign"] == "+"]
    _print_table("gradient weight by length (advantage +1; one batch of all lengths)",
                 ["name", "length", "sign", "per token", "per sequence", "vs shortest"], table)
    payload = {"lengths": values, "rows": rows}
    if trl_check:
        from lengthwise.models import resolve_model
        from lengthwise.training.trl_parity import trl_loss_parity

        parity = trl_loss_parity(resolve_model(model))
        payload["trl_parity"] = parity
        _print_table("reference loss vs TRL's GRPOTrainer._compute_loss (same inputs)", ["name", "trl", "ours", "abs diff"],
                     [[r["preset"], f"{r['trl']:.6f}", f"{r['ours']:.6f}", f"{r['abs_diff']:.1e}"] for r in parity])
    atomic_write_json(out / "bias.json", payload)
    plot = plot_bias(rows, out / "bias.png")
    console.print(f"wrote {out / 'bias.json'} and {plot}")


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(help="YAML recipe (see examples/); defaults apply without one.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config value: --set model.lora_r=8 (repeatable).")] = None,
    preset: Annotated[str | None, typer.Option(help="Loss preset: grpo, dapo, dr_grpo, gspo, luspo.")] = None,
    model: ModelOpt = None,
    prompts: Annotated[Path | None, typer.Option(help="Training prompts JSONL (default: built-in writing tasks).")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (max_steps).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder; rerun the same command to resume.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """RL training on TRL's GRPOTrainer with length-aware rewards and a loss preset; resumable.

    The terminal shows one progress line (step, reward, mean words, S_l, S_c); the full logs are in
    the run folder (logs.jsonl, metrics.jsonl, train.log)."""
    from lengthwise.training.config import load_config

    overrides = list(set_ or [])
    for key, value in (("preset", preset), ("model.name", model), ("data.prompts", prompts), ("max_steps", steps),
                       ("output_dir", out)):
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_config(config, overrides)  # every problem reported here, before a model is loaded
    from lengthwise.training.trainer import train as run_training

    result = run_training(cfg, progress=not quiet)
    resumed = f" (resumed from {result.resumed_from.name})" if result.resumed_from else ""
    console.print(f"trained to step {result.global_step}{resumed}; metrics: {result.metrics_path}; "
                  f"model: {result.output_dir / 'final'}")


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A training run folder (holds metrics.jsonl).")],
) -> None:
    """Plot a training run's length dynamics from its metrics.jsonl into training_curves.png."""
    from lengthwise.evaluation.plots import plot_training_curves
    from lengthwise.metrics import read_metrics

    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        raise LengthwiseError(f"{metrics}: not found; is {run_dir} a training run folder?")
    rows = read_metrics(metrics)
    if not rows:
        raise LengthwiseError(f"{metrics}: no logged steps yet")
    path = plot_training_curves(rows, run_dir / "training_curves.png", title=f"{run_dir.name}: length dynamics")
    console.print(f"wrote {path} ({len(rows)} steps)")


@app.command("export-verl")
def export_verl_command(
    config: Annotated[Path | None, typer.Argument(help="The same YAML recipe `lengthwise train` reads.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for train.parquet, reward_stack.yaml, verl_overrides.txt.")] = Path("runs/verl"),
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config value (repeatable).")] = None,
) -> None:
    """Export a training recipe for verl: prompts parquet with length targets, reward stack, Hydra overrides."""
    from lengthwise.integrations.verl import export_verl
    from lengthwise.training.config import load_config

    result = export_verl(load_config(config, list(set_ or [])), out)
    console.print(f"wrote {result['rows']} prompts to {out / 'train.parquet'}; run:")
    console.print("python -m verl.trainer.main_ppo \\\n  " + " \\\n  ".join(result["overrides"]))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (rerun the same command to resume).")] = Path("runs/demo"),
    model: ModelOpt = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (default 12; 0 measures only).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Smoke run: 8 prompts, 2 short steps (a few minutes).")] = False,
    prompts: Annotated[int | None, typer.Option("--prompts", help="Held-out prompts to measure (default 24).")] = None,
    preset: Annotated[str, typer.Option(help="Loss preset: grpo, dr_grpo, dapo, gspo or luspo.")] = "luspo",
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Learning rate of the LoRA adapters.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for prompts, sampling and training.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda if present).")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Teach the embedded SmolLM2-135M to follow requested lengths, and show it.

    Measures the untrained model on held-out prompts, trains it with LUSPO + LoRA on TRL's
    GRPOTrainer, measures again, and writes OUT/report.html (before/after tables, the
    required-vs-produced plot, training curves, samples). About 15-20 minutes on 2 CPU cores.
    """
    from lengthwise.jobs.demo import DemoSettings, demo_table_rows, run_demo
    from lengthwise.losses import PRESETS

    if preset not in PRESETS:
        raise LengthwiseError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    overrides: dict = {"model": model, "preset": preset, "seed": seed, "device": device}
    if steps is not None:
        overrides["steps"] = steps
    if prompts is not None:
        overrides["n_prompts"] = prompts
    if learning_rate is not None:
        overrides["learning_rate"] = learning_rate
    settings = DemoSettings.quick(**overrides) if quick else DemoSettings(**overrides)
    say = (lambda msg: None) if quiet else (lambda msg: console.print(f"[bold]{msg}[/bold]"))
    result = run_demo(out, settings, progress=not quiet, on_phase=say)
    _print_table(f"length following on {len(result.before.rows)} held-out prompts (longbench counter)",
                 ["required", "n", "words before", "words after", "S_l before", "S_l after"],
                 demo_table_rows(result))
    line = f"mean S_l {result.before.mean_S_l:.1f}"
    if result.after:
        line += f" -> {result.after.mean_S_l:.1f} ({result.after.mean_S_l - result.before.mean_S_l:+.1f}"
        ci = (result.gain or {}).get("S_l")
        line += f", paired 95% CI {ci['low']:+.1f} to {ci['high']:+.1f})" if ci else ")"
    console.print(f"{line}; report: {result.report}; took {result.seconds:.0f}s")




@app.command()
def write(
    prompts: Annotated[Path, typer.Argument(help="Prompts JSONL: {id?, prompt, length?}; the total comes from length or the prompt.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Documents JSONL (append-only; rerun to resume mid-document).")],
    model: ModelOpt = None,
    backend: BackendOpt = "transformers",
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = "auto",
    timeout: Annotated[float, typer.Option(help="openai backend: seconds to wait for a reply once connected.")] = 300.0,
    max_attempts: MaxAttemptsOpt = 5,
    backoff: BackoffOpt = 0.5,
    deadline: DeadlineOpt = 600.0,
    tokenizer: Annotated[str | None, typer.Option(
        help="openai backend: the served model's tokenizer (a folder or hub id; 'embedded' for SmolLM2). It measures "
             "the context budget (default: the embedded SmolLM2's) and, when given, renders prefilled plan requests "
             "for the server's /v1/completions.")] = None,
    window: Annotated[int | None, typer.Option(help="Context window in tokens (default: the model's; 8192 for servers).")] = None,
    batch_size: Annotated[int, typer.Option(help="transformers backend: documents per forward pass.")] = 8,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    words: Annotated[int, typer.Option(help="Total for prompts that state no length.")] = 2000,
    min_section_words: Annotated[int, typer.Option(help="Plan contract: shortest section.")] = 200,
    max_section_words: Annotated[int, typer.Option(help="Plan contract: longest section.")] = 1000,
    max_sections: Annotated[int, typer.Option(help="Plan contract: most sections.")] = 50,
    digest: Annotated[str, typer.Option(help="Earlier sections once the text outgrows the window: first_sentences or summary.")] = "first_sentences",
    max_continuations: Annotated[int, typer.Option(help="Times a too-short section is continued.")] = 2,
    plan_attempts: Annotated[int, typer.Option(help="Plans asked for before falling back to an even split.")] = 3,
    plan_example: Annotated[bool, typer.Option(help="Show a worked plan for another task in the plan request.")] = True,
    plan_prefill: Annotated[bool, typer.Option(help="Start the plan answer with 'Paragraph 1 - Main Point:' (small models follow the format only then): local backends, and servers given --tokenizer.")] = True,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.7,
    seed: Annotated[int, typer.Option(help="Base seed.")] = 0,
    counter: Annotated[str, typer.Option(help="Word counter for plans, sections and S_l.")] = "longbench",
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """AgentWrite: plan sections with word counts, then write them in order with the earlier text in
    context, so a model whose single answer stops at a few hundred words writes thousands."""
    from lengthwise.agentwrite.writer import WriteSettings
    from lengthwise.jobs.write import write_documents
    from lengthwise.records import load_prompts

    _check_counter(counter)
    if words < 1:
        raise LengthwiseError(f"--words must be >= 1, got {words}")
    settings = WriteSettings(min_section_words=min_section_words, max_section_words=max_section_words,
                             max_sections=max_sections, digest=digest, max_continuations=max_continuations,
                             plan_attempts=plan_attempts, plan_example=plan_example, plan_prefill=plan_prefill,
                             window=window, temperature=temperature, seed=seed, counter=counter)
    from lengthwise.io import check_output

    records, skipped = load_prompts(prompts, skip_bad=skip_bad)
    check_output(out)  # before a model loads
    _report_skipped(skipped)
    measure_tokenizer = None
    if backend == "openai":
        from lengthwise.models import load_tokenizer, resolve_model

        measure_tokenizer = load_tokenizer(resolve_model(None if tokenizer == "embedded" else tokenizer))
        settings.window = settings.window or 8192
    generator = _generator_from_options(backend, model, base_url, api_key, api_key_env, concurrency, timeout,
                                        _retry_policy(max_attempts, backoff, deadline), device, dtype, batch_size,
                                        prefill_tokenizer=measure_tokenizer if tokenizer else None)
    report = write_documents(records, out, generator, settings, default_words=words, tokenizer=measure_tokenizer,
                             progress=not quiet, source=prompts, restart=restart)
    console.print(f"{report.completed + report.already_done}/{report.total} documents in {out} "
                  f"({report.already_done} already done, {report.completed} new, {report.failed} failed; "
                  f"{report.words} words, {report.completion_tokens} tokens in {report.seconds:.0f}s, "
                  f"{report.tokens_per_second:.1f} tok/s)")
    if report.plan_prefill is False and plan_prefill:
        console.print("plan prefill: off (this backend cannot start the answer; give the served model's "
                      "--tokenizer to prefill through /v1/completions)")
    if report.fallbacks:
        console.print("fallbacks: " + "; ".join(f"{k} x{v}" for k, v in sorted(report.fallbacks.items())),
                      markup=False, highlight=False, soft_wrap=True)
    if report.defaulted_length:
        console.print(f"{report.defaulted_length} prompt(s) stated no length: written to --words {words}")
    if report.failed:
        err_console.print(f"{report.failed} documents failed ({'; '.join(sorted(set(report.failures.values())))}); "
                          "rerun the same command to resume them")
        raise typer.Exit(1)


@app.command()
def relabel(
    out: Annotated[Path, typer.Option("--out", "-o", help="Chat JSONL for `lengthwise sft` (samples kept in OUT.samples.jsonl).")],
    prompts: Annotated[Path | None, typer.Option(help="Tasks without a stated length (default: the built-in train-split tasks).")] = None,
    model: ModelOpt = None,
    tasks: Annotated[int, typer.Option(help="Built-in tasks to use (at most 155 in English).")] = 155,
    samples: Annotated[int, typer.Option(help="Answers sampled per task.")] = 2,
    max_new_tokens: Annotated[int, typer.Option(help="Token budget per answer; answers that reach it are dropped.")] = 320,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.8,
    cut: Annotated[str, typer.Option(help="Also cut answers at sentences near these lengths, e.g. 20,40,60.")] = "",
    min_words: Annotated[int, typer.Option(help="Shortest answer kept.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed for sampling and phrasings.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Prompts per forward pass.")] = 8,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Self-relabeled length data: sample answers to tasks that state no length, keep the ones the
    model ended itself, and restate each task with the length it produced.

    Examples:
      lengthwise relabel -o relabeled.jsonl --cut 20,40,60
      lengthwise relabel --prompts tasks.jsonl -o relabeled.jsonl --samples 4
    """
    from lengthwise.backends import make_generator
    from lengthwise.jobs.relabel import RelabelSettings
    from lengthwise.jobs.relabel import relabel as run

    try:
        targets = tuple(int(x) for x in cut.split(",") if x.strip())
    except ValueError:
        raise LengthwiseError(f"--cut takes whole numbers separated by commas, got {cut!r}") from None
    settings = RelabelSettings(tasks=tasks, samples=samples, max_new_tokens=max_new_tokens, temperature=temperature,
                               seed=seed, min_words=min_words, cut_targets=targets)
    settings.check()
    generator = make_generator("transformers", model=model, device=device, dtype=dtype, batch_size=batch_size)
    report = run(out, generator, settings, prompts=prompts, progress=not quiet, restart=restart)
    console.print(f"wrote {report.examples} examples to {out} ({report.ended_by_model} of {report.samples} answers "
                  f"ended by the model, {report.from_cuts} cut versions, {report.duplicates} duplicates dropped)")


@app.command()
def sft(
    data: Annotated[Path, typer.Argument(help='Chat JSONL: {"messages": [..., {"role": "assistant", ...}]} (export-sft, relabel).')],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder; rerun the same command to resume.")] = Path("runs/sft"),
    model: ModelOpt = None,
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters (--no-lora: every weight).")] = True,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    epochs: Annotated[float, typer.Option(help="Passes over the data.")] = 2.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps (overrides --epochs when > 0).")] = -1,
    learning_rate: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Examples per step (per device).")] = 8,
    gradient_accumulation_steps: Annotated[int, typer.Option(help="Micro-batches per update.")] = 1,
    max_length: Annotated[int, typer.Option(help="Longest example in tokens (longer ones are truncated).")] = 1024,
    weighting: Annotated[str, typer.Option(help="Loss weighting: token (mean over all answer tokens) or sequence (each answer weighs the same; LongAlign).")] = "token",
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    dtype: DtypeOpt = None,
    skip_bad: SkipBadOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Supervised fine-tuning on TRL's SFTTrainer, loss on the answer only; resumable.

    Examples:
      lengthwise sft relabeled.jsonl -o runs/sft --epochs 2
      lengthwise sft longwriter.jsonl -o runs/sft-long --weighting sequence --max-length 8192
    """
    from lengthwise.training.sft import SFTSettings, train_sft

    settings = SFTSettings(data=str(data), output_dir=str(out), model=model, lora=lora, lora_r=lora_r,
                           lora_alpha=2 * lora_r, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
                           batch_size=batch_size, gradient_accumulation_steps=gradient_accumulation_steps,
                           max_length=max_length, weighting=weighting, save_steps=save_steps, seed=seed, dtype=dtype)
    result = train_sft(settings, progress=not quiet, skip_bad=skip_bad)
    _report_skipped(result.skipped)
    resumed = f" (resumed from {result.resumed_from.name})" if result.resumed_from else ""
    console.print(f"trained to step {result.global_step} on {result.examples} examples{resumed}; "
                  f"model: {result.output_dir / 'final'}")


@app.command("export-sft")
def export_sft(
    documents: Annotated[Path, typer.Argument(help="Output of `lengthwise write` (or any {prompt, response} JSONL).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Chat-format JSONL: {\"messages\": [user, assistant]}.")],
    min_sl: Annotated[float, typer.Option("--min-sl", help="Keep documents with S_l at least this.")] = 0.0,
    max_redundancy: Annotated[float, typer.Option(help="Keep documents whose redundancy score (worst repetition detector) is at most this.")] = 1.0,
    system: Annotated[str | None, typer.Option(help="Optional system message for every example.")] = None,
    skip_bad: SkipBadOpt = False,
) -> None:
    """SFT data (LongWriter-6k style) from AgentWrite outputs, filtered by S_l and redundancy."""
    from lengthwise.jobs.export import export_sft as run

    stats = run(documents, out, min_sl=min_sl, max_redundancy=max_redundancy, system=system, skip_bad=skip_bad)
    console.print(f"wrote {stats['written']} of {stats['total']} examples to {out} "
                  f"(dropped: {stats['dropped_sl']} for S_l, {stats['dropped_redundancy']} for redundancy)")
    _report_skipped(stats["skipped_rows"])


@app.command("export-dpo")
def export_dpo(
    responses: Annotated[Path, typer.Argument(help="Responses JSONL with several responses per prompt: {id, prompt, response}.")],
    scores: Annotated[Path, typer.Option("--scores", help="Output of `lengthwise score` on those responses (joined by id).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Preference JSONL: {prompt, chosen, rejected, chosen_score, rejected_score}.")],
    min_margin: Annotated[float, typer.Option(help="Smallest total-reward gap between chosen and rejected.")] = 0.1,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Preference pairs: per prompt, the highest-reward response against the lowest, when their
    total rewards differ by at least --min-margin."""
    from lengthwise.jobs.export import export_dpo as run

    stats = run(responses, scores, out, min_margin=min_margin, skip_bad=skip_bad)
    console.print(f"wrote {stats['pairs']} pairs from {stats['prompts']} prompts to {out} "
                  f"({stats['below_margin']} below the margin, {stats['single']} with one response, "
                  f"{stats['unscored']} responses without a score)")
    _report_skipped(stats["skipped_rows"])


JudgeOpt = Annotated[str | None, typer.Option(
    "--judge", help="Judge: an OpenAI-compatible server URL (http://…/v1, with --judge-model), or 'local' / a model "
                    "folder for the local probability judge (default model: the embedded SmolLM2).")]
JudgeModelOpt = Annotated[str | None, typer.Option("--judge-model", help="Model name on the judge server, or the local judge's model folder.")]
JudgeKeyEnvOpt = Annotated[str, typer.Option("--judge-api-key-env", help="Environment variable holding the judge server's API key.")]
JudgeAttemptsOpt = Annotated[int, typer.Option("--judge-attempts", help="Judge attempts per item (parse failures and HTTP errors) before it counts as a failure.")]
JudgeConcurrencyOpt = Annotated[str, typer.Option("--judge-concurrency", help="Judge requests in flight (server judges), or 'auto' (as --concurrency).")]
JudgeStructuredOpt = Annotated[bool, typer.Option(
    "--judge-structured/--no-judge-structured",
    help="Ask server judges for structured output (a JSON schema) where the server offers it; free text otherwise.")]
JudgeTimeoutOpt = Annotated[float, typer.Option("--judge-timeout", help="Seconds per judge HTTP request (3 HTTP attempts each, within 3x this).")]


def _remote_failure_exit(count: int, by_reason: dict[str, int], what: str, base_url: str | None) -> None:
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


def _make_judge(spec: str | None, model: str | None, api_key_env: str, attempts: int, concurrency: str,
                pairwise: bool = False, device: str | None = None, timeout: float = 120.0, structured: bool = True):
    """A rubric judge (or a pairwise judge for arena) from the --judge options."""
    if spec is None:
        return None
    if attempts < 1:
        raise LengthwiseError(f"--judge-attempts must be >= 1, got {attempts}")
    if spec.startswith(("http://", "https://")):
        from lengthwise.backends.openai_backend import OpenAIGenerator, RetryPolicy

        if not model:
            raise LengthwiseError("--judge-model is required with a judge server URL")
        generator = OpenAIGenerator(model=model, base_url=spec, api_key_env=api_key_env, concurrency=concurrency,
                                    timeout=timeout, retry=RetryPolicy(max_attempts=3, deadline=max(timeout * 3, 60.0)))
        if pairwise:
            from lengthwise.evaluation.arena import GeneratorPairJudge

            return GeneratorPairJudge(generator, max_attempts=attempts, name=f"pairwise:{model}", structured=structured)
        from lengthwise.evaluation.judge import GeneratorJudge

        return GeneratorJudge(generator, max_attempts=attempts, name=f"rubric:{model}", structured=structured)
    local_model = model if spec == "local" else spec
    if pairwise:
        from lengthwise.evaluation.arena import ProbabilityPairJudge

        return ProbabilityPairJudge(model_spec=local_model, device=device)
    from lengthwise.evaluation.judge import ProbabilityJudge

    return ProbabilityJudge(model_spec=local_model, device=device)


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@app.command("eval")
def eval_command(
    responses: Annotated[Path, typer.Argument(help="Responses JSONL: {id?, prompt, response, length?, type?, model?}.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: items.jsonl, summary.json, report.html (rerun to resume).")],
    counter: Annotated[str, typer.Option(help="Word counter: longbench, whitespace, unicode.")] = "longbench",
    paraphrase: Annotated[bool, typer.Option("--paraphrase", help="Also run the embedding paraphrase detector (slower).")] = False,
    judge: JudgeOpt = None,
    judge_model: JudgeModelOpt = None,
    judge_api_key_env: JudgeKeyEnvOpt = "OPENAI_API_KEY",
    judge_attempts: JudgeAttemptsOpt = 3,
    judge_concurrency: JudgeConcurrencyOpt = "auto",
    judge_structured: JudgeStructuredOpt = True,
    judge_timeout: JudgeTimeoutOpt = 120.0,
    device: Annotated[str | None, typer.Option(help="Local judge device: cpu or cuda.")] = None,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """LongBench-Write scoring: S_l per item and bucket, the hacking audit, and with --judge the
    six-dimension quality score S_q and S̄ = (S_l + S_q)/2. Writes OUT/report.html."""
    from lengthwise.jobs.evaluate import EvalSettings, evaluate_responses

    try:
        settings = EvalSettings(counter=counter, paraphrase=paraphrase, skip_bad=skip_bad)
    except ValueError as exc:
        raise LengthwiseError(str(exc)) from None
    judge_obj = _make_judge(judge, judge_model, judge_api_key_env, judge_attempts, judge_concurrency, device=device,
                            timeout=judge_timeout, structured=judge_structured)
    summary = evaluate_responses(responses, out, settings, judge=judge_obj, progress=not quiet, restart=restart)
    _report_skipped(summary["skipped_rows"])
    rows = [[b, str(g["n"]), _fmt(g["S_l"]), _fmt(g["S_c"]), _fmt(g["S_q"]), _fmt(g["S"])]
            for b, g in summary["by_bucket"].items()]
    rows.append(["all", str(summary["n_scored"]), _fmt(summary["S_l"]), _fmt(summary["S_c"]), _fmt(summary["S_q"]),
                 _fmt(summary["S"])])
    _print_table(f"LongBench-Write scores ({summary['counter']} counter; S_c: constraint-aware length score)",
                 ["bucket", "n", "S_l", "S_c", "S_q", "S"], rows)
    if summary["by_type"]:
        _print_table("by type", ["name", "n", "S_l", "S_q"],
                     [[t, str(g["n"]), _fmt(g["S_l"]), _fmt(g["S_q"])] for t, g in summary["by_type"].items()])
    flagged = {k: v for k, v in summary["flagged"].items() if v}
    console.print(f"{summary['n_unscored']} item(s) without a stated length (not scored for length); "
                  f"flagged: {flagged or 'none'}")
    if summary["judge_failures"] is not None:
        console.print(f"judge failures: {summary['judge_failures']['count']} {summary['judge_failures']['by_reason'] or ''}")
    console.print(f"wrote {out / 'items.jsonl'}, {out / 'summary.json'}, {summary['report']}")
    if summary["judge_failures"] and summary["judge_failures"]["count"]:
        err_console.print(f"{summary['judge_failures']['count']} of {summary['n']} items have no judge verdict "
                          f"(excluded from S_q; raw replies in {out / 'items.jsonl'}); rerun the same command to "
                          "retry them", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def audit(
    responses: Annotated[Path, typer.Argument(help="Responses JSONL: {id?, prompt, response}.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the audit rows (JSONL) here as well.")] = None,
    paraphrase: Annotated[bool, typer.Option("--paraphrase/--no-paraphrase", help="Embedding paraphrase detector (on by default).")] = True,
    show_spans: Annotated[int, typer.Option(help="Evidence spans printed per flagged detector.")] = 2,
    skip_bad: SkipBadOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The reward-hacking audit on its own: which responses are padded by repetition, paraphrased,
    keyword-stuffed or malformed, with the evidence spans."""
    from lengthwise.io import check_output, keyed_rows, read_jsonl, write_jsonl
    from lengthwise.jobs.evaluate import EvalSettings, item_row
    from lengthwise.jobs.score import check_response_row
    from lengthwise.rewards.components import HackAudit
    from lengthwise.text import extract_answer

    data = read_jsonl(responses, check=check_response_row, skip_bad=skip_bad)
    if out is not None:
        check_output(out)  # before the work, not after it
    rows = keyed_rows(data, skip_bad)
    hacks = HackAudit(paraphrase=paraphrase)
    settings = EvalSettings()
    items = []
    for item_id, row in (rows if quiet else _progress(rows, "audit")):
        item = item_row(item_id, row, hacks, settings)
        items.append({k: item[k] for k in ("id", "words", "flags", "format", "audit")})
    if out is not None:
        write_jsonl(out, items)
    flagged = [i for i in items if i["flags"]]
    table = []
    for i in flagged:
        answer = extract_answer(dict(rows)[i["id"]].get("response") or "")
        evidence = []
        for name, det in i["audit"].items():
            if det["flagged"]:
                snippets = [answer[s["start"]:s["end"]][:60].replace("\n", " ") for s in det.get("spans", [])[:show_spans]]
                evidence.append(f"{name} {det['score']:.2f}: " + " | ".join(repr(x) for x in snippets))
        if not i["format"]["ok"]:
            evidence.append("malformed: " + ", ".join(i["format"]["problems"]))
        table.append([i["id"], ", ".join(i["flags"]), "\n".join(evidence)])
    _print_table(f"reward-hacking audit: {len(flagged)} of {len(items)} responses flagged", ["name", "flags", "evidence"], table)
    _report_skipped(data.skipped)


def _progress(items, desc: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="item", dynamic_ncols=True)


@app.command()
def arena(
    responses: Annotated[list[Path], typer.Argument(help="Two or more responses JSONL files, one per system; Arena-Write rows load as 'baseline'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: comparisons.jsonl, leaderboard.json/png, report.html (rerun to resume).")],
    judge: JudgeOpt = "local",
    judge_model: JudgeModelOpt = None,
    judge_api_key_env: JudgeKeyEnvOpt = "OPENAI_API_KEY",
    judge_attempts: JudgeAttemptsOpt = 3,
    judge_concurrency: JudgeConcurrencyOpt = "auto",
    judge_structured: JudgeStructuredOpt = True,
    judge_timeout: JudgeTimeoutOpt = 120.0,
    anchor: Annotated[str | None, typer.Option(help="System rated 1000 (default: baseline if present, else the first).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over prompts for the intervals.")] = 200,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    device: Annotated[str | None, typer.Option(help="Local judge device: cpu or cuda.")] = None,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Pairwise comparison of systems on the same prompts, each pair judged in both orders;
    Bradley–Terry ratings with bootstrap intervals, printed, saved as JSON and plotted."""
    from lengthwise.jobs.arena import run_arena

    if bootstrap < 0:
        raise LengthwiseError(f"--bootstrap must be >= 0, got {bootstrap}")
    judge_obj = _make_judge(judge, judge_model, judge_api_key_env, judge_attempts, judge_concurrency, pairwise=True,
                            device=device, timeout=judge_timeout, structured=judge_structured)
    summary = run_arena(responses, out, judge_obj, anchor=anchor, n_bootstrap=bootstrap, seed=seed, skip_bad=skip_bad,
                        progress=not quiet, restart=restart)
    _print_table(f"arena: {len(summary['systems'])} systems, {summary['prompts']} prompts",
                 ["rank", "name", "rating", "95% interval", "win rate", "comparisons"],
                 [[str(k + 1), r["system"], f"{r['rating']:.0f}", f"{r['low']:.0f}-{r['high']:.0f}",
                   _fmt(r["win_rate"], 3), str(r["comparisons"])] for k, r in enumerate(summary["leaderboard"])])
    failures = summary["judge_failures"]
    console.print(f"judge failures: {failures['count']} of {summary['requested']}; report: {summary['report']}")
    if failures["count"]:
        err_console.print(f"{failures['count']} comparisons failed (excluded); rerun the same command to retry them")
        raise typer.Exit(1)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by eval, arena or demo.")],
) -> None:
    """Rebuild RUN_DIR/report.html from the files the run left (items.jsonl, leaderboard.json, summary.json)."""
    from lengthwise.jobs.rebuild import rebuild_report

    path = rebuild_report(run_dir)
    console.print(f"wrote {path}")


# typer >= 0.2x parses with its own copy of click; both kinds of usage error are the user's.
_USAGE_ERRORS: tuple[type[Exception], ...] = (click.ClickException,)
try:
    from typer import _click as _typer_click

    _USAGE_ERRORS += (_typer_click.ClickException,)
except (ImportError, AttributeError):
    pass


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    # The libraries' own bars ("Loading weights") would interleave with ours; one line per phase.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    try:
        # Without standalone mode click hands back typer.Exit codes as the return value.
        from lengthwise.io import input_scope

        with input_scope():  # no command writes over a file it read
            code = app(args=argv, standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as exc:
        return exc.exit_code
    except _USAGE_ERRORS as exc:  # a misspelled option or a bad value: click's message, exit 2
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, typer.Abort):
        err_console.print("aborted")
        return 130
    except LengthwiseError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted; rerun the same command to resume")
        return 130
    except BrokenPipeError:  # `lengthwise eval … | head`: the reader has what it wanted; the work is saved
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("LENGTHWISE_DEBUG"):
            raise
        err_console.print(f"internal error: {type(exc).__name__}: {exc} (set LENGTHWISE_DEBUG=1 for the traceback)",
                          markup=False, highlight=False, soft_wrap=True)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
