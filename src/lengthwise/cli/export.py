"""Commands that hand data or recipes to other tools: ``export-verl``, ``export-sft``, ``export-dpo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lengthwise.cli.app import app, console, report_skipped
from lengthwise.cli.options import SkipBadOpt


@app.command("export-verl")
def export_verl_command(
    config: Annotated[Path | None, typer.Argument(help="The same YAML recipe `lengthwise train` reads.")] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for train.parquet, reward_stack.yaml, verl_overrides.txt.")] = Path("runs/verl"),
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config value (repeatable).")] = None,
) -> None:
    """Export a training recipe for verl: prompts parquet with length targets, reward stack, Hydra overrides.

    Examples:
      lengthwise export-verl examples/lwz-8xgpu.yaml -o runs/verl
      lengthwise export-verl examples/cpu-demo.yaml --set preset=dapo -o runs/verl-dapo
    """
    from lengthwise.integrations.verl import ENTRY_POINT, export_verl
    from lengthwise.training.config import load_config

    result = export_verl(load_config(config, list(set_ or [])), out)
    console.print(f"wrote {result['rows']} prompts to {out / 'train.parquet'}; run:")
    console.print(f"{ENTRY_POINT} \\\n  " + " \\\n  ".join(result["overrides"]))


@app.command("export-sft")
def export_sft(
    documents: Annotated[Path, typer.Argument(
        help="Output of `lengthwise write` (or any {prompt, response} JSONL).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Chat-format JSONL: {\"messages\": [user, assistant]}.")],
    min_sl: Annotated[float, typer.Option("--min-sl", help="Keep documents with S_l at least this.")] = 0.0,
    max_redundancy: Annotated[float, typer.Option(
        help="Keep documents whose redundancy score (worst repetition detector) is at most this.")] = 1.0,
    system: Annotated[str | None, typer.Option(help="Optional system message for every example.")] = None,
    skip_bad: SkipBadOpt = False,
) -> None:
    """SFT data (LongWriter-6k style) from AgentWrite outputs, filtered by S_l and redundancy.

    Examples:
      lengthwise export-sft documents.jsonl -o sft.jsonl --min-sl 80
      lengthwise export-sft documents.jsonl -o sft.jsonl --max-redundancy 0.3 --system "You write long documents."
    """
    from lengthwise.jobs.export import export_sft as run

    stats = run(documents, out, min_sl=min_sl, max_redundancy=max_redundancy, system=system, skip_bad=skip_bad)
    console.print(f"wrote {stats['written']} of {stats['total']} examples to {out} "
                  f"(dropped: {stats['dropped_sl']} for S_l, {stats['dropped_redundancy']} for redundancy)")
    report_skipped(stats["skipped_rows"])


@app.command("export-dpo")
def export_dpo(
    responses: Annotated[Path, typer.Argument(
        help="Responses JSONL with several responses per prompt: {id, prompt, response}.")],
    scores: Annotated[Path, typer.Option(
        "--scores", help="Output of `lengthwise score` on those responses (joined by id).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Preference JSONL: {prompt, chosen, rejected, chosen_score, rejected_score}.")],
    min_margin: Annotated[float, typer.Option(help="Smallest total-reward gap between chosen and rejected.")] = 0.1,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Preference pairs: per prompt, the highest-reward response against the lowest, when their
    total rewards differ by at least --min-margin.

    Examples:
      lengthwise export-dpo responses.jsonl --scores scores.jsonl -o pairs.jsonl
      lengthwise export-dpo responses.jsonl --scores scores.jsonl -o pairs.jsonl --min-margin 0.3
    """
    from lengthwise.jobs.export import export_dpo as run

    stats = run(responses, scores, out, min_margin=min_margin, skip_bad=skip_bad)
    console.print(f"wrote {stats['pairs']} pairs from {stats['prompts']} prompts to {out} "
                  f"({stats['below_margin']} below the margin, {stats['single']} with one response, "
                  f"{stats['unscored']} responses without a score)")
    report_skipped(stats["skipped_rows"])
