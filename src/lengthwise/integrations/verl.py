"""verl integration: a ``compute_score`` entry point and the export of a recipe to verl's inputs.

verl loads ``custom_reward_function.path`` (this file) and calls ``compute_score(data_source,
solution_str, ground_truth, extra_info, **reward_kwargs)``. ``reward_kwargs.stack`` names the reward
stack YAML written by ``lengthwise export-verl``; without it the default stack is used.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from lengthwise.safe_yaml import load_yaml_file

__all__ = ["compute_score", "export_verl", "SETUP_HOOK", "ENTRY_POINT"]

SETUP_HOOK = "lengthwise.integrations.verl_registry.register"
ENTRY_POINT = "python -m lengthwise.integrations.verl_main"
# The embedded SmolLM2 is this checkpoint; a cluster loads it from the hub.
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@functools.lru_cache(maxsize=8)
def _stack(path: str | None):
    from lengthwise.rewards.stack import RewardStack

    return RewardStack.from_yaml(path) if path else RewardStack.default()


def compute_score(data_source=None, solution_str=None, ground_truth=None, extra_info=None, stack: str | None = None,
                  **kwargs: Any) -> dict[str, Any]:
    """verl's reward-function contract: ``{"score": total, <component>: value, …}`` for one response."""
    return _stack(stack).compute_score(data_source, solution_str, ground_truth, extra_info)


def export_verl(config, out_dir: str | Path) -> dict[str, Any]:
    """Write ``train.parquet`` (chat prompts, ``extra_info`` with prompt and length target),
    ``reward_stack.yaml`` and ``verl_overrides.txt`` (Hydra overrides for ``verl.trainer.main_ppo``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    from lengthwise.errors import ConfigError
    from lengthwise.losses import PRESETS, get_preset
    from lengthwise.rewards.stack import default_stack_config
    from lengthwise.training.dataset import training_rows

    if config.preset not in PRESETS:  # "trl" = TRL's own loss defaults: nothing to translate
        raise ConfigError(f"preset: {config.preset!r} has no verl equivalent; for export-verl set preset to one of "
                          f"{', '.join(PRESETS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = training_rows(config.data)
    table = pa.Table.from_pylist([
        {
            "data_source": "lengthwise",
            "prompt": r["prompt"],
            "ability": "writing",
            "reward_model": {"style": "rule", "ground_truth": json.dumps({"length": r["length"]})},
            "extra_info": {"index": k, "id": str(r["id"]), "prompt": r["prompt"][-1]["content"],
                           "length": float(r["length"]) if r["length"] is not None else None},
        }
        for k, r in enumerate(rows)
    ])
    pq.write_table(table, out / "train.parquet")
    if isinstance(config.rewards, str):
        stack_config = load_yaml_file(config.rewards)
    else:
        stack_config = config.rewards or default_stack_config(think=config.data.think)
    (out / "reward_stack.yaml").write_text(yaml.safe_dump(stack_config, sort_keys=False, allow_unicode=True))
    overrides = [
        f"data.train_files={(out / 'train.parquet').resolve()}",
        f"data.max_response_length={config.max_completion_length}",
        *_model_overrides(config),
        *_batch_overrides(config),
        f"actor_rollout_ref.actor.optim.lr={config.learning_rate}",
        f"actor_rollout_ref.rollout.temperature={config.temperature}",
        f"actor_rollout_ref.rollout.top_p={config.top_p}",
        f"actor_rollout_ref.actor.use_kl_loss={config.beta > 0}",
        *([f"actor_rollout_ref.actor.kl_loss_coef={config.beta}"] if config.beta > 0 else []),
        *_advantage_overrides(config, stack_config),
        f"custom_reward_function.path={Path(__file__).resolve()}",
        "custom_reward_function.name=compute_score",
        f"++custom_reward_function.reward_kwargs.stack={(out / 'reward_stack.yaml').resolve()}",
        f"trainer.total_training_steps={config.max_steps}",
        *get_preset(config.preset).verl_overrides(max_response_length=config.max_completion_length),
        # verl loads no user code into its Ray workers: this registers our loss and estimators in each
        f"+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook={SETUP_HOOK}",
    ]
    (out / "verl_overrides.txt").write_text("\n".join(overrides) + "\n")
    return {"rows": len(rows), "overrides": overrides, "dir": str(out)}


def _hydra_list(values) -> str:
    return "[" + ",".join(str(v) for v in values) + "]"


def _model_overrides(config) -> list[str]:
    m = config.model
    out = [f"actor_rollout_ref.model.path={m.name or EMBEDDED_HUB_ID}"]
    if m.lora:
        targets = m.lora_target_modules
        targets = targets if isinstance(targets, str) else _hydra_list(targets)
        out += [f"actor_rollout_ref.model.lora_rank={m.lora_r}", f"actor_rollout_ref.model.lora_alpha={m.lora_alpha}",
                f"actor_rollout_ref.model.target_modules={targets}"]
    if config.gradient_checkpointing is not None:
        out.append(f"actor_rollout_ref.model.enable_gradient_checkpointing={config.gradient_checkpointing}")
    return out


def _batch_overrides(config) -> list[str]:
    """TRL counts completions per device; verl counts prompts per step. One generation batch of
    ``per_device_batch_size × steps_per_generation`` completions is ``train_batch_size`` prompts of
    ``n`` rollouts; one update of ``per_device_batch_size × gradient_accumulation_steps`` completions
    is ``ppo_mini_batch_size`` prompts (fewer than a generation batch: off-policy updates)."""
    from lengthwise.errors import ConfigError

    g = config.num_generations
    per_generation = config.per_device_batch_size * (config.steps_per_generation or config.gradient_accumulation_steps)
    per_update = config.per_device_batch_size * config.gradient_accumulation_steps
    if per_generation % g or per_update % g:
        raise ConfigError(f"per_device_batch_size × steps ({per_generation}, {per_update} completions) must be a "
                          f"multiple of num_generations ({g}) to make whole prompts for verl")
    return [f"actor_rollout_ref.rollout.n={g}", f"data.train_batch_size={per_generation // g}",
            f"actor_rollout_ref.actor.ppo_mini_batch_size={per_update // g}",
            f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={config.per_device_batch_size}"]


def _advantage_overrides(config, stack_config: dict[str, Any]) -> list[str]:
    """verl's estimator for the recipe's advantage combination; ours read each reward component by name."""
    from lengthwise.advantages import COMBINATIONS
    from lengthwise.errors import ConfigError

    combination = COMBINATIONS.get(config.advantage)
    if combination is None:
        raise ConfigError(f"advantage: {config.advantage!r} has no verl estimator; choose one of "
                          f"{', '.join(COMBINATIONS)}")
    out = [f"algorithm.adv_estimator={combination.verl_estimator}"]
    if combination.verl_estimator.startswith("lengthwise_"):
        components = [c for c in stack_config.get("components") or [] if isinstance(c, dict)]
        names = [str(c.get("name") or c.get("type")) for c in components]
        weights = [float(c.get("weight", 1.0)) for c in components]
        if not names:
            raise ConfigError(f"advantage: {config.advantage} combines reward components, but the stack names none")
        out += [f"+algorithm.gdpo_reward_keys={_hydra_list(names)}",
                f"+algorithm.gdpo_reward_weights={_hydra_list(weights)}"]
    return out
