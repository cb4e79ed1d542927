import pickle

import pytest

from lengthwise import count_words, extract_answer
from lengthwise.text import (
    cjk_ratio,
    detect_language,
    get_counter,
    split_paragraphs,
    split_sentences,
    split_think_answer,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("don't stop", 3),
        ("state-of-the-art", 4),
        ("In 2024, GPT-4o won.", 3),
        ("word1 word2", 0),
        ("café naïve", 0),
        ("你好，世界", 4),
        ("안녕하세요", 0),
        ("こんにちは", 0),
    ],
)
def test_longbench_counter_reproduces_reference_quirks(text, expected):
    assert count_words(text) == expected
    assert count_words(text, counter="longbench") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("café naïve", 2),
        ("GPT-4o", 2),
        ("你好，世界", 4),
        ("안녕하세요", 5),
        ("こんにちは", 5),
        ("cafe\u0301 ok", 2),
        ("a_b", 2),
    ],
)
def test_unicode_counter_counts_every_script_fairly(text, expected):
    assert count_words(text, counter="unicode") == expected


def test_whitespace_counter_splits_on_any_white_space():
    assert count_words(" a\tb\n c  ", counter="whitespace") == 3


def test_token_counter_needs_a_tokenizer_and_counts_ids():
    class FakeTokenizer:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": list(text)}

    assert count_words("abc", counter="tokens", tokenizer=FakeTokenizer()) == 3
    with pytest.raises(ValueError, match="needs a tokenizer"):
        count_words("abc", counter="tokens")


def test_unknown_counter_lists_the_valid_ones():
    with pytest.raises(ValueError, match="longbench, whitespace, unicode, tokens"):
        count_words("x", counter="chars")


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_text_counts_zero(empty):
    for counter in ("longbench", "whitespace", "unicode"):
        assert count_words(empty, counter=counter) == 0


def test_counters_are_picklable():
    for name in ("longbench", "whitespace", "unicode"):
        c = pickle.loads(pickle.dumps(get_counter(name)))
        assert c("hello world") == 2


@pytest.mark.parametrize(
    "text, think, answer",
    [
        ("<think>a</think><answer>b", "a", "b"),
        ("<think>plan</think>\n<answer>\nThe text.\n</answer>", "plan", "The text."),
        ("<think>plan</think> after", "plan", "after"),
        ("no tags at all", None, "no tags at all"),
        ("<answer>only answer</answer> trailing", None, "only answer"),
        ("<think>unclosed think <answer>x</answer>", None, "x"),
        ("", None, ""),
    ],
)
def test_split_think_answer(text, think, answer):
    assert split_think_answer(text) == (think, answer)
    assert extract_answer(text) == answer


def test_length_is_measured_on_the_answer_only():
    text = "<think>" + "plan " * 100 + "</think><answer>one two three</answer>"
    assert count_words(extract_answer(text)) == 3


def test_cjk_detection():
    assert cjk_ratio("") == 0.0
    assert detect_language("写一篇关于秋天的文章") == "zh"
    assert detect_language("Write about autumn") == "en"
    assert detect_language("请写 about AI 的文章，三千字") == "zh"


def test_sentence_split_en_and_zh():
    assert split_sentences("Hello there. How are you? Fine!") == ["Hello there.", "How are you?", "Fine!"]
    assert split_sentences("今天下雨了。我没带伞！怎么办？") == ["今天下雨了。", "我没带伞！", "怎么办？"]
    assert split_sentences("") == []


def test_paragraph_split_falls_back_to_lines():
    assert split_paragraphs("one\n\ntwo\n \nthree") == ["one", "two", "three"]
    assert split_paragraphs("line a\nline b") == ["line a", "line b"]
    assert split_paragraphs("   ") == []
