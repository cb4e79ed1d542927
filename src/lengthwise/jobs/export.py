"""Training data from generated text: SFT examples from AgentWrite documents, DPO pairs from
scored responses."""

from __future__ import annotations

import os
from typing import Any

from lengthwise.errors import InputError
from lengthwise.io import check_output, keyed_rows, read_jsonl, write_jsonl
from lengthwise.records import ResponseRecord
from lengthwise.rewards.redundancy import exact_repetition, near_duplicate_paragraphs
from lengthwise.values import finite_number_problem

__all__ = ["redundancy_score", "export_sft", "export_dpo"]


def redundancy_score(text: str) -> float:
    """The worst of the lexical repetition detectors (exact repeated runs, near-duplicate
    paragraphs), in [0, 1]: the share of the text that repeats earlier text."""
    return max(exact_repetition(text).score, near_duplicate_paragraphs(text).score)


def _check_document(row: dict[str, Any]) -> str | None:
    for key in ("prompt", "response"):
        if key not in row:
            return f"missing field '{key}'"
        if not isinstance(row[key], str):
            return f"field '{key}' must be a string, got {type(row[key]).__name__}"
    if row.get("S_l") is not None:
        return finite_number_problem("field 'S_l'", row["S_l"], 0.0, 100.0)
    return None


def _check_score(row: dict[str, Any]) -> str | None:
    if row.get("score") is not None:
        return finite_number_problem("field 'score'", row["score"])
    return None


def export_sft(documents: str | os.PathLike, out: str | os.PathLike, min_sl: float = 0.0, max_redundancy: float = 1.0,
               system: str | None = None, skip_bad: bool = False) -> dict[str, Any]:
    for name, value, high in (("--min-sl", min_sl, 100.0), ("--max-redundancy", max_redundancy, 1.0)):
        problem = finite_number_problem(name, value, 0.0, high)
        if problem:
            raise InputError(problem)
    check_output(out)
    data = read_jsonl(documents, check=_check_document, skip_bad=skip_bad)
    examples, dropped_sl, dropped_red = [], 0, 0
    for item_id, row in keyed_rows(data, skip_bad):
        if row.get("S_l") is not None and row["S_l"] < min_sl:
            dropped_sl += 1
            continue
        record = ResponseRecord.from_row(item_id, row)
        text = record.answer_part
        if not text.strip():
            dropped_sl += 1
            continue
        if max_redundancy < 1.0 and redundancy_score(text) > max_redundancy:
            dropped_red += 1
            continue
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": record.prompt}, {"role": "assistant", "content": text}]
        examples.append({"messages": messages})
    write_jsonl(out, examples)
    return {
        "total": len(data.rows),
        "written": len(examples),
        "dropped_sl": dropped_sl,
        "dropped_redundancy": dropped_red,
        "skipped_rows": list(data.skipped),
    }


def export_dpo(responses: str | os.PathLike, scores: str | os.PathLike, out: str | os.PathLike, min_margin: float = 0.1,
               skip_bad: bool = False) -> dict[str, Any]:
    """Per prompt text: the best and the worst scored response (total reward ``score``) as chosen
    and rejected, if the gap is at least ``min_margin`` and their texts differ. Ties in score keep
    the first seen."""
    problem = finite_number_problem("--min-margin", min_margin, 0.0)
    if problem:
        raise InputError(problem)
    check_output(out)
    resp_data = read_jsonl(responses, check=_check_document, skip_bad=skip_bad)
    resp = dict(keyed_rows(resp_data, skip_bad))
    score_data = read_jsonl(scores, check=_check_score, skip_bad=skip_bad)
    score_rows = dict(keyed_rows(score_data, skip_bad))
    groups: dict[str, list[tuple[float, str]]] = {}
    unscored = 0
    for item_id, row in resp.items():
        total = (score_rows.get(item_id) or {}).get("score")
        if isinstance(total, bool) or not isinstance(total, int | float):
            unscored += 1
            continue
        record = ResponseRecord.from_row(item_id, row)
        groups.setdefault(record.prompt, []).append((float(total), record.answer_part))
    pairs: list[dict[str, Any]] = []
    below, single = 0, 0
    for prompt, scored in groups.items():
        if len(scored) < 2:
            single += 1
            continue
        best = max(scored, key=lambda x: x[0])
        worst = min(scored, key=lambda x: x[0])
        if best[0] - worst[0] < min_margin or best[1] == worst[1]:  # no preference between equal texts
            below += 1
            continue
        pairs.append({"prompt": prompt, "chosen": best[1], "rejected": worst[1], "chosen_score": best[0],
                      "rejected_score": worst[0]})
    write_jsonl(out, pairs)
    return {"prompts": len(groups), "pairs": len(pairs), "below_margin": below, "single": single, "unscored": unscored,
            "skipped_rows": [*resp_data.skipped, *score_data.skipped]}
