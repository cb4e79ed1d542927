"""``lengthwise demo``: the embedded SmolLM2-135M learns to follow requested lengths, on a CPU.

Resumable phases in one run folder:

1. ``before``: greedy single-pass answers of the untrained model to held-out prompts (``before.jsonl``);
2. ``warm`` (optional, default on): fine-tune on the model's own answers cut to the requested lengths
   (``jobs/writing_warmstart.py``, ``warm/``), merged into the weights RL starts from;
3. ``train``: GRPO + LoRA on TRL's ``GRPOTrainer`` over the built-in training prompts (``train/``);
4. ``after``: the same held-out prompts, seeds and budgets, answered by the trained adapter;
5. ``report``: ``summary.json`` and ``report.html`` (before/after tables, the required-vs-produced
   plot, the training curves, samples).

Rerunning the same command skips finished phases and resumes an interrupted one (generation is
append-only by id; training resumes from its last checkpoint).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from lengthwise.errors import ConfigError
from lengthwise.io import atomic_write_json, read_jsonl, write_jsonl
from lengthwise.jobs.demo_scores import PhaseScores, demo_table_rows, gain_intervals
from lengthwise.jobs.writing_warmstart import WritingWarmStart
from lengthwise.prompts import length_grid
from lengthwise.records import load_prompts
from lengthwise.training.config import DataConfig, ModelConfig, TrainConfig
from lengthwise.training.memory import release_memory

__all__ = ["DEMO_LENGTHS", "DemoSettings", "DemoResult", "demo_train_config", "run_demo", "demo_table_rows",
           "gain_intervals"]

# Targets a 135M model can reach inside a CPU budget; the held-out prompts use the same grid, on
# topic × genre pairs the training split never sees.
DEMO_LENGTHS = (20, 40, 60, 80, 100, 120)

# The demo's reward stack: S_l itself as the length reward (the metric we report), with the quality
# proxy and the hacking detectors so the cheapest way to hit a length (repetition) does not pay.
DEMO_REWARDS: dict[str, Any] = {
    "counter": "longbench",
    "detectors": {"paraphrase": False},
    "components": [
        # symmetric in the ratio (docs/reference.md §2): RL on S_l, which forgives overshoot, lengthened answers
        # the warm start had right (40-word requests: 39 -> 60 words in 4 steps)
        {"name": "length", "type": "log_ratio", "weight": 1.0},
        {"name": "quality", "type": "quality", "weight": 0.25, "params": {"scorer": "proxy"}},
    ],
}


def demo_training(output_dir: str = "runs/demo/train") -> TrainConfig:
    """What the demo's RL stage trains (the same recipe as examples/cpu-demo.yaml): GRPO + LoRA on the
    built-in English training tasks over the demo's length grid, on top of the warm start."""
    return TrainConfig(
        output_dir=output_dir,
        model=ModelConfig(lora=True, lora_r=16, lora_alpha=32),
        data=DataConfig(builtin_n=96, lengths=list(DEMO_LENGTHS), languages=["en"], think=False),
        # GRPO's sequence mean of token means: every answer weighs the same. On the warm start, LUSPO (each
        # answer's loss scaled by its length) let the long-target groups drive the update and lengthened the
        # 20/40-word answers: RL stage +1.6 S_l (CI -0.8..+4.0) vs +3.4 (CI +1.1..+5.9) with GRPO, same start
        # and seed (benchmarks/results/demo.json, attempts). LUSPO's case is long outputs, where GSPO shrinks them.
        preset="grpo",
        rewards=DEMO_REWARDS,
        advantage="normalize_then_sum",
        num_generations=4,
        # 2 completions per pass, 8 passes per step: one step learns from 4 prompts x G = 16 completions
        # generated together, at the memory of 2 (benchmarks/results/rl_step.json)
        per_device_batch_size=2,
        gradient_accumulation_steps=8,
        # RL refines a warm start that already reads the number: a few steps (10 on a 2-epoch warm start
        # added +6.5 S_l, mostly at 80-120 words, and lengthened the short answers); 4 steps take ~2 minutes
        max_steps=4,
        learning_rate=2e-4,
        # a light KL term to the warm start (the reference = the adapter disabled = the merged warm start)
        beta=0.02,
        # 256 tokens ≈ 190 words: room for 1.5x the longest target, so overshooting is seen and penalised
        max_completion_length=256,
        temperature=1.0,
        save_steps=4,
        logging_steps=1,
    )


