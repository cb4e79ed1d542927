"""Build TRL's GRPOTrainer from a ``TrainConfig`` and run it, resuming from the last checkpoint.

Build → run → report: the RL loop is TRL's; this module only translates our config (preset →
``GRPOConfig`` settings, reward stack → ``reward_funcs``/``reward_weights``, LoRA → ``peft_config``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lengthwise.advantages import COMBINATIONS
from lengthwise.evaluation.plots import plot_training_curves
from lengthwise.losses import get_preset
from lengthwise.rewards.stack import RewardStack
from lengthwise.training.batching import SortedPasses
from lengthwise.training.callbacks import (
    ConsoleProgress,
    LengthDynamicsCallback,
    ReleaseMemory,
    TimeBudget,
    quiet_trainer_console,
    read_metrics,
)
from lengthwise.training.config import TRL_DEFAULTS, TrainConfig
from lengthwise.training.dataset import build_dataset
from lengthwise.training.lwz_advantage import LWZ_TRL_SETTINGS, make_lwz_trainer_class
from lengthwise.training.rollout import CpuRollout
from lengthwise.training.trim import TrimmedLogProbs

__all__ = ["TrainResult", "build_grpo_config", "build_reward_stack", "build_trainer", "last_checkpoint", "train",
           "trainer_class_for"]


def build_reward_stack(config: TrainConfig) -> RewardStack:
    if config.rewards is None:
        return RewardStack.default(think=config.data.think)
    if isinstance(config.rewards, dict):
        return RewardStack.from_dict(config.rewards)
    return RewardStack.from_yaml(config.rewards)


def _preset_kwargs(config: TrainConfig) -> dict[str, Any]:
    if config.preset == TRL_DEFAULTS:
        return {"max_completion_length": config.max_completion_length}
    return get_preset(config.preset).trl_kwargs(max_completion_length=config.max_completion_length)


def build_grpo_config(config: TrainConfig, stack: RewardStack):
    """``trl.GRPOConfig`` with the preset's settings (docs/reference.md §4) and ours."""
    import torch
    from trl import GRPOConfig

    from lengthwise.models import trains_in_bf16

    cuda = torch.cuda.is_available() and config.device != "cpu"
    kwargs: dict[str, Any] = dict(
        output_dir=config.output_dir,
        per_device_train_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_generations=config.num_generations,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        temperature=config.temperature,
        top_p=config.top_p,
        beta=config.beta,
        seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        report_to=list(config.report_to),
        reward_weights=stack.reward_weights,
        multi_objective_aggregation=COMBINATIONS[config.advantage].trl_aggregation,
        use_cpu=not cuda,
        gradient_checkpointing=cuda if config.gradient_checkpointing is None else config.gradient_checkpointing,
        # bf16 where the weights are bf16: the hardware computes it natively (GPUs, AVX512-BF16/AMX CPUs) or asked
        bf16=trains_in_bf16("cuda" if cuda else "cpu", config.model.dtype),
        **_preset_kwargs(config),
    )
    if config.advantage == "lwz_average":  # the adapter computes the advantage; TRL passes it through
        kwargs.update(LWZ_TRL_SETTINGS, reward_weights=[1.0] * len(stack.reward_weights))
    if config.use_vllm:
        kwargs.update(use_vllm=True, vllm_mode=config.vllm_mode)
        if config.vllm_server_base_url:
            kwargs["vllm_server_base_url"] = config.vllm_server_base_url
    if config.steps_per_generation is not None:
        kwargs["steps_per_generation"] = config.steps_per_generation
    return GRPOConfig(**kwargs)


def _peft_config(config: TrainConfig):
    if not config.model.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=config.model.lora_r, lora_alpha=config.model.lora_alpha, lora_dropout=config.model.lora_dropout,
                      target_modules=config.model.lora_target_modules, task_type="CAUSAL_LM")


def trainer_class_for(config: TrainConfig, stack: RewardStack):
    """TRL's ``GRPOTrainer`` with our CPU step (``cpu_step``: merged-LoRA rollouts, passes grouped by completion
    length where the order cannot change the update, log-prob passes over each chunk's own width; rollouts and
    widths fall back to TRL's code off the CPU) and, for ``lwz_average``, the advantage adapter."""
    from trl import GRPOTrainer

    base = make_lwz_trainer_class(stack.reward_weights) if config.advantage == "lwz_average" else GRPOTrainer
    if not config.cpu_step:
        return base
    return type(f"CpuStep{base.__name__}", (CpuRollout, SortedPasses, TrimmedLogProbs, base), {})


def build_trainer(config: TrainConfig, progress: bool = True):
    from transformers import AutoModelForCausalLM

    from lengthwise.models import (
        contiguous_head_input,
        ensure_loadable,
        load_tokenizer,
        pick_device,
        pick_dtype,
        resolve_model,
    )
    from lengthwise.training.lm_head import use_plain_cpu_head

    use_plain_cpu_head()  # TRL's tiled LM head is ~10x slower than one projection on a CPU
    dataset = build_dataset(config.data)  # a bad prompts file fails here, before any model loads
    stack = build_reward_stack(config)
    ref = ensure_loadable(resolve_model(config.model.name))
    tokenizer = load_tokenizer(ref)
    if stack.counter == "tokens" and stack.tokenizer_ref is None:
        stack.bind_tokenizer(tokenizer)  # reasoning lengths in the policy's own tokens
    model = AutoModelForCausalLM.from_pretrained(ref, dtype=pick_dtype(pick_device(None), config.model.dtype))
    contiguous_head_input(model)  # TRL generates with the frozen (LoRA) policy: see the function
    trainer_class = trainer_class_for(config, stack)
    trainer = trainer_class(
        model=model,
        reward_funcs=stack.reward_funcs,
        args=build_grpo_config(config, stack),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_peft_config(config),
        callbacks=[LengthDynamicsCallback(config.output_dir), ConsoleProgress(config.output_dir, enabled=progress),
                   *([TimeBudget(config.output_dir, config.max_minutes)] if config.max_minutes else []),
                   *([ReleaseMemory()] if pick_device(config.device) == "cpu" else [])],
    )
    quiet_trainer_console(trainer)
    return trainer, stack


def last_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete ``checkpoint-N`` folder (one with its trainer state), if any."""
    candidates = []
    for p in Path(output_dir).glob("checkpoint-*"):
        try:
            step = int(p.name.split("-")[-1])
        except ValueError:
            continue
        if (p / "trainer_state.json").exists():
            candidates.append((step, p))
    return max(candidates)[1] if candidates else None


@dataclass
class TrainResult:
    output_dir: Path
    global_step: int
    resumed_from: Path | None
    metrics_path: Path


def train(config: TrainConfig, progress: bool = True) -> TrainResult:
    """Train (or resume) ``config``: one progress line on the terminal; the trainer's full logs in
    ``<output_dir>/logs.jsonl`` and library warnings in ``<output_dir>/train.log``."""
    from lengthwise.logs import library_output_to

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config.as_dict(), indent=2, default=str) + "\n")
    with library_output_to(out / "train.log"):
        trainer, stack = build_trainer(config, progress=progress)
        resume = last_checkpoint(out)
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        trainer.save_model(str(out / "final"))
    rows = read_metrics(out / "metrics.jsonl")
    if rows:
        plot_training_curves(rows, out / "training_curves.png", title=f"{config.preset}: length dynamics")
    return TrainResult(out, trainer.state.global_step, resume, out / "metrics.jsonl")
