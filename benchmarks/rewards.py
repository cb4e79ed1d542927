"""Benchmark: cost of the reward stack on long completions.

Goals (issue "reward suite"): the full default stack (length + quality proxy + format with all four
hacking detectors) on 8 completions of 10,000 words in <= 10 s on 2 cores; the lexical-only stack
(no embeddings) at >= 100,000 words/s. Peer: the near-duplicate detector (MinHash LSH) against a
naive all-pairs Jaccard implementation on the same 10k, 50k and 100k-word texts, in the same run.
Also reported: one 1,000,000-word completion through the full stack.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import goal, write_results  # noqa: E402

from lengthwise.rewards.redundancy import naive_near_duplicate_paragraphs, near_duplicate_paragraphs  # noqa: E402
from lengthwise.rewards.stack import RewardStack  # noqa: E402
from lengthwise.synthetic import honest_text, paraphrase_hack, paste_hack, stuffing_hack  # noqa: E402
from lengthwise.text import count_words  # noqa: E402

REPEATS = 3
PROMPT = "Write a story of about 10,000 words about a lighthouse town."


def completions_10k() -> list[str]:
    """Four English and four Chinese 10,000-word texts: honest, pasted, paraphrased, stuffed."""
    out = []
    for lang in ("en", "zh"):
        base, plan = honest_text(100 if lang == "en" else 200, lang, 10_000)
        half, half_plan = honest_text(101 if lang == "en" else 201, lang, 6_300)
        out += [base, paste_hack(half, 1), paraphrase_hack(half_plan, lang, 1), stuffing_hack(base, lang, 1)]
    return [f"<think>plan the sections</think><answer>{t}</answer>" for t in out]


def timed(stack: RewardStack, prompts: list[str], completions: list[str]) -> float:
    stack.audit._cache.clear()
    stack.embedder._cache.clear()
    started = time.perf_counter()
    stack.score(prompts, completions, evidence=False)
    return time.perf_counter() - started


def main() -> None:
    texts = completions_10k()
    words = [count_words(t) for t in texts]
    full = RewardStack.default(think=True)
    lexical = RewardStack.from_dict({"components": [{"name": "length", "type": "lwz_range"},
                                                    {"name": "format", "type": "format"}],
                                     "detectors": {"paraphrase": False}})
    for stack in (full, lexical):  # load models, imports and ONNX session outside the timing
        stack.score(["warm up"], ["<think>a</think><answer>Warm up. A second sentence here.</answer>"])
    prompts = [PROMPT] * len(texts)
    full_runs = [timed(full, prompts, texts) for _ in range(REPEATS)]
    lexical_runs = [timed(lexical, prompts, texts) for _ in range(REPEATS)]
    full_s = statistics.median(full_runs)
    lexical_wps = sum(words) / statistics.median(lexical_runs)

    scaling = {}
    for target in (10_000, 50_000, 100_000):
        text = paste_hack(honest_text(300, "en", int(target / 1.6))[0], 2)
        started = time.perf_counter()
        ours = near_duplicate_paragraphs(text).score
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        naive = naive_near_duplicate_paragraphs(text)
        naive_s = time.perf_counter() - started
        scaling[str(target)] = {
            "words": count_words(text),
            "lsh_seconds": round(ours_s, 4),
            "all_pairs_seconds": round(naive_s, 4),
            "speedup": round(naive_s / ours_s, 2),
            "lsh_score": round(ours, 4),
            "all_pairs_score": round(naive, 4),
        }
    growth = {}
    for key in ("lsh_seconds", "all_pairs_seconds"):
        a, b = scaling["10000"], scaling["100000"]
        growth[key.replace("_seconds", "_growth_exponent")] = round(
            math.log(b[key] / a[key]) / math.log(b["words"] / a["words"]), 2
        )

    huge = "<think>p</think><answer>" + paste_hack(honest_text(400, "en", 20_000)[0], 3, factor=50) + "</answer>"
    full.audit._cache.clear()
    started = time.perf_counter()
    huge_row = full.score([PROMPT], [huge], evidence=False)[0]
    huge_s = time.perf_counter() - started

    write_results(
        "rewards",
        goals={
            "full_stack_8x10k_seconds": goal(full_s, "<= 10"),
            "lexical_stack_words_per_second": goal(lexical_wps, ">= 100000"),
        },
        figures={
            "completions": len(texts), "words_per_completion": words, "embedder_runtime": full.embedder.active_runtime,
            "full_stack_runs_seconds": [round(x, 3) for x in full_runs],
            "lexical_stack_runs_seconds": [round(x, 3) for x in lexical_runs],
            "near_duplicate_lsh_vs_all_pairs": scaling, **growth,
            "million_word_completion": {"words": huge_row["words"], "seconds": round(huge_s, 2),
                                        "format": huge_row["format"], "length": huge_row["length"]},
        },
        summary=(f"full stack 8x10k words {full_s:.2f}s; lexical {lexical_wps:,.0f} words/s; near-dup LSH vs all-pairs "
                 f"at 100k words {scaling['100000']['speedup']}x; 1M-word completion {huge_s:.1f}s"),
    )


if __name__ == "__main__":
    main()