def with_changes(config: TrainConfig, changes: dict[str, Any]) -> TrainConfig:
    """``config`` with dotted-key changes applied (``{"model.name": …, "max_steps": 2}``)."""
    config = copy.deepcopy(config)
    for key, value in changes.items():
        target = config
        *path, name = key.split(".")
        for part in path:
            target = getattr(target, part)
        if not hasattr(target, name):
            raise ConfigError(f"demo training has no setting {key!r}")
        setattr(target, name, value)
    return config


@dataclass
class DemoSettings:
    """What the demo runs: ``training`` (a ``TrainConfig``, the single source of every training
    setting: model, preset, steps, seed, device…) and how the held-out measurement is made."""

    training: TrainConfig = field(default_factory=demo_training)
    # the whole held-out grid (222 prompts): a standard error near 2 S_l points, small enough to see a
    # 5-point effect; greedy decoding, so numerics and sampling do not move the figure
    n_prompts: int | None = None
    eval_max_tokens: int = 320
    # greedy rows leave the batch as they end (backends.pruned_decode), so a large batch pays: 222 prompts took
    # 83 s (untrained) / 63 s (trained) at 112 vs ~240 s at 8 (benchmarks/results/demo.json)
    eval_batch_size: int = 112
    # extra measurements at T = 0.7, one per seed, reported beside the greedy figure (0: none)
    sampled_seeds: int = 0
    # fine-tune on the model's own answers cut to the requested lengths before RL (None: RL from the
    # untrained model); ``measure_warm`` also measures the warm-started model (what RL adds on top)
    warm: WritingWarmStart | None = field(default_factory=WritingWarmStart)
    measure_warm: bool = False
    # each phase that loads a model runs in a fresh process (jobs.isolated): a phase's heap is not carried into
    # the next (RL after fine-tuning in one process peaked at 4.2 GB, 2.2 GB alone)
    isolate_phases: bool = True

    @classmethod
    def quick(cls, training: dict[str, Any] | None = None, **overrides: Any) -> DemoSettings:
        """A smoke run: 8 prompts, 2 short steps."""
        changes = {"max_steps": 2, "max_completion_length": 96, "data.builtin_n": 16, **(training or {})}
        values: dict[str, Any] = dict(n_prompts=8, eval_max_tokens=128,
                                      warm=WritingWarmStart(tasks=8, max_new_tokens=96, batch_size=8, epochs=1.0))
        values.update(overrides)
        return cls(training=with_changes(demo_training(), changes), **values)

    @classmethod
    def default(cls, training: dict[str, Any] | None = None, **overrides: Any) -> DemoSettings:
        return cls(training=with_changes(demo_training(), training or {}), **overrides)

    def check(self) -> None:
        problems = self.training.problems()
        if self.n_prompts is not None and self.n_prompts < 2:
            problems.append(f"prompts must be >= 2, got {self.n_prompts}")
        if self.sampled_seeds < 0:
            problems.append(f"sampled seeds must be >= 0, got {self.sampled_seeds}")
        if self.warm is not None:
            problems.extend(self.warm.check())
        if problems:
            raise ConfigError("; ".join(problems))


def demo_train_config(settings: DemoSettings, output_dir: str | os.PathLike) -> TrainConfig:
    """The training half of the demo, writing to ``output_dir``."""
    config = copy.deepcopy(settings.training)
    config.output_dir = str(output_dir)
    config.save_steps = max(1, min(config.save_steps, config.max_steps))
    return config.validate()


