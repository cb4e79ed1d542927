"""P5: bf16 against fp32 on this CPU, in one run: decode speed, a LoRA training step, and the untrained model's score.

Each measurement runs in a child process of its own under ``/usr/bin/time -v`` (peak RSS; no allocator state shared
between the two dtypes), with the project's own code paths and only ``dtype`` changed:

- decode: ``TransformersGenerator`` (what ``demo``, ``eval`` and ``generate`` use), 16 writing prompts in batches
  of 8, greedy, up to 192 new tokens; tokens per second over the timed repeats (after a warm-up);
- train step: ``lengthwise sft``'s trainer (TRL ``SFTTrainer``, LoRA r16, what the warm starts run), 16 rows of
  ~200 tokens per step; the median of the steps after the first;
- score: the demo's held-out measurement of the untrained model (222 prompts, greedy), fp32 vs bf16, with the
  paired-bootstrap interval of the difference: how far numerics alone move the demo's figure.

    OMP_NUM_THREADS=2 python benchmarks/dtype.py             # all three
    DTYPE_SCORE=0 python benchmarks/dtype.py                 # speed only (~5 minutes)

Goals (on a CPU with native bf16 — AVX512-BF16 or AMX; elsewhere the run records that bf16 is not native and sets
no goal): bf16 decode >= 1.5x fp32's tokens/s, bf16 train step >= 1.5x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import RESULTS, goal, write_results  # noqa: E402

RESULTS_FILE = RESULTS / "dtype.json"

DTYPES = ("float32", "bfloat16")
WORK = Path(__file__).resolve().parent / ".work" / "dtype"
TOPICS = ("tide pools", "the printing press", "urban beekeeping", "glaciers", "chess openings", "sourdough bread",
          "lighthouses", "solar sails", "river deltas", "the violin", "desert cities", "paper money",
          "coral reefs", "night trains", "volcanic islands", "public libraries")
DECODE_TOKENS = 192
DECODE_REPEATS = 2
TRAIN_STEPS = 4
TRAIN_ROWS = 16


def decode(dtype: str) -> dict:
    from lengthwise.backends.base import GenerationRequest
    from lengthwise.backends.transformers_backend import TransformersGenerator

    generator = TransformersGenerator.from_pretrained(None, device="cpu", dtype=dtype, batch_size=8)
    requests = [GenerationRequest(messages=[{"role": "user", "content": f"Write a 150-word article about {t}."}],
                                  max_new_tokens=DECODE_TOKENS, temperature=0.0) for t in TOPICS]
    generator.generate(requests[:8])  # warm-up: first-call allocations and kernel selection
    rates, tokens = [], 0
    for _ in range(DECODE_REPEATS):
        started = time.perf_counter()
        results = generator.generate(requests)
        seconds = time.perf_counter() - started
        tokens = sum(r.completion_tokens for r in results)
        rates.append(tokens / seconds)
    return {"tokens_per_second": round(max(rates), 2), "repeats": [round(r, 2) for r in rates],
            "tokens": tokens, "requests": len(requests), "batch": 8}


def train_step(dtype: str) -> dict:
    from transformers import TrainerCallback

    from lengthwise.synthetic import honest_text
    from lengthwise.training.sft import SFTSettings, train_sft

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []
            self._start = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self._start)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.jsonl"
        with data.open("w") as fh:
            for k in range(TRAIN_ROWS):
                answer, _ = honest_text(seed=k, words=150)  # ~200 tokens of English prose
                fh.write(json.dumps({"messages": [{"role": "user", "content": f"Write about {TOPICS[k]}."},
                                                  {"role": "assistant", "content": answer}]}) + "\n")
        timer = StepTimer()
        train_sft(SFTSettings(data=str(data), output_dir=str(Path(tmp) / "out"), max_steps=TRAIN_STEPS,
                              batch_size=TRAIN_ROWS, save_steps=1000, dtype=dtype), progress=False, callbacks=[timer])
    later = timer.seconds[1:]
    return {"median_step_seconds": round(statistics.median(later), 2), "steps": [round(s, 2) for s in timer.seconds],
            "rows_per_step": TRAIN_ROWS}


def score(dtype: str) -> dict:
    from lengthwise.jobs.demo import DemoSettings, run_demo

    out = WORK / f"score-{dtype}"
    result = run_demo(out, DemoSettings.default(training={"model.dtype": dtype}), progress=True, train=False)
    return {"S_l": round(result.before.mean_S_l, 2), "n": len(result.before.rows), "rows": str(out / "before.jsonl")}


CHILDREN = {"decode": decode, "train": train_step, "score": score}


def run_child(mode: str, dtype: str) -> dict:
    """``mode`` for ``dtype`` in a fresh process under ``/usr/bin/time -v``; its figures plus peak RSS."""
    WORK.mkdir(parents=True, exist_ok=True)
    result_file = WORK / f"{mode}-{dtype}.json"
    result_file.unlink(missing_ok=True)
    command = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", mode, dtype, str(result_file)]
    started = time.perf_counter()
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    if done.returncode != 0:
        sys.exit(f"{mode} {dtype} failed:\n{done.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    figures = json.loads(result_file.read_text())
    figures.update(peak_rss_gb=round(int(peak.group(1)) / 1024**2, 2) if peak else None,
                   wall_seconds=round(time.perf_counter() - started, 1))
    print(f"  {mode:6s} {dtype:8s} {figures}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DTYPE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, dtype, out = args.child
        Path(out).write_text(json.dumps(CHILDREN[mode](dtype)))
        return

    import torch

    from lengthwise.jobs.demo import gain_intervals
    from lengthwise.models import cpu_supports_bf16

    native = cpu_supports_bf16()
    modes = ["decode", "train"] + (["score"] if os.environ.get("DTYPE_SCORE", "1") != "0" else [])
    measured = {mode: {dtype: run_child(mode, dtype) for dtype in DTYPES} for mode in modes}
    decode_ratio = measured["decode"]["bfloat16"]["tokens_per_second"] / measured["decode"]["float32"][
        "tokens_per_second"]
    step_ratio = measured["train"]["float32"]["median_step_seconds"] / measured["train"]["bfloat16"][
        "median_step_seconds"]
    figures: dict = {"bf16_native": native, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                     "threads": 2, "decode_speedup": round(decode_ratio, 2), "train_step_speedup": round(step_ratio, 2),
                     **measured}
    summary = f"bf16 vs fp32: decode {decode_ratio:.2f}x, LoRA train step {step_ratio:.2f}x"
    if "score" in measured:
        from lengthwise.io import read_jsonl

        fp32, bf16 = (read_jsonl(measured["score"][d]["rows"]).rows for d in DTYPES)
        figures["score_bf16_minus_fp32"] = gain_intervals(fp32, bf16)
        diff = figures["score_bf16_minus_fp32"]["S_l"]
        summary += (f"; untrained held-out S_l {measured['score']['float32']['S_l']} fp32 vs "
                    f"{measured['score']['bfloat16']['S_l']} bf16 (difference {diff['mean']:+.1f}, "
                    f"CI {diff['low']:+.1f} to {diff['high']:+.1f})")
    else:
        carry_score(figures, RESULTS_FILE)
    goals = {"decode_speedup": goal(decode_ratio, ">= 1.5"),
             "train_step_speedup": goal(step_ratio, ">= 1.5")} if native else {}
    write_results("dtype", goals, figures, summary)


def carry_score(figures: dict, results_file: Path) -> None:
    """A speed-only run (DTYPE_SCORE=0) keeps the score figures of the run that measured them, with its commit
    and date, instead of dropping them."""
    if not results_file.exists():
        return
    old = json.loads(results_file.read_text())
    previous = old.get("figures", {})
    if "score" not in previous:
        return
    figures["score"] = previous["score"]
    figures["score_bf16_minus_fp32"] = previous["score_bf16_minus_fp32"]
    figures["score_carried_from"] = previous.get("score_carried_from") or {
        "commit": old.get("commit"), "date": old.get("date"), "why": "a speed-only run (DTYPE_SCORE=0)"}


if __name__ == "__main__":
    main()
