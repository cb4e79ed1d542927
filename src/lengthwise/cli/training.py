"""Commands that train or inspect training: ``train``, ``demo``, ``sft``, ``plot``, ``bias``, ``models``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lengthwise.cli.app import app, console, print_table, report_skipped
from lengthwise.cli.options import DtypeOpt, ModelOpt, QuietOpt, SkipBadOpt, int_list
from lengthwise.errors import LengthwiseError


@app.command()
def models(
    prepare: Annotated[bool, typer.Option(
        "--prepare", help="Convert the embedded SmolLM2 GGUF into a cached checkpoint now.")] = False,
) -> None:
    """List the embedded default models and where they live (and optionally prepare them).

    Examples:
      lengthwise models
      lengthwise models --prepare
    """
    from lengthwise.models import ensure_smollm2, model_status

    if prepare:
        path = ensure_smollm2()
        console.print(f"SmolLM2-135M-Instruct checkpoint ready at {path}")
    rows = model_status()
    print_table("embedded models", ["name", "model", "ready", "path"],
                [[r["name"], r["model"], "yes" if r["ready"] else "no", str(r.get("checkpoint") or r.get("problem"))]
                 for r in rows])


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(
        help="YAML recipe (see examples/); defaults apply without one.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config value: --set model.lora_r=8 (repeatable).")] = None,
    preset: Annotated[str | None, typer.Option(help="Loss preset: grpo, dapo, dr_grpo, gspo, luspo.")] = None,
    model: ModelOpt = None,
    prompts: Annotated[Path | None, typer.Option(
        help="Training prompts JSONL (default: built-in writing tasks).")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (max_steps).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Run folder; rerun the same command to resume.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """RL training on TRL's GRPOTrainer with length-aware rewards and a loss preset; resumable.

    The terminal shows one progress line (step, reward, mean words, S_l, S_c); the full logs are in
    the run folder (logs.jsonl, metrics.jsonl, train.log).

    Examples:
      lengthwise train examples/cpu-demo.yaml -o runs/cpu
      lengthwise train --preset luspo --steps 50 --set model.lora_r=8 -o runs/luspo
    """
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
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (rerun the same command to resume).")] = Path(
        "runs/demo"
    ),
    model: ModelOpt = None,
    steps: Annotated[int | None, typer.Option(help="RL steps (default 5; 0 measures only).")] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smoke run: 8 prompts, 2 short steps (a few minutes).")
    ] = False,
    prompts: Annotated[int | None, typer.Option(
        "--prompts",
        help="Held-out prompts to measure (writing default: all 222; reasoning: problems, default 30).")] = None,
    sampled: Annotated[int, typer.Option(
        "--sampled", help="Also measure at T = 0.7 with this many seeds, beside the greedy figure.")] = 0,
    preset: Annotated[str | None, typer.Option(
        help="Loss preset: grpo, dr_grpo, dapo, gspo or luspo (default: grpo for writing, luspo for reasoning).")
    ] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr", help="Learning rate of the LoRA adapters.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for prompts, sampling and training.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda if present).")] = None,
    task: Annotated[str, typer.Option(
        help="writing: follow requested word counts; reasoning: answer verifiable problems within a token "
             "budget (L1's 'Think for N tokens').")] = "writing",
    compare_presets: Annotated[str | None, typer.Option(
        "--compare-presets", help="Reasoning only: also train a few steps under each of these presets "
                                  "(e.g. grpo,gspo,luspo) and plot length per step.")] = None,
    warm_start: Annotated[bool, typer.Option(
        "--warm-start/--no-warm-start", help="Before RL, fine-tune on the model's own answers cut to requested "
                                             "lengths (reasoning: worked solutions restated with the budgets "
                                             "they use). Default on.")] = True,
    measure_warm: Annotated[bool, typer.Option(
        "--measure-warm", help="Writing: also measure the warm-started model, so the report shows what RL "
                               "added on top (paired CI).")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Teach the embedded SmolLM2-135M to follow requested lengths (or reasoning budgets), and show it.

    Measures the untrained model on 222 held-out prompts (greedy), fine-tunes it on its own answers cut to
    the requested lengths (the warm start), trains it with GRPO + LoRA on TRL's GRPOTrainer, measures
    again, and writes OUT/report.html (before/after tables with paired 95% CIs, the required-vs-produced
    plot, training curves, samples).

    With --task reasoning: held-out sums and comparisons at budgets of 32, 64 and 128 tokens; a warm start
    (the task solver's worked solutions at many lengths, each restated with the budget it uses, LoRA SFT), then
    LUSPO + LoRA with L1's LCPO-exact reward; OUT/report.html plots requested vs produced tokens and accuracy
    per budget. About 19 minutes on 2 CPU cores with bf16 (AMX).

    Examples:
      lengthwise demo
      lengthwise demo --quick -o runs/demo-quick
      lengthwise demo --task reasoning -o runs/demo-reasoning
      lengthwise demo --task reasoning --compare-presets grpo,gspo,luspo
    """
    from lengthwise.jobs.demo import DemoSettings, demo_table_rows, run_demo
    from lengthwise.losses import PRESETS

    if preset is not None and preset not in PRESETS:
        raise LengthwiseError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if steps is not None and steps < 0:
        raise LengthwiseError(f"--steps must be >= 0, got {steps}")
    if task not in ("writing", "reasoning"):
        raise LengthwiseError(f"--task must be writing or reasoning, got {task!r}")
    if compare_presets and task != "reasoning":
        raise LengthwiseError("--compare-presets belongs to --task reasoning")
    if measure_warm and task != "writing":
        raise LengthwiseError("--measure-warm belongs to --task writing")
    training = {"model.name": model, "seed": seed, "data.seed": seed, "device": device}
    for key, value in (("max_steps", steps or None), ("learning_rate", learning_rate), ("preset", preset)):
        if value is not None:
            training[key] = value
    if task == "reasoning":
        _reasoning_demo(out, training, quick, prompts, steps, compare_presets, warm_start, quiet)
        return
    measure: dict = {"n_prompts": prompts} if prompts is not None else {}
    measure.update(sampled_seeds=sampled, measure_warm=measure_warm)
    if not warm_start:
        measure["warm"] = None
    settings = (DemoSettings.quick if quick else DemoSettings.default)(training=training, **measure)
    say = (lambda msg: None) if quiet else (lambda msg: console.print(f"[bold]{msg}[/bold]"))
    result = run_demo(out, settings, progress=not quiet, on_phase=say, train=steps != 0)
    print_table(f"length following on {len(result.before.rows)} held-out prompts (longbench counter)",
                ["required", "n", "words before", "words after", "S_l before", "S_l after"], demo_table_rows(result))
    line = f"mean S_l {result.before.mean_S_l:.1f}"
    if result.after:
        line += f" -> {result.after.mean_S_l:.1f} ({result.after.mean_S_l - result.before.mean_S_l:+.1f}"
        ci = (result.gain or {}).get("S_l")
        line += f", paired 95% CI {ci['low']:+.1f} to {ci['high']:+.1f}; greedy)" if ci else "; greedy)"
        warm = json.loads((out / "summary.json").read_text()).get("warm") if measure_warm else None
        if warm and warm.get("rl_gain"):
            rl = warm["rl_gain"]["S_l"]
            line += (f"; warm start alone {warm['S_l']:.1f}, RL added {rl['mean']:+.1f} "
                     f"[{rl['low']:+.1f}, {rl['high']:+.1f}]")
        if result.sampled:
            g = result.sampled["gain"]
            line += f"; sampled T=0.7 gain {g['mean']:+.1f} [{g['low']:+.1f}, {g['high']:+.1f}]"
    console.print(f"{line}; report: {result.report}; took {result.seconds:.0f}s")


