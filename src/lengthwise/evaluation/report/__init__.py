"""Static HTML reports: one self-contained folder (``report.html`` + PNG figures) a person reads.

``Report`` collects headline figures, tables, figures and samples; ``Report.write`` renders the
jinja2 template. Samples open next to their prompt and scores, with repeated or stuffed spans
highlighted. ``build_demo_report`` and ``build_eval_report`` assemble the report of a command.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["Report", "Sample", "Table", "Figure", "highlight", "build_demo_report", "by_target_table"]

TEMPLATE = "report.html.j2"


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Figure:
    title: str
    file: str  # relative to the report folder
    caption: str = ""


@dataclass
class Sample:
    """One response as the report shows it. ``spans``: ``(start, end, kind)`` character ranges of
    the response to highlight (kind: repetition, paraphrase, keyword)."""

    id: str
    system: str
    prompt: str
    response: str
    scores: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, str]] = field(default_factory=list)


def highlight(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """HTML of ``text`` with each span wrapped in ``<mark class="kind">``; overlaps keep the first."""
    out, pos = [], 0
    for start, end, kind in sorted((max(0, s), min(len(text), e), k) for s, e, k in spans):
        if start < pos or end <= start:
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f'<mark class="{html.escape(kind)}" title="{html.escape(kind)}">{html.escape(text[start:end])}</mark>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


@dataclass
class Report:
    title: str
    subtitle: str = ""
    headline: list[tuple[str, str]] = field(default_factory=list)  # (label, value) cards
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def write(self, out_dir: str | os.PathLike, name: str = "report.html") -> Path:
        """Render into ``out_dir/name`` (atomically); figures must already be in ``out_dir``."""
        import jinja2

        from lengthwise.io import atomic_write_text

        out = Path(out_dir)
        missing = [f.file for f in self.figures if not (out / f.file).is_file()]
        if missing:
            raise FileNotFoundError(f"report figures missing from {out}: {missing}")
        env = jinja2.Environment(loader=jinja2.PackageLoader("lengthwise.evaluation.report", "templates"),
                                 autoescape=jinja2.select_autoescape(["html", "j2"]))
        page = env.get_template(TEMPLATE).render(
            report=self,
            samples=[{"sample": s, "body": highlight(s.response, s.spans)} for s in self.samples],
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )
        path = out / name
        atomic_write_text(path, page)
        return path


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def by_target_table(title: str, systems: Mapping[str, Sequence[Mapping[str, Any]]]) -> Table:
    """Mean produced words and S_l per required length, one column pair per system."""
    targets = sorted({r["required"] for rows in systems.values() for r in rows if r.get("required") is not None})
    headers = ["required", "n"]
    for name in systems:
        headers += [f"{name}: words", f"{name}: S_l"]
    body = []
    for t in targets:
        line: list[Any] = [t]
        n = None
        for rows in systems.values():
            members = [r for r in rows if r.get("required") == t and r.get("S_l") is not None]
            n = n or len(members)
            if members:
                line += [_fmt(sum(r["words"] for r in members) / len(members), 0),
                         _fmt(sum(r["S_l"] for r in members) / len(members))]
            else:
                line += ["–", "–"]
        line.insert(1, n)
        body.append(line)
    return Table(title, headers, body)


def _response_samples(rows: Sequence[Mapping[str, Any]], system: str) -> list[Sample]:
    from lengthwise.text import extract_answer

    return [Sample(id=str(r.get("id")), system=system, prompt=str(r.get("prompt", "")),
                   response=extract_answer(r.get("response") or ""),
                   scores={"required": r.get("required"), "words": r.get("words"),
                           "S_l": None if r.get("S_l") is None else round(r["S_l"], 1),
                           "finish": r.get("finish_reason")})
            for r in rows]


def build_demo_report(out_dir: str | os.PathLike, before: Sequence[Mapping[str, Any]],
                      after: Sequence[Mapping[str, Any]] | None, summary: Mapping[str, Any],
                      metrics_path: str | os.PathLike | None = None) -> Path:
    """``report.html`` of ``lengthwise demo``: headline S_l before/after, the by-target table, the
    required-vs-produced plot, the training curves and every held-out sample of both models."""
    from lengthwise.evaluation.plots import plot_required_vs_produced, plot_training_curves
    from lengthwise.training.callbacks import read_metrics

    out = Path(out_dir)
    systems: dict[str, Sequence[Mapping[str, Any]]] = {"before": before}
    if after is not None:
        systems["after"] = after
    series = {}
    for name, rows in systems.items():
        scored = [r for r in rows if r.get("S_l") is not None]
        series[f"{name} training"] = ([r["required"] for r in scored], [r["words"] for r in scored])
    figures = [Figure("Required vs produced length", plot_required_vs_produced(
        series, out / "required_vs_produced.png", title="required vs produced (held-out prompts)").name,
        "Log-log; the dashed line is a perfect match, the green band is S_l ≥ 80.")]
    metrics = read_metrics(metrics_path) if metrics_path and Path(metrics_path).exists() else []
    if metrics:
        figures.append(Figure("Training curves", plot_training_curves(
            metrics, out / "training_curves.png", title=f"{summary['settings']['preset']}: length dynamics").name,
            "Per step: produced length, S_l, reward components, truncation and clipping by advantage sign."))

    b, a = summary["before"], summary.get("after")
    headline = [("model", str(summary["model"])), ("held-out prompts", str(b["n"])),
                ("mean S_l before", _fmt(b["S_l"]))]
    if a:
        headline += [("mean S_l after", _fmt(a["S_l"])), ("change", f"{summary['delta_S_l']:+.1f}")]
    headline.append(("counter", str(summary["counter"])))
    samples = [s for name, rows in systems.items() for s in _response_samples(rows, name)]
    settings = summary["settings"]
    report = Report(
        title="lengthwise demo: learning to follow requested lengths",
        subtitle=(f"{settings['steps']} steps of {settings['preset']} + LoRA r={settings['lora_r']}, "
                  f"lr {settings['learning_rate']}, group {settings['num_generations']}"),
        headline=headline,
        tables=[by_target_table("S_l by requested length (held-out prompts)", systems)],
        figures=figures,
        samples=samples,
        notes=["S_l is LongBench-Write's length score (100 = exact; 0 at 3× over or 1/3 under).",
               "Held-out prompts pair topics and genres that the training prompts never use."],
    )
    return report.write(out)
