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

__all__ = ["compute_score", "export_verl"]


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
        "algorithm.adv_estimator=grpo",
        f"data.train_files={(out / 'train.parquet').resolve()}",
        f"data.max_response_length={config.max_completion_length}",
        f"data.train_batch_size={max(1, config.per_device_batch_size // config.num_generations)}",
        f"actor_rollout_ref.rollout.n={config.num_generations}",
        f"actor_rollout_ref.actor.optim.lr={config.learning_rate}",
        f"actor_rollout_ref.rollout.temperature={config.temperature}",
        f"custom_reward_function.path={Path(__file__).resolve()}",
        "custom_reward_function.name=compute_score",
        f"++custom_reward_function.reward_kwargs.stack={(out / 'reward_stack.yaml').resolve()}",
        f"trainer.total_training_steps={config.max_steps}",
        *get_preset(config.preset).verl_overrides(max_response_length=config.max_completion_length),
    ]
    (out / "verl_overrides.txt").write_text("\n".join(overrides) + "\n")
    return {"rows": len(rows), "overrides": overrides, "dir": str(out)}
