"""Our loss and advantage combinations in verl's own registries (needs verl: ``pip install lengthwise[verl]``).

- ``luspo`` policy loss (``register_policy_loss``): GSPO's sequence-level ratio and clip, each
  sequence's loss summed over its tokens, the mean over sequences (docs/reference.md §4). verl 0.9.0's
  own ``gspo`` loss ignores ``loss_agg_mode``, so ``loss_mode=gspo`` cannot express LUSPO there.
- ``lengthwise_normalize_then_sum`` and ``lengthwise_lwz_average`` advantage estimators
  (``register_adv_est``): TRL's ``normalize_then_sum`` and LongWriter-Zero's averaging, computed
  per group from the per-reward scores ``compute_score`` returns (named by
  ``algorithm.gdpo_reward_keys``, weighted by ``algorithm.gdpo_reward_weights``). verl hands the
  per-reward scores only to its ``gdpo`` estimator, so ``register()`` also wraps verl's
  ``ray_trainer.compute_advantage`` to hand them to ours; every other estimator is untouched.

verl loads no user code into its Ray workers by itself: ``lengthwise export-verl`` sets
``ray_kwargs.ray_init.runtime_env.worker_process_setup_hook`` to ``register``, and
``python -m lengthwise.integrations.verl_main`` registers in the driver before verl's ``main_ppo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lengthwise.advantages import advantage_average, normalize_then_sum

__all__ = ["register", "compute_policy_loss_luspo", "OUR_ESTIMATORS", "grouped_advantage"]

OUR_ESTIMATORS = ("lengthwise_normalize_then_sum", "lengthwise_lwz_average")


def compute_policy_loss_luspo(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode="seq-mean-token-sum",
                              config=None, rollout_is_weights=None):
    """verl's policy-loss contract, (B, T) tensors in; LUSPO's loss and verl's metrics out."""
    from verl.trainer.ppo.core_algos import agg_loss
    from verl.utils import torch_functional as verl_F

    if loss_agg_mode != "seq-mean-token-sum":
        raise ValueError(f"LUSPO aggregates seq-mean-token-sum (each sequence's loss scaled by its length); "
                         f"set actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum, got {loss_agg_mode!r}")
    low = config.clip_ratio_low if config.clip_ratio_low is not None else config.clip_ratio
    high = config.clip_ratio_high if config.clip_ratio_high is not None else config.clip_ratio
    mask = response_mask.to(log_prob.dtype)
    log_ratio = log_prob - old_log_prob  # (B, T)
    seq_log_ratio = (log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1)  # (B,) mean over the sequence
    # s_i,t = sg[s_i] · π/sg[π]: the value is the sequence ratio, the gradient flows through every token
    ratio = torch.exp(torch.clamp(log_prob - log_prob.detach() + seq_log_ratio.detach().unsqueeze(-1), max=10.0))
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - low, 1 + high)
    losses = torch.maximum(unclipped, clipped)
    if rollout_is_weights is not None:
        losses = losses * rollout_is_weights
    loss = agg_loss(loss_mat=losses, loss_mask=response_mask, loss_agg_mode=loss_agg_mode,
                    **getattr(config, "global_batch_info", {}))
    metrics = {
        "actor/pg_clipfrac": verl_F.masked_mean(torch.gt(clipped, unclipped).float(), response_mask).item(),
        "actor/ppo_kl": verl_F.masked_mean(-log_ratio, response_mask).item(),
        "actor/pg_clipfrac_lower": 0.0,
    }
    return loss, metrics


