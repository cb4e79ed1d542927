"""Reward components and the stack: TRL contract, verl parity, picklability, bad input."""

import math
import pickle

import pytest

from lengthwise.records import row_constraint
from lengthwise.rewards.components import COMPONENTS, as_text
from lengthwise.rewards.stack import RewardStack, default_stack_config
from lengthwise.synthetic import hacking_corpus

ANSWER = "<think>plan the piece</think><answer>" + "The tide rose slowly over the rocks. " * 40 + "</answer>"


@pytest.fixture(scope="module")
def stack():
    return RewardStack.default(think=True)


def test_default_stack_has_lwz_three_rewards(stack):
    assert stack.names == ["length", "quality", "format"]
    assert stack.reward_weights == [1.0, 1.0, 1.0]
    assert [f.__name__ for f in stack.reward_funcs] == ["length", "quality", "format"]


def test_components_follow_trl_contract_with_strings_and_chat_messages(stack):
    prompts = ["Write about 280 words on tides.", [{"role": "user", "content": "Write about 280 words on tides."}]]
    completions = [ANSWER, [{"role": "assistant", "content": ANSWER}]]
    for func in stack.reward_funcs:
        out = func(prompts=prompts, completions=completions, completion_ids=[[1, 2], [1, 2]],
                   trainer_state=object(), log_extra=lambda *a: None, log_metric=lambda *a: None, unrelated=[1, 2])
        assert len(out) == 2 and out[0] == pytest.approx(out[1])


def test_length_column_overrides_the_parsed_prompt(stack):
    length = stack.reward_funcs[0]
    ans = "<think>p</think><answer>" + "word " * 100 + "</answer>"
    parsed = length(prompts=["Write 100 words."], completions=[ans])
    column = length(prompts=["Write 100 words."], completions=[ans], length=[400])
    assert parsed == [1.0] and column[0] < 1.0


def test_component_returns_none_where_no_length_is_stated(stack):
    assert stack.reward_funcs[0](prompts=["Write a poem."], completions=[ANSWER]) == [None]


def test_format_reward_rejects_broken_template_and_penalises_pasting(stack):
    fmt = stack.reward_funcs[2]
    assert fmt(prompts=["x"], completions=["no tags"]) == [0.0]
    honest = next(s for s in hacking_corpus(2) if s.kind == "honest")
    pasted = next(s for s in hacking_corpus(2) if s.kind == "paste")
    wrap = lambda t: f"<think>plan</think><answer>{t}</answer>"  # noqa: E731
    good, bad = fmt(prompts=[honest.prompt] * 2, completions=[wrap(honest.text), wrap(pasted.text)])
    assert good == 1.0 and bad < 0.2


def test_every_component_is_picklable_and_still_works(stack):
    restored = pickle.loads(pickle.dumps(stack.reward_funcs))
    for original, copy in zip(stack.reward_funcs, restored, strict=True):
        assert copy.__name__ == original.__name__
        assert copy(prompts=["Write about 280 words on tides."], completions=[ANSWER]) == pytest.approx(
            original(prompts=["Write about 280 words on tides."], completions=[ANSWER]))


def test_trl_and_verl_adapters_give_the_same_numbers(stack):
    prompts = ["Write about 280 words on tides.", "写一篇300字的短文", "Write a poem."]
    completions = [
        ANSWER,
        "<think>计划</think><answer>" + "潮水慢慢地涨上了岩石。" * 30,
        "<think>x</think><answer>Roses.</answer>",
    ]
    lengths = [None, 300, None]
    trl = {f.__name__: f(prompts=prompts, completions=completions, length=lengths) for f in stack.reward_funcs}
    for k in range(3):
        verl = stack.compute_score("lengthwise", completions[k], None, {"prompt": prompts[k], "length": lengths[k]})
        total = 0.0
        for name in stack.names:
            if trl[name][k] is None:
                assert math.isnan(verl[name])
            else:
                assert verl[name] == pytest.approx(trl[name][k], abs=1e-9)
                total += trl[name][k]
        assert verl["score"] == pytest.approx(total, abs=1e-9)


