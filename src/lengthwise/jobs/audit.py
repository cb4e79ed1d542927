"""``lengthwise audit``: the reward-hacking audit on its own — which responses are padded by
repetition, paraphrased, keyword-stuffed or malformed — with the evidence for each flag."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from lengthwise.errors import ConfigError, InputError
from lengthwise.evaluation.longbench import item_row
from lengthwise.io import check_output, keyed_rows, read_jsonl, write_jsonl
from lengthwise.records import ResponseRecord, check_response_row
from lengthwise.rewards.hack_audit import HackAudit

__all__ = ["AuditFinding", "AuditReport", "audit_responses", "calibrate_audit", "load_detectors"]

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


def load_detectors(path: str | os.PathLike) -> dict[str, Any]:
    """A ``detectors:`` block from YAML: a file holding ``detectors: {...}`` (what ``--calibrate`` writes, or a
    whole stack YAML) or the bare mapping; checked like the stack's."""
    from lengthwise.rewards.stack import check_detectors_config
    from lengthwise.safe_yaml import load_yaml_file

    loaded = load_yaml_file(path) or {}  # its own problems (missing, syntax, size) are ConfigErrors
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'detectors' block, got {type(loaded).__name__}")
    block = loaded["detectors"] if "detectors" in loaded else loaded
    if not isinstance(block, dict):
        raise ConfigError(f"{path}: 'detectors' must be a mapping, got {type(block).__name__}")
    try:
        return check_detectors_config(dict(block)) or {}
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None


def calibrate_audit(honest: str | os.PathLike, out: str | os.PathLike, target_fpr: float = 0.02,
                    paraphrase: bool = True, detectors: dict[str, Any] | None = None, skip_bad: bool = False,
                    progress: bool = True):
    """Calibrate the detectors on honest responses (``lengthwise.rewards.detector_calibration``) and write the
    ``detectors:`` block to ``out`` (YAML, atomically). Returns the calibration."""
    import yaml
    from tqdm.auto import tqdm

    from lengthwise.io import atomic_write_text
    from lengthwise.rewards.detector_calibration import calibrate_detectors

    data = read_jsonl(honest, check=check_response_row, skip_bad=skip_bad)
    check_output(out)
    records = [ResponseRecord.from_row(item_id, row) for item_id, row in keyed_rows(data, skip_bad)]
    samples = [(r.prompt, r.answer_part) for r in records]
    if not samples:
        raise InputError(f"{os.fspath(honest)}: no responses to calibrate on")
    if not 0.0 <= target_fpr < 1.0:
        raise ConfigError(f"--target-fpr must be in [0, 1), got {target_fpr}")
    wrap = (lambda xs, what: tqdm(xs, desc=what, unit="item", dynamic_ncols=True)) if progress else None
    calibration = calibrate_detectors(samples, target_fpr, HackAudit.from_config(detectors, paraphrase), progress=wrap)
    block = dict(detectors or {})
    for key, moved in calibration.detectors_config().items():  # thresholds / stuffing: the moved knobs win
        block[key] = {**block.get(key, {}), **moved}
    header = (f"# lengthwise audit --calibrate: {calibration.n} honest texts of {os.fspath(honest)}, target "
              f"false-positive rate {target_fpr:g} per detector; flagged by any detector {calibration.flagged_before}"
              f" -> {calibration.flagged_after}.\n# Cuts are only ever raised (docs/rewards.md).\n")
    for probe in calibration.probes:
        header += (f"# {probe.family} hacks made from these texts caught: {probe.caught_before} -> "
                   f"{probe.caught_after} of {probe.n}.\n")
    atomic_write_text(out, header + yaml.safe_dump({"detectors": block}, sort_keys=True, allow_unicode=True))
    return calibration


def audit_responses(responses: str | os.PathLike, out: str | os.PathLike | None = None, paraphrase: bool = True,
                    show_spans: int = 2, skip_bad: bool = False, progress: bool = True,
                    detectors: dict[str, Any] | None = None) -> AuditReport:
    """Audit every response; with ``out``, also write the audit rows (JSONL). ``detectors`` is a ``detectors:``
    block (``load_detectors``) replacing the shipped thresholds."""
    from tqdm.auto import tqdm

    data = read_jsonl(responses, check=check_response_row, skip_bad=skip_bad)
    if out is not None:
        check_output(out)  # before the work, not after it
    records = [ResponseRecord.from_row(item_id, row) for item_id, row in keyed_rows(data, skip_bad)]
    hacks = HackAudit.from_config(detectors, paraphrase)
    items, findings = [], []
    for record in tqdm(records, desc="audit", unit="item", disable=not progress, dynamic_ncols=True):
        item = item_row(record, hacks)
        items.append({k: item[k] for k in _AUDIT_FIELDS})
        if item["flags"]:
            findings.append(AuditFinding(record.id, item["flags"], _evidence(item, record.answer_part, show_spans)))
    if out is not None:
        write_jsonl(out, items)
    return AuditReport(items, findings, list(data.skipped))
