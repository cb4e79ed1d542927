import math

import pytest
import torch

from lengthwise.advantages import (
    advantage_average,
    group_center,
    group_normalize,
    rlmr_gate,
    sanitize_rewards,
)


@pytest.mark.parametrize(
    "rewards, ddof, expected",
    [
        ([1, 1, 0, 0], 1, [0.5 / math.sqrt(1 / 3)] * 2 + [-0.5 / math.sqrt(1 / 3)] * 2),  # ±0.8660
        ([1, 1, 0, 0], 0, [1, 1, -1, -1]),
        ([1, 0, 0, 0], 1, [1.5, -0.5, -0.5, -0.5]),
        ([1, 0, 0, 0], 0, [0.75 / math.sqrt(0.1875)] + [-0.25 / math.sqrt(0.1875)] * 3),  # 1.7321, -0.5774
    ],
)
def test_group_normalize_golden_values(rewards, ddof, expected):
    got = group_normalize(rewards, group_size=4, ddof=ddof, eps=0.0)
    assert got.tolist() == pytest.approx(expected, abs=1e-6)


def test_group_normalize_reference_table_rounding():
    assert [round(x, 4) for x in group_normalize([1, 1, 0, 0], 4, eps=0.0).tolist()] == [0.866, 0.866, -0.866, -0.866]
    assert [round(x, 4) for x in group_normalize([1, 0, 0, 0], 4, ddof=0, eps=0.0).tolist()] == [
        1.7321,
        -0.5774,
        -0.5774,
        -0.5774,
    ]


def test_group_normalize_uses_trl_epsilon_by_default():
    assert group_normalize([1, 0, 0, 0], 4).tolist()[0] == pytest.approx(0.75 / (0.5 + 1e-4), abs=1e-9)


@pytest.mark.parametrize(
    "rewards, expected", [([1, 1, 0, 0], [0.5, 0.5, -0.5, -0.5]), ([1, 0, 0, 0], [0.75, -0.25, -0.25, -0.25])]
)
def test_dr_grpo_centres_without_std(rewards, expected):
    assert group_center(rewards, 4).tolist() == pytest.approx(expected, abs=1e-9)


def test_equal_rewards_give_exactly_zero_never_nan():
    assert group_normalize([0.3] * 4, 4).tolist() == [0.0] * 4
    assert group_normalize([0.3] * 4, 4, eps=0.0).tolist() == [0.0] * 4
    assert group_normalize([5.0], 1).tolist() == [0.0]


def test_groups_are_normalised_independently():
    a = group_normalize([1, 0, 10, 20], group_size=2, eps=0.0).tolist()
    z = 0.5 / math.sqrt(0.5)  # |r − mean| = 0.5, std (ddof=1) of two values 1 apart = √0.5
    assert a == pytest.approx([z, -z, -z, z])


def test_non_finite_rewards_become_the_group_mean():
    clean, n = sanitize_rewards([1.0, float("nan"), 0.0, float("inf")], 4)
    assert n == 2 and clean.tolist() == [1.0, 0.5, 0.0, 0.5]
    adv = group_normalize([float("nan")] * 4, 4)
    assert adv.tolist() == [0.0] * 4


def test_advantage_averaging_golden_example():
    rewards = {"length": [1, 1, 0.5, 0], "write": [0.2, 0.4, 0.6, 0.8], "format": [1, 1, 1, 1]}
    got = advantage_average(rewards, group_size=4).tolist()
    assert got == pytest.approx([-0.1262, 0.1320, 0.0421, -0.0479], abs=5e-4)


def test_zero_spread_reward_still_counts_in_k():
    with_format = advantage_average({"a": [1, 0], "f": [1, 1]}, 2, eps=0.0)
    without = advantage_average({"a": [1, 0]}, 2, eps=0.0)
    assert with_format.tolist() == pytest.approx((without / 2).tolist())


def test_weighted_advantage_averaging():
    got = advantage_average({"a": [1, 0], "b": [0, 1]}, 2, weights={"a": 3.0, "b": 1.0}, eps=0.0)
    z = 0.5 / math.sqrt(0.5)
    assert got.tolist() == pytest.approx([(3 * z - z) / 4, (-3 * z + z) / 4])
    with pytest.raises(ValueError, match="unknown rewards"):
        advantage_average({"a": [1, 0]}, 2, weights={"zzz": 1.0})


def test_rlmr_gate_caps_violators_only():
    adv = torch.tensor([2.0, -0.5, 0.75])
    assert rlmr_gate(adv, [True, True, False], gate=0.5).tolist() == [-0.5, -0.5, 0.75]


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="groups of 3"):
        group_normalize([1, 2, 3, 4], 3)
