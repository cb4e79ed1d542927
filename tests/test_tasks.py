"""Verifiable reasoning tasks: determinism, disjoint splits, true answers, L1 budget prompts, hub formats."""

import re

import pytest

from lengthwise.rewards.answers import is_correct
from lengthwise.tasks import KINDS, LEVELS, budget_prompt, from_hub_row, problems, reasoning_rows, split_of


def test_same_arguments_give_the_same_problems_and_another_seed_others():
    a = problems("train", 40, seed=3)
    assert a == problems("train", 40, seed=3)
    assert [p.question for p in a] != [p.question for p in problems("train", 40, seed=4)]


@pytest.mark.parametrize("level", LEVELS)
def test_train_and_heldout_never_share_a_problem_at_any_seed(level):
    train = {p.question for seed in range(3) for p in problems("train", 60, levels=(level,), seed=seed)}
    heldout = {p.question for seed in range(3) for p in problems("heldout", 30, levels=(level,), seed=seed)}
    assert train and heldout and not train & heldout
    assert all(split_of(q) == "heldout" for q in heldout) and all(split_of(q) == "train" for q in train)


def _evaluate(question: str) -> int:
    """An independent reading of each kind of question, to check the generator's answers."""
    if m := re.fullmatch(r"Which number is the largest: ([\d, or]+)\?", question):
        return max(int(x) for x in re.findall(r"\d+", m.group(1)))
    if m := re.fullmatch(r"What number comes right (after|before) (\d+)\?", question):
        return int(m.group(2)) + (1 if m.group(1) == "after" else -1)
    if m := re.fullmatch(r"What number comes next: ([\d, ]+), \.\.\.\?", question):
        seq = [int(x) for x in m.group(1).split(", ")]
        return seq[-1] + seq[1] - seq[0]
    if m := re.fullmatch(r"What is ([\d +-]+)\?", question):
        return eval(m.group(1))  # digits, spaces, + and - only (the regex guarantees it)
    if m := re.fullmatch(r'How many times does the letter "(\w)" appear in the words? "([a-z ]+)"\?', question):
        return m.group(2).count(m.group(1))
    if question.startswith("How many") and " are " in question:
        factors = {"kilometres": 1000, "metres": 100, "hours": 60, "minutes": 60, "kilograms": 1000, "days": 24,
                   "dozen": 12, "weeks": 7}
        big = next(u for u in factors if re.search(rf"\d+ {u}\b", question) and not question.startswith(
            f"How many {u}"))
        amounts = [int(x) for x in re.findall(rf"(\d+) {big}\b", question)]
        small = re.match(r"How many (\w+)", question).group(1)
        extra = [int(x) for x in re.findall(rf"(\d+) {small}\b", question)]
        used = int(m.group(1)) if (m := re.search(rf"after (\d+) {small} are used", question)) else 0
        rest = extra[:-1] if used else extra
        return sum(amounts) * factors[big] + sum(rest) - used
    count = int(re.search(r"has (\d+) ", question).group(1))
    for sentence in question.split(". ")[1:]:
        if m := re.search(r"gets (\d+) more", sentence):
            count += int(m.group(1))
        elif m := re.search(r"gives (\d+) to", sentence):
            count -= int(m.group(1))
        elif "doubles" in sentence:
            count *= 2
    return count


@pytest.mark.parametrize("kind", KINDS)
def test_every_answer_is_right(kind):
    for p in problems("train", 40, kinds=(kind,), levels=LEVELS, seed=1):
        assert int(p.answer) == _evaluate(p.question), p
        assert int(p.answer) >= 0


def test_difficulty_grows_with_the_level():
    def mean_words(level):
        ps = problems("train", 40, kinds=("word_problem", "convert", "sum", "compare"), levels=(level,))
        return sum(len(p.question.split()) for p in ps) / len(ps)

    assert mean_words(1) < mean_words(2) < mean_words(3) < mean_words(4)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown task kinds"):
        problems("train", 5, kinds=("poetry",))
    with pytest.raises(ValueError, match="levels"):
        problems("train", 5, levels=(9,))
    with pytest.raises(ValueError, match="only"):
        problems("heldout", 10_000, kinds=("count",), levels=(1,))


def test_budget_prompts_follow_l1_in_english_and_chinese():
    q = "What is 2 + 3?"
    assert budget_prompt(q, 256, "exact") == (
        "What is 2 + 3? Let's think step by step and output the final answer within \\boxed{}. Think for 256 tokens.")
    assert budget_prompt(q, 256, "max").endswith("Think for maximum 256 tokens.")
    assert budget_prompt(q, None).endswith("within \\boxed{}.")
    zh = budget_prompt("2 加 3 等于几？", 128, "max", "zh")
    assert zh.startswith("2 加 3 等于几？") and zh.endswith("最多思考 128 个词元。") and "\\boxed{}" in zh
    assert budget_prompt("题", 64, "exact", "zh").endswith("思考 64 个词元。")
    with pytest.raises(ValueError, match="positive"):
        budget_prompt(q, 0)
    with pytest.raises(ValueError, match="exact or max"):
        budget_prompt(q, 10, "min")


