"""``lengthwise demo --task reasoning``: the embedded SmolLM2-135M learns to reason within a token budget.

The same four resumable phases as the writing demo (``jobs/demo.py``), on verifiable problems:

1. ``before``: greedy answers of the untrained model to held-out problems, each asked at every budget of the grid
   with L1's exact prompt ("Think for N tokens."), lengths in the policy's own tokens (``before.jsonl``);
2. ``train``: LUSPO + LoRA on TRL's ``GRPOTrainer`` with L1's LCPO-exact reward on training problems whose
   budgets are drawn per row (``train/``);
3. ``after``: the same rows answered by the trained adapter;
4. ``report``: ``summary.json`` and ``report.html`` (requested vs produced tokens with y = x, accuracy per budget,
   the learning curves, every answer).

Optionally (``compare_presets``), the same short training under other loss presets from the same seed and
prompts, for the length-per-step and clip-fraction comparison of GSPO, LUSPO and GRPO (``presets/<name>/``).

Rerunning the same command skips finished phases and resumes: answers are appended by id, training resumes.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lengthwise.errors import ConfigError
from lengthwise.io import ResumableJsonl, atomic_write_json, read_jsonl, write_jsonl
from lengthwise.jobs.demo import with_changes
from lengthwise.jobs.reasoning_warmstart import WarmStartSettings, warm_start
from lengthwise.training.config import DataConfig, ModelConfig, TrainConfig

__all__ = ["REASONING_BUDGETS", "REASONING_KINDS", "ReasoningDemoSettings", "ReasoningDemoResult",
           "reasoning_training", "run_reasoning_demo", "budget_table_rows", "answer_cap"]

# The held-out grid: every problem at each budget. Short budgets keep a CPU demo short; a factor of two between
# budgets leaves room to see whether the produced length follows the request.
REASONING_BUDGETS = (32, 64, 128)
# The kinds the untrained 135M model partly solves at level 1 (benchmarks/results/task_levels.json: sums 75%,
# comparisons 50%; the others 0-12%), so accuracy has room to move both ways and the reward has a signal.
REASONING_KINDS = ("sum", "compare")
# Training budgets drawn per row, uniformly, around and between the evaluation grid (L1 draws N per example).
TRAIN_BUDGETS = (24, 160)

# L1's LCPO-exact reward: 1[correct] − α·|n − N|. L1 uses α = 3e-4 for budgets of 100-4000 tokens; the demo's
# budgets are ~25x shorter, so α is scaled up to keep a missed budget as costly relative to a wrong answer.
# Accuracy is logged beside it with weight 0 (a learning curve, not a second reward).
REASONING_REWARDS: dict[str, Any] = {
    "counter": "tokens",
    "detectors": {"paraphrase": False},
    "components": [
        {"name": "lcpo", "type": "lcpo", "weight": 1.0, "params": {"mode": "exact", "alpha": 0.005}},
        {"name": "accuracy", "type": "accuracy", "weight": 0.0},
    ],
}


def answer_cap(budget: int) -> int:
    """The generation cap for a budget of ``budget`` tokens: room to overshoot by half, so overshooting is seen."""
    return int(budget * 1.5) + 32


def reasoning_training(output_dir: str = "runs/demo-reasoning/train") -> TrainConfig:
    """What the reasoning demo trains: LUSPO + LoRA, LCPO-exact, on training problems (written into the run)."""
    return TrainConfig(
        output_dir=output_dir,
        model=ModelConfig(lora=True, lora_r=16, lora_alpha=32),
        data=DataConfig(think=False),
        preset="luspo",
        rewards=REASONING_REWARDS,
        advantage="normalize_then_sum",
        num_generations=4,
        # RL refines a warm start that already does the task: 4 problems x 4 answers a step, a small step size and
        # a KL term to the warm start (the reference = adapter disabled); 2 problems at lr 5e-4 undid it
        per_device_batch_size=8,
        gradient_accumulation_steps=2,
        max_steps=8,
        learning_rate=1e-4,
        beta=0.04,
        max_completion_length=answer_cap(TRAIN_BUDGETS[1]) - 64,  # 208: 1.3x the longest training budget
        temperature=1.0,
        save_steps=2,
        logging_steps=1,
    )


@dataclass
class ReasoningDemoSettings:
    """What the reasoning demo runs: ``training`` (every training setting) and the held-out measurement."""

    training: TrainConfig = field(default_factory=reasoning_training)
    n_problems: int = 30
    budgets: tuple[int, ...] = REASONING_BUDGETS
    kinds: tuple[str, ...] = REASONING_KINDS
    level: int = 1
    n_train: int = 200
    train_budgets: tuple[int, int] = TRAIN_BUDGETS
    eval_batch_size: int = 8
    # extra short runs under these presets (same seed, prompts, steps) for the length-per-step comparison
    compare_presets: tuple[str, ...] = ()
    compare_steps: int = 4
    # fine-tune on the model's own answers relabeled with their lengths before RL (jobs/reasoning_warmstart.py);
    # None trains RL from the untrained model. ``measure_warm`` also measures the warm-started model (attribution)
    warm: WarmStartSettings | None = field(default_factory=WarmStartSettings)
    measure_warm: bool = False

    @classmethod
    def quick(cls, training: dict[str, Any] | None = None, **overrides: Any) -> ReasoningDemoSettings:
        """A smoke run: 4 problems, 2 short steps."""
        changes = {"max_steps": 2, "max_completion_length": 64, **(training or {})}
        values: dict[str, Any] = dict(n_problems=4, n_train=16, budgets=(16, 32), train_budgets=(16, 32),
                                      warm=WarmStartSettings(traces=16, epochs=1.0))
        values.update(overrides)
        return cls(training=with_changes(reasoning_training(), changes), **values)

    @classmethod
    def default(cls, training: dict[str, Any] | None = None, **overrides: Any) -> ReasoningDemoSettings:
        return cls(training=with_changes(reasoning_training(), training or {}), **overrides)

    def check(self) -> None:
        from lengthwise.losses import PRESETS
        from lengthwise.tasks import KINDS, LEVELS

        problems = self.training.problems()
        if self.n_problems < 2:
            problems.append(f"problems must be >= 2, got {self.n_problems}")
        if len(self.budgets) < 2 or any(int(b) < 1 for b in self.budgets):
            problems.append(f"budgets must be two or more positive token counts, got {list(self.budgets)}")
        lo, hi = self.train_budgets
        if not 0 < lo <= hi:
            problems.append(f"training budgets need 0 < lo <= hi, got {self.train_budgets}")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            problems.append(f"unknown task kinds {unknown}; choose from {', '.join(KINDS)}")
        if self.level not in LEVELS:
            problems.append(f"level must be one of {LEVELS}, got {self.level}")
        bad = [p for p in self.compare_presets if p not in PRESETS]
        if bad:
            problems.append(f"unknown presets to compare {bad}; choose from {', '.join(PRESETS)}")
        if self.compare_presets and self.compare_steps < 1:
            problems.append(f"compare steps must be >= 1, got {self.compare_steps}")
        if self.warm is not None:
            problems.extend(self.warm.check())
        if problems:
            raise ConfigError("; ".join(problems))


def heldout_rows(settings: ReasoningDemoSettings) -> list[dict[str, Any]]:
    """Held-out problems (never in the training split), each once per budget of the grid, L1's exact prompt."""
    from lengthwise.tasks import problems, reasoning_rows

    items = problems("heldout", settings.n_problems, kinds=settings.kinds, levels=(settings.level,),
                     seed=settings.training.seed)
    return reasoning_rows(items, settings.budgets, "exact", draw=False)


