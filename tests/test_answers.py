"""Answer checking with math-verify: equivalent forms pass, a wrong answer that contains the right
number does not, and a row without a reference is not scored."""

from __future__ import annotations

import threading

import pytest

from lengthwise.rewards.answers import is_correct


@pytest.mark.parametrize(("response", "reference", "expected"), [
    ("The result is \\boxed{0.5}.", "1/2", True),
    ("So x = \\boxed{\\frac{1}{2}}", "0.5", True),
    ("The answer is 2.50", "2.5", True),
    ("<think>12 apples, then 1 more</think><answer>\\boxed{13}</answer>", "13", True),
    ("I first got 12, but the answer is 13.", "12", False),  # contains the right number, answers another
    ("\\boxed{3 cm}", "3", True),
    ("\\boxed{7}", "8", False),
    ("no number at all", "4", False),
])
def test_equivalent_forms_and_wrong_answers(response, reference, expected):
    assert is_correct(response, reference) is expected


def test_no_reference_means_not_scored():
    assert is_correct("\\boxed{1}", None) is None
    assert is_correct("\\boxed{1}", "  ") is None


def test_works_off_the_main_thread():
    """math-verify's timeouts need the main thread; a reward scored in a worker thread still works."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(is_correct("\\boxed{\\frac{3}{4}}", "0.75")))
    thread.start()
    thread.join()
    assert seen == [True]