def test_rows_draw_a_budget_per_problem_for_training_and_every_budget_for_evaluation():
    ps = problems("heldout", 6)
    train = reasoning_rows(ps, (100, 400), "max", seed=1)
    assert len(train) == 6 and all(100 <= r["target_tokens"] <= 400 for r in train)
    assert len({r["target_tokens"] for r in train}) > 1 and train == reasoning_rows(ps, (100, 400), "max", seed=1)
    assert all(r["prompt"].endswith(f"maximum {r['target_tokens']} tokens.") for r in train)
    grid = reasoning_rows(ps, [64, 128, 256], draw=False)
    assert len(grid) == 18 and len({r["id"] for r in grid}) == 18
    assert {r["target_tokens"] for r in grid} == {64, 128, 256}
    plain = reasoning_rows(ps, None)
    assert all("target_tokens" not in r and "Think for" not in r["prompt"] for r in plain)


def test_the_rows_answers_are_checked_by_math_verify():
    row = reasoning_rows(problems("train", 1, kinds=("sum",)), None)[0]
    assert is_correct(f"so the total is \\boxed{{{row['answer']}}}", row["answer"]) is True
    assert is_correct("\\boxed{-12345}", row["answer"]) is False


@pytest.mark.parametrize("raw, question, answer", [
    ({"question": "Tom has 3 pens and buys 2. How many?", "answer": "3 + 2 = 5\n#### 5"},
     "Tom has 3 pens and buys 2. How many?", "5"),
    ({"question": "Big?", "answer": "It is 1,234.\n#### 1,234"}, "Big?", "1234"),
    ({"problem": "Half of 1?", "solution": "We get $\\boxed{\\frac{1}{2}}$.", "level": "Level 1"},
     "Half of 1?", "\\frac{1}{2}"),
    ({"problem": "Root?", "solution": "long…", "answer": "\\sqrt{2}"}, "Root?", "\\sqrt{2}"),
    ({"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "Sum 1..3?"}],
      "reward_model": {"ground_truth": "6", "style": "rule"}}, "Sum 1..3?", "6"),
    ({"prompt": "What is 2 + 2?", "answer": 4}, "What is 2 + 2?", "4"),
])
def test_hub_formats_normalise_to_question_and_answer(raw, question, answer):
    row = from_hub_row(raw)
    assert row["question"] == question and row["answer"] == answer


def test_a_row_without_an_answer_names_its_keys():
    with pytest.raises(ValueError, match="keys: problem, solution"):
        from_hub_row({"problem": "x", "solution": "no box here"})


def run_cli(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "lengthwise.cli", *args], capture_output=True, text=True, timeout=300)


def test_tasks_command_writes_training_and_evaluation_files(tmp_path):
    import json

    train, heldout = tmp_path / "train.jsonl", tmp_path / "heldout.jsonl"
    done = run_cli("tasks", "-o", str(train), "-n", "30", "--budget", "64,256", "--mode", "max", "--levels", "1,2")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    assert len(rows) == 30 and all(64 <= r["target_tokens"] <= 256 and r["answer"] for r in rows)
    assert "wrote 30 prompts" in done.stdout
    done = run_cli("tasks", "-o", str(heldout), "--split", "heldout", "-n", "5", "--grid", "--budget", "64,128,256")
    assert done.returncode == 0, done.stderr
    grid = [json.loads(line) for line in heldout.read_text().splitlines()]
    assert len(grid) == 15 and not {r["question"] for r in grid} & {r["question"] for r in rows}


def test_tasks_command_restates_a_hub_math_file_and_names_a_bad_row(tmp_path):
    import json

    gsm = tmp_path / "gsm8k.jsonl"
    gsm.write_text("".join(json.dumps({"question": f"What is {k} + 1?", "answer": f"so\n#### {k + 1}"}) + "\n"
                           for k in range(4)))
    out = tmp_path / "out.jsonl"
    done = run_cli("tasks", "-o", str(out), "--from", str(gsm), "--budget", "100,200")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["answer"] for r in rows] == ["1", "2", "3", "4"] and rows[0]["prompt"].startswith("What is 0 + 1?")
    gsm.write_text(json.dumps({"question": "no answer"}) + "\n")
    done = run_cli("tasks", "-o", str(tmp_path / "bad.jsonl"), "--from", str(gsm))
    assert done.returncode != 0 and "row 1" in done.stderr and not (tmp_path / "bad.jsonl").exists()


def test_a_kind_that_runs_dry_leaves_the_rotation_and_the_others_fill_the_file():
    # two one-digit summands give 81 sums, about 65 of them in the train split
    mixed = problems("train", 300, kinds=("sum", "word_problem"), levels=(1,))
    sums = [p for p in mixed if p.kind == "sum"]
    assert len(mixed) == 300 and 40 < len(sums) < 81 and len({p.question for p in mixed}) == 300
