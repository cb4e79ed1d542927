"""Paired bootstrap intervals (docs/reference.md §7): exact on hand-made sets, sampled beyond."""

import pytest

from lengthwise.stats import mean_ci, paired_bootstrap_ci


def test_exact_bootstrap_of_three_values():
    # d = [0, 0, 3]: the 27 resamples have means k for k copies of the 3, k ~ Binomial(3, 1/3):
    # sorted they are 0 x8, 1 x12, 2 x6, 3 x1; the 97.5th percentile sits at rank 0.975*26 = 25.35,
    # between 2 and 3 -> 2.35; the 2.5th at rank 0.65, between two zeros -> 0.
    ci = mean_ci([0, 0, 3])
    assert (ci.mean, ci.low, ci.high) == (1.0, 0.0, pytest.approx(2.35))


def test_paired_gain_is_after_minus_before_per_item():
    ci = paired_bootstrap_ci(before=[50, 60, 70], after=[50, 60, 73])
    assert (ci.mean, ci.low, ci.high) == (1.0, 0.0, pytest.approx(2.35))
    assert not ci.excludes_zero()


def test_identical_gains_have_a_point_interval():
    ci = paired_bootstrap_ci([10, 20, 30, 40], [12, 22, 32, 42])
    assert (ci.mean, ci.low, ci.high) == (2.0, 2.0, 2.0) and ci.excludes_zero()


def test_sampled_bootstrap_is_seeded_and_narrows_with_more_prompts():
    import random

    rng = random.Random(0)
    small = [rng.gauss(5, 10) for _ in range(30)]
    large = [rng.gauss(5, 10) for _ in range(600)]
    a, b = mean_ci(small, seed=1), mean_ci(small, seed=1)
    assert a == b and a.low < a.mean < a.high
    wide, narrow = mean_ci(small), mean_ci(large)
    assert narrow.high - narrow.low < (wide.high - wide.low) / 2
    # about 1.96 standard errors each side for a normal mean
    se = 10 / len(large) ** 0.5
    assert narrow.high - narrow.low == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1, 2], [1])
    with pytest.raises(ValueError):
        mean_ci([])
    with pytest.raises(ValueError):
        mean_ci([1.0, float("nan")])


def test_demo_gain_pairs_rows_by_id_and_breaks_down_by_target():
    from lengthwise.jobs.demo import gain_intervals

    before = [{"id": "a", "required": 20.0, "S_l": 50.0}, {"id": "b", "required": 40.0, "S_l": 60.0},
              {"id": "c", "required": 40.0, "S_l": 70.0}, {"id": "d", "required": 40.0, "S_l": None}]
    after = [{"id": "c", "required": 40.0, "S_l": 73.0}, {"id": "a", "required": 20.0, "S_l": 50.0},
             {"id": "b", "required": 40.0, "S_l": 60.0}, {"id": "d", "required": 40.0, "S_l": 90.0}]
    gain = gain_intervals(before, after)
    # paired by id whatever the order; d has no before score and is left out: d = [0, 0, 3] -> [0, 2.35]
    assert gain["S_l"] == {"mean": 1.0, "low": 0.0, "high": 2.35, "n": 3, "confidence": 0.95}
    assert set(gain["S_l_by_target"]) == {"20", "40"} and gain["S_l_by_target"]["40"]["n"] == 2


def test_wilson_interval_golden_values():
    from lengthwise.stats import proportion_ci

    i = proportion_ci(3, 48)
    assert (i.mean, round(i.low, 4), round(i.high, 4), i.n) == (0.0625, 0.0215, 0.1684, 48)
    zero = proportion_ci(0, 19)
    assert zero.low == 0.0 and round(zero.high, 4) == 0.1682  # not a point at 0
    assert (round(proportion_ci(6, 211).low, 4), round(proportion_ci(6, 211).high, 4)) == (0.0131, 0.0606)
    assert proportion_ci(19, 19).high == 1.0 and proportion_ci(19, 19).low < 1.0
    # wider at a higher confidence
    assert proportion_ci(3, 48, confidence=0.99).low < i.low
    with pytest.raises(ValueError, match="successes"):
        proportion_ci(5, 4)
