"""Commands that measure systems: ``eval`` (LongBench-Write), ``arena`` (pairwise), ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lengthwise.cli.app import app, console, err_console, fmt, print_table, report_skipped, say_plain
from lengthwise.cli.options import (
    JudgeAttemptsOpt,
    JudgeConcurrencyOpt,
    JudgeDeviceOpt,
    JudgeKeyEnvOpt,
    JudgeModelOpt,
    JudgeOpt,
    JudgeOptions,
    JudgeStructuredOpt,
    JudgeTimeoutOpt,
    QuietOpt,
    RestartOpt,
    SkipBadOpt,
)
from lengthwise.errors import LengthwiseError


@app.command("eval")
def eval_command(
    responses: Annotated[Path, typer.Argument(
        help="Responses JSONL: {id?, prompt, response, length?, type?, model?}.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output folder: items.jsonl, summary.json, report.html (rerun to resume).")],
    counter: Annotated[str, typer.Option(help="Word counter: longbench, whitespace, unicode.")] = "longbench",
    paraphrase: Annotated[bool, typer.Option(
        "--paraphrase", help="Also run the embedding paraphrase detector (slower).")] = False,
    detectors: Annotated[Path | None, typer.Option(
        "--detectors", help="YAML with a 'detectors:' block for the audit (lengthwise audit --calibrate).")] = None,
    judge: JudgeOpt = None,
    judge_model: JudgeModelOpt = None,
    judge_api_key_env: JudgeKeyEnvOpt = "OPENAI_API_KEY",
    judge_attempts: JudgeAttemptsOpt = 3,
    judge_concurrency: JudgeConcurrencyOpt = "auto",
    judge_structured: JudgeStructuredOpt = True,
    judge_timeout: JudgeTimeoutOpt = 120.0,
    device: JudgeDeviceOpt = None,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """LongBench-Write scoring: S_l per item and bucket, the hacking audit, and with --judge the
    six-dimension quality score S_q and S̄ = (S_l + S_q)/2. Writes OUT/report.html.

    Examples:
      lengthwise eval responses.jsonl -o runs/eval
      lengthwise eval responses.jsonl -o runs/eval-judged --judge http://127.0.0.1:8080/v1 --judge-model judge
    """
    from lengthwise.jobs.audit import load_detectors
    from lengthwise.jobs.evaluate import EvalSettings, evaluate_responses

    config = load_detectors(detectors) if detectors is not None else None
    try:
        settings = EvalSettings(counter=counter, paraphrase=paraphrase, skip_bad=skip_bad, detectors=config)
    except ValueError as exc:
        raise LengthwiseError(str(exc)) from None
    judge_obj = JudgeOptions(judge, judge_model, judge_api_key_env, judge_attempts, judge_concurrency,
                             judge_structured, judge_timeout, device).judge()
    summary = evaluate_responses(responses, out, settings, judge=judge_obj, progress=not quiet, restart=restart)
    report_skipped(summary["skipped_rows"])
    rows = [[b, str(g["n"]), fmt(g["S_l"]), fmt(g["S_c"]), fmt(g["S_q"]), fmt(g["S"])]
            for b, g in summary["by_bucket"].items()]
    rows.append(["all", str(summary["n_scored"]), fmt(summary["S_l"]), fmt(summary["S_c"]), fmt(summary["S_q"]),
                 fmt(summary["S"])])
    print_table(f"LongBench-Write scores ({summary['counter']} counter; S_c: constraint-aware length score)",
                ["bucket", "n", "S_l", "S_c", "S_q", "S"], rows)
    if summary["by_type"]:
        print_table("by type", ["name", "n", "S_l", "S_q"],
                    [[t, str(g["n"]), fmt(g["S_l"]), fmt(g["S_q"])] for t, g in summary["by_type"].items()])
    flagged = {k: v for k, v in summary["flagged"].items() if v}
    console.print(f"{summary['n_unscored']} item(s) without a stated length (not scored for length); "
                  f"flagged: {flagged or 'none'}")
    failures = summary["judge_failures"]
    if failures is not None:
        console.print(f"judge failures: {failures['count']} {failures['by_reason'] or ''}")
    console.print(f"wrote {out / 'items.jsonl'}, {out / 'summary.json'}, {summary['report']}")
    if failures and failures["count"]:
        say_plain(f"{failures['count']} of {summary['n']} items have no judge verdict (excluded from S_q; raw "
                  f"replies in {out / 'items.jsonl'}); rerun the same command to retry them", to_stderr=True)
        raise typer.Exit(1)


@app.command()
def arena(
    responses: Annotated[list[Path], typer.Argument(
        help="Two or more responses JSONL files, one per system; Arena-Write rows load as 'baseline'.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o",
        help="Output folder: comparisons.jsonl, leaderboard.json/png, report.html (rerun to resume).")],
    judge: JudgeOpt = "local",
    judge_model: JudgeModelOpt = None,
    judge_api_key_env: JudgeKeyEnvOpt = "OPENAI_API_KEY",
    judge_attempts: JudgeAttemptsOpt = 3,
    judge_concurrency: JudgeConcurrencyOpt = "auto",
    judge_structured: JudgeStructuredOpt = True,
    judge_timeout: JudgeTimeoutOpt = 120.0,
    anchor: Annotated[str | None, typer.Option(
        help="System rated 1000 (default: baseline if present, else the first).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over prompts for the intervals.")] = 200,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    device: JudgeDeviceOpt = None,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Pairwise comparison of systems on the same prompts, each pair judged in both orders;
    Bradley–Terry ratings with bootstrap intervals, printed, saved as JSON and plotted.

    Examples:
      lengthwise arena base.jsonl trained.jsonl -o runs/arena
      lengthwise arena a.jsonl b.jsonl c.jsonl -o runs/arena --judge http://127.0.0.1:8080/v1 --judge-model judge
    """
    from lengthwise.jobs.arena import run_arena

    if bootstrap < 0:
        raise LengthwiseError(f"--bootstrap must be >= 0, got {bootstrap}")
    judge_obj = JudgeOptions(judge, judge_model, judge_api_key_env, judge_attempts, judge_concurrency,
                             judge_structured, judge_timeout, device).judge(pairwise=True)
    summary = run_arena(responses, out, judge_obj, anchor=anchor, n_bootstrap=bootstrap, seed=seed, skip_bad=skip_bad,
                        progress=not quiet, restart=restart)
    print_table(f"arena: {len(summary['systems'])} systems, {summary['prompts']} prompts",
                ["rank", "name", "rating", "95% interval", "win rate", "comparisons"],
                [[str(k + 1), r["system"], f"{r['rating']:.0f}", f"{r['low']:.0f}-{r['high']:.0f}",
                  fmt(r["win_rate"], 3), str(r["comparisons"])] for k, r in enumerate(summary["leaderboard"])])
    failures = summary["judge_failures"]
    console.print(f"judge failures: {failures['count']} of {summary['requested']}; report: {summary['report']}")
    if failures["count"]:
        err_console.print(f"{failures['count']} comparisons failed (excluded); rerun the same command to retry them")
        raise typer.Exit(1)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by eval, arena or demo.")],
) -> None:
    """Rebuild RUN_DIR/report.html from the files the run left (items.jsonl, leaderboard.json, summary.json).

    Examples:
      lengthwise report runs/eval
      lengthwise report runs/demo
    """
    from lengthwise.jobs.rebuild import rebuild_report

    path = rebuild_report(run_dir)
    console.print(f"wrote {path}")
