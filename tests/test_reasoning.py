"""The reasoning side end to end: lengths in the policy's tokens, LCPO from the prompt file, the LUSPO-math
recipe for two steps on a tiny model."""

import json
from pathlib import Path

import pytest

from lengthwise.cli import main
from lengthwise.metrics import read_metrics
from lengthwise.rewards.length import lcpo_exact_reward
from lengthwise.rewards.stack import RewardStack
from lengthwise.tasks import problems, reasoning_rows
from lengthwise.training.config import load_config
from lengthwise.training.dataset import training_rows


def _stack(**extra):
    return RewardStack.from_dict({"counter": "tokens", "detectors": {"paraphrase": False},
                                  "components": [{"name": "budget", "type": "lcpo", "params": {"mode": "exact"}}],
                                  **extra})


def test_the_tokens_counter_is_reachable_from_the_stack_config(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    stack = _stack(tokenizer=str(tiny_model_dir))
    completion = "We add the numbers one by one and get \\boxed{7}."
    n = len(tokenizer(completion, add_special_tokens=False)["input_ids"])
    row = stack.score(["What is 3 + 4?"], [completion], {"answer": ["7"], "target_tokens": [40]}, evidence=False)[0]
    assert row["budget"] == pytest.approx(lcpo_exact_reward(True, 40, n, 3e-4))
    assert row["counter"] == "tokens" and row["words"] == n  # no <answer> tags: the whole completion


def test_a_tokens_stack_without_a_tokenizer_says_what_to_do_and_binds_one_later(tiny_model_dir):
    from transformers import AutoTokenizer

    stack = _stack()
    with pytest.raises(ValueError, match="tokenizer"):
        stack.score(["q"], ["\\boxed{1}"], {"answer": ["1"], "target_tokens": [10]}, evidence=False)
    stack.bind_tokenizer(AutoTokenizer.from_pretrained(str(tiny_model_dir)))
    assert stack.score(["q"], ["\\boxed{1}"], {"answer": ["1"], "target_tokens": [10]}, evidence=False)[0]["budget"]


def test_training_rows_carry_the_answer_and_the_budget(tmp_path):
    path = tmp_path / "math.jsonl"
    rows = reasoning_rows(problems("train", 4, kinds=("sum",)), (32, 64), "max")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(None, [f"data.prompts={path}"])
    out = training_rows(cfg.data)
    assert [r["answer"] for r in out] == [r["answer"] for r in rows]
    assert [r["target_tokens"] for r in out] == [float(r["target_tokens"]) for r in rows]
    assert out[0]["prompt"][-1]["content"].endswith(f"maximum {rows[0]['target_tokens']} tokens.")


def test_the_luspo_math_recipe_trains_two_steps_on_the_builtin_tasks(tiny_model_dir, tmp_path):
    prompts = tmp_path / "math_prompts.jsonl"
    assert main(["tasks", "-o", str(prompts), "-n", "8", "--levels", "1", "--mode", "max", "--budget", "8,16"]) == 0
    out = tmp_path / "run"
    overrides = [f"model.name={tiny_model_dir}", f"output_dir={out}", f"data.prompts={prompts}", "max_steps=2",
                 "num_generations=2", "per_device_batch_size=2", "gradient_accumulation_steps=1",
                 "steps_per_generation=1", "max_completion_length=8", "save_steps=10", "model.dtype=float32"]
    recipe = Path(__file__).resolve().parents[1] / "examples" / "luspo-math.yaml"
    assert main(["train", str(recipe), *sum((["--set", o] for o in overrides), [])]) == 0
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    for key in ("rewards/accuracy/mean", "rewards/length/mean", "rewards/overlong/mean"):
        assert key in rows[-1], key


def _rows(targets, produced, correct):
    return [{"id": f"q{k}", "target_tokens": t, "completion_tokens": p, "answer": "7",
             "response": "so \\boxed{7}" if c else "so \\boxed{8}"}
            for k, (t, p, c) in enumerate(zip(targets, produced, correct, strict=True))]


def test_reasoning_summary_golden_values():
    from lengthwise.evaluation.reasoning import spearman, summarize_reasoning

    rows = _rows([64, 64, 128, 128, 256, 256], [50, 80, 100, 160, 200, 300], [1, 0, 1, 1, 0, 1])
    s = summarize_reasoning(rows)
    assert s["n"] == 6 and s["accuracy"]["mean"] == pytest.approx(4 / 6, abs=1e-4)
    # |50-64|/64, |80-64|/64, |100-128|/128, |160-128|/128, |200-256|/256, |300-256|/256
    errors = [14 / 64, 16 / 64, 28 / 128, 32 / 128, 56 / 256, 44 / 256]
    assert s["mean_relative_error"] == pytest.approx(sum(errors) / 6, abs=1e-4)
    assert s["by_budget"]["64"]["within_budget"] == 0.5 and s["by_budget"]["256"]["mean_produced_tokens"] == 250
    # ranks of the targets (1.5, 1.5, 3.5, 3.5, 5.5, 5.5) against produced (1..6): rho = 0.9562
    assert s["spearman_requested_produced"] == pytest.approx(0.9562, abs=1e-4)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_reasoning_before_after_is_paired_by_id():
    from lengthwise.evaluation.reasoning import compare_reasoning

    before = _rows([64, 128, 256], [200, 200, 200], [1, 0, 0])
    after = _rows([64, 128, 256], [70, 120, 250], [1, 1, 0])
    c = compare_reasoning(before, after)
    assert c["n"] == 3 and c["accuracy_gain"]["mean"] == pytest.approx(1 / 3, abs=1e-4)
    assert c["relative_error_change"]["mean"] < 0 and c["spearman_before"] is None and c["spearman_after"] == 1.0
    with pytest.raises(ValueError, match="share no row ids"):
        compare_reasoning(before, [{**r, "id": "x" + r["id"]} for r in after])
