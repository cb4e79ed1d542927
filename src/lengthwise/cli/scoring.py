"""Commands that read text and score it: ``count``, ``score``, ``audit``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from lengthwise.cli.app import app, console, print_table, report_skipped
from lengthwise.cli.options import QuietOpt, RestartOpt, SkipBadOpt
from lengthwise.errors import LengthwiseError


@app.command()
def count(
    text: Annotated[str, typer.Argument(help="Text to count, or @FILE to read a file, or - for standard input.")],
    counter: Annotated[str, typer.Option(help="longbench (default), whitespace, unicode.")] = "longbench",
) -> None:
    """Count words the LongBench-Write way (or with another counter) and parse any length request.

    Examples:
      lengthwise count "Write a 500-word essay about tides."
      lengthwise count @essay.txt --counter whitespace
    """
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


@app.command()
def score(
    responses: Annotated[Path, typer.Argument(help="Responses JSONL: {id?, prompt, response, length?, answer?}.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scores JSONL (append-only; rerun to resume).")],
    stack: Annotated[Path | None, typer.Option(
        help="Reward stack YAML (default: length + quality proxy + format).")] = None,
    think: Annotated[bool, typer.Option(help="Default stack only: require the <think>/<answer> format.")] = False,
    paraphrase: Annotated[bool, typer.Option(help="Run the embedding-based paraphrase detector (slower).")] = True,
    skip_bad: SkipBadOpt = False,
    restart: RestartOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score responses with a reward stack: every component, the total, and the hacking detectors' evidence.

    Examples:
      lengthwise score responses.jsonl -o scores.jsonl
      lengthwise score responses.jsonl -o scores.jsonl --stack stack.yaml --no-paraphrase
    """
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
    report_skipped(report.skipped_rows)
    print_table(f"{report.total} responses scored ({report.already_done} already done)", ["name", "mean"],
                [[k, "n/a" if v is None else f"{v:.4f}"] for k, v in report.means.items()])
    if report.flagged:
        console.print("flagged by detector: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.flagged.items())))


@app.command()
def audit(
    responses: Annotated[Path, typer.Argument(help="Responses JSONL: {id?, prompt, response}.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the audit rows (JSONL) here as well.")] = None,
    paraphrase: Annotated[bool, typer.Option(
        "--paraphrase/--no-paraphrase", help="Embedding paraphrase detector (on by default).")] = True,
    show_spans: Annotated[int, typer.Option(help="Evidence spans printed per flagged detector.")] = 2,
    detectors: Annotated[Path | None, typer.Option(
        "--detectors", help="YAML with a 'detectors:' block (what --calibrate writes, or a stack YAML).")] = None,
    calibrate: Annotated[Path | None, typer.Option(
        "--calibrate", help="Treat RESPONSES as honest text of your domain: raise the detectors' cuts until at "
        "most --target-fpr of them are flagged, write the 'detectors:' block to this YAML, and stop.")] = None,
    target_fpr: Annotated[float, typer.Option(
        help="--calibrate: share of the honest texts each detector may still flag.", min=0.0, max=0.99)] = 0.02,
    skip_bad: SkipBadOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The reward-hacking audit on its own: which responses are padded by repetition, paraphrased,
    keyword-stuffed or malformed, with the evidence spans.

    The shipped cuts were calibrated on one corpus of real prose; on other registers (licences, scripture,
    man pages) they flag 6–12 % of honest texts. --calibrate fits them to a sample of your own honest text
    (cuts are only ever raised); --detectors uses the result here, and the same block works in a stack YAML.

    Examples:
      lengthwise audit responses.jsonl
      lengthwise audit responses.jsonl -o audit.jsonl --no-paraphrase --show-spans 4
      lengthwise audit honest.jsonl --calibrate detectors.yaml --target-fpr 0.02
      lengthwise audit responses.jsonl --detectors detectors.yaml
    """
    from lengthwise.jobs.audit import audit_responses, calibrate_audit, load_detectors

    if calibrate is not None and out is not None:
        raise LengthwiseError("--calibrate writes the detectors block, --out the audit rows: give one of them")
    config = load_detectors(detectors) if detectors is not None else None
    if calibrate is not None:
        calibration = calibrate_audit(responses, calibrate, target_fpr, paraphrase=paraphrase, detectors=config,
                                      skip_bad=skip_bad, progress=not quiet)
        print_table(f"detectors calibrated on {calibration.n} honest texts (target {target_fpr:g} each): flagged "
                    f"by any detector {calibration.flagged_before} -> {calibration.flagged_after}",
                    ["knob", "in force", "calibrated", "flagged before", "after"],
                    [[c.knob.split(".", 1)[1], f"{c.default:g}", f"{c.value:g}" + ("" if c.changed else " (kept)"),
                      str(c.flagged_before), str(c.flagged_after)] for c in calibration.cuts])
        if calibration.probes:
            print_table("what the cuts still catch: hacks made from each honest text (paraphrase not probed)",
                        ["hack", "texts", "caught in force", "caught calibrated"],
                        [[p.family, str(p.n), str(p.caught_before), str(p.caught_after)] for p in calibration.probes])
        console.print(f"wrote {calibrate}; use it with: lengthwise audit RESPONSES --detectors {calibrate}")
        return
    report = audit_responses(responses, out, paraphrase=paraphrase, show_spans=show_spans, skip_bad=skip_bad,
                             progress=not quiet, detectors=config)
    print_table(f"reward-hacking audit: {len(report.findings)} of {len(report.items)} responses flagged",
                ["name", "flags", "evidence"],
                [[f.id, ", ".join(f.flags), "\n".join(f.evidence)] for f in report.findings])
    report_skipped(report.skipped)
