"""Group advantages: GRPO normalisation, Dr. GRPO centring, LongWriter-Zero advantage averaging, RLMR gate.

Rewards arrive flat, ``(B,)`` with B = n_groups · G, consecutive rows forming a group (TRL's layout).
Pure module: torch only, no trainer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

__all__ = ["EPS", "group_normalize", "group_center", "advantage_average", "normalize_then_sum", "rlmr_gate",
           "sanitize_rewards", "Combination", "COMBINATIONS"]

EPS = 1e-4  # TRL's epsilon in (r − mean)/(std + ε)


def _as_groups(rewards: torch.Tensor | Sequence[float], group_size: int) -> torch.Tensor:
    r = torch.as_tensor(rewards, dtype=torch.float64)
    if r.ndim != 1:
        raise ValueError(f"rewards must be 1-D (B,), got shape {tuple(r.shape)}")
    if group_size < 1 or r.numel() % group_size:
        raise ValueError(f"{r.numel()} rewards do not split into groups of {group_size}")
    return r.view(-1, group_size)  # (n_groups, G)


def sanitize_rewards(rewards: torch.Tensor | Sequence[float], group_size: int) -> tuple[torch.Tensor, int]:
    """Replace NaN/±inf rewards by their group's mean of finite values (0 if none), so they get
    advantage 0 instead of poisoning the group. Returns ``(clean (B,), how many were replaced)``."""
    g = _as_groups(rewards, group_size).clone()  # (n, G)
    bad = ~torch.isfinite(g)
    if bad.any():
        finite = torch.where(bad, torch.zeros_like(g), g)
        counts = (~bad).sum(dim=1, keepdim=True)
        means = finite.sum(dim=1, keepdim=True) / counts.clamp(min=1)
        g = torch.where(bad, means.expand_as(g), g)
    return g.reshape(-1), int(bad.sum())


def group_normalize(
    rewards: torch.Tensor | Sequence[float], group_size: int, ddof: int = 1, eps: float = EPS
) -> torch.Tensor:
    """GRPO: ``A_i = (r_i − mean_g r)/(std_g r + ε)``, std with ``ddof`` (1 like torch and TRL).

    A group whose rewards are all equal gives exactly 0; non-finite rewards count as the group mean.

    >>> group_normalize([1., 0., 0., 0.], group_size=4, eps=0.0).tolist()
    [1.5, -0.5, -0.5, -0.5]
    """
    clean, _ = sanitize_rewards(rewards, group_size)
    g = clean.view(-1, group_size)  # (n, G)
    centred = g - g.mean(dim=1, keepdim=True)  # (n, G)
    std = g.std(dim=1, keepdim=True, correction=ddof) if group_size > ddof else torch.zeros_like(g[:, :1])
    std = torch.nan_to_num(std, nan=0.0)
    # All-equal groups carry no signal: exactly 0, also with eps = 0 and despite rounding in the mean.
    flat = (g.max(dim=1, keepdim=True).values == g.min(dim=1, keepdim=True).values)  # (n, 1)
    adv = torch.where(flat, torch.zeros_like(g), centred / (std + eps))
    return adv.reshape(-1)


def group_center(rewards: torch.Tensor | Sequence[float], group_size: int) -> torch.Tensor:
    """Dr. GRPO: ``A_i = r_i − mean_g r`` (no division by the std, which biases toward easy/hard groups).

    >>> group_center([1., 1., 0., 0.], group_size=4).tolist()
    [0.5, 0.5, -0.5, -0.5]
    """
    clean, _ = sanitize_rewards(rewards, group_size)
    g = clean.view(-1, group_size)
    return (g - g.mean(dim=1, keepdim=True)).reshape(-1)


def advantage_average(
    rewards: Mapping[str, torch.Tensor | Sequence[float]],
    group_size: int,
    weights: Mapping[str, float] | None = None,
    ddof: int = 1,
    eps: float = EPS,
) -> torch.Tensor:
    """LongWriter-Zero's advantage averaging: z-score each reward k within its group, then average,
    ``A_i = Σ_k w_k A_i^k / Σ_k w_k`` (plain mean without weights). A reward with zero spread in a
    group contributes 0 there but still counts in the denominator.

    Unlike TRL's ``normalize_then_sum`` there is no second, batch-wide normalisation.
    """
    if not rewards:
        raise ValueError("advantage_average needs at least one reward")
    weights = dict(weights or {})
    unknown = set(weights) - set(rewards)
    if unknown:
        raise ValueError(f"weights for unknown rewards: {sorted(unknown)}; rewards are {sorted(rewards)}")
    total_weight = 0.0
    out = None
    for name, values in rewards.items():
        w = float(weights.get(name, 1.0))
        a = group_normalize(values, group_size, ddof=ddof, eps=eps) * w  # (B,)
        out = a if out is None else out + a
        total_weight += w
    if total_weight <= 0:
        raise ValueError("reward weights must sum to a positive number")
    return out / total_weight


def normalize_then_sum(
    rewards: Mapping[str, torch.Tensor | Sequence[float]],
    group_size: int,
    weights: Mapping[str, float] | None = None,
    eps: float = EPS,
) -> torch.Tensor:
    """TRL's ``normalize_then_sum``: z-score each reward k within its group, take the weighted sum,
    then z-score that sum over the whole batch, ``A = (S − mean S)/(std S + ε)``."""
    weights = dict(weights or {})
    total = None
    for name, values in rewards.items():
        a = group_normalize(values, group_size, eps=eps) * float(weights.get(name, 1.0))
        total = a if total is None else total + a
    if total is None:
        raise ValueError("normalize_then_sum needs at least one reward")
    std = total.std() if total.numel() > 1 else torch.zeros((), dtype=total.dtype)
    return (total - total.mean()) / (std + eps)


@dataclass(frozen=True)
class Combination:
    """How several rewards become one advantage, and how each engine runs it: TRL's
    ``multi_objective_aggregation`` (``trl_trainer``: ``lwz`` for our GRPOTrainer subclass) and verl's
    ``algorithm.adv_estimator``."""

    name: str
    description: str
    trl_aggregation: str
    verl_estimator: str
    trl_trainer: str | None = None


COMBINATIONS: dict[str, Combination] = {
    c.name: c
    for c in (
        Combination("sum_then_normalize", "weighted sum of the rewards, then GRPO's group z-score",
                    "sum_then_normalize", "grpo"),
        Combination("normalize_then_sum", "group z-score per reward, weighted sum, batch z-score (TRL's default)",
                    "normalize_then_sum", "lengthwise_normalize_then_sum"),
        Combination("lwz_average", "LongWriter-Zero: group z-score per reward, weighted average, nothing more",
                    "sum_then_normalize", "lengthwise_lwz_average", trl_trainer="lwz"),
    )
}


def rlmr_gate(advantages: torch.Tensor, violated: torch.Tensor | Sequence[bool], gate: float = 1.0) -> torch.Tensor:
    """RLMR-style hard-constraint gate: a sample that broke a hard constraint gets
    ``A_i = min(A_i, −|gate|)``, so no other reward can make it look good.

    >>> rlmr_gate(torch.tensor([0.5, -2.0, 0.25]), [True, True, False]).tolist()
    [-1.0, -2.0, 0.25]
    """
    mask = torch.as_tensor(violated, dtype=torch.bool, device=advantages.device)
    gated = torch.minimum(advantages, torch.full_like(advantages, -abs(gate)))
    return torch.where(mask, gated, advantages)
