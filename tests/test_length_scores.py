import math

import pytest

from lengthwise import length_score
from lengthwise.rewards.length import (
    cosine_length_reward,
    dapo_overlong_penalty,
    kimi_length_penalty,
    lcpo_exact_reward,
    lcpo_max_reward,
    lwz_range_reward,
)

# docs/reference.md §2, x = 1000.
SL_TABLE = [
    (1000, 100.0), (1500, 83.3333), (2000, 66.6667), (4000, 0.0), (5000, 0.0),
    (800, 87.5), (500, 50.0), (334, 0.2994), (333, 0.0), (250, 0.0), (0, 0.0),
]


@pytest.mark.parametrize("produced, expected", SL_TABLE)
def test_length_score_golden_values(produced, expected):
    assert length_score(required=1000, produced=produced) == pytest.approx(expected, abs=1e-4)


def test_length_score_arithmetic_is_exact():
    assert length_score(required=1000, produced=1500) == pytest.approx(100 * (1 - 0.5 / 3), abs=1e-9)
    assert length_score(required=1000, produced=334) == pytest.approx(100 * (1 - (1000 / 334 - 1) / 2), abs=1e-9)


def test_length_score_argument_order_matters():
    assert length_score(required=500, produced=1000) == pytest.approx(66.6667, abs=1e-4)
    assert length_score(required=1000, produced=500) == pytest.approx(50.0, abs=1e-9)


def test_length_score_rejects_non_positive_requirement():
    for bad in (0, -5, float("nan")):
        with pytest.raises(ValueError):
            length_score(required=bad, produced=10)


def test_length_score_non_finite_produced_is_zero():
    assert length_score(required=100, produced=float("nan")) == 0.0
    assert length_score(required=100, produced=float("inf")) == 0.0


@pytest.mark.parametrize(
    "y, expected", [(2000, 1.0), (900, 0.5), (7100, 0.5), (12000, 0.0), (13000, 0.0), (1800, 1.0), (2200, 1.0)]
)
def test_lwz_range_reward_golden_values(y, expected):
    assert lwz_range_reward(y, lo=1800, hi=2200, max_length=12000) == pytest.approx(expected, abs=1e-9)


def test_lwz_range_reward_rejects_inverted_range():
    with pytest.raises(ValueError):
        lwz_range_reward(100, lo=300, hi=200, max_length=1000)


def test_lcpo_rewards():
    assert lcpo_exact_reward(True, target_tokens=1000, produced_tokens=1500) == pytest.approx(1 - 3e-4 * 500)
    assert lcpo_exact_reward(False, target_tokens=1000, produced_tokens=1000) == 0.0
    assert lcpo_max_reward(True, target_tokens=1000, produced_tokens=1000) == pytest.approx(0.5)
    assert lcpo_max_reward(True, target_tokens=1000, produced_tokens=0) == pytest.approx(3e-4 * 1000 + 0.5)
    assert lcpo_max_reward(True, target_tokens=5000, produced_tokens=0) == 1.0  # clipped at 1
    assert lcpo_max_reward(True, target_tokens=0, produced_tokens=5000) == 0.0  # clipped at 0
    assert lcpo_max_reward(False, target_tokens=1000, produced_tokens=500) == 0.0


@pytest.mark.parametrize("y, expected", [(80, 0.0), (90, -0.5), (100, -1.0), (101, -1.0)])
def test_dapo_overlong_small(y, expected):
    assert dapo_overlong_penalty(y, max_length=100, cache_length=20) == pytest.approx(expected)


@pytest.mark.parametrize("y, expected", [(16384, 0.0), (18432, -0.5), (20480, -1.0)])
def test_dapo_overlong_paper_settings(y, expected):
    assert dapo_overlong_penalty(y, max_length=20480, cache_length=4096) == pytest.approx(expected)


@pytest.mark.parametrize("y, correct, wrong", [(0, 2.0, -10.0), (50, 1.5, -5.0), (100, 1.0, 0.0)])
def test_cosine_reward_golden_values(y, correct, wrong):
    assert cosine_length_reward(y, correct=True, max_length=100) == pytest.approx(correct, abs=1e-9)
    assert cosine_length_reward(y, correct=False, max_length=100) == pytest.approx(wrong, abs=1e-9)


def test_cosine_reward_past_max_is_exceed_penalty():
    assert cosine_length_reward(101, correct=True, max_length=100) == -10.0


def test_kimi_group_penalty_golden_values():
    assert kimi_length_penalty([100, 200, 300], [1, 1, 0]) == pytest.approx([0.5, 0.0, -0.5])
    assert kimi_length_penalty([100, 200, 300], [0, 1, 1]) == pytest.approx([0.0, 0.0, -0.5])
    assert kimi_length_penalty([7, 7, 7], [1, 0, 1]) == [0.0, 0.0, 0.0]
    assert kimi_length_penalty([], []) == []
    assert all(math.isfinite(v) for v in kimi_length_penalty([1, 2], [0, 0]))


@pytest.mark.parametrize(("produced", "expected"), [(100, 1.0), (150, 0.4150375), (200, 0.0), (75, 0.5849625),
                                                    (50, 0.0), (0, 0.0), (400, 0.0)])
def test_log_ratio_reward_golden(produced, expected):
    from lengthwise.rewards.length import log_ratio_reward

    assert log_ratio_reward(100, produced) == pytest.approx(expected, abs=1e-6)


def test_log_ratio_reward_is_symmetric_in_the_ratio_and_scales_with_octaves():
    from lengthwise.rewards.length import log_ratio_reward

    assert log_ratio_reward(60, 90) == pytest.approx(log_ratio_reward(60, 40))
    assert log_ratio_reward(100, 200, octaves=2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="octaves"):
        log_ratio_reward(100, 90, octaves=0)


def test_log_ratio_component_reads_the_rows_target():
    from lengthwise.rewards.length_rewards import LogRatioReward

    reward = LogRatioReward(octaves=1.0)
    text = " ".join(["word"] * 30)
    assert reward.score_row("Write 20 words about tea.", text, None, {"length": 20}) == pytest.approx(
        1 - abs(math.log2(30 / 20)))
    assert reward.score_row("Write about tea.", text, None, {}) is None
    with pytest.raises(ValueError, match="octaves"):
        LogRatioReward(octaves=-1)