def train_rows(settings: ReasoningDemoSettings) -> list[dict[str, Any]]:
    """Training problems with a budget drawn per row from ``train_budgets``."""
    from lengthwise.tasks import problems, reasoning_rows

    items = problems("train", settings.n_train, kinds=settings.kinds, levels=(settings.level,),
                     seed=settings.training.seed)
    return reasoning_rows(items, settings.train_budgets, "exact", seed=settings.training.seed, draw=True)


@dataclass
class ReasoningDemoResult:
    out_dir: Path
    before: dict[str, Any]
    after: dict[str, Any] | None
    paired: dict[str, Any] | None
    report: Path | None
    seconds: float
    phase_seconds: dict[str, float]
    presets: dict[str, Any] = field(default_factory=dict)


def measure_answers(path: Path, rows: Sequence[dict[str, Any]], model: str | None, settings: ReasoningDemoSettings,
                    progress: bool, desc: str, loaded: dict | None = None) -> list[dict[str, Any]]:
    """Greedy answers of ``model`` to ``rows`` in ``path`` (append-only by id, resumable), with the produced
    length in the model's tokens; returns every row of the file in the order of ``rows``."""
    from lengthwise.backends.base import GenerationRequest
    from lengthwise.backends.transformers_backend import TransformersGenerator
    from lengthwise.resumable import run_pending

    store = ResumableJsonl(path)
    loaded = {} if loaded is None else loaded

    def work(chunk: list[dict[str, Any]], emit) -> None:
        if model not in loaded:
            loaded[model] = TransformersGenerator.from_pretrained(model, device=settings.training.device,
                                                                  dtype=settings.training.model.dtype,
                                                                  batch_size=settings.eval_batch_size)
        requests = [GenerationRequest(messages=[{"role": "user", "content": r["prompt"]}],
                                      max_new_tokens=answer_cap(int(r["target_tokens"])), temperature=0.0)
                    for r in chunk]
        for row, result in zip(chunk, loaded[model].generate(requests), strict=True):
            emit({**row, "response": result.text, "completion_tokens": result.completion_tokens,
                  "finish_reason": result.finish_reason})

    # one chunk is one batch of one budget, so a batch's cap is its own rows' cap
    run_pending(rows, store, key=lambda r: r["id"], work=work, chunk=settings.eval_batch_size, progress=progress,
                desc=desc, unit="answer", order=lambda r: (r["target_tokens"], r["id"]))
    done = store.done
    return [done[str(r["id"])] for r in rows if str(r["id"]) in done]


