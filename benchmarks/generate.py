"""Benchmark: overhead of the transformers backend over calling ``model.generate`` directly.

Same model (embedded SmolLM2-135M-Instruct), same batch of 8 chat prompts, greedy, same token
budget; runs alternate ours/direct so machine noise hits both. Goal: overhead <= 10%.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from _common import goal, write_results  # noqa: E402

from lengthwise.backends import GenerationRequest  # noqa: E402
from lengthwise.backends.transformers_backend import TransformersGenerator  # noqa: E402
from lengthwise.prompts import demo_prompts  # noqa: E402

BATCH = 8
MAX_NEW = 128
REPEATS = 3


def direct(model, tokenizer, texts: list[str]) -> tuple[float, int]:
    enc = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=MAX_NEW, do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    seconds = time.perf_counter() - started
    new = out[:, enc["input_ids"].shape[1]:]
    tokens = 0
    for row in new.tolist():
        end = next((k for k, t in enumerate(row) if t == tokenizer.eos_token_id), None)
        tokens += len(row) if end is None else end + 1
    return seconds, tokens


def ours(gen: TransformersGenerator, requests) -> tuple[float, int]:
    started = time.perf_counter()
    results = gen.generate(requests)
    return time.perf_counter() - started, sum(r.completion_tokens for r in results)


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 2)
    gen = TransformersGenerator.from_pretrained(None, device="cpu", batch_size=BATCH)
    prompts = [p["prompt"] for p in demo_prompts(BATCH)]
    requests = [
        GenerationRequest(messages=[{"role": "user", "content": p}], max_new_tokens=MAX_NEW, temperature=0)
        for p in prompts
    ]
    texts = [gen.render(r) for r in requests]
    direct(gen.model, gen.tokenizer, texts[:2])  # warm-up
    ours_runs, direct_runs = [], []
    for _ in range(REPEATS):
        ours_runs.append(ours(gen, requests))
        direct_runs.append(direct(gen.model, gen.tokenizer, texts))
    ours_tps = statistics.median(t / s for s, t in ours_runs)
    direct_tps = statistics.median(t / s for s, t in direct_runs)
    overhead = direct_tps / ours_tps - 1
    write_results(
        "generate",
        goals={"backend_overhead_fraction": goal(overhead, "<= 0.10")},
        figures={
            "model": "SmolLM2-135M-Instruct (fp32, CPU)", "batch": BATCH, "max_new_tokens": MAX_NEW, "repeats": REPEATS,
            "ours_tokens_per_second": round(ours_tps, 2), "direct_tokens_per_second": round(direct_tps, 2),
            "ratio_ours_over_direct": round(ours_tps / direct_tps, 4),
            "ours_runs": [{"seconds": round(s, 3), "tokens": t} for s, t in ours_runs],
            "direct_runs": [{"seconds": round(s, 3), "tokens": t} for s, t in direct_runs],
        },
        summary=f"backend {ours_tps:.1f} tok/s vs direct generate {direct_tps:.1f} tok/s (overhead {overhead:+.1%})",
    )


if __name__ == "__main__":
    main()
