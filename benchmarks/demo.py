"""Benchmark (P2): does the default `lengthwise demo` teach the embedded SmolLM2-135M to follow requested
lengths, which stage does it, and is it better than plain TRL at equal training time?

One run, one machine, the demo's 222 held-out prompts (37 tasks x 6 targets), greedy decoding, the same
seeds. Each arm runs in its own process under /usr/bin/time -v (peak RSS):
- untrained: the model as shipped (the demo's own first phase);
- demo (SFT + RL): the default `lengthwise demo`, its warm-started model also measured, so the RL stage's
  own contribution is a paired interval (after RL vs warm start, per prompt);
- SFT only: the same warm start, fine-tuning for the demo's whole training time;
- RL only: the demo's RL (preset + reward stack) from the untrained model, for the demo's training time;
- peer: plain TRL GRPO defaults (one summed reward, TRL's default loss, TRL's own generation and log-prob
  passes: ``cpu_step`` off) from the untrained model, for the same time.
"Training time" is everything between the two measurements: sampling the warm-start data, fine-tuning,
merging, RL. Also: the hack-flag rate (the audit's detectors) before and after.

Run: python benchmarks/demo.py [--arms demo,sft_only,rl_only,peer]; figures in benchmarks/results/demo.json
(--arms "" rewrites them from the arms already run).
A rerun resumes every arm where it stopped (run folders under benchmarks/.work/demo).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import RESULTS, goal, write_results  # noqa: E402

WORK = Path(os.environ.get("DEMO_BENCH_DIR", Path(__file__).resolve().parent / ".work" / "demo"))
ARMS = ("demo", "sft_only", "rl_only", "peer")
# the scaling curve: SFT-only checkpoints after these many minutes of training (issue #13)
CURVE_MINUTES = tuple(float(m) for m in os.environ.get("DEMO_CURVE_MINUTES", "5,10,20,40").split(","))

# Recipes tried in development on this machine (2-core AMX Xeon, bf16, greedy, the 222 held-out prompts unless
# noted); each line: what changed and what it measured. Kept so the figures show the path to the recipe.
ATTEMPTS = [
    "2026-11-22 (AMD EPYC, fp32, 36 prompts at T = 0.7): LUSPO + LoRA r16, lr 5e-4, 12 steps x 2 prompts, no "
    "warm start: S_l 67.0 -> 59.8; plain TRL defaults 61.7",
    "self-relabeled SFT, no cuts (samples without a length, only model-ended ones kept): 4 of 40 samples ended "
    "within 320 tokens; abandoned before measuring",
    "warm start = own answers cut at sentence boundaries to 20..120 words (80 tasks, 386 cuts), LoRA SFT 1 epoch, "
    "lr 2e-4, end weight 1: partial measure (144 of 222) median words 40/54/66/69 at 20/40/60/80 (before "
    "36/76/91/102), S_l +8.3/+3.9/+5.2 at 20/40/60",
    "same, end weight 10: every answer ~20-25 words whatever the request (S_l 20: 81.9 vs 50.1 before; 40: 54.5 vs "
    "59.5; 60: 38.2 vs 64.5); the end token outweighs the continue decisions",
    "same, end weight 3: 20/39/48/51/64/53 words at 20..120, S_l 60.0 (before 63.4); + RL 12 steps (4 prompts x 4, "
    "lr 2e-4, KL 0.02): 42/64/76/82/121/83 words, S_l 70.6, gain +7.2 (CI +3.3..+11.2), RL stage +10.7 "
    "(CI +5.9..+15.6)",
    "end weight 2, 2 epochs at lr 5e-4 (warm start only): 21/43/53/66/69/67 words, S_l 68.9",
    "first full run of this benchmark (recipe 1: warm start 2 epochs, batch 16 per pass, + RL 10 steps), same "
    "held-out prompts: demo 63.4 -> 70.7 (+7.3, CI +2.8..+11.8); its warm start alone 64.3 (the same settings as "
    "the line above, other samples: 21/40/49/57/65/64 words); RL stage +6.5 (CI +3.2..+9.9); at equal training "
    "time (691 s) SFT only 82.0 (+18.7, CI +14.7..+22.6; 3.8 epochs, 17/31/50/71/85/87 words), RL only 66.3 "
    "(+2.9, CI -0.1..+6.0; 17 steps), TRL peer 62.5 (-0.9, CI -4.3..+2.5); hack-flag rate 41.0 -> 23.4 %; "
    "18.9 min; peak RSS 10.2 GB (SFT over 16 answers per pass); SFT-only and RL-only RSS 10.5 / 3.1 GB. "
    "Files: benchmarks/.work/demo/recipe1. Hence recipe 2: 3 epochs, 4 answers per pass, RL 5 steps",
    "second full run (recipe 2: warm start 3 epochs decaying from 5e-4, passes of 4, + RL 5 steps of LUSPO on "
    "S_l + quality): demo 72.8 (+9.4, CI +4.6..+14.2), warm start 71.7, RL stage +1.1 (CI -1.7..+3.9); SFT only "
    "82.0, RL only 66.3, TRL peer 62.5 (the same arms as above); 21.2 min, 5.9 GB. Files: "
    "benchmarks/.work/demo/recipe2",
    "warm start with every optimizer step drawn from one length group (transformers' group_by_length), lr 1e-3 "
    "decaying over 2.5 epochs: every answer ended near 20 words (20/20/22/20/20/22, S_l 31.4); abandoned",
    "warm start at a constant 5e-4 for 3.3 epochs, passes of 2 sorted within each step (training.batching): "
    "20/39/54/71/97/88 words, S_l 83.3 (+19.9, CI +15.8..+24.0), peak RSS 4.4 GB in fine-tuning; + RL 4 steps "
    "of GRPO on S_l + quality: 83.0, RL stage -0.3 (CI -3.0..+2.7): RL lengthened the 40- and 80-word answers "
    "(39 -> 60, 71 -> 91 words) and fixed the 120-word ones (88 -> 103); peak RSS 5.5 GB in RL. Hence RL on a "
    "length reward symmetric in the ratio (log_ratio), freed memory between phases, 2.5 epochs to fit 20 min",
    "third full run's demo arm (recipe 3a: warm start 2.5 epochs at a constant 5e-4, passes of 2, + RL 4 steps "
    "of LUSPO on log_ratio + quality): warm start 62.3 (20/22/41/46/60/58 words: every answer still stops early), "
    "after RL 64.1 (+0.8, CI -4.6..+6.1), RL stage +1.9 (CI -1.3..+5.0); 18.4 min, peak RSS 3.64 GB (both met: "
    "memory released between phases). Files: benchmarks/.work/demo/recipe3a. Hence 3.5 epochs",
    "greedy decoding in batches of 16 instead of 8: 1.3x faster measurement, but 80.3 vs 84.2 S_l on the same "
    "64 prompts (bf16 numerics change with the padding): every figure here decodes in batches of 8",
    "fourth full run (recipe 3: warm start 3.5 epochs at a constant 5e-4 + RL 4 steps of LUSPO on log_ratio + "
    "quality): demo 75.7 (+12.3, CI +7.4..+17.3), warm start 72.4 (answers too short at 80-120 words), RL stage "
    "+3.2 (CI +0.7..+5.9); SFT only 79.0, RL only 64.2, TRL peer 69.5 (870 s each); 21.5 min, 4.32 GB. Files: "
    "benchmarks/.work/demo/recipe3",
    "warm start variants on recipe 3's samples, warm start alone measured (222 prompts, greedy): LoRA on the top 10 "
    "of 30 layers (steps 42 % faster) 59.6, every answer stops early; top 20 layers (14 % faster) with the "
    "decaying end below 73.3; all layers, constant for 75 % of the steps then decaying linearly to 0 "
    "(warmup_stable_decay) 79.6 (20/35/55/68/83/77 words): adopted (recipe 4)",
    "SFT speed levers measured and not adopted: logits for the answer positions only (logits_to_keep) made a pass "
    "over 2 x 200 tokens slower, 0.95 vs 0.83 s (the slice's backward); passes of 4 instead of 2: 6.27 vs 7.16 s "
    "per step but 3.69 vs 3.23 GB over 12 steps; memory released every 2 steps instead of 8: 3.14 vs 3.23 GB at "
    "1 % of the step time (adopted)",
    "RL preset on recipe 4's warm start (same samples, seed, 4 steps; RL and after re-run only): GRPO (sequence "
    "mean of token means) RL stage +3.4 (CI +1.1..+5.9), by target -1.6/+3.0/+5.7/+5.7/+3.1/+4.6 at 20..120, demo "
    "83.0 (+19.6); LUSPO (each answer's loss scaled by its length) +1.6 (CI -0.8..+4.0), -3.2/-4.3 at 20/40: the "
    "long-target groups drove the update and lengthened the short answers. GRPO adopted (recipe 5)",
    "SFT time levers, 24 steps each, alone: passes of 2 8.53 s/step, 3.46 GB; passes of 4 7.14 s/step, 4.17 GB; "
    "malloc's mmap threshold fixed at 1 MB (big buffers returned on free): 8.51 s and 3.34 GB (passes of 2), "
    "9.33 s and 4.04 GB (passes of 4: page faults); the loss from the final hidden states, projecting only the "
    "answer positions in checkpointed chunks (no B x T x V logits): 1 pass alone 2.71 vs 2.95 GB, but inside the "
    "Trainer 7.51 s and 5.0 GB (passes of 4) / 8.38 s and 3.97 GB (passes of 2), more, not less; none adopted. "
    "The in-demo vs standalone step gap (8.7 vs 7.2 s) is the step count, not the process: 12 steps 7.94 s, 24 "
    "steps 8.53 s alone; a generation phase first adds 2.5 %",
    "measurement speed (2026-12-03, later): greedy rows leave the batch as they end (backends.pruned_decode) in "
    "batches of 112: 222 prompts in 83 s untrained / 63 s trained, vs ~240 s in batches of 8 through "
    "transformers' generate (generate at 112: 125 / 123 s, a looping row holds its whole batch; transformers' "
    "continuous batching, generate_batch, ran 72 tok/s on 56 prompts here, slower than one static batch). "
    "Untrained S_l at batch 112: 65.0 (63.4 at batch 8: bf16 numerics), so every arm is re-measured",
    "first run with each phase in its own process and batches of 112 (recipe 5 unchanged): demo 65.0 -> 83.8 "
    "(+18.8, CI +14.8..+22.7), warm start 79.3, RL stage +4.6 (CI +1.9..+7.3); 20.2 min (before 60 s, warm "
    "start 935 s, RL 141 s, after 75 s); peak 7.04 GB, in the after phase: F.linear on generate's strided "
    "last-position view with frozen bf16 weights (the merged model) allocated ~6 GB (torch 2.13 CPU; with "
    "trainable weights or a contiguous input ~20 MB). Fixed by a contiguous input to the output projection "
    "(models.contiguous_head_input): that phase then took 1.2 GB and 46 s. Files: "
    "benchmarks/.work/demo/demo_recipe5_bs112_trap",
    "run of 11:09-11:56 (recipe 5 with the contiguous head): demo 83.8 (+18.8), 19.7 min, 3.96 GB; peer 71.0 "
    "(1105 s, 26 steps); SFT only 78.9 and RL only (LUSPO) 63.1 from recipe 3's run (870 s each, re-measured); "
    "SFT-only curve +3.3/+6.6/+13.9/+15.7/+25.4 at 5/10/14.5/20/40 min. The re-run of every arm at equal time "
    "(this file's figures) replaced it after that machine's work folders were lost",
    "verification after the cheaper RL step (2026-12-03 evening, commit 'token_logprobs: one-array mode', `lengthwise "
    "demo` alone, not the whole benchmark): untrained 65.0 -> 82.0 (+17.0, CI +12.7..+21.4), 19.7 min (warm start 982 "
    "s, RL 79 s), peak 3.85 GB (warm phase + the demo's process; largest process 3.68 GB). Two runs on the way, same "
    "evening, slower machine (greedy decode micro-benchmark 85 vs 76 ms/token at 14:04): before the one-array SFT "
    "loss +15.9 (CI +11.7..+20.2) in 23.1 min, 4.05 GB, and +17.1 (CI +12.8..+21.4) in 20.1 min, 4.11 GB. The arms "
    "above were measured before this change; RL-only and the TRL peer were not re-run (the peer now keeps TRL's own "
    "generation: cpu_step off)",
    "verification after the chunked log-softmax (2026-12-03 late evening, commit 6f6ab4c+, `lengthwise demo` alone): "
    "65.0 -> 82.0 (+17.0, CI +12.7..+21.4, every per-target figure as in the run before), 16.8 min (before 59 s, warm "
    "start 829 s, RL 74 s, after 45 s), 3.91 GB (warm phase + the demo's process; largest process 3.66 GB)",
    "oneDNN kernel cache bounded to 64 entries by the CLI (2026-12-03, 22:12-22:28, `lengthwise demo` alone): 65.0 -> "
    "82.1 (+17.1, CI +12.8..+21.4), 16.1 min (before 60 s, warm start 780 s, RL 77 s, after 44 s), 3.06 GB (warm "
    "phase + the demo's process; largest process 2.81 GB), from 3.91 / 3.66 GB",
]

# Which run each arm's figures come from (the arms are separate processes; a rerun of one arm keeps the others).
ARMS_PROVENANCE = (
    "one run, 2026-12-03 14:04-15:52 (commit 680eff0, nothing else running): demo recipe 5 (GRPO RL), each phase "
    "in its own process, measured in batches of 112 (pruned greedy); then SFT only, RL only (GRPO, the demo's "
    "preset and stack) and the TRL peer, each trained for the demo's training time (warm start + RL) and "
    "measured the same way. The run before (11:09-11:56) had SFT only and RL only from an earlier recipe's "
    "run; its work folders were lost with that machine"
)


def _child(arm: str, result_file: Path) -> None:
    """One arm, in this process (called under /usr/bin/time -v by ``run_arm``)."""
    from lengthwise.jobs.demo import DemoSettings, _measure, run_demo
    from lengthwise.records import load_prompts

    spec = json.loads(os.environ["DEMO_BENCH_SPEC"])
    started = time.monotonic()
    if arm == "demo":
        result = run_demo(WORK / "demo", DemoSettings.default(measure_warm=True), progress=False,
                          on_phase=lambda m: print(f"  demo: {m}", flush=True))
        summary = json.loads((WORK / "demo" / "summary.json").read_text())
        result_file.write_text(json.dumps({"summary": summary, "seconds": round(result.seconds, 1)}))
        return
    records, _ = load_prompts(WORK / "demo" / "prompts.jsonl")
    settings = DemoSettings.default()
    out = WORK / arm
    minutes = spec["train_seconds"] / 60
    if arm == "sft_only":
        result_file.write_text(json.dumps(_sft_curve(out, records, settings, spec, minutes)))
        return
    from lengthwise.jobs.demo import demo_train_config
    from lengthwise.training.trainer import train

    changes = {"max_minutes": minutes, "max_steps": 10_000}
    if arm == "peer":
        # TRL: beta 0 by default; TRL's own generation and log-prob passes (no merged-LoRA rollouts, no trimming)
        changes.update(preset="trl", advantage="sum_then_normalize", beta=0.0, cpu_step=False)
    config = demo_train_config(settings, out / "train")
    for key, value in changes.items():
        setattr(config, key, value)
    if not (out / "train" / "final" / "adapter_config.json").exists():
        train(config.validate(), progress=False)
    trained = time.monotonic() - started
    after = _measure(out, "after", records, str(out / "train" / "final"), settings, progress=False)
    spent = json.loads((out / "train" / "time_spent.json").read_text())
    result_file.write_text(json.dumps({"train_seconds": round(trained, 1), "steps": spent.get("step"),
                                       "rows": str(out / "after.jsonl"), "S_l": round(after.mean_S_l, 2)}))


def _sft_curve(out: Path, records, settings, spec: dict, minutes: float) -> dict:
    """SFT only: the demo's warm start at a constant learning rate for CURVE_MINUTES[-1] minutes of training,
    a checkpoint kept after the demo's training time and after each CURVE_MINUTES; each one measured. Training
    minutes include sampling the warm-start data (as the demo's do), so the marks are in fine-tuning minutes
    less the sampling time."""
    from dataclasses import replace

    from lengthwise.jobs.demo import _measure
    from lengthwise.jobs.writing_warmstart import warm_start_writing

    # the marks are fixed when the run starts (spec.json): a rerun with later CURVE_MINUTES extends the same run
    spec_path = out / "spec.json"
    if spec_path.exists():
        spec = {**spec, **json.loads(spec_path.read_text())}
        minutes = spec["train_seconds"] / 60
    else:
        out.mkdir(parents=True, exist_ok=True)
        spec_path.write_text(json.dumps({k: spec[k] for k in ("train_seconds", "sample_seconds")}))
    sample_minutes = spec["sample_seconds"] / 60
    totals = sorted({round(minutes, 2), *CURVE_MINUTES})
    marks = {total: round(total - sample_minutes, 3) for total in totals}
    warm = replace(settings.warm, epochs=1000.0, lr_scheduler="constant", max_minutes=max(marks.values()),
                   save_steps=50, save_at_minutes=tuple(marks.values()))
    spent_path = out / "warm" / "sft" / "time_spent.json"
    if spent_path.exists() and json.loads(spent_path.read_text())["seconds"] < 60 * max(marks.values()):
        import shutil  # stopped at an earlier last mark: train on from its last checkpoint

        shutil.rmtree(out / "warm" / "sft" / "final", ignore_errors=True)
        shutil.rmtree(out / "warm" / "model", ignore_errors=True)
    started = time.monotonic()
    warm_start_writing(out / "warm", settings.training.data.lengths, None, warm, seed=settings.training.seed,
                       progress=False)
    spent = json.loads((out / "warm" / "sft" / "time_spent.json").read_text())
    curve = {}
    for total, mark in marks.items():
        step = spent["marks"][f"{mark:g}"]
        name = "after" if total == round(minutes, 2) else f"after_{total:g}min"
        scores = _measure(out, name, records, str(out / "warm" / "sft" / f"checkpoint-{step}"), settings,
                          progress=False)
        curve[f"{total:g}"] = {"step": step, "rows": str(out / f"{name}.jsonl"), "S_l": round(scores.mean_S_l, 2)}
        print(f"  sft_only: {total:g} training minutes (step {step}): S_l {scores.mean_S_l:.2f}", flush=True)
    equal = curve[f"{round(minutes, 2):g}"]
    return {"train_seconds": round(60 * minutes, 1), "steps": equal["step"], "rows": equal["rows"],
            "S_l": equal["S_l"], "curve": curve, "total_seconds": round(time.monotonic() - started, 1)}


def run_arm(arm: str, spec: dict) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    result_file = WORK / f"{arm}.result.json"
    result_file.unlink(missing_ok=True)
    command = ["/usr/bin/time", "-v", sys.executable, __file__, "--child", arm, str(result_file)]
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "2", "DEMO_BENCH_SPEC": json.dumps(spec)}
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"arm {arm} failed:\n{done.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    figures = json.loads(result_file.read_text())
    figures.update(peak_rss_gb=round(int(peak.group(1)) / 1024**2, 2) if peak else None,
                   wall_seconds=round(time.perf_counter() - started, 1))
    return figures


def flag_rate(rows_path: Path) -> float:
    """Share of answers the audit flags for a hack (repetition, paraphrase, stuffing), in percent."""
    from lengthwise.jobs.audit import audit_responses

    report = audit_responses(rows_path, progress=False)
    hacks = [i for i in report.items if any(f != "malformed" for f in i["flags"])]
    return 100.0 * len(hacks) / max(1, len(report.items))


def scaling_curve(points: dict, before: list[dict], demo_minutes: float, demo_gain: dict) -> dict:
    """The SFT-only gain after each curve mark (paired CI against the untrained model), plotted beside the
    demo recipe's own point (results/demo_scaling.png); and the first mark that reaches the +15 goal."""
    from lengthwise.evaluation.plots import plot_gain_curve
    from lengthwise.jobs.demo import gain_intervals

    if not points:
        return {}
    gains = {m: gain_intervals(before, rows(Path(p["rows"])))["S_l"] for m, p in points.items()}
    curve = {m: {"step": points[m]["step"], "S_l": points[m]["S_l"], "gain": {k: round(v, 2) for k, v in g.items()
                                                                            if k in ("mean", "low", "high")}}
             for m, g in sorted(gains.items(), key=lambda kv: float(kv[0]))}
    series = {"SFT only (constant learning rate)": [(float(m), g["mean"], g["low"], g["high"])
                                                    for m, g in gains.items()],
              "demo recipe (SFT + RL)": [(demo_minutes, demo_gain["mean"], demo_gain["low"], demo_gain["high"])]}
    plot_gain_curve(series, RESULTS / "demo_scaling.png", goal=15.0)
    reached = [float(m) for m, g in gains.items() if g["mean"] >= 15 and g["low"] >= 10]
    return {"points_by_training_minutes": curve, "plot": "benchmarks/results/demo_scaling.png",
            "first_minutes_reaching_goal": min(reached) if reached else None}


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--child", nargs=2, metavar=("ARM", "RESULT"))
    parser.add_argument("--remeasure", default="", help="arms already trained whose models are measured again "
                        "(their answer files moved aside first); their training figures are kept")
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    from lengthwise.jobs.demo import gain_intervals

    chosen = [a for a in args.arms.split(",") if a]  # --arms "" rewrites the results from finished arms
    old = json.loads((WORK / "arms.json").read_text()) if (WORK / "arms.json").exists() else {}
    arms: dict[str, dict] = dict(old)
    if "demo" in chosen or "demo" not in arms:
        arms["demo"] = run_arm("demo", {})
        print(f"  demo: {arms['demo']['summary']['after']['S_l']} after, {arms['demo']['wall_seconds']} s", flush=True)
    summary = arms["demo"]["summary"]
    phase = summary["phase_seconds"]
    train_seconds = phase.get("warm", 0.0) + phase["train"]
    spec = {"train_seconds": train_seconds, "sample_seconds": summary["warm_start_data"]["seconds"].get("sample", 0)}
    for arm in chosen:
        if arm != "demo":
            arms[arm] = run_arm(arm, spec)
            print(f"  {arm}: S_l {arms[arm]['S_l']}, trained {arms[arm]['train_seconds']} s", flush=True)
        (WORK / "arms.json").write_text(json.dumps(arms, indent=2))
    for arm in [a for a in args.remeasure.split(",") if a]:
        kept = {k: arms[arm][k] for k in ("train_seconds", "steps", "peak_rss_gb") if k in arms[arm]}
        arms[arm] = {**run_arm(arm, spec), **kept, "remeasured": True}
        print(f"  {arm} (re-measured): S_l {arms[arm]['S_l']}", flush=True)
        (WORK / "arms.json").write_text(json.dumps(arms, indent=2))

    before = rows(WORK / "demo" / "before.jsonl")
    after = rows(WORK / "demo" / "after.jsonl")
    demo_gain = summary["gain"]["S_l"]
    rl_gain = summary["warm"]["rl_gain"]["S_l"]
    per_arm = {"untrained": {"S_l": summary["before"]["S_l"], "words_mean": summary["before"]["words_mean"]},
               "demo": {"S_l": summary["after"]["S_l"], "gain": summary["gain"], "train_seconds": train_seconds,
                        "peak_rss_gb": arms["demo"]["peak_rss_gb"], "wall_seconds": arms["demo"]["wall_seconds"]},
               "warm_start_only (the demo's own, measured before its RL)": {"S_l": summary["warm"]["S_l"],
                                                                              "gain": summary["warm"]["gain"]}}
    for arm in ("sft_only", "rl_only", "peer"):
        if arm in arms:
            arm_rows = rows(Path(arms[arm]["rows"]))
            per_arm[arm] = {**{k: arms[arm][k] for k in ("S_l", "train_seconds", "steps", "peak_rss_gb")},
                            "gain": gain_intervals(before, arm_rows), "remeasured": arms[arm].get("remeasured", False)}
    curve = scaling_curve(arms.get("sft_only", {}).get("curve", {}), before, train_seconds / 60, demo_gain)
    peer_S_l = per_arm.get("peer", {}).get("S_l")
    # a rerun of the demo arm in the same folder reuses the untrained model's answers (same model, prompts, greedy
    # decoding): its wall time then carries the before phase's time from the run that measured it
    before_file = WORK / "before_seconds.json"
    if phase["before"] > 5:
        before_file.write_text(json.dumps({"seconds": phase["before"]}))
    before_seconds = json.loads(before_file.read_text())["seconds"] if before_file.exists() else phase["before"]
    demo_wall = (arms["demo"]["summary"]["seconds"] - phase.get("warm_measure", 0.0) - phase["before"]
                 + max(phase["before"], before_seconds))
    # /usr/bin/time -v gives the largest single process; a phase's process and the demo's own (which waits
    # meanwhile) are resident together, so the goal takes the larger of that and the demo's per-phase sums
    phase_peaks = summary.get("phase_peak_rss_mb") or {}
    demo_peak_gb = round(max([arms["demo"]["peak_rss_gb"], *(mb / 1024 for mb in phase_peaks.values())]), 2)
    flags = {"before": round(flag_rate(WORK / "demo" / "before.jsonl"), 1),
             "after": round(flag_rate(WORK / "demo" / "after.jsonl"), 1)}
    goals = {
        "demo_gain_S_l": goal(demo_gain["mean"], ">= 15"),
        "demo_gain_ci_low": goal(demo_gain["low"], ">= 10"),
        "rl_stage_gain_ci_low": goal(rl_gain["low"], ">= 0.01"),
        "demo_minus_peer_S_l": goal(summary["after"]["S_l"] - peer_S_l if peer_S_l is not None else -100.0, ">= 0"),
        "hack_flag_rate_increase_points": goal(flags["after"] - flags["before"], "<= 5"),
        "demo_minutes": goal(demo_wall / 60, "<= 20"),
        "demo_peak_rss_gb": goal(demo_peak_gb, "<= 4"),
    }
    write_results("demo", goals, {
        "heldout_prompts": len(before), "decoding": "greedy", "arms": per_arm,
        "rl_stage_gain": summary["warm"]["rl_gain"], "hack_flag_rate_percent": flags,
        "equal_training_seconds": round(train_seconds, 1), "demo_phase_seconds": phase,
        "demo_phase_peak_rss_mb": phase_peaks, "demo_largest_process_rss_gb": arms["demo"]["peak_rss_gb"],
        "demo_minutes_without_warm_measurement": round(demo_wall / 60, 2),
        "before_phase_seconds_carried": before_seconds if phase["before"] <= 5 else None,
        "warm_start_data": summary["warm_start_data"], "recipe": summary["settings"], "attempts": ATTEMPTS,
        "arms_provenance": ARMS_PROVENANCE,
        "words_after_demo": round(sum(r["words"] for r in after) / len(after), 1),
        "scaling_curve": curve,
    }, f"held-out S_l {summary['before']['S_l']} -> demo {summary['after']['S_l']} "
       f"({demo_gain['mean']:+.1f}, CI {demo_gain['low']:+.1f}..{demo_gain['high']:+.1f}); RL stage "
       f"{rl_gain['mean']:+.1f} (CI {rl_gain['low']:+.1f}..{rl_gain['high']:+.1f}); "
       + ", ".join(f"{a} {per_arm[a]['S_l']}" for a in ("sft_only", "rl_only", "peer") if a in per_arm))


if __name__ == "__main__":
    main()
