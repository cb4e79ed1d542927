"""``lengthwise tasks``: prompt files for reasoning within a token budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lengthwise.cli.app import app, console
from lengthwise.cli.options import int_list


@app.command()
def tasks(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL of {id, prompt, answer, target_tokens, ...}.")],
    split: Annotated[str, typer.Option(help="train or heldout (never share a problem).")] = "train",
    n: Annotated[int, typer.Option("-n", help="Problems to write.")] = 500,
    kinds: Annotated[str, typer.Option(help="Task kinds: compare, next, sum, word_problem, count, convert.")] =
        "compare,next,sum,word_problem,count,convert",
    levels: Annotated[str, typer.Option(help="Difficulty levels 1-4, e.g. 1 or 1,2 (1: the measured default).")] = "1",
    budget: Annotated[str, typer.Option(
        help="Token budget: LO,HI drawn per row, a list with --grid, or 'none' for no budget sentence.")] = "64,256",
    grid: Annotated[bool, typer.Option("--grid", help="Every problem once per listed budget (evaluation).")] = False,
    mode: Annotated[str, typer.Option(help="exact ('Think for N tokens.') or max ('Think for maximum N tokens.').")]
        = "exact",
    language: Annotated[str, typer.Option(help="Prompt language: en or zh.")] = "en",
    source: Annotated[Path | None, typer.Option(
        "--from", help="A GSM8K / MATH / DAPO-Math file (JSONL or parquet) to use instead of the built-in tasks.")]
        = None,
    seed: Annotated[int, typer.Option(help="Seed for problems and budgets.")] = 0,
) -> None:
    """Reasoning prompts with L1's token-budget sentence and the answer for math-verify to check.

    Examples:
      lengthwise tasks -o data/math_prompts.jsonl -n 2000 --budget 64,256
      lengthwise tasks -o heldout.jsonl --split heldout -n 60 --grid --budget 64,128,256
    """
    from lengthwise.jobs.reasoning_data import TaskFileSettings, write_task_file

    # split, kinds, levels and mode are checked where they are used (lengthwise.tasks); their errors arrive here
    chosen = tuple(k.strip() for k in kinds.split(",") if k.strip())
    budgets = None if budget.strip().lower() == "none" else tuple(int_list(budget, "--budget"))
    settings = TaskFileSettings(split=split, n=n, kinds=chosen, levels=tuple(int_list(levels, "--levels")),
                                budgets=budgets, grid=grid, mode=mode, language=language, seed=seed)
    try:
        written = write_task_file(out, settings, source)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"wrote {written} prompts to {out}")
