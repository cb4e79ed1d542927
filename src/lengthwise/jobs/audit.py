"""``lengthwise audit``: the reward-hacking audit on its own — which responses are padded by
repetition, paraphrased, keyword-stuffed or malformed — with the evidence for each flag."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from lengthwise.evaluation.longbench import item_row
from lengthwise.io import check_output, keyed_rows, read_jsonl, write_jsonl
from lengthwise.records import ResponseRecord, check_response_row
from lengthwise.rewards.hack_audit import HackAudit

__all__ = ["AuditFinding", "AuditReport", "audit_responses"]

_AUDIT_FIELDS = ("id", "words", "flags", "format", "audit")


@dataclass
class AuditFinding:
    """One flagged response: its id, the flags, and one evidence line per flag (the detector's score
    and the first spans it points at, or the format problems)."""

    id: str
    flags: list[str]
    evidence: list[str]


@dataclass
class AuditReport:
    items: list[dict[str, Any]]
    findings: list[AuditFinding]
    skipped: list[str] = field(default_factory=list)


def _evidence(item: dict[str, Any], answer: str, show_spans: int) -> list[str]:
    lines = []
    for name, det in item["audit"].items():
        if det["flagged"]:
            snippets = [answer[s["start"]:s["end"]][:60].replace("\n", " ") for s in det.get("spans", [])[:show_spans]]
            lines.append(f"{name} {det['score']:.2f}: " + " | ".join(repr(x) for x in snippets))
    if not item["format"]["ok"]:
        lines.append("malformed: " + ", ".join(item["format"]["problems"]))
    return lines


def audit_responses(responses: str | os.PathLike, out: str | os.PathLike | None = None, paraphrase: bool = True,
                    show_spans: int = 2, skip_bad: bool = False, progress: bool = True) -> AuditReport:
    """Audit every response; with ``out``, also write the audit rows (JSONL)."""
    from tqdm.auto import tqdm

    data = read_jsonl(responses, check=check_response_row, skip_bad=skip_bad)
    if out is not None:
        check_output(out)  # before the work, not after it
    records = [ResponseRecord.from_row(item_id, row) for item_id, row in keyed_rows(data, skip_bad)]
    hacks = HackAudit(paraphrase=paraphrase)
    items, findings = [], []
    for record in tqdm(records, desc="audit", unit="item", disable=not progress, dynamic_ncols=True):
        item = item_row(record, hacks)
        items.append({k: item[k] for k in _AUDIT_FIELDS})
        if item["flags"]:
            findings.append(AuditFinding(record.id, item["flags"], _evidence(item, record.answer_part, show_spans)))
    if out is not None:
        write_jsonl(out, items)
    return AuditReport(items, findings, list(data.skipped))
