"""Commands that make text: ``generate`` (single pass), ``write`` (AgentWrite), ``relabel``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lengthwise.cli.app import app, console, err_console, report_skipped, say_plain
from lengthwise.cli.options import (
    ApiKeyEnvOpt,
    ApiKeyOpt,
    BackendOpt,
    BackendOptions,
    BackoffOpt,
    BaseUrlOpt,
    BatchSizeOpt,
    ConcurrencyOpt,
    DeadlineOpt,
    DeviceOpt,
    DtypeOpt,
    MaxAttemptsOpt,
    ModelOpt,
    QuietOpt,
    RestartOpt,
    SkipBadOpt,
    TimeoutOpt,
    check_counter,
    int_list,
    remote_failure_exit,
)
from lengthwise.errors import LengthwiseError


@app.command()
def generate(
    prompts: Annotated[Path, typer.Argument(
        help="Prompts JSONL: {id?, prompt, length?}; LongBench-Write and Arena-Write rows load as they are.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Responses JSONL (append-only; rerun to resume).")],
    model: ModelOpt = None,
    backend: BackendOpt = "transformers",
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = "auto",
    timeout: TimeoutOpt = 120.0,
    max_attempts: MaxAttemptsOpt = 5,
    backoff: BackoffOpt = 0.5,
    deadline: DeadlineOpt = 600.0,
    batch_size: BatchSizeOpt = 8,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    max_new_tokens: Annotated[int | None, typer.Option(
        help="Token budget per response (default: from the required length).")] = None,
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
    """Single-pass generation: one response per prompt, written as each finishes; rerun to resume.

    Examples:
      lengthwise generate prompts.jsonl -o responses.jsonl --temperature 0
      lengthwise generate prompts.jsonl -o responses.jsonl --backend openai --base-url http://127.0.0.1:8000/v1 -m qwen
    """
    from lengthwise.io import check_output
    from lengthwise.jobs.generate import GenerateSettings, generate_responses
    from lengthwise.records import load_prompts

    check_counter(counter)
    records, skipped = load_prompts(prompts, skip_bad=skip_bad)
    check_output(out)  # before a model loads
    report_skipped(skipped)
    options = BackendOptions(backend, model, base_url, api_key, api_key_env, concurrency, timeout, max_attempts,
                             backoff, deadline, batch_size, device, dtype)
    generator = options.generator()
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
        remote_failure_exit(report.failed, report.failed_by_reason, "requests", base_url)


@app.command()
def write(
    prompts: Annotated[Path, typer.Argument(
        help="Prompts JSONL: {id?, prompt, length?}; the total comes from length or the prompt.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Documents JSONL (append-only; rerun to resume mid-document).")],
    model: ModelOpt = None,
    backend: BackendOpt = "transformers",
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    concurrency: ConcurrencyOpt = "auto",
    timeout: TimeoutOpt = 300.0,
    max_attempts: MaxAttemptsOpt = 5,
    backoff: BackoffOpt = 0.5,
    deadline: DeadlineOpt = 600.0,
    tokenizer: Annotated[str | None, typer.Option(
        help="openai backend: the served model's tokenizer (a folder or hub id; 'embedded' for SmolLM2). It measures "
             "the context budget (default: the embedded SmolLM2's) and, when given, renders prefilled plan requests "
             "for the server's /v1/completions.")] = None,
    window: Annotated[int | None, typer.Option(
        help="Context window in tokens (default: the model's; 8192 for servers).")] = None,
    batch_size: Annotated[int, typer.Option(help="transformers backend: documents per forward pass.")] = 8,
    reuse_prefix: Annotated[bool | None, typer.Option(
        "--reuse-prefix/--no-reuse-prefix",
        help="transformers backend: keep each document's key/value cache across sections so a section prefills "
             "only its new text (documents then run one at a time). Default: on for a single document, off for "
             "several (batching pays more). Servers: see docs/agentwrite.md for prefix caching.")] = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    words: Annotated[int, typer.Option(help="Total for prompts that state no length.")] = 2000,
    min_section_words: Annotated[int, typer.Option(help="Plan contract: shortest section.")] = 200,
    max_section_words: Annotated[int, typer.Option(help="Plan contract: longest section.")] = 1000,
    max_sections: Annotated[int, typer.Option(help="Plan contract: most sections.")] = 50,
    digest: Annotated[str, typer.Option(
        help="Earlier sections once the text outgrows the window: first_sentences or summary.")] = "first_sentences",
    max_continuations: Annotated[int, typer.Option(help="Times a too-short section is continued.")] = 2,
    plan_attempts: Annotated[int, typer.Option(help="Plans asked for before falling back to an even split.")] = 3,
    plan_example: Annotated[bool, typer.Option(help="Show a worked plan for another task in the plan request.")] = True,
    plan_prefill: Annotated[bool, typer.Option(
        help="Start the plan answer with 'Paragraph 1 - Main Point:' (small models follow the format only then): "
             "local backends, and servers given --tokenizer.")] = True,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.7,
    seed: Annotated[int, typer.Option(help="Base seed.")] = 0,
    counter: Annotated[str, typer.Option(help="Word counter for plans, sections and S_l.")] = "longbench",
    incremental_plan: Annotated[bool, typer.Option(
        help="When no plan parses, build it one main point at a time (repeated points rejected) before the even "
             "split.")] = True,
    guard: Annotated[bool, typer.Option(
        help="Repetition guard: write a section again when too much of it repeats the text so far.")] = True,
    guard_threshold: Annotated[float, typer.Option(
        help="Share of a section repeating earlier text above which it is written again.")] = 0.3,
    guard_attempts: Annotated[int, typer.Option(
        help="Rewrites per section at most (new seed, then repetition penalty, then no repeated 4-grams).")] = 3,
    guard_paraphrase: Annotated[bool, typer.Option(
        help="The guard also counts paraphrased sentences (embedder; slower).")] = False,
    repetition_penalty: Annotated[float | None, typer.Option(
        help="Repetition penalty on every section from its first writing (e.g. 1.1 for small models).")] = None,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """AgentWrite: plan sections with word counts, then write them in order with the earlier text in
    context, so a model whose single answer stops at a few hundred words writes thousands.

    Examples:
      lengthwise write prompts.jsonl -o documents.jsonl --words 5000
      lengthwise write tasks.jsonl -o docs.jsonl --backend openai --base-url http://host:8080/v1 --tokenizer embedded
    """
    from lengthwise.agentwrite.writer import WriteSettings
    from lengthwise.io import check_output
    from lengthwise.jobs.write import write_documents
    from lengthwise.records import load_prompts

    check_counter(counter)
    if words < 1:
        raise LengthwiseError(f"--words must be >= 1, got {words}")
    settings = WriteSettings(min_section_words=min_section_words, max_section_words=max_section_words,
                             max_sections=max_sections, digest=digest, max_continuations=max_continuations,
                             plan_attempts=plan_attempts, plan_example=plan_example, plan_prefill=plan_prefill,
                             window=window, temperature=temperature, seed=seed, counter=counter,
                             incremental_plan=incremental_plan, guard=guard, guard_threshold=guard_threshold,
                             guard_attempts=guard_attempts, guard_paraphrase=guard_paraphrase,
                             repetition_penalty=repetition_penalty)
    records, skipped = load_prompts(prompts, skip_bad=skip_bad)
    check_output(out)  # before a model loads
    report_skipped(skipped)
    measure_tokenizer = None
    if backend == "openai":
        from lengthwise.models import load_tokenizer, resolve_model

        measure_tokenizer = load_tokenizer(resolve_model(None if tokenizer == "embedded" else tokenizer))
        settings.window = settings.window or 8192
    if reuse_prefix and backend != "transformers":
        raise LengthwiseError("--reuse-prefix is for the transformers backend; servers cache prefixes themselves "
                              "(vLLM --enable-prefix-caching, llama.cpp cache_prompt)")
    reuse = (len(records) == 1) if reuse_prefix is None else reuse_prefix
    options = BackendOptions(backend, model, base_url, api_key, api_key_env, concurrency, timeout, max_attempts,
                             backoff, deadline, batch_size, device, dtype,
                             reuse_prefix=reuse and backend == "transformers")
    generator = options.generator(prefill_tokenizer=measure_tokenizer if tokenizer else None)
    report = write_documents(records, out, generator, settings, default_words=words, tokenizer=measure_tokenizer,
                             progress=not quiet, source=prompts, restart=restart)
    console.print(f"{report.completed + report.already_done}/{report.total} documents in {out} "
                  f"({report.already_done} already done, {report.completed} new, {report.failed} failed; "
                  f"{report.words} words, {report.completion_tokens} tokens in {report.seconds:.0f}s, "
                  f"{report.tokens_per_second:.1f} tok/s)")
    from lengthwise.jobs.write import document_line

    for doc in report.documents[:20]:
        say_plain(document_line(doc))
    if len(report.documents) > 20:
        say_plain(f"... and {len(report.documents) - 20} more documents (see {out})")
    if report.plan_prefill is False and plan_prefill:
        console.print("plan prefill: off (this backend cannot start the answer; give the served model's "
                      "--tokenizer to prefill through /v1/completions)")
    if report.fallbacks:
        say_plain("fallbacks: " + "; ".join(f"{k} x{v}" for k, v in sorted(report.fallbacks.items())))
    if report.defaulted_length:
        console.print(f"{report.defaulted_length} prompt(s) stated no length: written to --words {words}")
    if report.failed:
        err_console.print(f"{report.failed} documents failed ({'; '.join(sorted(set(report.failures.values())))}); "
                          "rerun the same command to resume them")
        raise typer.Exit(1)


@app.command()
def relabel(
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Chat JSONL for `lengthwise sft` (samples kept in OUT.samples.jsonl).")],
    prompts: Annotated[Path | None, typer.Option(
        help="Tasks without a stated length (default: the built-in train-split tasks).")] = None,
    model: ModelOpt = None,
    tasks: Annotated[int, typer.Option(help="Built-in tasks to use (at most 155 in English).")] = 155,
    samples: Annotated[int, typer.Option(help="Answers sampled per task.")] = 2,
    max_new_tokens: Annotated[int, typer.Option(
        help="Token budget per answer; answers that reach it are dropped.")] = 320,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.8,
    cut: Annotated[str, typer.Option(help="Also cut answers at sentences near these lengths, e.g. 20,40,60.")] = "",
    min_words: Annotated[int, typer.Option(help="Shortest answer kept.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed for sampling and phrasings.")] = 0,
    batch_size: BatchSizeOpt = 8,
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
    from lengthwise.jobs.relabel import RelabelSettings
    from lengthwise.jobs.relabel import relabel as run

    settings = RelabelSettings(tasks=tasks, samples=samples, max_new_tokens=max_new_tokens, temperature=temperature,
                               seed=seed, min_words=min_words, cut_targets=tuple(int_list(cut, "--cut")))
    settings.check()
    generator = BackendOptions(model=model, device=device, dtype=dtype, batch_size=batch_size).generator()
    report = run(out, generator, settings, prompts=prompts, progress=not quiet, restart=restart)
    console.print(f"wrote {report.examples} examples to {out} ({report.ended_by_model} of {report.samples} answers "
                  f"ended by the model, {report.from_cuts} cut versions, {report.duplicates} duplicates dropped)")
