"""Per-tokenizer token budgets, shared by generate and AgentWrite."""

import math

from lengthwise.token_budget import DEFAULT_RATE, TokenRate, auto_max_new_tokens, token_rate_of


def test_smollm2_spends_about_two_tokens_per_chinese_character(tiny_generator):
    rate = token_rate_of(tiny_generator)  # the tiny model carries SmolLM2's tokenizer
    assert 1.0 < rate.en < 1.4
    assert 1.8 < rate.zh < 2.5
    assert rate.source.startswith("measured:")
    assert token_rate_of(tiny_generator) is rate  # measured once


def test_chinese_requests_get_the_measured_budget(tiny_generator):
    rate = token_rate_of(tiny_generator)
    zh = auto_max_new_tokens(1000, cap=10_000, rate=rate, language="zh")
    assert zh == math.ceil(1000 * rate.zh * 1.5) + 64
    assert zh > auto_max_new_tokens(1000, cap=10_000, rate=TokenRate(en=1.35, zh=1.35), language="zh")


def test_a_generator_without_a_tokenizer_gets_the_default():
    class Server:
        pass

    assert token_rate_of(Server()) == DEFAULT_RATE


def test_generate_uses_the_measured_rate_for_chinese_prompts(tiny_generator, tmp_path):
    from lengthwise.constraints import parse_length
    from lengthwise.jobs.generate import GenerateSettings, _request_for
    from lengthwise.records import PromptRecord

    prompt = "写一篇关于河流的文章，约300字"
    record = PromptRecord("z", prompt, 300.0, parse_length(prompt))
    rate = token_rate_of(tiny_generator)
    request = _request_for(record, GenerateSettings(), 0, rate)
    assert request.max_new_tokens == math.ceil(300 * rate.zh * 1.5) + 64
