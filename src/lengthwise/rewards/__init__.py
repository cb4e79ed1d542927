"""Rewards: pure functions of text and lengths, plus picklable callables for TRL and verl."""

from lengthwise.rewards.length import (
    cosine_length_reward,
    dapo_overlong_penalty,
    kimi_length_penalty,
    lcpo_exact_reward,
    lcpo_max_reward,
    length_score,
    lwz_range_reward,
)

__all__ = [
    "length_score",
    "lwz_range_reward",
    "lcpo_exact_reward",
    "lcpo_max_reward",
    "dapo_overlong_penalty",
    "cosine_length_reward",
    "kimi_length_penalty",
]
