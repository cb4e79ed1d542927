"""The writing demo's warm start: the model's own answers cut to the requested lengths (jobs/writing_warmstart.py)."""

import pytest

from lengthwise.constraints import parse_length
from lengthwise.jobs.writing_warmstart import WritingWarmStart, cut_examples
from lengthwise.text import count_words

TASKS = {"t1": {"prompt": "Write an essay about tides.", "language": "en"},
         "t2": {"prompt": "Write a story about a lighthouse.", "language": "en"}}
# ten different five-word sentences: cuts land on any multiple of five words
PROSE = " ".join(f"Sentence number {w} is here." for w in ("one two three four five six seven eight nine ten"
                                                           ).split())


def _sample(sid, task, text, finish="length"):
    return {"id": sid, "task_id": task, "response": text, "finish_reason": finish}


def test_each_answer_is_cut_at_each_target_and_the_request_states_the_cut_length():
    rows, dropped = cut_examples([_sample("a", "t1", PROSE)], TASKS, (10, 20, 40), tolerance=0.15)
    # 40 words is within reach (50), so all three targets give a cut, truncated answer or not
    assert sorted(r["target"] for r in rows) == [10, 20, 40]
    for row in rows:
        answer = row["messages"][1]["content"]
        assert count_words(answer) == row["length"] == row["target"]
        assert answer.endswith("here.")  # a sentence boundary
        assert row["messages"][0]["content"].startswith("Write an essay about tides")
        assert parse_length(row["messages"][0]["content"]).target == row["length"]
    assert dropped == {"off": 0, "repetitive": 0, "duplicate": 0}


def test_targets_out_of_reach_repetitive_cuts_and_duplicates_are_dropped():
    loop = " ".join("The sea is blue and the sky is wide." for _ in range(12))  # 108 words of one sentence
    samples = [_sample("a", "t1", PROSE), _sample("b", "t2", PROSE), _sample("c", "t2", loop)]
    rows, dropped = cut_examples(samples, TASKS, (20, 90), tolerance=0.15)
    assert dropped["off"] == 2  # 90 words: PROSE has 50, twice
    assert dropped["duplicate"] == 1  # the same cut of the same text, asked under another task
    # the looping answer at 90 words; at 20 words it repeats one 9-word sentence once, below the detector's
    # 25-word minimum run (a refrain, not padding)
    assert dropped["repetitive"] == 1
    assert sorted(r["id"] for r in rows) == ["a:20", "c:20"]


def test_rows_are_shuffled_the_same_way_for_a_seed():
    samples = [_sample(f"s{k}", "t1", PROSE.replace("one", f"n{k}")) for k in range(6)]
    first = [r["id"] for r in cut_examples(samples, TASKS, (10, 20), 0.15, seed=3)[0]]
    assert first == [r["id"] for r in cut_examples(samples, TASKS, (10, 20), 0.15, seed=3)[0]]
    assert first != sorted(first)


@pytest.mark.parametrize("field, value", [("tasks", 0), ("tolerance", 1.5), ("temperature", -1.0), ("epochs", 0.0)])
def test_bad_settings_are_named(field, value):
    problems = WritingWarmStart(**{field: value}).check()
    assert problems and field in problems[0]
