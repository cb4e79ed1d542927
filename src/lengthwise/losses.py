"""Reference policy-loss aggregations (grpo, dapo, dr_grpo, gspo, luspo) and the loss presets.

The functions are small, plain-torch references of how each method weights tokens and sequences,
used to test and to explain length bias (``lengthwise bias``); training itself runs in TRL with the
matching ``GRPOConfig`` settings from ``PRESETS``. Formulas and golden values: docs/reference.md §4.

Shapes: B sequences, T padded positions. ``logp``/``old_logp`` (B, T) per-token log-probs,
``advantages`` (B,), ``mask`` (B, T) with 1 on completion tokens.
Pure module: torch only, no trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

__all__ = ["LossSettings", "Preset", "PRESETS", "LOSSES", "policy_loss", "get_preset", "register_loss"]


@dataclass(frozen=True)
class LossSettings:
    """Clip range (ε_low, ε_high) and Dr. GRPO's constant length normaliser ``L_const``, which must
    come from the config (max completion length), never from the padded width of a batch."""

    epsilon: float = 0.2
    epsilon_high: float | None = None
    max_completion_length: int | None = None

    @property
    def eps_high(self) -> float:
        return self.epsilon if self.epsilon_high is None else self.epsilon_high


LossFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, LossSettings], tuple[torch.Tensor, dict[str, float]]
]
LOSSES: dict[str, LossFn] = {}


def register_loss(name: str) -> Callable[[LossFn], LossFn]:
    def wrap(fn: LossFn) -> LossFn:
        if name in LOSSES:
            raise ValueError(f"loss {name!r} is already registered")
        LOSSES[name] = fn
        return fn

    return wrap


def _clip_metrics(ratio: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, s: LossSettings) -> dict[str, float]:
    """Fractions of tokens whose update the clip switched off, split by advantage sign: a positive
    advantage is clipped above 1+ε_high, a negative one below 1−ε (LUSPO's collapse mechanism)."""
    m = mask.bool()  # (B, T)
    a = adv.unsqueeze(-1).expand_as(ratio)  # (B, T)
    high = (ratio > 1 + s.eps_high) & (a > 0) & m
    low = (ratio < 1 - s.epsilon) & (a < 0) & m
    n_pos = ((a > 0) & m).sum().clamp(min=1)
    n_neg = ((a < 0) & m).sum().clamp(min=1)
    n = m.sum().clamp(min=1)
    return {
        "clip/high_frac_pos_adv": float(high.sum() / n_pos),
        "clip/low_frac_neg_adv": float(low.sum() / n_neg),
        "clip/frac": float((high | low).sum() / n),
    }


def _token_surrogate(ratio: torch.Tensor, adv: torch.Tensor, s: LossSettings) -> torch.Tensor:
    a = adv.unsqueeze(-1)  # (B, 1)
    clipped = ratio.clamp(1 - s.epsilon, 1 + s.eps_high)  # (B, T)
    return -torch.minimum(ratio * a, clipped * a)  # (B, T)


def _lengths(mask: torch.Tensor) -> torch.Tensor:
    return mask.sum(dim=1).clamp(min=1)  # (B,)


def _token_ratio(logp: torch.Tensor, old_logp: torch.Tensor) -> torch.Tensor:
    return torch.exp(logp - old_logp.detach())  # (B, T)


def _sequence_ratio(logp: torch.Tensor, old_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """GSPO's length-normalised sequence ratio s_i = exp(mean_t(log π − log π_old)), broadcast to
    every token; its gradient reaches each token as s_i/L_i."""
    log_s = ((logp - old_logp.detach()) * mask).sum(dim=1) / _lengths(mask)  # (B,)
    return torch.exp(log_s).unsqueeze(-1).expand_as(logp)  # (B, T)


@register_loss("grpo")
def grpo_loss(logp, old_logp, adv, mask, s):
    """Sequence mean of token means: ``mean_i (1/L_i) Σ_t ℓ_it`` (Shao et al., 2024)."""
    ratio = _token_ratio(logp, old_logp)
    per_token = _token_surrogate(ratio, adv, s) * mask  # (B, T)
    loss = (per_token.sum(dim=1) / _lengths(mask)).mean()
    return loss, _clip_metrics(ratio, adv, mask, s)


@register_loss("dapo")
def dapo_loss(logp, old_logp, adv, mask, s):
    """Token mean over the whole batch: ``Σ_it ℓ_it / Σ_i L_i`` (Yu et al., 2025)."""
    ratio = _token_ratio(logp, old_logp)
    per_token = _token_surrogate(ratio, adv, s) * mask
    loss = per_token.sum() / mask.sum().clamp(min=1)
    return loss, _clip_metrics(ratio, adv, mask, s)


@register_loss("dr_grpo")
def dr_grpo_loss(logp, old_logp, adv, mask, s):
    """Token sum over a constant: ``Σ_it ℓ_it / (B · L_const)`` (Liu et al., 2025)."""
    if not s.max_completion_length:
        raise ValueError("dr_grpo needs max_completion_length (L_const) from the config, not the batch width")
    ratio = _token_ratio(logp, old_logp)
    per_token = _token_surrogate(ratio, adv, s) * mask
    loss = per_token.sum() / (logp.shape[0] * s.max_completion_length)
    return loss, _clip_metrics(ratio, adv, mask, s)


@register_loss("gspo")
def gspo_loss(logp, old_logp, adv, mask, s):
    """Sequence-level ratio, sequence mean of token means (Zheng et al., 2025)."""
    ratio = _sequence_ratio(logp, old_logp, mask)
    per_token = _token_surrogate(ratio, adv, s) * mask
    loss = (per_token.sum(dim=1) / _lengths(mask)).mean()
    return loss, _clip_metrics(ratio, adv, mask, s)


@register_loss("luspo")
def luspo_loss(logp, old_logp, adv, mask, s):
    """GSPO with each sequence's loss scaled by its length L_i: ``mean_i Σ_t ℓ_it``, which undoes the
    1/L_i that makes GSPO favour short responses (LUSPO, 2025)."""
    ratio = _sequence_ratio(logp, old_logp, mask)
    per_token = _token_surrogate(ratio, adv, s) * mask
    loss = per_token.sum(dim=1).mean()
    return loss, _clip_metrics(ratio, adv, mask, s)


def policy_loss(
    name: str,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    settings: LossSettings | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Compute the named aggregation; an unknown name raises and lists the valid ones.

    >>> lp = torch.zeros(2, 4, requires_grad=True)
    >>> mask = torch.tensor([[1., 1., 0., 0.], [1., 1., 1., 1.]])
    >>> loss, _ = policy_loss("luspo", lp, lp.detach(), torch.tensor([1., -1.]), mask)
    >>> float(loss.detach())
    1.0
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    if logp.shape != old_logp.shape or logp.shape != mask.shape or advantages.shape != logp.shape[:1]:
        raise ValueError(
            f"shape mismatch: logp {tuple(logp.shape)}, old_logp {tuple(old_logp.shape)}, mask {tuple(mask.shape)}, "
            f"advantages {tuple(advantages.shape)}; expected (B, T), (B, T), (B, T), (B,)"
        )
    mask = mask.to(logp.dtype)
    return LOSSES[name](logp, old_logp, advantages.to(logp.dtype), mask, settings or LossSettings())


# ---------------------------------------------------------------------------------------------
# Presets: each method's facts written once, from which the TRL GRPOConfig kwargs, the verl overrides
# and the reference LossSettings are derived (docs/reference.md §4).

RatioLevel = Literal["token", "sequence"]
Aggregation = Literal["seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm", "seq-mean-token-sum"]

# (ratio level, aggregation) → TRL's loss_type and verl's policy_loss.loss_mode. A pair missing here
# is a method neither engine can run; "luspo" on verl is our loss, registered by
# lengthwise.integrations.verl_registry (verl 0.9.0's own gspo loss ignores loss_agg_mode).
_ENGINES: dict[tuple[str, str], tuple[str, str]] = {
    ("token", "seq-mean-token-mean"): ("grpo", "vanilla"),
    ("token", "token-mean"): ("dapo", "vanilla"),
    ("token", "seq-mean-token-sum-norm"): ("dr_grpo", "vanilla"),
    ("sequence", "seq-mean-token-mean"): ("grpo", "gspo"),
    ("sequence", "seq-mean-token-sum"): ("luspo", "luspo"),
}
_TRL_DEFAULT_EPSILON = 0.2
_ACTOR = "actor_rollout_ref.actor"


@dataclass(frozen=True)
class Preset:
    """One loss method: the importance-ratio level, how token losses are aggregated, the clip range
    (ε_low, ε_high), and whether advantages are divided by the group's std."""

    name: str
    description: str
    ratio: RatioLevel
    aggregation: Aggregation
    epsilon: float
    epsilon_high: float
    scale_rewards: Literal["group", "none"] = "group"

    def __post_init__(self) -> None:
        if (self.ratio, self.aggregation) not in _ENGINES:
            expressible = ", ".join(f"{r}/{a}" for r, a in _ENGINES)
            raise ValueError(f"preset {self.name}: ratio {self.ratio!r} with aggregation {self.aggregation!r} is not "
                             f"expressible in TRL or verl; choose one of {expressible}")

    @property
    def loss(self) -> LossSettings:
        """The reference loss's settings (``policy_loss(self.name, …, self.loss)``)."""
        return LossSettings(self.epsilon, self.epsilon_high)

    @property
    def trl_loss_type(self) -> str:
        return _ENGINES[(self.ratio, self.aggregation)][0]

    @property
    def verl_loss_mode(self) -> str:
        return _ENGINES[(self.ratio, self.aggregation)][1]

    @property
    def trl(self) -> dict[str, Any]:
        """The preset's ``trl.GRPOConfig`` settings (TRL defaults left out, so the table reads as
        what differs: ε = 0.2 and ε_high = ε are TRL's own)."""
        kwargs: dict[str, Any] = {"loss_type": self.trl_loss_type, "scale_rewards": self.scale_rewards}
        if self.ratio == "sequence":
            kwargs["importance_sampling_level"] = "sequence"
        if self.epsilon != _TRL_DEFAULT_EPSILON:
            kwargs["epsilon"] = self.epsilon
        if self.epsilon_high != self.epsilon:
            kwargs["epsilon_high"] = self.epsilon_high
        return kwargs

    def trl_kwargs(self, max_completion_length: int | None = None) -> dict[str, Any]:
        """Keyword arguments for ``trl.GRPOConfig``."""
        kwargs = dict(self.trl)
        if max_completion_length is not None:
            kwargs["max_completion_length"] = max_completion_length
        return kwargs

    def verl_overrides(self, max_response_length: int) -> list[str]:
        """Hydra overrides for verl's ``main_ppo`` (``key=value`` strings)."""
        out = [f"{_ACTOR}.policy_loss.loss_mode={self.verl_loss_mode}", f"{_ACTOR}.loss_agg_mode={self.aggregation}",
               f"{_ACTOR}.clip_ratio_low={self.epsilon}", f"{_ACTOR}.clip_ratio_high={self.epsilon_high}"]
        if self.aggregation == "seq-mean-token-sum-norm":  # Dr. GRPO's constant: the response budget
            out.append(f"{_ACTOR}.loss_scale_factor={max_response_length}")
        out.append(f"algorithm.norm_adv_by_std_in_grpo={self.scale_rewards == 'group'}")
        return out


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("grpo", "GRPO: token ratio, group-normalised advantages, sequence mean of token means",
               "token", "seq-mean-token-mean", 0.2, 0.2),
        Preset("dapo", "DAPO: token mean over the batch, clip-higher ε_high = 0.28", "token", "token-mean", 0.2, 0.28),
        Preset("dr_grpo", "Dr. GRPO: token sum over a constant, advantages not divided by the std",
               "token", "seq-mean-token-sum-norm", 0.2, 0.2, scale_rewards="none"),
        Preset("gspo", "GSPO: sequence-level ratio with tight clipping (3e-4, 4e-4)",
               "sequence", "seq-mean-token-mean", 3e-4, 4e-4),
        Preset("luspo", "LUSPO: GSPO with each sequence's loss scaled by its length (no short-response bias)",
               "sequence", "seq-mean-token-sum", 2e-3, 2.5e-3),
    )
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
