"""P5: bf16 against fp32 on this CPU, in one run: decode speed, a LoRA training step, and the untrained model's score.

Each measurement runs in a child process of its own under ``/usr/bin/time -v`` (peak RSS; no allocator state shared
between the two dtypes), with the project's own code paths and only ``dtype`` changed:

- decode: ``TransformersGenerator`` (what ``demo``, ``eval`` and ``generate`` use), 16 writing prompts in batches
  of 8, greedy, up to 192 new tokens; tokens per second over the timed repeats (after a warm-up);
- train step: ``lengthwise sft``'s trainer (TRL ``SFTTrainer``, LoRA r16, what the warm starts run), 16 rows of
  ~200 tokens per step; the median of the steps after the first;
- score: the demo's held-out measurement of the untrained model (222 prompts, greedy), fp32 vs bf16, with the
  paired-bootstrap interval of the difference: how far numerics alone move the demo's figure;
- demo (``DTYPE_DEMO=1``, ~55 minutes): the whole default demo (same steps, seeds and prompts) with each dtype,
  and its gain with the paired-bootstrap interval: does training in bf16 learn what training in fp32 learns?
  Each run folder resumes (``benchmarks/.work/dtype/demo-<dtype>``), so a finished ``lengthwise demo`` run of
  the same code and settings can be reused as the bf16 arm (``figures.demo.<dtype>.resumed`` says so).

    OMP_NUM_THREADS=2 python benchmarks/dtype.py             # decode, train, score
    DTYPE_SCORE=0 python benchmarks/dtype.py                 # speed only (~5 minutes)
    DTYPE_SCORE=0 DTYPE_SPEED=0 DTYPE_DEMO=1 python benchmarks/dtype.py   # the demo's gain, both dtypes

Goals (on a CPU with native bf16 — AVX512-BF16 or AMX; elsewhere the run records that bf16 is not native and sets
no goal): bf16 decode >= 1.5x fp32's tokens/s, bf16 train step >= 1.5x faster; the demo's gain in bf16 inside the
95 % interval of its gain in fp32.
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


# What moved the train-step ratio, in order (each a full run of this file on the 2-core AMX Xeon)
ATTEMPTS = [
    {"what": "bf16 weights + autocast, TRL's SFT step with the plain CPU head", "train_step_speedup": 1.39},
    {"what": "in-place fp32 log-softmax with its own backward (both dtypes faster: fp32 33.4 -> 24.9 s, bf16 "
             "24.0 -> 18.9 s)", "train_step_speedup": 1.32, "commit": "1426c2a"},
    {"what": "log-softmax a chunk of rows at a time through a reused 16 MB buffer, exp clamped above the denormal "
             "range (profiled: ~6.5 s of a 22 s bf16 step was first-touching fresh 0.5-1 GB arrays, 1.9 s was exp "
             "on denormals); fp32 24.9 -> 18.9 s, bf16 18.9 -> 10.6 s", "train_step_speedup": 1.78,
     "commit": "6f6ab4c"},
]


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


def demo(dtype: str) -> dict:
    from lengthwise.jobs.demo import DemoSettings, gain_intervals, run_demo

    out = WORK / f"demo-{dtype}"
    resumed = (out / "after.jsonl").exists()
    started = time.perf_counter()
    result = run_demo(out, DemoSettings.default(training={"model.dtype": dtype}), progress=True)
    return {"before_S_l": round(result.before.mean_S_l, 2), "after_S_l": round(result.after.mean_S_l, 2),
            "gain": gain_intervals(result.before.rows, result.after.rows)["S_l"],
            # a resumed finished run is timed by the run that made it (its own record), not by this call
            "demo_minutes": None if resumed else round(result.seconds / 60, 2), "resumed_finished_run": resumed,
            "seconds_this_process": round(time.perf_counter() - started, 1), "run": str(out)}


CHILDREN = {"decode": decode, "train": train_step, "score": score, "demo": demo}


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
    speed = os.environ.get("DTYPE_SPEED", "1") != "0"
    modes = ((["decode", "train"] if speed else []) + (["score"] if os.environ.get("DTYPE_SCORE", "1") != "0" else [])
             + (["demo"] if os.environ.get("DTYPE_DEMO", "0") == "1" else []))
    measured = {mode: {dtype: run_child(mode, dtype) for dtype in DTYPES} for mode in modes}
    figures: dict = {"bf16_native": native, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": 2,
                     "attempts": ATTEMPTS, **measured}
    if not speed:
        carry(figures, RESULTS_FILE, ("decode", "train", "decode_speedup", "train_step_speedup"), "speed_carried_from",
              "a run without the speed measurements (DTYPE_SPEED=0)")
    decode_ratio = figures["decode"]["bfloat16"]["tokens_per_second"] / figures["decode"]["float32"][
        "tokens_per_second"]
    step_ratio = figures["train"]["float32"]["median_step_seconds"] / figures["train"]["bfloat16"][
        "median_step_seconds"]
    figures.update(decode_speedup=round(decode_ratio, 2), train_step_speedup=round(step_ratio, 2))
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
        carry(figures, RESULTS_FILE, ("score", "score_bf16_minus_fp32"), "score_carried_from",
              "a run without the score measurement (DTYPE_SCORE=0)")
    if "demo" not in measured:
        carry(figures, RESULTS_FILE, ("demo",), "demo_carried_from", "a run without the demo arms (DTYPE_DEMO=0)")
    goals = {"decode_speedup": goal(decode_ratio, ">= 1.5"),
             "train_step_speedup": goal(step_ratio, ">= 1.5")} if native else {}
    if "demo" in figures and native:
        fp32_gain, bf16_gain = figures["demo"]["float32"]["gain"], figures["demo"]["bfloat16"]["gain"]
        inside = fp32_gain["low"] <= bf16_gain["mean"] <= fp32_gain["high"]
        goals["demo_gain_bf16_inside_fp32_ci"] = goal(float(inside), ">= 1")
        summary += (f"; demo gain bf16 {bf16_gain['mean']:+.1f} vs fp32 {fp32_gain['mean']:+.1f} "
                    f"(CI {fp32_gain['low']:+.1f} to {fp32_gain['high']:+.1f})")
    write_results("dtype", goals, figures, summary)


def carry(figures: dict, results_file: Path, keys: tuple[str, ...], label: str, why: str) -> None:
    """A run that skips a measurement keeps the figures of the run that made it, with its commit and date,
    instead of dropping them."""
    if not results_file.exists():
        return
    old = json.loads(results_file.read_text())
    previous = old.get("figures", {})
    if not all(k in previous for k in keys):
        return
    for k in keys:
        figures[k] = previous[k]
    figures[label] = previous.get(label) or {"commit": old.get("commit"), "date": old.get("date"), "why": why}


if __name__ == "__main__":
    main()