def _reasoning_demo(out: Path, training: dict, quick: bool, problems: int | None, steps: int | None,
                    compare_presets: str | None, warm_start: bool, quiet: bool) -> None:
    from lengthwise.jobs.reasoning_demo import ReasoningDemoSettings, budget_table_rows, run_reasoning_demo

    if out == Path("runs/demo"):
        out = Path("runs/demo-reasoning")
    measure: dict = {"n_problems": problems} if problems is not None else {}
    if compare_presets:
        measure["compare_presets"] = tuple(p.strip() for p in compare_presets.split(",") if p.strip())
    if not warm_start:
        measure["warm"] = None
    settings = (ReasoningDemoSettings.quick if quick else ReasoningDemoSettings.default)(training=training, **measure)
    say = (lambda msg: None) if quiet else (lambda msg: console.print(f"[bold]{msg}[/bold]"))
    result = run_reasoning_demo(out, settings, progress=not quiet, on_phase=say, train=steps != 0)
    print_table(f"reasoning within a budget on {result.before['n']} held-out answers (policy tokens, greedy)",
                ["budget", "n", "tokens before", "tokens after", "accuracy % before", "accuracy % after"],
                budget_table_rows(result))
    line = reasoning_line(result.before, result.after, result.paired)
    console.print(f"{line}; report: {result.report}; took {result.seconds:.0f}s")


