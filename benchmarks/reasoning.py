"""Benchmark: reasoning within a token budget, before vs after the default reasoning demo's training (issue #18).

One run of ``lengthwise demo --task reasoning`` with its default training, measured on 60 held-out problems × the
demo's three budgets (greedy, L1 exact prompts, lengths in the policy's tokens, answers by math-verify), then the
same short training under grpo, gspo and luspo for the length-per-step comparison. The run folder
(benchmarks/.work/reasoning) resumes if interrupted; its report.html has the plots.

    OMP_NUM_THREADS=2 python benchmarks/reasoning.py
    OMP_NUM_THREADS=2 python benchmarks/reasoning.py --steps 24       # a longer training, same measurement

Goals (after vs before): Spearman(requested, produced) >= 0.7 after; mean relative error |produced − requested| /
requested at most half of before; accuracy not lower by more than 2 points. The preset comparison is an
observation (no goal).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import goal, write_results  # noqa: E402

from lengthwise.jobs.reasoning_demo import ReasoningDemoSettings, run_reasoning_demo  # noqa: E402

N_PROBLEMS = int(os.environ.get("REASONING_N", "60"))
PRESETS = ("grpo", "gspo", "luspo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, help="training steps (default: the demo's)")
    parser.add_argument("--out", default=str(Path(__file__).parent / ".work" / "reasoning"))
    parser.add_argument("--compare-steps", type=int, default=4)
    args = parser.parse_args()
    training = {"max_steps": args.steps} if args.steps else {}
    settings = ReasoningDemoSettings.default(training=training, n_problems=N_PROBLEMS, compare_presets=PRESETS,
                                             compare_steps=args.compare_steps)
    result = run_reasoning_demo(args.out, settings, progress=True, on_phase=print)
    b, a, paired = result.before, result.after, result.paired
    assert a is not None and paired is not None
    goals = {
        "spearman_after": goal(a["spearman_requested_produced"] or 0.0, ">= 0.7"),
        "relative_error_after_over_before": goal(a["mean_relative_error"] / b["mean_relative_error"], "<= 0.5"),
        "accuracy_change_points": goal(100 * paired["accuracy_gain"]["mean"], ">= -2"),
    }
    presets = {
        name: {"mean_length_by_step": [r["mean_length"] for r in rows],
               "clipped_negative_by_step": [r["clipped_negative"] for r in rows],
               "clipped_positive_by_step": [r["clipped_positive"] for r in rows]}
        for name, rows in result.presets.items()
    }
    figures = {
        "problems": N_PROBLEMS, "settings": _settings(result), "decoding": "greedy",
        "before": b, "after": a, "paired": paired,
        "presets": presets,
        "phase_seconds": result.phase_seconds, "seconds": round(result.seconds, 1),
        "report": os.path.relpath(result.report, Path(__file__).parent) if result.report else None,
    }
    summary = (f"Spearman {b['spearman_requested_produced']} -> {a['spearman_requested_produced']}, relative error "
               f"{b['mean_relative_error']:.2f} -> {a['mean_relative_error']:.2f}, accuracy "
               f"{100 * b['accuracy']['mean']:.1f}% -> {100 * a['accuracy']['mean']:.1f}% "
               f"(change {100 * paired['accuracy_gain']['mean']:+.1f}, CI {100 * paired['accuracy_gain']['low']:+.1f} "
               f"to {100 * paired['accuracy_gain']['high']:+.1f})")
    write_results("reasoning", goals, figures, summary)


def _settings(result) -> dict:
    import json

    return json.loads((result.out_dir / "summary.json").read_text())["settings"]


if __name__ == "__main__":
    main()
