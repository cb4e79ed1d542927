"""Supervised fine-tuning on TRL's ``SFTTrainer``: chat JSONL in, a LoRA adapter (or full weights) out.

Input rows are ``{"messages": [..., {"role": "assistant", ...}]}`` — what ``export-sft`` and
``relabel`` write, LongWriter-6k style. Each row becomes a prompt–completion pair (every turn
before the last assistant turn is the prompt), so the loss covers the answer only. The loss
weighting is selectable (``lengthwise.sft_loss``): the mean over all answer tokens of the batch, or
the mean of each answer's own mean. Resumable: a rerun continues from the last checkpoint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lengthwise.errors import ConfigError
from lengthwise.io import keyed_rows, read_jsonl
from lengthwise.sft_loss import SFTWeighting, sft_loss
from lengthwise.values import finite_number_problem

__all__ = ["SFTSettings", "SFTResult", "check_chat_row", "sft_rows", "train_sft"]


@dataclass
class SFTSettings:
    """What ``lengthwise sft`` trains. ``model``: a local folder or hub id (default: the embedded
    SmolLM2-135M-Instruct). ``lora``: train LoRA adapters (else every weight). ``weighting``:
    ``token`` (TRL's mean over all answer tokens) or ``sequence`` (each answer weighs the same)."""

    data: str
    output_dir: str = "runs/sft"
    model: str | None = None
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # see training.config.ModelConfig
    # LoRA on the top ``lora_layers`` decoder layers only (None: every layer): the backward pass stops at the
    # lowest adapted layer, so each step costs less
    lora_layers: int | None = None
    epochs: float = 2.0
    max_steps: int = -1  # > 0 overrides epochs
    max_minutes: float | None = None  # wall-clock budget, counted over resumes (training.callbacks.TimeBudget)
    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 1024
    weighting: SFTWeighting = "token"
    # the end-of-answer token's loss counts this many times (lengthwise.sft_loss): where to stop is
    # what length-following data teaches, and it is one token per answer
    end_weight: float = 1.0
    save_steps: int = 50
    seed: int = 0
    dtype: str | None = None
    # within each optimizer step, answers of similar token length share a pass (training.batching): the
    # same steps as random sampling with less padding
    sort_passes: bool = True
    lr_scheduler: str = "linear"  # any transformers scheduler name: linear, cosine, constant_with_warmup...
    # with ``warmup_stable_decay``: the share of the steps over which the rate decays linearly to 0 at the end
    decay_fraction: float = 0.2
    # also keep a checkpoint after these many minutes of training (``time_spent.json`` maps each to its step)
    save_at_minutes: tuple[float, ...] = ()

    def check(self) -> None:
        problems = []
        for name in ("lora_r", "lora_alpha", "batch_size", "gradient_accumulation_steps", "max_length", "save_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be a whole number >= 1, got {value!r}")
        for name, low, high in (("epochs", 0.0, 1000.0), ("learning_rate", 0.0, 1.0)):
            problem = finite_number_problem(name, getattr(self, name), low, high, low_open=True)
            if problem:
                problems.append(problem)
        problem = finite_number_problem("end_weight", self.end_weight, 0.0, 1000.0, low_open=True)
        if problem:
            problems.append(problem)
        problem = finite_number_problem("lora_dropout", self.lora_dropout, 0.0, 1.0)
        if problem:
            problems.append(problem)
        if self.lora_layers is not None and (isinstance(self.lora_layers, bool) or not isinstance(self.lora_layers, int)
                                             or self.lora_layers < 1):
            problems.append(f"lora_layers must be a whole number >= 1, got {self.lora_layers!r}")
        problem = finite_number_problem("decay_fraction", self.decay_fraction, 0.0, 1.0, low_open=True)
        if problem:
            problems.append(problem)
        if self.max_minutes is not None:
            problem = finite_number_problem("max_minutes", self.max_minutes, 0.0, None, low_open=True)
            if problem:
                problems.append(problem)
        from transformers.trainer_utils import SchedulerType

        if self.lr_scheduler not in {t.value for t in SchedulerType}:
            problems.append(f"lr_scheduler must be one of {sorted(t.value for t in SchedulerType)}, "
                            f"got {self.lr_scheduler!r}")
        if self.weighting not in ("token", "sequence"):
            problems.append(f"weighting must be token or sequence, got {self.weighting!r}")
        if problems:
            raise ConfigError("; ".join(problems))


def check_chat_row(row: dict[str, Any]) -> str | None:
    """The problem with a chat row, or ``None``: a list of ``{role, content}`` turns ending in an
    assistant turn, with at least one turn before it."""
    messages = row.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        return "field 'messages' must be a list of at least two turns (the request and the answer)"
    for k, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                or not isinstance(m.get("content"), str):
            return f"messages[{k}] must be {{role: system|user|assistant, content: string}}"
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        return "the last turn must be a non-empty assistant answer"
    return None


def sft_rows(path: str | os.PathLike, skip_bad: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """TRL's conversational prompt–completion rows from a chat JSONL, and the skipped-row messages."""
    data = read_jsonl(path, check=check_chat_row, skip_bad=skip_bad)
    rows = [{"prompt": r["messages"][:-1], "completion": [r["messages"][-1]]} for _, r in keyed_rows(data, skip_bad)]
    return rows, list(data.skipped)


@dataclass
class SFTResult:
    output_dir: Path
    global_step: int
    resumed_from: Path | None
    examples: int
    skipped: list[str]


def _sft_config(settings: SFTSettings, examples: int):
    import torch
    from trl import SFTConfig

    from lengthwise.models import pick_device, trains_in_bf16

    cuda = torch.cuda.is_available()
    return SFTConfig(
        output_dir=settings.output_dir, num_train_epochs=settings.epochs, max_steps=settings.max_steps,
        learning_rate=settings.learning_rate, per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps, max_length=settings.max_length,
        completion_only_loss=True, logging_steps=1, save_strategy="steps", save_steps=settings.save_steps,
        seed=settings.seed, report_to=[], use_cpu=not cuda, gradient_checkpointing=cuda,
        bf16=trains_in_bf16(pick_device(None), settings.dtype), lr_scheduler_type=settings.lr_scheduler,
        lr_scheduler_kwargs=_scheduler_kwargs(settings, examples),
    )


def _scheduler_kwargs(settings: SFTSettings, examples: int) -> dict[str, Any]:
    """transformers needs the decay of ``warmup_stable_decay`` in steps: ``decay_fraction`` of the run's."""
    import math

    if settings.lr_scheduler != "warmup_stable_decay":
        return {}
    per_step = settings.batch_size * settings.gradient_accumulation_steps
    total = settings.max_steps if settings.max_steps > 0 else math.ceil(settings.epochs * examples / per_step)
    return {"num_decay_steps": max(1, round(settings.decay_fraction * total)), "decay_type": "linear"}


@contextmanager
def _quiet_dataset_bars() -> Iterator[None]:
    from datasets.utils import logging as datasets_logging

    was_on = datasets_logging.is_progress_bar_enabled()
    datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            datasets_logging.enable_progress_bar()


def layer_linear_names(model: Any) -> list[str]:
    """The names of the linear layers inside the decoder layers (``q_proj``, ``up_proj``…): peft selects layers
    (``layers_to_transform``) only with named targets, and what "all-linear" would pick is these."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and ".layers." in name})


def _trainer_class(settings: SFTSettings, end_token_id: int | None):
    """TRL's ``SFTTrainer``, or — for the ``sequence`` weighting or an ``end_weight`` — a subclass whose loss
    is ``lengthwise.sft_loss`` over the model's logits (one forward pass; the Trainer divides it over
    gradient-accumulation steps)."""
    from trl import SFTTrainer

    class SortedPassesTrainer(SFTTrainer):
        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if not settings.sort_passes or dataset is None:
                return super()._get_train_sampler(train_dataset)
            from lengthwise.training.batching import StepSortedSampler

            step = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return StepSortedSampler([len(ids) for ids in dataset["input_ids"]], step, seed=self.args.seed)

    if settings.weighting == "token" and settings.end_weight == 1.0:
        return SortedPassesTrainer

    class WeightedSFTTrainer(SortedPassesTrainer):
        loss_is_scaled_for_ga = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs["labels"]
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False)
            loss = sft_loss(outputs.logits, labels, settings.weighting, end_token_id=end_token_id,
                            end_weight=settings.end_weight)
            return (loss, outputs) if return_outputs else loss

    return WeightedSFTTrainer


def train_sft(settings: SFTSettings, progress: bool = True, skip_bad: bool = False,
              callbacks: Sequence[Any] = ()) -> SFTResult:
    """Train (or resume) ``settings``; the adapter or model lands in ``<output_dir>/final``. ``callbacks``:
    extra ``transformers.TrainerCallback`` objects (e.g. timing or logging)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    from lengthwise.logs import library_output_to
    from lengthwise.models import ensure_loadable, load_tokenizer, pick_device, pick_dtype, resolve_model
    from lengthwise.training.callbacks import ConsoleProgress, ReleaseMemory, TimeBudget, quiet_trainer_console
    from lengthwise.training.lm_head import use_plain_cpu_head
    from lengthwise.training.trainer import last_checkpoint

    settings.check()
    use_plain_cpu_head()
    rows, skipped = sft_rows(settings.data, skip_bad=skip_bad)  # a bad file fails before any model loads
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sft_config.json").write_text(json.dumps(asdict(settings), indent=2) + "\n")
    with library_output_to(out / "train.log"):
        ref = ensure_loadable(resolve_model(settings.model))
        tokenizer = load_tokenizer(ref, padding_side="right")
        model = AutoModelForCausalLM.from_pretrained(ref, dtype=pick_dtype(pick_device(None), settings.dtype))
        peft_config = None
        if settings.lora:
            from peft import LoraConfig

            layers = model.config.num_hidden_layers
            top = None if settings.lora_layers is None else list(range(max(0, layers - settings.lora_layers), layers))
            peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                                     lora_dropout=settings.lora_dropout,
                                     target_modules="all-linear" if top is None else layer_linear_names(model),
                                     layers_to_transform=top, task_type="CAUSAL_LM")
        with _quiet_dataset_bars():  # TRL tokenises the rows with datasets' own bars: ours is the one shown
            trainer = _trainer_class(settings, tokenizer.eos_token_id)(
                model=model, args=_sft_config(settings, len(rows)), train_dataset=Dataset.from_list(rows),
                processing_class=tokenizer, peft_config=peft_config,
                callbacks=[ConsoleProgress(out, enabled=progress, desc="sft"), *callbacks,
                           # every 2 steps: 12 steps of the demo's warm start held 3.14 GB vs 3.23 GB every 8, for
                           # ~1 % of the step time
                           *([ReleaseMemory(every=2)] if pick_device(None) == "cpu" else []),
                           *([TimeBudget(out, settings.max_minutes, settings.save_at_minutes)]
                             if settings.max_minutes or settings.save_at_minutes else [])],
            )
        quiet_trainer_console(trainer)
        resume = last_checkpoint(out)
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        trainer.save_model(str(out / "final"))
        tokenizer.save_pretrained(str(out / "final"))
    return SFTResult(out, trainer.state.global_step, resume, len(rows), skipped)