def reasoning_line(before: dict, after: dict | None, paired: dict | None) -> str:
    """The reasoning demo's headline: Spearman and relative error before -> after, the paired accuracy change."""
    def spearman(block: dict) -> str:
        value = block.get("spearman_requested_produced")
        return "-" if value is None else f"{value:.2f}"

    if not after:
        return f"Spearman(requested, produced) {spearman(before)}, relative error {before['mean_relative_error']:.2f}"
    line = (f"Spearman(requested, produced) {spearman(before)} -> {spearman(after)}, relative error "
            f"{before['mean_relative_error']:.2f} -> {after['mean_relative_error']:.2f}")
    gain = (paired or {}).get("accuracy_gain")
    if gain:
        line += (f"; accuracy change {100 * gain['mean']:+.1f} points "
                 f"(paired 95% CI {100 * gain['low']:+.1f} to {100 * gain['high']:+.1f})")
    return line


@app.command()
def sft(
    data: Annotated[Path, typer.Argument(
        help='Chat JSONL: {"messages": [..., {"role": "assistant", ...}]} (export-sft, relabel).')],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Run folder; rerun the same command to resume.")] = Path("runs/sft"),
    model: ModelOpt = None,
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters (--no-lora: every weight).")] = True,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    lora_layers: Annotated[int | None, typer.Option(
        help="LoRA on the top N decoder layers only (faster steps: the backward pass stops there).")] = None,
    epochs: Annotated[float, typer.Option(help="Passes over the data.")] = 2.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps (overrides --epochs when > 0).")] = -1,
    learning_rate: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Examples per step (per device).")] = 8,
    gradient_accumulation_steps: Annotated[int, typer.Option(help="Micro-batches per update.")] = 1,
    max_length: Annotated[int, typer.Option(help="Longest example in tokens (longer ones are truncated).")] = 1024,
    weighting: Annotated[str, typer.Option(
        help="Loss weighting: token (mean over all answer tokens) or sequence (each answer weighs the same; "
             "LongAlign).")] = "token",
    end_weight: Annotated[float, typer.Option(
        help="The end-of-answer token's loss counts this many times (where to stop is what length data "
             "teaches).")] = 1.0,
    max_minutes: Annotated[float | None, typer.Option(
        help="Stop after the step that reaches this many minutes of training (counted over resumes).")] = None,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 50,
    save_at_minutes: Annotated[list[float] | None, typer.Option(
        "--save-at-minutes", help="Also checkpoint after this many minutes of training (repeatable); "
                                  "time_spent.json maps each to its step.")] = None,
    lr_scheduler: Annotated[str, typer.Option(
        help="Learning-rate schedule (transformers' names: linear, constant, cosine, warmup_stable_decay...).")
    ] = "linear",
    decay_fraction: Annotated[float, typer.Option(
        help="With --lr-scheduler warmup_stable_decay: the last share of the steps, decaying linearly to 0.")] = 0.2,
    sort_passes: Annotated[bool, typer.Option(
        help="Within each optimizer step, put answers of similar length in the same pass (less padding).")] = True,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    dtype: DtypeOpt = None,
    skip_bad: SkipBadOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Supervised fine-tuning on TRL's SFTTrainer, loss on the answer only; resumable.

    Examples:
      lengthwise sft relabeled.jsonl -o runs/sft --epochs 2
      lengthwise sft longwriter.jsonl -o runs/sft-long --weighting sequence --max-length 8192
      lengthwise sft cut.jsonl -o runs/sft-cut --end-weight 10 --max-minutes 5
      lengthwise sft cut.jsonl -o runs/sft-wsd --lr-scheduler warmup_stable_decay --decay-fraction 0.25 --epochs 3.5
      lengthwise sft cut.jsonl -o runs/sft-curve --lr-scheduler constant --epochs 100 --max-minutes 20 \
          --save-at-minutes 5 --save-at-minutes 10
    """
    from lengthwise.training.sft import SFTSettings, train_sft

    settings = SFTSettings(data=str(data), output_dir=str(out), model=model, lora=lora, lora_r=lora_r,
                           lora_alpha=2 * lora_r, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
                           batch_size=batch_size, gradient_accumulation_steps=gradient_accumulation_steps,
                           max_length=max_length, weighting=weighting, end_weight=end_weight,
                           max_minutes=max_minutes, save_steps=save_steps, seed=seed, dtype=dtype,
                           save_at_minutes=tuple(save_at_minutes or ()), lr_scheduler=lr_scheduler,
                           sort_passes=sort_passes, lora_layers=lora_layers, decay_fraction=decay_fraction)
    result = train_sft(settings, progress=not quiet, skip_bad=skip_bad)
    report_skipped(result.skipped)
    resumed = f" (resumed from {result.resumed_from.name})" if result.resumed_from else ""
    console.print(f"trained to step {result.global_step} on {result.examples} examples{resumed}; "
                  f"model: {result.output_dir / 'final'}")


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A training run folder (holds metrics.jsonl).")],
) -> None:
    """Plot a training run's length dynamics from its metrics.jsonl into training_curves.png.

    Examples:
      lengthwise plot runs/demo/train
      lengthwise plot runs/luspo
    """
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


@app.command()
def bias(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for bias.json and bias.png.")] = Path("runs/bias"),
    lengths: Annotated[str, typer.Option(
        help="Comma-separated sequence lengths in tokens.")] = "16,32,64,128,256,512,1024",
    trl_check: Annotated[bool, typer.Option(help="Also check our reference losses against TRL's on --model.")] = False,
    model: ModelOpt = None,
) -> None:
    """Length bias of each loss preset: per-token and per-sequence gradient weight by length and advantage sign.

    Examples:
      lengthwise bias
      lengthwise bias --lengths 64,256,1024 --trl-check -o runs/bias-trl
    """
    from lengthwise.jobs.bias import run_bias

    values = int_list(lengths, "--lengths")
    report = run_bias(out, values, trl_check=trl_check, model=model)
    table = [[r["preset"], str(r["length"]), r["sign"], f"{r['per_token']:+.3e}", f"{r['per_sequence']:+.3e}",
              f"{r['per_sequence_ratio']:.2f}"] for r in report.rows if r["sign"] == "+"]
    print_table("gradient weight by length (advantage +1; one batch of all lengths)",
                ["name", "length", "sign", "per token", "per sequence", "vs shortest"], table)
    if report.trl_parity is not None:
        print_table("reference loss vs TRL's GRPOTrainer._compute_loss (same inputs)",
                    ["name", "trl", "ours", "abs diff"],
                    [[r["preset"], f"{r['trl']:.6f}", f"{r['ours']:.6f}", f"{r['abs_diff']:.1e}"]
                     for r in report.trl_parity])
    console.print(f"wrote {report.json_path} and {report.plot_path}")
