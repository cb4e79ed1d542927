"""LongWriter-Zero's exact advantage averaging inside TRL's GRPOTrainer.

TRL's ``normalize_then_sum`` z-scores each reward per group, sums, then normalises again over the
whole batch; LongWriter-Zero stops after the (weighted) average. This adapter reaches into one TRL
internal, ``GRPOTrainer._calculate_rewards`` (pinned: trl >= 1.16, < 2), which returns the rewards of
every completion on every process, groups contiguous: we replace that matrix by one column holding the
averaged advantage, and run TRL with ``sum_then_normalize`` and ``scale_rewards="none"``, so TRL's
own step (subtract the group mean, which is already 0) leaves our advantage unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lengthwise.advantages import advantage_average

__all__ = ["lwz_reward_matrix", "make_lwz_trainer_class", "LWZ_TRL_SETTINGS"]

# What TRL must be told so that it passes our advantages through.
LWZ_TRL_SETTINGS = {"multi_objective_aggregation": "sum_then_normalize", "scale_rewards": "none"}


def lwz_reward_matrix(
    raw: torch.Tensor, group_size: int, names: Sequence[str], weights: Sequence[float]
) -> torch.Tensor:
    """(B, K) component rewards → (B, K) matrix whose first column is the averaged advantage and the
    rest zeros (TRL sums the columns with weights 1). NaN components count as their group's mean."""
    rewards = {name: raw[:, k].detach().double().cpu() for k, name in enumerate(names)}  # (B,) each
    adv = advantage_average(rewards, group_size, weights=dict(zip(names, weights, strict=True)))  # (B,)
    out = torch.zeros_like(raw)
    out[:, 0] = adv.to(raw.dtype).to(raw.device)
    return out


def make_lwz_trainer_class(weights: Sequence[float]):
    """A ``GRPOTrainer`` subclass applying LongWriter-Zero averaging with the stack's ``weights``.
    The raw component means are logged as ``components/<name>/mean`` (TRL's ``rewards/*`` then show
    the combined column)."""
    from trl import GRPOTrainer

    class LWZAveragingGRPOTrainer(GRPOTrainer):
        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            raw = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # (B_all, K)
            mode = "train" if self.model.training else "eval"
            group = self.num_generations if mode == "train" else self.num_generations_eval
            for k, name in enumerate(self.reward_func_names):
                self._metrics[mode][f"components/{name}/mean"].append(torch.nanmean(raw[:, k]).item())
            return lwz_reward_matrix(raw, group, self.reward_func_names, weights)

    return LWZAveragingGRPOTrainer
