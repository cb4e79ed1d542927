"""Constraint-aware length scores and LIFEBench's length score (docs/reference.md §6)."""

import math

import pytest

from lengthwise import parse_length
from lengthwise.rewards.length import (
    constraint_length_score,
    length_score,
    lifebench_length_score,
    lifebench_length_score_released,
    score_constraint,
)


@pytest.mark.parametrize("produced, kind, expected", [
    (100, "exact", 100.0),                                 # LD = 0
    (80, "exact", 100 * math.exp(5 * -0.2)),               # LD = -0.2 -> 100·e^-1 = 36.788
    (120, "exact", 100 * math.exp(-2 * 0.2)),              # LD = +0.2 -> 100·e^-0.4 = 67.032
    (150, "exact", 100 * math.exp(-2 * 0.5)),              # LD = +0.5 -> 36.788
    (80, "max", 100.0),                                    # at most, under the bound
    (120, "max", 100 * math.exp(-2 * 0.2)),                # at most, over: the LD > 0 branch
    (130, "min", 100.0),                                   # at least, over the bound
    (80, "min", 100 * math.exp(5 * -0.2)),                 # at least, under: the LD < 0 branch
    (0, "exact", 100 * math.exp(-5)),                      # nothing written: LD = -1
])
def test_lifebench_length_score_golden_values(produced, kind, expected):
    assert lifebench_length_score(required=100, produced=produced, kind=kind) == pytest.approx(expected, abs=1e-9)


def test_lifebench_golden_values_as_printed():
    assert round(lifebench_length_score(required=100, produced=80), 3) == 36.788
    assert round(lifebench_length_score(required=100, produced=120), 3) == 67.032
    assert round(lifebench_length_score(required=100, produced=150), 3) == 36.788


def test_lifebench_released_variant_uses_percent_deviation():
    # The released script's LD is 100·(y − x)/x: a 10% overshoot is e^-20 of full marks.
    assert lifebench_length_score_released(required=100, produced=110) == pytest.approx(100 * math.exp(-20))
    assert lifebench_length_score_released(required=100, produced=100) == 100.0
    assert lifebench_length_score_released(required=100, produced=99) == pytest.approx(100 * math.exp(-5))
    assert lifebench_length_score_released(required=100, produced=80, kind="max") == 100.0


@pytest.mark.parametrize("kind, produced, bounds, expected", [
    ("max", 300, {"hi": 500}, 100.0),
    ("max", 600, {"hi": 500}, 100 * (1 - (600 / 500 - 1) / 3)),
    ("min", 600, {"lo": 800}, 100 * (1 - (800 / 600 - 1) / 2)),      # 83.333
    ("min", 900, {"lo": 800}, 100.0),
    ("range", 900, {"lo": 400, "hi": 600}, 100 * (1 - (900 / 600 - 1) / 3)),  # 83.333
    ("range", 300, {"lo": 400, "hi": 600}, 100 * (1 - (400 / 300 - 1) / 2)),
    ("range", 500, {"lo": 400, "hi": 600}, 100.0),
    ("about", 800, {"target": 1000}, 87.5),
    ("exact", 1500, {"target": 1000}, 100 * (1 - 0.5 / 3)),
])
def test_constraint_length_score_golden_values(kind, produced, bounds, expected):
    assert constraint_length_score(kind, produced, **bounds) == pytest.approx(expected, abs=1e-9)


def test_plain_sl_would_punish_a_satisfied_maximum():
    assert length_score(required=500, produced=300) == pytest.approx(66.6667, abs=1e-4)
    assert constraint_length_score("max", 300, hi=500) == 100.0


@pytest.mark.parametrize("kind, bounds", [("exact", {"target": 10}), ("min", {"lo": 10}), ("max", {"hi": 10}),
                                          ("range", {"lo": 5, "hi": 10})])
def test_nothing_written_scores_zero_everywhere(kind, bounds):
    assert constraint_length_score(kind, 0, **bounds) == 0.0


def test_bad_bounds_raise():
    with pytest.raises(ValueError):
        constraint_length_score("max", 10)
    with pytest.raises(ValueError):
        constraint_length_score("range", 10, lo=9, hi=3)
    with pytest.raises(ValueError):
        lifebench_length_score(required=0, produced=3)


@pytest.mark.parametrize("prompt, produced, expected", [
    ("Write no more than 500 words.", 300, 100.0),
    ("请写一篇不要超过500字的文章", 300, 100.0),
    ("Write at least 800 words.", 600, 100 * (1 - (800 / 600 - 1) / 2)),
    ("写一篇不少于800字的文章", 600, 100 * (1 - (800 / 600 - 1) / 2)),
    ("Write between 400 and 600 words.", 900, 100 * (1 - (900 / 600 - 1) / 3)),
    ("Write no more than 2 pages.", 900, 100.0),   # pages at 500 words each: bound 1000
    ("Write no more than 2 pages.", 1500, 100 * (1 - (1500 / 1000 - 1) / 3)),
])
def test_score_constraint_reads_the_typed_request(prompt, produced, expected):
    assert score_constraint(parse_length(prompt), produced) == pytest.approx(expected, abs=1e-9)


def test_score_constraint_methods():
    c = parse_length("Write at most 100 words.")
    assert score_constraint(c, 80, "lifebench") == 100.0
    assert score_constraint(c, 120, "lifebench") == pytest.approx(100 * math.exp(-0.4))
    assert score_constraint(c, 80, "S_l") == pytest.approx(length_score(required=100, produced=80))
    assert score_constraint(parse_length("under 280 characters"), 50) is None  # English characters: no words
    with pytest.raises(ValueError):
        score_constraint(c, 80, "nonsense")


def test_constraint_score_component_reads_the_typed_request():
    import pickle

    from lengthwise.rewards.components import COMPONENTS

    component = COMPONENTS["constraint_score"]()
    prompts = ["Write no more than 50 words.", "Write about 50 words.", "Write a poem."]
    completions = [" ".join(["word"] * 30)] * 3
    values = component(prompts, completions, length=[None, None, None])
    assert values[0] == 1.0                                              # the maximum is obeyed
    assert values[1] == pytest.approx(length_score(required=50, produced=30) / 100)
    assert values[2] is None                                             # no length stated
    # a length column that states the same number keeps the prompt's type
    assert component(prompts[:1], completions[:1], length=[50])[0] == 1.0
    assert pickle.loads(pickle.dumps(component))(prompts[:1], completions[:1])[0] == 1.0
    lifebench = COMPONENTS["constraint_score"](method="lifebench")
    assert lifebench(prompts[1:2], completions[1:2])[0] == pytest.approx(math.exp(5 * (30 - 50) / 50))
