"""Benchmark: reasoning within a token budget, before (and, given a trained model, after) training (issue #18).

Greedy decoding of held-out built-in problems (default level) × three budgets, L1 exact prompts; produced
length in the policy's tokens; answers by math-verify. Figures: Spearman(requested, produced), mean relative
error |produced − requested| / requested, accuracy with its interval, per budget.

    OMP_NUM_THREADS=2 python benchmarks/reasoning.py                      # the untrained embedded model
    OMP_NUM_THREADS=2 python benchmarks/reasoning.py --after runs/luspo-math/final

Goals (after training, vs before): Spearman >= 0.7; relative error at most half of before; accuracy not lower by
more than 2 points. Without --after only the before figures are written and the goals stay unmeasured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import goal, write_results  # noqa: E402

from lengthwise.backends.base import GenerationRequest  # noqa: E402
from lengthwise.evaluation.reasoning import compare_reasoning, summarize_reasoning  # noqa: E402
from lengthwise.tasks import problems, reasoning_rows  # noqa: E402

BUDGETS = (64, 128, 256)
N_PROBLEMS = int(os.environ.get("REASONING_N", "60"))


def measure(model_ref: str, rows: list[dict]) -> list[dict]:
    from lengthwise.backends.transformers_backend import TransformersGenerator

    generator = TransformersGenerator.from_pretrained(model_ref, device="cpu", batch_size=8)
    requests = [GenerationRequest(messages=[{"role": "user", "content": r["prompt"]}],
                                  max_new_tokens=int(r["target_tokens"] * 1.5) + 32, temperature=0.0) for r in rows]
    results = generator.generate(requests)
    return [{**r, "response": res.text, "completion_tokens": res.completion_tokens,
             "finish_reason": res.finish_reason} for r, res in zip(rows, results, strict=True)]


def main() -> None:
    from lengthwise.models import ensure_loadable, resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--after", help="a trained model directory to measure after training")
    args = parser.parse_args()
    rows = reasoning_rows(problems("heldout", N_PROBLEMS, seed=0), BUDGETS, "exact", draw=False)
    started = time.perf_counter()
    before = measure(ensure_loadable(resolve_model("smollm2")), rows)
    figures: dict = {"problems": N_PROBLEMS, "budgets": BUDGETS, "decoding": "greedy",
                     "cap": "1.5 x budget + 32 tokens", "before": summarize_reasoning(before)}
    figures["before"].pop("items")
    goals = {}
    if args.after:
        after = measure(args.after, rows)
        figures["after"] = summarize_reasoning(after)
        figures["after"].pop("items")
        figures["paired"] = compare_reasoning(before, after)
        b, a = figures["before"], figures["after"]
        goals = {
            "spearman_after": goal(a["spearman_requested_produced"] or 0.0, ">= 0.7"),
            "relative_error_after_over_before": goal(a["mean_relative_error"] / b["mean_relative_error"], "<= 0.5"),
            "accuracy_change_points": goal(100 * figures["paired"]["accuracy_gain"]["mean"], ">= -2"),
        }
    else:
        figures["after"] = "not measured: the reasoning demo that trains the model is not built yet (issue #18)"
    figures["seconds"] = round(time.perf_counter() - started, 1)
    b = figures["before"]
    summary = (f"before: Spearman {b['spearman_requested_produced']}, relative error {b['mean_relative_error']}, "
               f"accuracy {b['accuracy']['mean']:.2f}")
    write_results("reasoning", goals, figures, summary)


if __name__ == "__main__":
    main()
