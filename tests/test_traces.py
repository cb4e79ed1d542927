"""Solver-written worked solutions: every task kind and level parses, every solution is correct, lengths grow with
the extra work in a fixed order, and each fine-tuning row states the length its solution has."""

from __future__ import annotations

import pytest

from lengthwise.rewards.answers import is_correct
from lengthwise.tasks import KINDS, LEVELS, problems
from lengthwise.traces import solution_parts, solver_examples, worked_solution


def _words(text: str) -> int:  # a stand-in token counter: whitespace words
    return len(text.split())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("level", LEVELS)
def test_every_problem_the_generator_writes_gets_a_correct_solution_at_every_length(kind, level):
    for p in problems("train", 25, kinds=[kind], levels=[level], seed=3):
        parts = solution_parts(p.question, p.answer, p.kind)
        assert parts is not None, p.question
        lengths = []
        for extras in range(len(parts[1]) + 1):
            text = worked_solution(parts, p.answer, extras)
            assert is_correct(text, p.answer), text
            lengths.append(_words(text))
        assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths)  # each piece of work adds length


def test_a_sum_solution_golden():
    parts = solution_parts("What is 8 + 5?", "13", "sum")
    assert parts is not None
    assert worked_solution(parts, "13", 0) == "8 + 5 = 13.\nThe answer is \\boxed{13}."
    assert worked_solution(parts, "13", 2) == (
        "We need the value of 8 + 5, so we combine the 2 numbers from left to right.\n8 + 5 = 13.\n"
        "Counting up 5 from 8: 9, 10, 11, 12, 13.\nThe answer is \\boxed{13}.")
    longest = worked_solution(parts, "13", len(parts[1]), checks_again=1)
    assert "Check in the reverse order: 5 + 8 = 13." in longest
    assert "13 - 5 = 8" in longest and longest.count("8 + 5 = 13.") == 2  # the working, then once more


def test_the_plan_line_names_the_pieces_in_the_order_they_follow():
    parts = solution_parts("What is 8 + 5?", "13", "sum")
    assert parts is not None
    assert worked_solution(parts, "13", 0, plan=True) == "Plan: work.\n8 + 5 = 13.\nThe answer is \\boxed{13}."
    text = worked_solution(parts, "13", 3, checks_again=2, plan=True)
    assert text.splitlines()[0] == "Plan: restate, work, count up, reverse check, recheck, recheck."
    assert text.splitlines()[1].startswith("We need") and text.splitlines()[3].startswith("Counting up")
    # several working lines are one "work"; the plan still lists each named piece of extra work
    three = solution_parts("What is 6 + 2 + 7?", "15", "sum")
    assert three is not None
    assert worked_solution(three, "15", 1, plan=True).splitlines()[:4] == [
        "Plan: restate, work.", "We need the value of 6 + 2 + 7, so we combine the 3 numbers from left to right.",
        "6 + 2 = 8.", "8 + 7 = 15."]


def test_the_plan_line_restates_the_budget_which_is_the_length_of_the_solution_it_opens():
    rows = [{"id": p.id, "question": p.question, "answer": p.answer, "kind": p.kind}
            for p in problems("train", 20, kinds=["sum", "compare"], seed=2)]
    for e in solver_examples(rows, 30, _words, low=6, high=90, seed=1, plan=True):
        first = e["messages"][1]["content"].splitlines()[0]
        assert first.startswith(f"Plan for {e['target_tokens']} tokens: ")
        assert e["target_tokens"] == _words(e["messages"][1]["content"]) + 1
    plain = solver_examples(rows, 5, _words, low=6, high=90, seed=1, plan=False)
    assert not any("Plan" in e["messages"][1]["content"] for e in plain)


def test_questions_of_another_form_or_a_disagreeing_answer_get_no_solution():
    assert solution_parts("What is the capital of France?", "Paris", "sum") is None
    assert solution_parts("What is 2 + 2?", "5", "sum") is None  # the solver's result must be the gold answer
    assert solution_parts("What is 2 + 2?", "4", "geometry") is None


def test_solver_examples_state_the_length_each_solution_has():
    rows = [{"id": p.id, "question": p.question, "answer": p.answer, "kind": p.kind}
            for p in problems("train", 40, kinds=["sum", "compare"], seed=1)]
    rows.append({"id": "x", "question": "Name a colour.", "answer": "red", "kind": "sum"})  # no solver: skipped
    examples = solver_examples(rows, 60, _words, low=4, high=120, seed=0)
    assert len(examples) == 60
    assert examples == solver_examples(rows, 60, _words, low=4, high=120, seed=0)  # deterministic
    assert len({(e["id"].split("#")[0], e["target_tokens"]) for e in examples}) == 60
    for e in examples:
        user, assistant = e["messages"]
        assert e["target_tokens"] == _words(assistant["content"]) + 1  # the end-of-turn token counts
        assert user["content"].endswith(f"Think for {e['target_tokens']} tokens.")
        assert e["source"] == "solver" and not e["id"].startswith("x#")
    lengths = sorted(e["target_tokens"] for e in examples)
    assert lengths[0] <= 20 and lengths[-1] > 60  # the draw spreads lengths over the range
    # the same problem appears at several lengths: the contrast the fine-tuning learns from
    per_problem: dict[str, set[int]] = {}
    for e in examples:
        per_problem.setdefault(e["id"].split("#")[0], set()).add(e["target_tokens"])
    assert max(len(v) for v in per_problem.values()) >= 2


def test_solver_lengths_leave_no_wide_gap_for_sums():
    """Rechecks combine with any number of extras, so sums reach the lengths between whole extra pieces."""
    rows = [{"id": p.id, "question": p.question, "answer": p.answer, "kind": p.kind}
            for p in problems("train", 60, kinds=["sum"], levels=(1,), seed=1)]
    lengths = sorted({e["target_tokens"] for e in solver_examples(rows, 200, _words, low=8, high=80, seed=0)})
    inside = [n for n in lengths if 30 <= n <= 80]
    gaps = [b - a for a, b in zip(inside, inside[1:], strict=False)]
    assert inside[0] <= 35 and inside[-1] >= 75 and max(gaps) <= 8, lengths  # whole pieces only: a gap of 15
