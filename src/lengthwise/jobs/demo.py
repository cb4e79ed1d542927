"""``lengthwise demo``: how well does the embedded model follow requested lengths out of the box?

Build → run → report: write the built-in held-out prompts, generate single-pass answers with the
embedded SmolLM2-135M-Instruct (resumable), then print S_l per length bucket and save the
required-vs-produced plot.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from lengthwise.backends.transformers_backend import TransformersGenerator
from lengthwise.evaluation.buckets import summarize_by_bucket
from lengthwise.evaluation.plots import plot_required_vs_produced
from lengthwise.io import atomic_write_json, read_jsonl, write_jsonl
from lengthwise.jobs.generate import GenerateSettings, generate_responses
from lengthwise.prompts import demo_prompts
from lengthwise.records import load_prompts

__all__ = ["DemoResult", "run_demo"]


@dataclass
class DemoResult:
    out_dir: Path
    rows: list[dict[str, Any]]
    by_bucket: dict[str, dict[str, float]]
    mean_S_l: float
    plot: Path
    seconds: float


def run_demo(
    out_dir: str | os.PathLike = "runs/demo",
    model: str | None = None,
    n_prompts: int = 24,
    batch_size: int = 8,
    max_tokens_cap: int = 1024,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> DemoResult:
    started = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prompts_path = out / "prompts.jsonl"
    if not prompts_path.exists():
        write_jsonl(prompts_path, demo_prompts(n_prompts, seed=seed))
    records, _ = load_prompts(prompts_path)

    generator = TransformersGenerator.from_pretrained(model, device=device, batch_size=batch_size)
    settings = GenerateSettings(max_tokens_cap=max_tokens_cap, temperature=0.7, top_p=0.95, seed=seed, chunk=batch_size)
    responses_path = out / "before.jsonl"
    generate_responses(records, responses_path, generator, settings, progress=progress)

    rows = read_jsonl(responses_path).rows
    by_bucket = summarize_by_bucket(rows)
    scored = [r for r in rows if r.get("S_l") is not None]
    mean_sl = mean(r["S_l"] for r in scored) if scored else 0.0
    plot = plot_required_vs_produced(
        {"before training": ([r["required"] for r in scored], [r["words"] for r in scored])},
        out / "required_vs_produced.png",
        title=f"{generator.model_name}: required vs produced (mean S_l {mean_sl:.1f})",
    )
    seconds = time.monotonic() - started
    atomic_write_json(out / "summary.json", {
        "model": generator.model_name, "counter": settings.counter, "n": len(rows), "S_l": mean_sl,
        "by_bucket": by_bucket, "plot": plot.name, "seconds": round(seconds, 1),
    })
    return DemoResult(out, rows, by_bucket, mean_sl, plot, seconds)


def demo_table_rows(result: DemoResult) -> list[list[str]]:
    """Rows of the per-bucket table the CLI prints."""
    table = []
    for bucket, s in result.by_bucket.items():
        table.append([bucket, str(s["n"]), f"{s['required_mean']:.0f}", f"{s['produced_mean']:.0f}",
                      f"{s['produced_median']:.0f}", f"{s['S_l']:.1f}"])
    return table
