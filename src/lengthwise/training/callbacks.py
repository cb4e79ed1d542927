"""Length dynamics per training step, appended to ``metrics.jsonl``, and their plots."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from transformers import TrainerCallback

from lengthwise.io import atomic_write_text, repair_truncated_tail
from lengthwise.metrics import read_metrics  # re-exported: callers that read a run's metrics
from lengthwise.training.memory import release_memory

__all__ = ["LengthDynamicsCallback", "METRIC_PREFIXES", "read_metrics", "ConsoleProgress", "TimeBudget",
           "ReleaseMemory", "quiet_trainer_console"]

# What a row of metrics.jsonl keeps from the trainer's logs: our length telemetry, each reward's
# mean, TRL's truncation rate (completions/clipped_ratio) and clip fractions by advantage sign
# (clip_ratio/low_* for negative advantages, clip_ratio/high_* for positive ones).
METRIC_PREFIXES = ("length/", "rewards/", "components/", "completions/", "clip_ratio/")
METRIC_KEYS = ("loss", "reward", "reward_std", "kl", "entropy", "learning_rate", "grad_norm")


class LengthDynamicsCallback(TrainerCallback):
    """Appends one JSON row per logging step to ``<output_dir>/metrics.jsonl``. On a resumed run,
    rows past the checkpoint's step are dropped first, so no step appears twice."""

    def __init__(self, output_dir: str | os.PathLike):
        self.path = Path(output_dir) / "metrics.jsonl"

    def on_train_begin(self, args, state, control, **kwargs):
        if self.path.exists():
            repair_truncated_tail(self.path)  # a kill -9 during the last append leaves half a line
        rows = read_metrics(self.path)
        kept = [r for r in rows if r.get("step", 0) <= state.global_step]
        if len(kept) != len(rows):
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        row = {"step": state.global_step}
        for key, value in logs.items():
            if key in METRIC_KEYS or key.startswith(METRIC_PREFIXES):
                row[key] = value
        if len(row) == 1:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


# The few numbers a person watches while a run trains; everything else goes to the run folder.
_PROGRESS_KEYS = (("reward", "reward"), ("length/words_mean", "words"), ("length/S_l_mean", "S_l"),
                  ("length/S_c_mean", "S_c"))


class TimeBudget(TrainerCallback):
    """Ends training after the step at which ``minutes`` of training time have passed, counted over resumes
    (``<output_dir>/time_spent.json``), and saves a checkpoint there. Compare recipes at equal wall-clock.
    ``marks``: also save a checkpoint after the step that crosses each of these minutes (recorded as
    ``{"marks": {"5": step, ...}}``), so one run gives the model after 5, 10, 20... minutes of training."""

    def __init__(self, output_dir: str | os.PathLike, minutes: float | None, marks: Sequence[float] = ()):
        self.path = Path(output_dir) / "time_spent.json"
        self.budget = 60.0 * minutes if minutes else float("inf")
        self.marks = sorted(float(m) for m in marks)
        self.reached: dict[str, int] = {}
        self.spent_before = 0.0
        self.started = 0.0

    def spent(self) -> float:
        return self.spent_before + time.monotonic() - self.started

    def on_train_begin(self, args, state, control, **kwargs):
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            self.spent_before = float(saved.get("seconds", 0.0))
            self.reached = {k: int(v) for k, v in (saved.get("marks") or {}).items()}
        self.started = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        seconds = self.spent()
        for mark in self.marks:
            if f"{mark:g}" not in self.reached and seconds >= 60.0 * mark:
                self.reached[f"{mark:g}"] = state.global_step
                control.should_save = True
        atomic_write_text(self.path, json.dumps({"seconds": round(seconds, 1), "step": state.global_step,
                                                 **({"marks": self.reached} if self.marks else {})}) + "\n")
        if seconds >= self.budget:
            control.should_training_stop = True
            control.should_save = True


class ReleaseMemory(TrainerCallback):
    """``training.memory.release_memory`` after every ``every`` optimizer steps of a CPU run: freed blocks of
    each step's new shapes otherwise stay in the process (GPU memory is the caching allocator's business)."""

    def __init__(self, every: int = 1):
        self.every = max(1, every)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every == 0:
            release_memory()


class ConsoleProgress(TrainerCallback):
    """One progress line for the training phase (step, reward, mean words, S_l, S_c) in place of
    the trainer's bar and raw log dicts; every log row goes whole to ``<output_dir>/logs.jsonl``."""

    def __init__(self, output_dir: str | os.PathLike, enabled: bool = True, desc: str = "train"):
        self.log_path = Path(output_dir) / "logs.jsonl"
        self.enabled, self.desc = enabled, desc
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, unit="step",
                        disable=not self.enabled or not state.is_world_process_zero, dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": state.global_step, **logs}, default=str) + "\n")
        shown = {label: f"{logs[key]:.3g}" for key, label in _PROGRESS_KEYS if isinstance(logs.get(key), int | float)}
        if self.bar is not None and shown:
            self.bar.set_postfix(shown, refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def quiet_trainer_console(trainer) -> None:
    """Remove the trainer's own progress bar and its printing of every log dict."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
