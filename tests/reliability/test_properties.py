"""Property-based tests: text, constraints and every reward never raise, stay in their documented
range, and are deterministic for the same input."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lengthwise.constraints import parse_length
from lengthwise.rewards.format import check_markdown, check_think_answer
from lengthwise.rewards.keywords import keyword_stuffing
from lengthwise.rewards.length import (
    cosine_length_reward,
    dapo_overlong_penalty,
    kimi_length_penalty,
    lcpo_exact_reward,
    lcpo_max_reward,
    length_score,
    lwz_range_reward,
)
from lengthwise.rewards.redundancy import exact_repetition, near_duplicate_paragraphs
from lengthwise.rewards.stack import RewardStack
from lengthwise.text import count_words, detect_language, extract_answer, split_paragraphs, split_sentences

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400) | st.sampled_from(
    ["", " ", "潮汐" * 50, "word " * 200, "🙂" * 30, "<think>a</think><answer>b</answer>", "Write about 2,000 words.",
     "写一篇三千字的文章", "at most 500 words, at least 300"])
LENGTH = st.floats(min_value=0, max_value=1e7, allow_nan=False)
POSITIVE = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(TEXT)
def test_text_functions_never_raise_and_are_deterministic(text):
    for counter in ("longbench", "whitespace", "unicode"):
        n = count_words(text, counter)
        assert isinstance(n, int) and n >= 0 and n == count_words(text, counter)
    assert detect_language(text) in ("en", "zh")
    assert extract_answer(text) == extract_answer(text)
    assert split_sentences(text) == split_sentences(text) and split_paragraphs(text) == split_paragraphs(text)


@FAST
@given(TEXT)
def test_parse_length_is_none_or_a_sane_constraint(text):
    c = parse_length(text)
    if c is not None:
        required = c.required_words()
        assert required is None or (math.isfinite(required) and required > 0)
    again = parse_length(text)
    assert (c is None and again is None) or c == again


@FAST
@given(required=POSITIVE, produced=LENGTH)
def test_length_score_is_in_0_100(required, produced):
    v = length_score(required=required, produced=produced)
    assert 0 <= v <= 100 and v == length_score(required=required, produced=produced)


@FAST
@given(produced=LENGTH, lo=POSITIVE, width=st.floats(0, 1e5), extra=st.floats(1, 1e6))
def test_bounded_length_rewards_stay_in_range(produced, lo, width, extra):
    hi = lo + width
    assert 0 <= lwz_range_reward(produced, lo, hi, hi + extra) <= 1
    cache = min(extra, hi + extra - 1e-3)
    assert -1 <= dapo_overlong_penalty(produced, hi + extra, max(cache, 1e-3)) <= 0
    for correct in (True, False):
        assert -10 <= cosine_length_reward(produced, correct, max_length=hi + extra) <= 2
        assert 0 <= lcpo_max_reward(correct, hi, produced) <= 1
        assert lcpo_exact_reward(correct, hi, produced) <= 1


@FAST
@given(st.lists(st.tuples(LENGTH, st.booleans()), min_size=1, max_size=16))
def test_kimi_penalty_is_within_half(pairs):
    values = kimi_length_penalty([p[0] for p in pairs], [p[1] for p in pairs])
    assert len(values) == len(pairs) and all(-0.5 <= v <= 0.5 for v in values)


@FAST
@given(TEXT, TEXT)
def test_detectors_and_format_checks_are_bounded(answer, prompt):
    for detection in (exact_repetition(answer), near_duplicate_paragraphs(answer), keyword_stuffing(answer, prompt)):
        assert 0 <= detection.score <= 1 and detection.flagged == (detection.score >= detection.threshold)
        for span in detection.spans:
            assert 0 <= span.start <= span.end <= len(answer)
    assert exact_repetition(answer).score == exact_repetition(answer).score
    score, _ = check_markdown(answer)
    assert 0 <= score <= 1
    assert isinstance(check_think_answer(answer).ok, bool)


_STACK = RewardStack.from_dict({"detectors": {"paraphrase": False}, "components": [
    {"name": "length", "type": "length_score"}, {"name": "range", "type": "lwz_range"},
    {"name": "format", "type": "format", "params": {"think": True}}, {"name": "hacking", "type": "hacking"}]})


@settings(max_examples=60, deadline=None)
@given(TEXT, st.one_of(st.none(), st.integers(1, 20000)))
def test_the_reward_stack_is_finite_and_deterministic(answer, length):
    rows = _STACK.score(["Write."], [answer], {"length": [length]}, evidence=False)
    again = _STACK.score(["Write."], [answer], {"length": [length]}, evidence=False)
    assert rows == again
    for name in _STACK.names:
        v = rows[0][name]
        assert v is None or math.isfinite(v)
    assert math.isfinite(rows[0]["score"])
