"""Benchmark (observation, no goal): mean completion length per step under GSPO vs LUSPO.

The LUSPO paper's claim is that GSPO's length-normalised sequence loss shrinks responses while LUSPO's
length-scaled loss does not. Same recipe (examples/cpu-demo.yaml), same seed, prompts and steps, off-policy
updates (steps_per_generation = 2 > gradient_accumulation_steps = 1, where the two differ); only the preset
changes. Figures: benchmarks/results/length_drift.json.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import write_results  # noqa: E402

from lengthwise.metrics import read_metrics  # noqa: E402
from lengthwise.training.config import load_config  # noqa: E402
from lengthwise.training.trainer import train  # noqa: E402

RECIPE = Path(__file__).resolve().parents[1] / "examples" / "cpu-demo.yaml"
STEPS = int(os.environ.get("LENGTH_DRIFT_STEPS", "8"))


def run(preset: str, out: Path) -> dict:
    started = time.perf_counter()
    config = load_config(
        RECIPE,
        [
            f"preset={preset}",
            f"output_dir={out}",
            f"max_steps={STEPS}",
            "steps_per_generation=2",
            "max_completion_length=192",
            "save_steps=1000",
            "learning_rate=1e-4",
        ],
    )
    train(config)
    # With steps_per_generation = 2 a generation round (and its length metrics) happens every other step.
    rows = [r for r in read_metrics(out / "metrics.jsonl") if r.get("length/words_mean") is not None]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "steps": [r["step"] for r in rows],
        "mean_words": [round(r["length/words_mean"], 1) for r in rows],
        "mean_tokens": [round(r["completions/mean_length"], 1) for r in rows],
        "S_l": [round(r.get("length/S_l_mean", 0.0), 1) for r in rows],
        "truncated": [r.get("completions/clipped_ratio") for r in rows],
        "clip_low_neg_adv": [r.get("clip_ratio/low_mean") for r in rows],
        "clip_high_pos_adv": [r.get("clip_ratio/high_mean") for r in rows],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        curves = {preset: run(preset, Path(tmp) / preset) for preset in ("gspo", "luspo")}
    g, lu = curves["gspo"]["mean_tokens"], curves["luspo"]["mean_tokens"]
    write_results(
        "length_drift",
        goals={},
        figures={"steps": STEPS, "recipe": "examples/cpu-demo.yaml (steps_per_generation=2, max_completion_length=192)",
                 "curves": curves,
                 "mean_tokens_last_over_first": {"gspo": round(g[-1] / g[0], 3), "luspo": round(lu[-1] / lu[0], 3)}},
        summary=f"mean completion tokens first→last step: gspo {g[0]:.0f}→{g[-1]:.0f}, luspo {lu[0]:.0f}→{lu[-1]:.0f}",
    )


if __name__ == "__main__":
    main()
