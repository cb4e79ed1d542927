"""P: one GRPO step of the demo recipe, timed by part, and the peak memory of the process.

The demo's step (its preset, GRPO since recipe 5, + LoRA r16 on TRL's GRPOTrainer, the demo's reward
stack) at the size the issue names: 8 prompts × 4 completions × ≤ 192 tokens, embedded SmolLM2-135M, 2 CPU
cores. Each step is split into TRL's own parts by timing its methods: generation (``_generate``), rewards
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
from _common import goal, machine, write_results  # noqa: E402

STEPS = int(os.environ.get("RL_STEP_STEPS", "3"))
# Completions per forward/backward pass. One optimizer step always covers 32 completions (8 prompts x 4),
# generated in one batch; 32 at once held 24 GB and was killed by the kernel (logits over the 49k-token
# vocabulary for every position), so the step is split into micro-batches of MICRO completions: 2, as
# the demo's recipe now does (peak RSS 9.97 GB at 8, 5.87 at 4, 3.63 at 2; the step time does not change).
MICRO = int(os.environ.get("RL_STEP_MICRO", "2"))
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "rl_step.json"

# Variants: what changes against the demo's step (each one lever, measured in the same run).
# "changes": TrainConfig fields; "micro": completions per pass; "env": the child's environment.
VARIANTS: dict[str, dict] = {
    "demo": {},
    # TRL's own generation (generate on the unmerged LoRA policy, torch.multinomial) and full-width log-prob
    # passes: what training/rollout.py and training/trim.py replace on a CPU
    "trl_step": {"changes": {"cpu_step": False}},
    # the demo's earlier micro-batch: 8 completions per pass
    "micro_batch_8": {"micro": 8},
    # fewer sequences per forward/backward pass: the full-vocabulary logits and their gradients shrink
    "micro_batch_4": {"micro": 4},
    # the quality proxy embeds every completion with MiniLM; S_l alone shows what the reward costs
    "length_reward_only": {"micro": 8, "changes": {"rewards": {"counter": "longbench", "components": [
        {"name": "length", "type": "length_score", "weight": 1.0}]}}},
    # glibc gives each thread its own malloc arena and returns little to the kernel
    "malloc_arena_max_2": {"micro": 8, "env": {"MALLOC_ARENA_MAX": "2"}},
    # the demo's KL term off (beta 0.02 since recipe 1): no reference log-prob pass over each micro-batch
    "no_kl": {"changes": {"beta": 0.0}},
    # no malloc_trim after each step (training.callbacks.ReleaseMemory): freed pages stay mapped, no page faults
    "no_release": {"release": False},
    # fp32 weights and no bf16 autocast, on a CPU where the demo would pick bf16 (the dtype comparison)
    "fp32": {"changes": {"model.dtype": "float32"}},
}


def _micro(variant: str) -> int:
    return int(VARIANTS[variant].get("micro", MICRO))


def _child(variant: str, out: Path) -> None:
    """One training run with the TRL methods timed; writes the timings as JSON to ``out``."""
    from trl import GRPOTrainer

    from lengthwise.jobs.demo import DemoSettings, demo_train_config
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

    if VARIANTS[variant].get("release", True) is False:
        from lengthwise.training.callbacks import ReleaseMemory

        ReleaseMemory.on_step_end = lambda self, args, state, control, **kwargs: None
    for name, key in (("_generate", "generation"), ("_calculate_rewards", "rewards"),
                      ("_get_per_token_logps_and_entropies", "logprob_forward"), ("training_step", "training_step")):
        timed(GRPOTrainer, name, key)
    with tempfile.TemporaryDirectory() as tmp:
        micro = _micro(variant)
        changes = {"max_steps": STEPS, "per_device_batch_size": micro, "gradient_accumulation_steps": 32 // micro,
                   "num_generations": 4, "max_completion_length": 192, "save_steps": 1000,
                   **VARIANTS[variant].get("changes", {})}
        config = demo_train_config(DemoSettings.default(training=changes), Path(tmp) / "train")
        started = time.perf_counter()
        train(config, progress=False)
        total = time.perf_counter() - started
        logs = [json.loads(line) for line in (Path(tmp) / "train" / "logs.jsonl").read_text().splitlines()]
    # how long the completions were: trimmed passes and pruned rollouts save only what is shorter than the cap
    lengths = {key: [round(row[key], 3) for row in logs if key in row]
               for key in ("completions/mean_length", "completions/clipped_ratio")}
    out.write_text(json.dumps({"timings": timings, "total_seconds": total, "lengths": lengths}))


def _run(variant: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "timings.json"
        env = {**os.environ, **VARIANTS[variant].get("env", {})}
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, "--child", variant, str(result)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"{variant}: child failed\n{proc.stderr[-3000:]}")
        peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
        data = json.loads(result.read_text())
    t = data["timings"]
    accumulation = 32 // _micro(variant)
    micro = t["training_step"]
    # one optimizer step = `accumulation` training_step calls; TRL generates (and scores) the whole
    # generation batch inside the first of them
    steps = [sum(micro[k:k + accumulation]) for k in range(0, len(micro), accumulation)]
    per_step = []
    for k, step in enumerate(steps):
        gen, rew = t["generation"][k], t["rewards"][k]
        per_step.append({"step_seconds": round(step, 2), "generation": round(gen, 2), "rewards": round(rew, 2),
                         "rest_of_step": round(step - gen - rew, 2)})
    later = [s["step_seconds"] for s in per_step[1:]] or [per_step[0]["step_seconds"]]
    return {"steps": per_step, "median_later_step_seconds": round(statistics.median(later), 2),
            "logprob_forward_calls": len(t["logprob_forward"]),
            "logprob_forward_seconds": round(sum(t["logprob_forward"]), 2),
            "total_seconds": round(data["total_seconds"], 1), "peak_rss_gb": round(peak_kb / 1024 / 1024, 2),
            "micro_batch": _micro(variant), "env": VARIANTS[variant].get("env", {}),
            "completion_mean_tokens": data["lengths"]["completions/mean_length"],
            "completion_clipped_ratio": data["lengths"]["completions/clipped_ratio"],
            "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine()}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]))
        return
    chosen = os.environ.get("RL_STEP_VARIANT", ",".join(VARIANTS)).split(",")
    import torch

    from lengthwise.jobs.demo import DemoSettings

    preset = DemoSettings.default().training.preset
    figures = {"shape": f"8 prompts x 4 completions x <= 192 tokens, the demo's preset ({preset}) + LoRA r16, "
                        "embedded SmolLM2-135M",
               "micro_batch": MICRO, "gradient_accumulation_steps": 32 // MICRO,
               "attempts": ["32 completions per pass (no accumulation): killed by the kernel at 24.1 GB peak RSS "
                            "after 3 min (24 GiB machine)",
                            "2-core AMX Xeon, bf16: 62.6 s (generation 32.7, rest 28.9) -> 46.9 s (generation 26.2, "
                            "rest 20.0) with TRL's tiled LM head replaced on CPU by one bf16 projection "
                            "(training/lm_head.py) and LoRA dropout 0 (dropout over bf16 activations was ~4 s of a "
                            "LoRA SFT step); peak RSS 3.96 -> 3.68 GB",
                            "2026-12-03, recipe 5 (GRPO, KL beta 0.02 to the warm start, log_ratio + quality, 256 "
                            "-> 192 tokens here): 67.7 s (generation 31.5, rest 33.6; 51 log-prob passes, 56 s), "
                            "peak 2.32 GB; without the KL term (no_kl) 62.1 s (34 s of log-prob passes); without "
                            "malloc_trim after each step (no_release) 67.6 s",
                            "same day, same machine: the code of 5610e39 (LUSPO, no KL: the 46.9 s above) measured"
                            " again 80.7 s per step (generation 41-44 s, rest 35-38 s, peak 3.90 GB): today's "
                            "machine or today's freshly resolved packages (transformers 5.24.0, trl 1.16.0, peft "
                            "0.21.2, torch 2.13.0) are ~1.7x slower for this step; recipe 5 is 16 % faster than "
                            "that code here. Not a code regression; goal 45 s not met",
                            "2026-12-03 evening, same machine (cpu_step, on by default): TRL's own path 66.6 s "
                            "(generation 32.1) -> rollouts through backends.pruned_decode with a cheaper sampler "
                            "(torch.multinomial took ~33 ms of each ~110 ms decoding step) and rows leaving as they "
                            "end: generation 21.6 s (55.7 s) -> + the LoRA merged into a plain copy for the rollout "
                            "(the first try still ran the policy: TRL's patched forward closes over the original "
                            "model, the copy must drop it): generation 17.0 s (52.3 s) -> + passes grouped by "
                            "completion length and trimmed to their own width: 50.1 s (rest 32.1) -> + the "
                            "in-place fp32 log-softmax with its own backward (token_logprobs; LM head fwd+bwd "
                            "401 -> 215 ms per 2 x 190 tokens): 42.4 s, then 41.1 s in the run below (peak 3.2 GB: "
                            "the merged copy and the varied pass widths; TRL's path 2.2 GB). micro-batch 4 / 8 "
                            "before the log-softmax change: 46.7 s at 4.1 GB / 55.3 s at 6.2 GB, so 2 stays. Goal "
                            "met. trl_step in the same run uses the new log-softmax too (57.1 s)",
                            "later the same evening: the log-softmax a chunk of rows at a time through one reused "
                            "buffer, exp clamped above the denormal range (no fresh vocabulary-sized fp32 array; "
                            "found profiling the SFT step, benchmarks/dtype.py): 41.1 -> 29.4 s, peak 3.2 -> 3.0 GB; "
                            "TRL's path 57.1 -> 44.7 s; micro-batch 4 28.0 s at 3.4 GB, so 2 stays"],
               "threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "variants": {}}
    old = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    for name, previous in old.get("figures", {}).get("variants", {}).items():
        # variants measured in an earlier run stay, labelled with the machine they ran on
        figures["variants"][name] = {"machine": old.get("machine"), **previous}
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