def heldout_prompts(n: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Held-out English writing tasks (never in the training split) at every target of the demo's
    grid: 37 tasks × 6 targets = 222 prompts, or the first ``n`` (balanced over targets)."""
    rows = length_grid("heldout", DEMO_LENGTHS, seed=seed)
    return rows if n is None else rows[:n]


@dataclass
class DemoResult:
    out_dir: Path
    before: PhaseScores
    after: PhaseScores | None
    report: Path | None
    seconds: float
    phase_seconds: dict[str, float]
    sampled: dict[str, Any] | None = None

    @property
    def rows(self) -> list[dict[str, Any]]:
        return (self.after or self.before).rows

    @property
    def mean_S_l(self) -> float:
        return (self.after or self.before).mean_S_l

    @property
    def gain(self) -> dict[str, Any] | None:
        """The S_l gain with its paired-bootstrap interval (``None`` before training)."""
        return gain_intervals(self.before.rows, self.after.rows) if self.after else None


def _measure(out: Path, name: str, records, model: str | None, settings: DemoSettings, progress: bool,
             temperature: float = 0.0, seed: int | None = None, loaded: dict | None = None) -> PhaseScores:
    """Answers of ``model`` to ``records`` in ``out/<name>.jsonl`` (resumable): greedy by default.
    ``loaded``: generators already loaded, by model, reused across measurements of one run."""
    from lengthwise.backends.transformers_backend import TransformersGenerator
    from lengthwise.jobs.generate import GenerateSettings, generate_responses

    path = out / f"{name}.jsonl"
    done = {row.get("id") for row in _rows_if_any(path)}
    todo = [r for r in records if r.id not in done]
    if todo:
        keep = loaded is not None  # the caller reuses the loaded model across measurements
        loaded = {} if loaded is None else loaded
        if model not in loaded:
            loaded[model] = TransformersGenerator.from_pretrained(model, device=settings.training.device,
                                                                  dtype=settings.training.model.dtype,
                                                                  batch_size=settings.eval_batch_size)
        generator = loaded[model]
        gen_settings = GenerateSettings(max_tokens_cap=settings.eval_max_tokens, temperature=temperature,
                                        top_p=0.95 if temperature > 0 else 1.0,
                                        seed=settings.training.seed if seed is None else seed,
                                        chunk=settings.eval_batch_size)
        # every record is passed so each keeps its seed (seed + position) across phases and resumes
        report = generate_responses(records, path, generator, gen_settings, progress=progress)
        del generator
        if not keep:
            loaded.clear()
        release_memory()  # the next phase trains: the decoding buffers go back to the system
        if report.failed:
            raise ConfigError(f"{name}: {report.failed} generations failed ({report.failed_by_reason}); rerun to retry")
    return PhaseScores.of(name, _rows_if_any(path))


def _rows_if_any(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path).rows if path.exists() else []


def run_demo(
    out_dir: str | os.PathLike = "runs/demo",
    settings: DemoSettings | None = None,
    progress: bool = True,
    on_phase: Callable[[str], None] | None = None,
    train: bool = True,
) -> DemoResult:
    """Run (or resume) the demo in ``out_dir``; see the module docstring for the phases. Library
    warnings and logs go to ``out_dir/demo.log``; the terminal keeps one line per phase."""
    from lengthwise.logs import library_output_to

    settings = settings or DemoSettings()
    settings.check()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with library_output_to(Path(out_dir) / "demo.log"):
        return _run_demo(Path(out_dir), settings, progress, on_phase, train)


def _run_demo(out_dir: Path, settings: DemoSettings, progress: bool, on_phase: Callable[[str], None] | None,
              train: bool) -> DemoResult:
    started = time.monotonic()
    say = on_phase or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spent = _Spent(out / "phase_times.json", started)
    phase_seconds = spent.seconds
    prompts_path = out / "prompts.jsonl"
    if not prompts_path.exists():
        write_jsonl(prompts_path, heldout_prompts(settings.n_prompts, seed=settings.training.seed))
    records, _ = load_prompts(prompts_path)

    total = 4 + (train and settings.warm is not None)
    step = iter(range(1, total + 1))
    t = time.monotonic()
    say(f"{next(step)}/{total} measuring the untrained model on {len(records)} held-out prompts")
    phases = _Phases(out, settings.isolate_phases)
    before = phases.measure("before", records, settings.training.model.name, settings, progress)
    spent.add("before", time.monotonic() - t, phases.peak_rss_mb)

    after, warm, warm_data = None, None, None
    train_dir = out / "train"
    config = demo_train_config(settings, train_dir)
    if train and settings.warm is not None:
        from lengthwise.jobs.writing_warmstart import warm_start_writing

        t = time.monotonic()
        say(f"{next(step)}/{total} warm start: fine-tuning on the model's own answers cut to the requested lengths")
        warmed = phases.run("warm", warm_start_writing, out / "warm", config.data.lengths,
                            settings.training.model.name, settings.warm, settings.training.device,
                            settings.training.model.dtype, seed=settings.training.seed, progress=progress, say=say)
        config.model.name = str(warmed.model)  # RL trains its own adapter on the merged warm start
        warm_data = {"samples": warmed.samples, "examples": warmed.examples, "dropped": warmed.dropped,
                     "seconds": warmed.seconds}
        spent.add("warm", time.monotonic() - t, phases.peak_rss_mb)
        if settings.measure_warm:
            t = time.monotonic()
            warm = phases.measure("warm_measure", records, str(warmed.model), settings, progress, name="warm")
            spent.add("warm_measure", time.monotonic() - t, phases.peak_rss_mb)
    if train:
        t = time.monotonic()
        final = train_dir / "final"
        if not (final / "adapter_config.json").exists():
            say(f"{next(step)}/{total} training {config.max_steps} steps of {config.preset} + LoRA "
                f"(r={config.model.lora_r}) on {config.data.builtin_n} training prompts")
            phases.run("train", _train, config, progress)
        else:
            next(step)
            say("   training already finished; reusing train/final")
        spent.add("train", time.monotonic() - t, phases.peak_rss_mb)

        t = time.monotonic()
        say(f"{next(step)}/{total} measuring the trained model on the same held-out prompts")
        after = phases.measure("after", records, str(final), settings, progress)
        spent.add("after", time.monotonic() - t, phases.peak_rss_mb)

    sampled = None
    if after is not None and settings.sampled_seeds:
        t = time.monotonic()
        say(f"   sampled figure: T = 0.7, {settings.sampled_seeds} seed(s), before and after")
        sampled = phases.run("sampled", _sampled_gain, out, records, str(final), settings, progress)
        spent.add("sampled", time.monotonic() - t, phases.peak_rss_mb)

    t = time.monotonic()
    say(f"{next(step)}/{total} writing the report")
    from lengthwise.evaluation.report import build_demo_report

    summary = {
        "model": settings.training.model.name or "SmolLM2-135M-Instruct (embedded)",
        "counter": "longbench",
        "settings": _summary_settings(settings),
        "rewards": settings.training.rewards,
        "before": before.as_dict(),
        "after": after.as_dict() if after else None,
        "delta_S_l": round(after.mean_S_l - before.mean_S_l, 2) if after else None,
        "gain": gain_intervals(before.rows, after.rows) if after else None,
        "warm": {**warm.as_dict(), "gain": gain_intervals(before.rows, warm.rows),
                 "rl_gain": gain_intervals(warm.rows, after.rows) if after else None} if warm else None,
        "warm_start_data": warm_data,
        "decoding": "greedy",
        "sampled": sampled,
    }
    report = build_demo_report(out, before.rows, after.rows if after else None, summary,
                               metrics_path=train_dir / "metrics.jsonl")
    spent.add("report", time.monotonic() - t, phases.peak_rss_mb)
    seconds = spent.total
    summary.update(phase_seconds=phase_seconds, seconds=round(seconds, 1), report=report.name,
                   phase_peak_rss_mb=spent.peak_rss_mb)
    atomic_write_json(out / "summary.json", summary)
    return DemoResult(out, before, after, report, seconds, phase_seconds, sampled)


class _Spent:
    """Wall-clock seconds and peak memory per phase, counted over every run of the same folder: a rerun that
    finds phases done adds ~0 s to them and keeps their peaks, so ``summary.json`` reports what the demo cost,
    not what the last call did. Saved after each phase (``phase_times.json``); the part of a phase a kill
    interrupted is not counted."""

    def __init__(self, path: Path, started: float):
        self.path, self.started = path, started
        saved = json.loads(path.read_text()) if path.exists() else {}
        self.seconds: dict[str, float] = dict(saved.get("seconds", {}))
        self.peak_rss_mb: dict[str, float] = dict(saved.get("peak_rss_mb", {}))
        self._earlier_total = float(saved.get("total", 0.0))
        self.total = self._earlier_total

    def add(self, phase: str, seconds: float, peaks: dict[str, float]) -> None:
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + seconds, 1)
        for name, mb in peaks.items():
            self.peak_rss_mb[name] = max(mb, self.peak_rss_mb.get(name, 0.0))
        self.total = self._earlier_total + time.monotonic() - self.started
        atomic_write_json(self.path, {"seconds": self.seconds, "peak_rss_mb": self.peak_rss_mb,
                                      "total": round(self.total, 1)})


class _Phases:
    """Runs the demo's phases, each in a fresh process when ``isolate`` (jobs.isolated), and keeps each one's
    peak memory: the child's own peak plus what this process held meanwhile (both were resident at once)."""

    def __init__(self, out: Path, isolate: bool):
        self.out, self.isolate = out, isolate
        self.peak_rss_mb: dict[str, float] = {}

    def run(self, phase: str, fn: Callable[..., Any], *args: Any, say: Callable[[str], None] | None = None,
            **kwargs: Any) -> Any:
        if not self.isolate:
            result = fn(*args, **kwargs, **({"say": say} if say is not None else {}))
            release_memory()  # the next phase loads its own model: this one's buffers go back to the system
            return result
        from lengthwise.jobs.isolated import run_isolated

        done = run_isolated(fn, *args, say=say, log_path=self.out / "demo.log", **kwargs)
        self.peak_rss_mb[phase] = round(done.peak_rss_mb + done.parent_rss_mb, 1)
        return done.result

    def measure(self, phase: str, records, model: str | None, settings: DemoSettings, progress: bool,
                name: str | None = None) -> PhaseScores:
        name = name or phase
        done = {row.get("id") for row in _rows_if_any(self.out / f"{name}.jsonl")}
        if all(r.id in done for r in records):  # nothing to generate: no process, no model
            return PhaseScores.of(name, _rows_if_any(self.out / f"{name}.jsonl"))
        return self.run(phase, _measure, self.out, name, records, model, settings, progress)


def _train(config: TrainConfig, progress: bool) -> None:
    from lengthwise.training.trainer import train

    train(config, progress=progress)


def _sampled_gain(out: Path, records, trained: str, settings: DemoSettings, progress: bool) -> dict[str, Any]:
    """Before/after at T = 0.7 for each seed; the gain's interval pairs each prompt's seed-averaged
    scores."""
    from lengthwise.stats import paired_bootstrap_ci

    means: dict[str, list[float]] = {"before": [], "after": []}
    per_prompt: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    loaded: dict = {}  # each model loads once for all its seeds
    for k in range(settings.sampled_seeds):
        seed = settings.training.seed + 1000 * (k + 1)
        for phase, model in (("before", settings.training.model.name), ("after", trained)):
            scores = _measure(out, f"{phase}_sampled_{k}", records, model, settings, progress, 0.7, seed, loaded)
            means[phase].append(round(scores.mean_S_l, 2))
            for row in scores.rows:
                if row.get("S_l") is not None:
                    per_prompt[phase].setdefault(row["id"], []).append(row["S_l"])
    ids = sorted(set(per_prompt["before"]) & set(per_prompt["after"]))
    ci = paired_bootstrap_ci([mean(per_prompt["before"][i]) for i in ids], [mean(per_prompt["after"][i]) for i in ids])
    return {"temperature": 0.7, "seeds": settings.sampled_seeds, "S_l_before": means["before"],
            "S_l_after": means["after"], "gain": ci.as_dict()}


def _summary_settings(settings: DemoSettings) -> dict[str, Any]:
    """The recipe as the report shows it: the training settings (without the reward stack, kept
    apart) and the measurement's."""
    training = settings.training.as_dict()
    training.pop("rewards", None)
    return {"steps": settings.training.max_steps, "preset": settings.training.preset,
            "lora_r": settings.training.model.lora_r, "learning_rate": settings.training.learning_rate,
            "num_generations": settings.training.num_generations, "n_prompts": settings.n_prompts,
            "sampled_seeds": settings.sampled_seeds,
            "eval_max_tokens": settings.eval_max_tokens, "eval_batch_size": settings.eval_batch_size,
            "training": training}