def grouped_advantage(scores: dict[str, Sequence[float]], index: Sequence[Any], how: str,
                      weights: dict[str, float] | None = None) -> torch.Tensor:
    """(B,) advantages from per-reward scores, grouped by ``index`` (verl's ``uid``; the rows of a
    group need not be adjacent): ``how`` is ``normalize_then_sum`` or ``lwz_average``."""
    index = np.asarray(index)
    order = np.argsort(index, kind="stable")  # rows of one group side by side, as our functions expect
    _, counts = np.unique(index[order], return_counts=True)
    if len(set(counts.tolist())) != 1:
        raise ValueError(f"groups of unequal size {sorted(set(counts.tolist()))}; every prompt needs rollout.n rows")
    group = int(counts[0])
    ordered = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)[order]) for k, v in scores.items()}
    if how == "lwz_average":
        adv = advantage_average(ordered, group, weights=weights)
    elif how == "normalize_then_sum":
        adv = normalize_then_sum(ordered, group, weights=weights)
    else:
        raise ValueError(f"unknown advantage combination {how!r}")
    out = torch.empty_like(adv)
    out[torch.as_tensor(order)] = adv
    return out


def _estimator(how: str):
    def estimate(token_level_rewards, response_mask, index=None, config=None, non_tensor_batch=None, **kwargs):
        keys = list(config.get("gdpo_reward_keys") or []) if config is not None else []
        if not keys or non_tensor_batch is None:
            raise ValueError(f"lengthwise_{how} needs algorithm.gdpo_reward_keys naming the reward components "
                             "compute_score returns (lengthwise export-verl writes them)")
        missing = [k for k in keys if k not in non_tensor_batch]
        if missing:
            raise ValueError(f"reward component(s) {missing} not among the scores verl kept: "
                             f"{sorted(non_tensor_batch)}")
        weights = list(config.get("gdpo_reward_weights") or [1.0] * len(keys))
        scores = {k: np.asarray(non_tensor_batch[k], dtype=np.float64) for k in keys}
        adv = grouped_advantage(scores, index, how, dict(zip(keys, weights, strict=True)))
        adv = adv.to(token_level_rewards.dtype).to(token_level_rewards.device).unsqueeze(-1) * response_mask
        return adv, adv

    estimate.__name__ = f"compute_lengthwise_{how}_advantage"
    return estimate


def _hand_scores_to_ours(compute_advantage):
    """verl's ``compute_advantage``, passing the per-reward scores to our estimators."""

    def wrapped(data, adv_estimator, *args, **kwargs):
        name = getattr(adv_estimator, "value", adv_estimator)
        if name not in OUR_ESTIMATORS:
            return compute_advantage(data, adv_estimator, *args, **kwargs)
        from verl.trainer.ppo.core_algos import get_adv_estimator_fn

        config = kwargs.get("config") if "config" in kwargs else (args[4] if len(args) > 4 else None)
        if "response_mask" not in data.batch.keys():
            from verl.trainer.ppo.ray_trainer import compute_response_mask

            data.batch["response_mask"] = compute_response_mask(data)
        adv, returns = get_adv_estimator_fn(name)(
            token_level_rewards=data.batch["token_level_rewards"], response_mask=data.batch["response_mask"],
            index=data.non_tensor_batch["uid"], config=config, non_tensor_batch=data.non_tensor_batch)
        data.batch["advantages"] = adv
        data.batch["returns"] = returns
        return data

    wrapped.__wrapped__ = compute_advantage
    return wrapped


def register() -> None:
    """Put our loss and estimators in verl's registries (idempotent; Ray's worker setup hook)."""
    from verl.trainer.ppo import core_algos, ray_trainer

    if "luspo" not in core_algos.POLICY_LOSS_REGISTRY:
        core_algos.register_policy_loss("luspo")(compute_policy_loss_luspo)
    for how in ("normalize_then_sum", "lwz_average"):
        name = f"lengthwise_{how}"
        if name not in core_algos.ADV_ESTIMATOR_REGISTRY:
            core_algos.register_adv_est(name)(_estimator(how))
    if not hasattr(ray_trainer.compute_advantage, "__wrapped__"):
        ray_trainer.compute_advantage = _hand_scores_to_ours(ray_trainer.compute_advantage)
