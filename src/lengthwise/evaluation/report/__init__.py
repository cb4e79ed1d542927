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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "Report",
    "Sample",
    "Table",
    "Figure",
    "highlight",
    "build_demo_report",
    "build_eval_report",
    "by_target_table",
    "audit_spans",
    "group_table",
    "build_arena_report",
    "build_reasoning_report",
]

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
        out.append(
            f'<mark class="{html.escape(kind)}" title="{html.escape(kind)}">{html.escape(text[start:end])}</mark>'
        )
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
        env.tests["numeric"] = _is_numeric
        page = env.get_template(TEMPLATE).render(
            report=self,
            samples=[{"sample": s, "body": highlight(s.response, s.spans)} for s in self.samples],
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
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


def _whole(value: Any) -> Any:
    """A float that is a whole number as an int (a required length of 20, not 20.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _is_numeric(cell: Any) -> bool:
    """Numbers, and the formatted numbers and dashes of a number column, align right."""
    if isinstance(cell, bool):
        return False
    if isinstance(cell, int | float) or cell == "–":
        return True
    try:
        float(str(cell).replace(",", ""))
    except ValueError:
        return False
    return True


def by_target_table(title: str, systems: Mapping[str, Sequence[Mapping[str, Any]]]) -> Table:
    """Mean produced words and S_l per required length, one column pair per system."""
    targets = sorted({r["required"] for rows in systems.values() for r in rows if r.get("required") is not None})
    headers = ["required", "n"]
    for name in systems:
        headers += [f"{name}: words", f"{name}: S_l"]
    body = []
    for t in targets:
        line: list[Any] = [_whole(t)]
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
                   scores={"required": _whole(r.get("required")), "words": r.get("words"),
                           "S_l": None if r.get("S_l") is None else round(r["S_l"], 1),
                           "finish": r.get("finish_reason")})
            for r in rows]


def build_demo_report(out_dir: str | os.PathLike, before: Sequence[Mapping[str, Any]],
                      after: Sequence[Mapping[str, Any]] | None, summary: Mapping[str, Any],
                      metrics_path: str | os.PathLike | None = None) -> Path:
    """``report.html`` of ``lengthwise demo``: headline S_l before/after, the by-target table, the
    required-vs-produced plot, the training curves and every held-out sample of both models."""
    from lengthwise.evaluation.plots import plot_required_vs_produced, plot_training_curves
    from lengthwise.metrics import read_metrics

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
        ci = (summary.get("gain") or {}).get("S_l")
        if ci:
            headline.append(("change, paired 95% CI", f"{ci['low']:+.1f} to {ci['high']:+.1f} (n = {ci['n']})"))
        sampled = summary.get("sampled")
        if sampled:
            g = sampled["gain"]
            headline.append((f"sampled (T = {sampled['temperature']}, {sampled['seeds']} seed(s))",
                             f"{g['mean']:+.1f}, 95% CI {g['low']:+.1f} to {g['high']:+.1f}"))
    headline.append(("decoding", str(summary.get("decoding", "sampled, T = 0.7"))))
    if b.get("S_c") is not None:
        headline.append(("mean S_c before" + (" / after" if a else ""),
                         _fmt(b["S_c"]) + (f" / {_fmt(a.get('S_c'))}" if a else "")))
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
        notes=["S_l is LongBench-Write's length score (100 = exact; 0 at 3× over or 1/3 under); S_c the "
               "constraint-aware score (full marks when an 'at most'/'at least' bound is met; docs/reference.md §6).",
               "Held-out prompts pair topics and genres that the training prompts never use."],
    )
    return report.write(out)


def _pct_ci(block: Mapping[str, Any] | None) -> tuple[float, float, float] | None:
    acc = (block or {}).get("accuracy")
    return None if not acc else (100 * acc["mean"], 100 * acc["low"], 100 * acc["high"])


def build_reasoning_report(out_dir: str | os.PathLike, before: Sequence[Mapping[str, Any]],
                           after: Sequence[Mapping[str, Any]] | None, summary: Mapping[str, Any],
                           metrics_path: str | os.PathLike | None = None) -> Path:
    """``report.html`` of ``lengthwise demo --task reasoning``: requested vs produced tokens (with y = x), accuracy
    per budget with intervals, the per-budget table, the learning curves, the preset comparison when it was run,
    and every answer of both models."""
    from lengthwise.evaluation.plots import (
        plot_budget_scatter,
        plot_grouped_bars,
        plot_preset_lengths,
        plot_reasoning_curves,
    )
    from lengthwise.evaluation.reasoning import reasoning_item
    from lengthwise.metrics import read_metrics

    out = Path(out_dir)
    systems: dict[str, Sequence[Mapping[str, Any]]] = {"before": before}
    if after is not None:
        systems["after"] = after
    items = {name: [reasoning_item(dict(r)) for r in rows] for name, rows in systems.items()}
    series = {f"{name} training": ([i["target"] for i in its if i["produced"] is not None and i["target"]],
                                   [i["produced"] for i in its if i["produced"] is not None and i["target"]])
              for name, its in items.items()}
    figures = [Figure("Requested vs produced reasoning tokens", plot_budget_scatter(
        series, out / "budget_vs_produced.png").name,
        "Each answer at its budget (spread a little sideways), the mean per budget as a line; dashed: y = x.")]
    blocks = {name: summary[name] for name in systems}
    accuracy = {f"{name} training": {b: _pct_ci(block) for b, block in blocks[name]["by_budget"].items()}
                for name in systems}
    figures.append(Figure("Accuracy per budget", plot_grouped_bars(
        accuracy, out / "accuracy_by_budget.png", "held-out accuracy per budget", "accuracy (%)").name,
        "Answers checked with math-verify; bars show the 95% bootstrap interval."))
    metrics = read_metrics(metrics_path) if metrics_path and Path(metrics_path).exists() else []
    if metrics:
        figures.append(Figure("Learning curves", plot_reasoning_curves(
            metrics, out / "training_curves.png", title=f"{summary['settings']['preset']}: training").name,
            "Per step: produced tokens, rewards, truncation and clipping by advantage sign."))
    if summary.get("presets"):
        figures.append(Figure("Loss presets: response length per step", plot_preset_lengths(
            summary["presets"], out / "presets.png").name,
            "Same seed, prompts and steps under each preset; two optimizer steps per generation round, so the "
            "second is off-policy and clipping can act. An observation on a short run, not a test."))

    b, a, paired = summary["before"], summary.get("after"), summary.get("paired")
    headline = [("model", str(summary["model"])), ("held-out answers", str(b["n"])),
                ("Spearman(requested, produced) before", _fmt(b["spearman_requested_produced"], 2)),
                ("relative error before", _fmt(b["mean_relative_error"], 2)),
                ("accuracy before", f"{100 * b['accuracy']['mean']:.1f}%" if b.get("accuracy") else "–")]
    if a:
        headline += [("Spearman after", _fmt(a["spearman_requested_produced"], 2)),
                     ("relative error after", _fmt(a["mean_relative_error"], 2)),
                     ("accuracy after", f"{100 * a['accuracy']['mean']:.1f}%" if a.get("accuracy") else "–")]
        gain = (paired or {}).get("accuracy_gain")
        if gain:
            headline.append(("accuracy change, paired 95% CI", f"{100 * gain['mean']:+.1f} "
                             f"({100 * gain['low']:+.1f} to {100 * gain['high']:+.1f}) points"))
    warm = summary.get("warm")
    if warm and warm.get("n"):
        headline += [("after the warm start alone: Spearman", _fmt(warm["spearman_requested_produced"], 2)),
                     ("after the warm start alone: relative error", _fmt(warm["mean_relative_error"], 2)),
                     ("after the warm start alone: accuracy", f"{100 * warm['accuracy']['mean']:.1f}%"
                      if warm.get("accuracy") else "–")]
    headline.append(("decoding", str(summary.get("decoding", "greedy"))))

    headers = ["budget", "n"]
    for name in systems:
        headers += [f"{name}: tokens", f"{name}: rel. error", f"{name}: accuracy %"]
    rows = []
    for budget in b["by_budget"]:
        line: list[Any] = [budget, b["by_budget"][budget]["n"]]
        for name in systems:
            block = blocks[name]["by_budget"].get(budget) or {}
            acc = _pct_ci(block)
            line += [_fmt(block.get("mean_produced_tokens"), 0), _fmt(block.get("mean_relative_error"), 2),
                     _fmt(acc[0] if acc else None)]
        rows.append(line)

    samples = []
    for name, rows_of in systems.items():
        for r, item in zip(rows_of, items[name], strict=True):
            samples.append(Sample(id=str(r.get("id")), system=name, prompt=str(r.get("prompt", "")),
                                  response=str(r.get("response") or ""),
                                  scores={"budget": _whole(item["target"]), "tokens": item["produced"],
                                          "answer": r.get("answer"), "correct": item["correct"],
                                          "finish": r.get("finish_reason")}))
    settings = summary["settings"]
    report = Report(
        title="lengthwise demo: reasoning within a token budget",
        subtitle=(f"{settings['steps']} steps of {settings['preset']} + LoRA r={settings['lora_r']}, "
                  f"lr {settings['learning_rate']}, group {settings['num_generations']}, LCPO-exact reward"),
        headline=headline,
        tables=[Table("Per budget (held-out problems)", headers, rows)],
        figures=figures,
        samples=samples,
        notes=["Budgets are L1's exact prompt (\"Think for N tokens.\"); produced length is counted in the "
               "policy's own tokens; the relative error is |produced − requested| / requested.",
               "Held-out problems never appear in the training split (split by a hash of the question)."],
    )
    return report.write(out)


_SPAN_KIND = {"exact_repetition": "repetition", "near_duplicate_paragraphs": "repetition",
              "paraphrase_repetition": "paraphrase", "keyword_stuffing": "keyword"}


def audit_spans(item: Mapping[str, Any]) -> list[tuple[int, int, str]]:
    """Highlight ranges of an ``items.jsonl`` row, from the flagged detectors' evidence spans."""
    spans = []
    for name, det in (item.get("audit") or {}).items():
        if det.get("flagged"):
            spans += [(s["start"], s["end"], _SPAN_KIND.get(name, "repetition")) for s in det.get("spans", [])]
    return spans


def _fmt_or_dash(summary: Mapping[str, Any], key: str) -> str:
    return _fmt(summary.get(key))


def group_table(title: str, groups: Mapping[str, Mapping[str, Any]], judged: bool) -> Table:
    headers = ["group", "n", "scored", "words (mean)", "S_l", "S_c"] + (["S_q", "S̄"] if judged else [])
    rows = []
    for name, g in groups.items():
        line = [name, g["n"], g["n_scored"], _fmt(g.get("words_mean"), 0), _fmt(g.get("S_l")), _fmt(g.get("S_c"))]
        if judged:
            line += [_fmt(g.get("S_q")), _fmt(g.get("S"))]
        rows.append(line)
    return Table(title, headers, rows)


def build_eval_report(
    out_dir: str | os.PathLike,
    items: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    rows: Mapping[str, Mapping[str, Any]] | None = None,
    leaderboard: Sequence[Mapping[str, Any]] | None = None,
    title: str = "lengthwise eval",
) -> Path:
    """``report.html`` of ``lengthwise eval``: headline scores, tables by bucket and type, the
    required-vs-produced plot, S_l by bucket, S_q by dimension, the audit flags and every sample
    (``rows``: the responses by id, for prompts and texts)."""
    from lengthwise.evaluation.plots import plot_bars, plot_leaderboard, plot_required_vs_produced
    from lengthwise.text import extract_answer

    out = Path(out_dir)
    judged = summary.get("judge_failures") is not None
    scored = [i for i in items if i.get("S_l") is not None]
    by_model: dict[str, tuple[list[float], list[float]]] = {}
    for i in scored:
        xs, ys = by_model.setdefault(str(i.get("model") or "responses"), ([], []))
        xs.append(i["required"])
        ys.append(i["words"])
    figures = []
    if scored:
        figures.append(Figure("Required vs produced length", plot_required_vs_produced(
            by_model, out / "required_vs_produced.png").name,
            "Log-log; the dashed line is a perfect match, the green band is S_l ≥ 80."))
        figures.append(Figure("S_l by length bucket", plot_bars(
            {b: g["S_l"] for b, g in summary["by_bucket"].items()}, out / "sl_by_bucket.png",
            "S_l by required-length bucket", "S_l", reference=80).name,
            "LongBench-Write buckets: [0,500), [500,2000), [2000,4000), [4000,∞) words."))
    if judged and summary.get("S_q_by_dimension"):
        figures.append(Figure("S_q by dimension", plot_bars(
            summary["S_q_by_dimension"], out / "sq_by_dimension.png", "S_q by dimension", "S_q").name,
            "Per dimension (mean score − 1) × 25; judge failures excluded."))
    tables = [group_table("By length bucket", summary["by_bucket"], judged),
              group_table("By type", summary["by_type"], judged)]
    if leaderboard:
        figures.insert(0, Figure("Arena leaderboard", plot_leaderboard(leaderboard, out / "leaderboard.png").name,
                                 "Bradley–Terry ratings (baseline anchored at 1000) with 95% bootstrap intervals."))
        tables.insert(
            0,
            Table(
                "Arena leaderboard",
                ["rank", "system", "rating", "95% interval", "win rate", "comparisons"],
                [
                    [
                        k + 1,
                        r["system"],
                        _fmt(r["rating"], 0),
                        f"{r['low']:.0f} – {r['high']:.0f}",
                        _fmt(r.get("win_rate"), 3),
                        r.get("comparisons"),
                    ]
                    for k, r in enumerate(leaderboard)
                ],
            ),
        )
    flagged_rows = [[i["id"], i.get("model") or "", ", ".join(i["flags"]),
                     "; ".join(f"{n} {d['score']:.2f}" for n, d in (i.get("audit") or {}).items() if d.get("flagged"))
                     + ("; " + ", ".join(i["format"]["problems"]) if not i["format"]["ok"] else "")]
                    for i in items if i.get("flags")]
    tables.append(Table("Audit: flagged responses", ["id", "model", "flags", "evidence"], flagged_rows,
                        note="" if flagged_rows else "No response was flagged."))
    if judged:
        failures = summary["judge_failures"]
        tables.append(Table("Judge failures (excluded from S_q)", ["reason", "count"],
                            [[k, v] for k, v in failures["by_reason"].items()],
                            note=f"{failures['count']} of {summary['n']} items had no valid verdict after retries."))
    headline = [("responses", str(summary["n"])), ("scored for length", str(summary["n_scored"])),
                ("mean S_l", _fmt_or_dash(summary, "S_l")), ("mean S_c", _fmt_or_dash(summary, "S_c"))]
    if judged:
        headline += [("mean S_q", _fmt_or_dash(summary, "S_q")), ("S̄", _fmt_or_dash(summary, "S")),
                     ("judge failures", str(summary["judge_failures"]["count"]))]
    headline += [("flagged", str(sum(1 for i in items if i.get("flags")))), ("counter", str(summary.get("counter")))]
    samples = []
    for i in items:
        row = (rows or {}).get(i["id"], {})
        scores = {"required": i.get("required"), "words": i["words"],
                  "S_l": None if i.get("S_l") is None else round(i["S_l"], 1)}
        if judged:
            scores["S_q"] = None if i.get("S_q") is None else round(i["S_q"], 1)
        samples.append(Sample(id=str(i["id"]), system=str(i.get("model") or ""),
                              prompt=str(row.get("prompt", row.get("question", ""))),
                              response=extract_answer(row.get("response") or ""), scores=scores,
                              flags=list(i.get("flags", [])), spans=audit_spans(i)))
    notes = [f"Words counted with the {summary.get('counter')} counter.",
             f"{summary.get('n_unscored', 0)} item(s) state no required length and are not scored for length."]
    report = Report(title=title, subtitle=str(summary.get("responses", "")), headline=headline, tables=tables,
                    figures=figures, samples=samples, notes=notes)
    return report.write(out)


def build_arena_report(out_dir: str | os.PathLike, summary: Mapping[str, Any],
                       systems: Mapping[str, Mapping[str, Mapping[str, str]]], prompt_ids: Sequence[str]) -> Path:
    """``report.html`` of ``lengthwise arena``: the leaderboard (table + interval plot), judge
    failures, and every system's response to every shared prompt."""
    from lengthwise.evaluation.plots import plot_leaderboard
    from lengthwise.text import count_words

    out = Path(out_dir)
    board = summary["leaderboard"]
    figures = [
        Figure(
            "Leaderboard",
            plot_leaderboard(board, out / "leaderboard.png").name,
            f"Bradley–Terry ratings, {summary['anchor']} anchored at 1000; 95% bootstrap intervals over prompts.",
        )
    ]
    tables = [Table("Leaderboard", ["rank", "system", "rating", "95% interval", "win rate", "comparisons"],
                    [[k + 1, r["system"], _fmt(r["rating"], 0), f"{r['low']:.0f} – {r['high']:.0f}",
                      _fmt(r.get("win_rate"), 3), r["comparisons"]] for k, r in enumerate(board)])]
    failures = summary["judge_failures"]
    tables.append(
        Table(
            "Judge failures (excluded)",
            ["reason", "count"],
            [[k, v] for k, v in failures["by_reason"].items()],
            note=f"{failures['count']} of {summary['requested']} comparisons had no valid verdict.",
        )
    )
    samples = [Sample(id=str(pid), system=name, prompt=str(items[pid]["prompt"]), response=items[pid]["response"],
                      scores={"words": count_words(items[pid]["response"])})
               for pid in prompt_ids for name, items in systems.items()]
    report = Report(
        title="lengthwise arena",
        subtitle=f"{len(systems)} systems, {summary['prompts']} prompts, judge {summary['judge']}",
        headline=[
            ("systems", str(len(systems))),
            ("prompts", str(summary["prompts"])),
            ("comparisons judged", f"{summary['judged']} / {summary['requested']}"),
            ("leader", str(board[0]["system"]) if board else "–"),
        ],
        tables=tables,
        figures=figures,
        samples=samples,
        notes=["Each pair is judged in both orders; a split verdict counts 0.5 each."],
    )
    return report.write(out)
