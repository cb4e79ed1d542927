"""Benchmark (P2): does the default `lengthwise demo` training teach the embedded SmolLM2-135M to
follow requested lengths, and better than plain TRL defaults?

One run, one machine, same held-out prompts, seeds, steps, LoRA and learning rate for everyone:
- before: the untrained model (shared by both arms: same model, prompts and sampling seeds);
- ours: the demo recipe (LUSPO preset, length + quality rewards z-scored per group then summed);
- peer: plain TRL defaults: one summed reward (TRL's sum_then_normalize is exactly that) and
  TRL's default loss settings (loss_type="dapo", ε = 0.2, no clip-higher);
- also the demo task under the GSPO preset, for the mean-length curves of GSPO vs LUSPO.
Goal: ours improves held-out mean S_l by >= 15 points and beats the peer. Figures in
benchmarks/results/demo.json. Set DEMO_BENCH_STEPS to shorten (default: the demo's steps).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import goal, write_results  # noqa: E402

from lengthwise.io import write_jsonl  # noqa: E402
from lengthwise.jobs.demo import DEMO_LENGTHS, DemoSettings, _measure, demo_train_config, heldout_prompts  # noqa: E402
from lengthwise.metrics import read_metrics  # noqa: E402
from lengthwise.records import load_prompts  # noqa: E402
from lengthwise.training.trainer import train  # noqa: E402

# Earlier recipes measured in development (same machine, same held-out protocol, 24-36 prompts,
# sampling temperature 0.7 for evaluation); kept so the figures show what was tried.
EARLIER_ATTEMPTS = [
    {"recipe": "targets 40-200 words, 24 held-out prompts, luspo, LoRA r16, lr 5e-4, 12 steps, 320 tokens, "
               "gradient checkpointing on", "S_l_before": 67.2, "S_l_after": 68.4},
    {"recipe": "targets 40-200 words, 24 held-out prompts, luspo, LoRA r16, lr 5e-4, 16 steps, 256 tokens",
     "S_l_before": 67.2, "S_l_after": 73.7},
    {"recipe": "targets 20-120 words, 36 held-out prompts, luspo, LoRA r16, lr 5e-4, 16 steps, 256 tokens",
     "S_l_before": 67.0, "S_l_after": 62.8},
]

WORK = Path(os.environ.get("DEMO_BENCH_DIR", Path(__file__).resolve().parent / ".work" / "demo"))


def arm(name: str, settings: DemoSettings, records, **config_changes) -> dict:
    out = WORK / name
    started = time.perf_counter()
    config = replace(demo_train_config(settings, out / "train"), **config_changes).validate()
    train(config)
    train_seconds = time.perf_counter() - started
    after = _measure(out, "after", records, str(out / "train" / "final"), settings, progress=False)
    rows = [r for r in read_metrics(out / "train" / "metrics.jsonl") if r.get("length/words_mean") is not None]
    return {
        "preset": config.preset, "advantage": config.advantage,
        "S_l_after": round(after.mean_S_l, 2), "words_after": round(after.mean_words, 1),
        "train_seconds": round(train_seconds, 1),
        "curve": {"steps": [r["step"] for r in rows],
                  "mean_words": [round(r["length/words_mean"], 1) for r in rows],
                  "mean_tokens": [round(r["completions/mean_length"], 1) for r in rows],
                  "S_l": [round(r.get("length/S_l_mean", 0.0), 1) for r in rows]},
    }


def main() -> None:
    settings = DemoSettings()
    if os.environ.get("DEMO_BENCH_STEPS"):
        settings = DemoSettings.default(training={"max_steps": int(os.environ["DEMO_BENCH_STEPS"])})
    WORK.mkdir(parents=True, exist_ok=True)
    prompts = WORK / "prompts.jsonl"
    if not prompts.exists():
        write_jsonl(prompts, heldout_prompts(settings.n_prompts, seed=settings.training.seed))
    records, _ = load_prompts(prompts)
    before = _measure(WORK, "before", records, settings.training.model.name, settings, progress=False)
    ours = arm("ours", settings, records)
    peer = arm("peer", settings, records, preset="trl", advantage="sum_then_normalize")
    # DEMO_BENCH_GSPO=0 skips the GSPO arm (its curves then come from benchmarks/results/length_drift.json)
    gspo = arm("gspo", settings, records, preset="gspo") if os.environ.get("DEMO_BENCH_GSPO", "1") != "0" else None
    gain, peer_gain = ours["S_l_after"] - before.mean_S_l, peer["S_l_after"] - before.mean_S_l
    write_results(
        "demo",
        goals={
            "heldout_S_l_gain": goal(gain, ">= 15"),
            "ours_minus_peer_S_l": goal(ours["S_l_after"] - peer["S_l_after"], ">= 0.01"),
        },
        figures={
            "steps": settings.training.max_steps,
            "heldout_prompts": len(records),
            "lengths": list(DEMO_LENGTHS),
            "recipe": {"training": settings.training.as_dict(), "n_prompts": settings.n_prompts,
                       "eval_max_tokens": settings.eval_max_tokens},
            "S_l_before": round(before.mean_S_l, 2),
            "words_before": round(before.mean_words, 1),
            "ours": ours,
            "peer_trl_defaults": peer,
            "gspo_same_task": gspo or "not run in this benchmark run (DEMO_BENCH_GSPO=0); see length_drift.json",
            "gain": {"ours": round(gain, 2), "peer": round(peer_gain, 2)},
            "earlier_attempts": EARLIER_ATTEMPTS,
            "mean_words_curve_luspo_vs_gspo": {
                "luspo": ours["curve"]["mean_words"],
                "gspo": gspo["curve"]["mean_words"] if gspo else None,
            },
            "threads": os.environ.get("OMP_NUM_THREADS", "all"),
        },
        summary=(
            f"held-out S_l {before.mean_S_l:.1f} -> ours {ours['S_l_after']:.1f} ({gain:+.1f}), "
            f"peer {peer['S_l_after']:.1f} ({peer_gain:+.1f})" + (f"; gspo {gspo['S_l_after']:.1f}" if gspo else "")
        ),
    )


if __name__ == "__main__":
    main()
