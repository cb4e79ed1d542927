"""Benchmark: how well the untrained embedded model solves the built-in reasoning tasks, per difficulty level.

Issue #18 asks for the default level to be chosen by measurement: the level where the untrained SmolLM2-135M's
held-out accuracy is between 20 % and 70 %. Greedy decoding, held-out problems (all four kinds in turn), the
L1 prompt without a budget sentence, answers checked by math-verify. Reports accuracy with its 95 % interval,
mean completion tokens and the share that hit the token cap, per level and per kind.

    OMP_NUM_THREADS=2 python benchmarks/task_levels.py        # about 10 minutes on 2 cores
"""

from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import goal, write_results  # noqa: E402

from lengthwise.backends.base import GenerationRequest  # noqa: E402
from lengthwise.rewards.answers import is_correct  # noqa: E402
from lengthwise.tasks import KINDS, LEVELS, budget_prompt, problems  # noqa: E402

PER_LEVEL = int(os.environ.get("TASK_LEVELS_N", "48"))
MAX_NEW_TOKENS = 192


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 4), round(centre + half, 4))


def main() -> None:
    from lengthwise.backends.transformers_backend import TransformersGenerator
    from lengthwise.models import ensure_loadable, resolve_model

    generator = TransformersGenerator.from_pretrained(ensure_loadable(resolve_model("smollm2")), device="cpu",
                                                      batch_size=8)
    started = time.perf_counter()
    per_level, per_kind = {}, {}
    for level in LEVELS:
        items = problems("heldout", PER_LEVEL, KINDS, (level,), seed=0)
        requests = [GenerationRequest(messages=[{"role": "user", "content": budget_prompt(p.question, None)}],
                                      max_new_tokens=MAX_NEW_TOKENS, temperature=0.0) for p in items]
        results = generator.generate(requests)
        correct = [bool(is_correct(r.text, p.answer)) for p, r in zip(items, results, strict=True)]
        k = sum(correct)
        per_level[level] = {"n": len(items), "accuracy": round(k / len(items), 4), "ci95": wilson(k, len(items)),
                            "mean_tokens": round(sum(r.completion_tokens for r in results) / len(results), 1),
                            "hit_cap": round(sum(r.finish_reason == "length" for r in results) / len(results), 4),
                            "example": {"question": items[0].question, "answer": items[0].answer,
                                        "completion": results[0].text[:400]}}
        for kind in KINDS:
            ks = [c for p, c in zip(items, correct, strict=True) if p.kind == kind]
            per_kind.setdefault(kind, {})[level] = round(sum(ks) / max(1, len(ks)), 3)
        print(f"level {level}: accuracy {per_level[level]['accuracy']:.2f} {per_level[level]['ci95']}", flush=True)
    inside = [lv for lv in LEVELS if 0.2 <= per_level[lv]["accuracy"] <= 0.7]
    chosen = inside[0] if inside else min(LEVELS, key=lambda lv: abs(per_level[lv]["accuracy"] - 0.45))
    figures = {"model": "SmolLM2-135M-Instruct (embedded), greedy", "max_new_tokens": MAX_NEW_TOKENS,
               "per_level": per_level, "accuracy_by_kind": per_kind, "default_level": chosen,
               "levels_in_20_70": inside, "seconds": round(time.perf_counter() - started, 1)}
    goals = {"default_level_accuracy_in_20_70": goal(float(bool(inside)), ">= 1")}
    summary = ", ".join(f"L{lv} {per_level[lv]['accuracy']:.2f}" for lv in LEVELS) + f"; default level {chosen}"
    write_results("task_levels", goals, figures, summary)


if __name__ == "__main__":
    main()