def run_reasoning_demo(out_dir: str | os.PathLike = "runs/demo-reasoning",
                       settings: ReasoningDemoSettings | None = None, progress: bool = True,
                       on_phase: Callable[[str], None] | None = None, train: bool = True) -> ReasoningDemoResult:
    """Run (or resume) the reasoning demo in ``out_dir``; see the module docstring for the phases."""
    from lengthwise.logs import library_output_to

    settings = settings or ReasoningDemoSettings()
    settings.check()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with library_output_to(Path(out_dir) / "demo.log"):
        return _run(Path(out_dir), settings, progress, on_phase or (lambda _msg: None), train)


def _fixed_rows(path: Path, build: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows in ``path``, written by ``build`` on the first run: a resumed run measures the same rows."""
    if not path.exists():
        write_jsonl(path, build())
    return list(read_jsonl(path).rows)


def _train_config(settings: ReasoningDemoSettings, out: Path, prompts: Path, **changes: Any) -> TrainConfig:
    config = copy.deepcopy(settings.training)
    config.output_dir = str(out)
    config.data.prompts = str(prompts)
    for key, value in changes.items():
        setattr(config, key, value)
    config.save_steps = max(1, min(config.save_steps, config.max_steps))
    return config.validate()


def _train_once(config: TrainConfig, progress: bool) -> Path:
    from lengthwise.training.trainer import train as run_training

    final = Path(config.output_dir) / "final"
    if not (final / "adapter_config.json").exists() and not (final / "config.json").exists():
        run_training(config, progress=progress)
    return final


def _run(out: Path, settings: ReasoningDemoSettings, progress: bool, say: Callable[[str], None],
         train: bool) -> ReasoningDemoResult:
    from lengthwise.evaluation.reasoning import compare_reasoning, summarize_reasoning
    from lengthwise.manifest import check_run
    from lengthwise.training.trainer import last_checkpoint

    started = time.monotonic()
    phase_seconds: dict[str, float] = {}
    # what the rows and their answers depend on: a rerun with other settings must not mix into this folder
    check_run(out / "manifest.json", [], {
        "model": settings.training.model.name, "seed": settings.training.seed, "n_problems": settings.n_problems,
        "budgets": list(settings.budgets), "kinds": list(settings.kinds), "level": settings.level,
        "n_train": settings.n_train, "train_budgets": list(settings.train_budgets),
        "warm": asdict(settings.warm) if settings.warm else None},
        [out / "prompts.jsonl", out / "train_prompts.jsonl", out / "before.jsonl", out / "after.jsonl",
         out / "warm" / "samples.jsonl"])
    rows = _fixed_rows(out / "prompts.jsonl", lambda: heldout_rows(settings))
    train_prompts = out / "train_prompts.jsonl"
    _fixed_rows(train_prompts, lambda: train_rows(settings))

    t = time.monotonic()
    n_items = len({r["question"] for r in rows})
    total = 4 + (settings.warm is not None and train)
    step = iter(range(1, total + 1))
    say(f"{next(step)}/{total} measuring the untrained model: {n_items} held-out problems x budgets "
        f"{list(settings.budgets)}")
    loaded: dict = {}
    before_rows = measure_answers(out / "before.jsonl", rows, settings.training.model.name, settings, progress,
                                  "before", loaded)
    loaded.clear()  # the untrained model is not needed again; free it before training
    phase_seconds["before"] = round(time.monotonic() - t, 1)

    after_rows, warm_rows, start_from, warm_data = None, None, {}, None
    if train and settings.warm is not None:
        t = time.monotonic()
        say(f"{next(step)}/{total} warm start: fine-tuning on solutions restated with the budgets they used")
        warmed = warm_start(out / "warm", list(read_jsonl(train_prompts).rows), settings.training.model.name,
                            settings.warm, settings.training.device, progress=progress, seed=settings.training.seed,
                            say=say)
        start_from = {"model": replace(settings.training.model, name=str(warmed.model))}
        warm_data = {"samples": warmed.samples, "rows": warmed.examples, "solver_rows": warmed.solver_rows}
        if settings.measure_warm:
            warm_rows = measure_answers(out / "warm.jsonl", rows, str(warmed.model), settings, progress, "warm",
                                        loaded)
            loaded.clear()
        phase_seconds["warm"] = round(time.monotonic() - t, 1)

    train_dir = out / "train"
    if train:
        t = time.monotonic()
        config = _train_config(settings, train_dir, train_prompts, **start_from)
        resume = last_checkpoint(train_dir)
        resuming = f"resuming from {resume.name}: " if resume else ""
        say(f"{next(step)}/{total} {resuming}training {config.max_steps} steps of {config.preset} + LoRA "
            f"(r={config.model.lora_r}), LCPO-exact on {settings.n_train} training problems, budgets "
            f"{settings.train_budgets[0]}-{settings.train_budgets[1]} tokens")
        final = _train_once(config, progress)
        phase_seconds["train"] = round(time.monotonic() - t, 1)

        t = time.monotonic()
        say(f"{next(step)}/{total} measuring the trained model on the same rows")
        after_rows = measure_answers(out / "after.jsonl", rows, str(final), settings, progress, "after", loaded)
        loaded.clear()
        phase_seconds["after"] = round(time.monotonic() - t, 1)

    presets: dict[str, Any] = {}
    if settings.compare_presets:
        t = time.monotonic()
        presets = _compare_presets(out, settings, train_prompts, progress, say)
        phase_seconds["presets"] = round(time.monotonic() - t, 1)

    t = time.monotonic()
    say(f"{next(step)}/{total} writing the report")
    from lengthwise.evaluation.report import build_reasoning_report

    before = summarize_reasoning(before_rows)
    after = summarize_reasoning(after_rows) if after_rows else None
    paired = compare_reasoning(before_rows, after_rows) if after_rows else None
    warm = summarize_reasoning(warm_rows) if warm_rows else None
    summary = {
        "model": settings.training.model.name or "SmolLM2-135M-Instruct (embedded)",
        "task": "reasoning",
        "settings": _summary_settings(settings),
        "rewards": settings.training.rewards,
        "before": _without_items(before),
        "after": _without_items(after) if after else None,
        "paired": paired,
        "decoding": "greedy",
        "presets": presets or None,
        "warm": {**_without_items(warm), "paired": compare_reasoning(before_rows, warm_rows)} if warm else None,
        "warm_start_data": warm_data,
    }
    report = build_reasoning_report(out, before_rows, after_rows, summary,
                                    metrics_path=train_dir / "metrics.jsonl")
    phase_seconds["report"] = round(time.monotonic() - t, 1)
    seconds = time.monotonic() - started
    summary.update(phase_seconds=phase_seconds, seconds=round(seconds, 1), report=report.name)
    atomic_write_json(out / "summary.json", summary)
    return ReasoningDemoResult(out, summary["before"], summary["after"], paired, report, seconds, phase_seconds,
                               presets)


def _compare_presets(out: Path, settings: ReasoningDemoSettings, prompts: Path, progress: bool,
                     say: Callable[[str], None]) -> dict[str, Any]:
    """``compare_steps`` steps under each preset from the same seed and prompts. Two optimizer steps per
    generation round, so the second is off-policy and the clip fractions (by advantage sign) are not trivially 0."""
    from lengthwise.metrics import read_metrics

    result: dict[str, Any] = {}
    steps_per_generation = 2 * settings.training.gradient_accumulation_steps
    for k, preset in enumerate(settings.compare_presets, start=1):
        say(f"   preset comparison {k}/{len(settings.compare_presets)}: {settings.compare_steps} steps of {preset}")
        config = _train_config(settings, out / "presets" / preset, prompts, preset=preset,
                               max_steps=settings.compare_steps, steps_per_generation=steps_per_generation)
        _train_once(config, progress)
        rows = read_metrics(Path(config.output_dir) / "metrics.jsonl")
        result[preset] = [
            {"step": r["step"], "mean_length": r.get("completions/mean_length"),
             "clipped_negative": r.get("clip_ratio/low_mean"), "clipped_positive": r.get("clip_ratio/high_mean"),
             "reward": r.get("reward"), "accuracy": r.get("rewards/accuracy/mean")}
            for r in rows]
    return result


def _without_items(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "items"}


def _summary_settings(settings: ReasoningDemoSettings) -> dict[str, Any]:
    t = settings.training
    return {"steps": t.max_steps, "preset": t.preset, "lora_r": t.model.lora_r, "learning_rate": t.learning_rate,
            "num_generations": t.num_generations, "n_problems": settings.n_problems, "budgets": list(settings.budgets),
            "kinds": list(settings.kinds), "level": settings.level, "n_train": settings.n_train,
            "train_budgets": list(settings.train_budgets), "max_completion_length": t.max_completion_length,
            "answer_cap": "1.5 x budget + 32 tokens", "compare_presets": list(settings.compare_presets),
            "compare_steps": settings.compare_steps, "warm_start": asdict(settings.warm) if settings.warm else None}


def budget_table_rows(result: ReasoningDemoResult) -> list[list[str]]:
    """Rows of the per-budget table the CLI prints: budget, n, tokens before/after, accuracy before/after."""
    def cell(block: dict[str, Any] | None, key: str, scale: float = 1.0, digits: int = 0) -> str:
        if not block or block.get(key) is None:
            return "-"
        value = block[key]["mean"] if isinstance(block[key], dict) else block[key]
        return f"{value * scale:.{digits}f}"

    out = []
    for budget, b in result.before["by_budget"].items():
        a = (result.after or {}).get("by_budget", {}).get(budget)
        out.append([budget, str(b["n"]), cell(b, "mean_produced_tokens"), cell(a, "mean_produced_tokens"),
                    cell(b, "accuracy", 100), cell(a, "accuracy", 100)])
    return out
