"""P: one GRPO step of the demo recipe, timed by part, and the peak memory of the process.

The demo's step (LUSPO + LoRA r16 on TRL's GRPOTrainer, the demo's reward stack) at the size the
issue names: 8 prompts × 4 completions × ≤ 192 tokens, embedded SmolLM2-135M, 2 CPU cores. Each step is
split into TRL's own parts by timing its methods: generation (``_generate``), rewards
(``_calculate_rewards``), log-prob forward passes (``_get_per_token_logps_and_entropies``), and the
rest of ``training_step`` (loss, backward, optimizer). Peak RSS comes from ``/usr/bin/time -v`` around a
child run of this file. The first step pays one-time costs (weights, caches), so the goal is on the
later steps' median.

Run: python benchmarks/rl_step.py  [RL_STEP_STEPS=3] [RL_STEP_VARIANT=name …]
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import goal, write_results  # noqa: E402

STEPS = int(os.environ.get("RL_STEP_STEPS", "3"))

# Variants: what changes against the demo's step (each one lever, measured in the same run).
VARIANTS: dict[str, dict] = {
    "demo": {},
    # the quality proxy embeds every completion with MiniLM; S_l alone shows what the reward costs
    "length_reward_only": {"rewards": {"counter": "longbench", "components": [
        {"name": "length", "type": "length_score", "weight": 1.0}]}},
}


def _child(variant: str, out: Path) -> None:
    """One training run with the TRL methods timed; writes the timings as JSON to ``out``."""
    from trl import GRPOTrainer

    from lengthwise.jobs.demo import demo_train_config, DemoSettings
    from lengthwise.training.trainer import train

    timings: dict[str, list[float]] = defaultdict(list)

    def timed(cls, name: str, key: str) -> None:
        original = getattr(cls, name)

        def wrapper(self, *args, **kwargs):
            t = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                timings[key].append(time.perf_counter() - t)

        setattr(cls, name, wrapper)

    for name, key in (("_generate", "generation"), ("_calculate_rewards", "rewards"),
                      ("_get_per_token_logps_and_entropies", "logprob_forward"), ("training_step", "training_step")):
        timed(GRPOTrainer, name, key)
    with tempfile.TemporaryDirectory() as tmp:
        changes = {"max_steps": STEPS, "per_device_batch_size": 32, "num_generations": 4,
                   "max_completion_length": 192, "save_steps": 1000, **VARIANTS[variant]}
        config = DemoSettings.default(training=changes).training
        config = demo_train_config(DemoSettings(training=config), Path(tmp) / "train")
        started = time.perf_counter()
        train(config, progress=False)
        total = time.perf_counter() - started
    out.write_text(json.dumps({"timings": timings, "total_seconds": total}))


def _run(variant: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "timings.json"
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, "--child", variant, str(result)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{variant}: child failed\n{proc.stderr[-3000:]}")
        peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
        data = json.loads(result.read_text())
    t = data["timings"]
    steps = t["training_step"]
    # TRL generates once per generation batch (here: every step) inside the first training_step of it
    per_step = []
    for k, step in enumerate(steps):
        gen, rew = t["generation"][k], t["rewards"][k]
        per_step.append({"step_seconds": round(step, 2), "generation": round(gen, 2), "rewards": round(rew, 2),
                         "rest_of_step": round(step - gen - rew, 2)})
    later = [s["step_seconds"] for s in per_step[1:]] or [per_step[0]["step_seconds"]]
    return {"steps": per_step, "median_later_step_seconds": round(statistics.median(later), 2),
            "logprob_forward_calls": len(t["logprob_forward"]),
            "logprob_forward_seconds": round(sum(t["logprob_forward"]), 2),
            "total_seconds": round(data["total_seconds"], 1), "peak_rss_gb": round(peak_kb / 1024 / 1024, 2)}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]))
        return
    chosen = os.environ.get("RL_STEP_VARIANT", ",".join(VARIANTS)).split(",")
    import torch

    figures = {"shape": "8 prompts x 4 completions x <= 192 tokens, LUSPO + LoRA r16, embedded SmolLM2-135M",
               "threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "variants": {}}
    for name in chosen:
        figures["variants"][name] = _run(name)
    demo = figures["variants"].get("demo") or next(iter(figures["variants"].values()))
    goals = {"demo_step_seconds": goal(demo["median_later_step_seconds"], "<= 45"),
             "demo_peak_rss_gb": goal(demo["peak_rss_gb"], "<= 4")}
    parts = demo["steps"][-1]
    write_results("rl_step", goals, figures,
                  f"demo step {demo['median_later_step_seconds']:.1f}s (generation {parts['generation']:.1f}s, rewards "
                  f"{parts['rewards']:.1f}s, rest {parts['rest_of_step']:.1f}s), peak RSS {demo['peak_rss_gb']:.2f} GB")


if __name__ == "__main__":
    main()