BAD_TEXTS = {
    "empty": "",
    "whitespace": "   \n\t  ",
    "none": None,
    "emoji": "🎉🔥😀 " * 200,
    "mixed": "Hello 世界 Привет مرحبا こんにちは 안녕 " * 100,
    "think_only": "<think>only a plan</think>",
}


@pytest.mark.parametrize("case", sorted(BAD_TEXTS))
def test_every_component_gives_a_defined_score_on_bad_input(case):
    text = BAD_TEXTS[case]
    for type_name, cls in COMPONENTS.items():
        func = cls()
        out = func(
            prompts=["Write about 300 words."], completions=[text], completion_ids=[[]], answer=["42"], length=[300]
        )
        assert len(out) == 1
        assert out[0] is None or math.isfinite(out[0]), (type_name, case, out)


def test_million_word_text_is_scored_in_bounded_time(stack):
    import time

    text = "<think>p</think><answer>" + ("The tide rose over the rocks and fell again. " * 120_000) + "</answer>"
    started = time.monotonic()
    rows = stack.score(["Write about 1000 words."], [text])
    seconds = time.monotonic() - started
    assert rows[0]["words"] >= 1_000_000
    assert rows[0]["length"] == 0.0 and rows[0]["format"] < 0.5
    assert seconds < 120


def test_stack_config_errors_list_every_problem():
    with pytest.raises(ValueError) as err:
        RewardStack.from_dict(
            {"components": [{"type": "lenght"}, {"type": "format", "weight": "heavy"}], "counter": "x"}
        )
    message = str(err.value)
    assert (
        "unknown type 'lenght'" in message
        and "weight must be a finite number" in message
        and "unknown counter" in message
    )
    with pytest.raises(ValueError, match="unknown parameter"):
        RewardStack.from_dict({"components": [{"type": "lwz_range", "params": {"tolerence": 0.1}}]})
    with pytest.raises(ValueError, match="unique"):
        RewardStack.from_dict({"components": [{"type": "format"}, {"type": "format"}]})


def test_stack_loads_from_yaml(tmp_path):
    import yaml

    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(default_stack_config(think=False)))
    stack = RewardStack.from_yaml(path)
    assert stack.names == ["length", "quality", "format"] and stack.version.startswith("7-")


def test_helpers():
    assert as_text([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]) == "a"
    assert as_text(None) == ""
    assert row_constraint("Write about 300 words.", None).target == 300
    assert row_constraint("Write about 300 words.", 500).target == 500
    assert row_constraint("Write.", float("nan")) is None


def test_under_advantage_averaging_every_hack_ranks_below_its_honest_source(stack):
    from lengthwise.advantages import advantage_average
    from lengthwise.text import count_words

    corpus = hacking_corpus(3, seed=0)
    wrap = lambda t: f"<think>plan</think><answer>{t}</answer>"  # noqa: E731
    for honest in (s for s in corpus if s.kind == "honest"):
        group = [honest] + [s for s in corpus if s.source == honest.source and s.kind != "honest"]
        assert [s.kind for s in group] == ["honest", "paste", "paraphrase", "stuffing"]
        target = count_words(group[1].text)  # the hacks pad toward this target; the honest text is short of it
        prompts = [honest.prompt] * 4
        completions = [wrap(s.text) for s in group]
        rewards = {
            f.__name__: f(prompts=prompts, completions=completions, length=[target] * 4) for f in stack.reward_funcs
        }
        adv = advantage_average(rewards, group_size=4).tolist()
        assert all(adv[0] > a for a in adv[1:]), (honest.language, rewards, adv)


def test_onnx_and_torch_runtimes_give_the_same_embeddings():
    import numpy as np

    from lengthwise.rewards.embeddings import Embedder

    sentences = [
        "The tide rose over the rocks.",
        "潮水慢慢地涨上了岩石。",
        "A much longer sentence about lighthouses " * 5,
    ]
    onnx, torch_ = Embedder(runtime="auto"), Embedder(runtime="torch")
    assert onnx.active_runtime == "onnx" and torch_.active_runtime == "torch"
    a, b = onnx(sentences), torch_(sentences)
    assert a.shape == (3, 384)
    assert np.allclose(np.sum(a * b, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
