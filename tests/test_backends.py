import asyncio
import time

import pytest

from lengthwise.backends import GenerationRequest, make_generator, summarize_results
from lengthwise.backends.openai_backend import OpenAIGenerator, RetryPolicy
from lengthwise.errors import ConfigError
from openai_server import FakeOpenAIServer


def chat(text, **kw):
    return GenerationRequest(messages=[{"role": "user", "content": text}], **kw)


def test_request_validation():
    with pytest.raises(ValueError, match="exactly one"):
        GenerationRequest()
    with pytest.raises(ValueError, match="max_new_tokens"):
        chat("x", max_new_tokens=0)


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(ConfigError, match="transformers, openai"):
        make_generator("vllm-native")


def test_transformers_batch_matches_single_requests_under_left_padding(tiny_generator):
    short = chat("Hi", max_new_tokens=12, temperature=0)
    long = chat("Tell me a long story about the sea and the wind and the boats " * 3, max_new_tokens=12, temperature=0)
    alone = tiny_generator.generate([short])[0]
    batched = tiny_generator.generate([long, short])
    assert batched[1].text == alone.text
    assert batched[1].completion_tokens == alone.completion_tokens


def test_transformers_respects_max_new_tokens_and_reports_length(tiny_generator):
    results = tiny_generator.generate(
        [chat("a", max_new_tokens=5, temperature=0), chat("b", max_new_tokens=9, temperature=0)]
    )
    for r, limit in zip(results, (5, 9), strict=True):
        assert r.completion_tokens <= limit
        assert r.finish_reason in ("stop", "length")
        if r.finish_reason == "length":
            assert r.completion_tokens == limit
        assert r.prompt_tokens > 0


def test_transformers_seed_makes_sampling_reproducible(tiny_generator):
    reqs = [chat("seeded", max_new_tokens=10, temperature=1.0, seed=123)]
    assert tiny_generator.generate(reqs)[0].text == tiny_generator.generate(reqs)[0].text
    other = tiny_generator.generate([chat("seeded", max_new_tokens=10, temperature=1.0, seed=124)])[0].text
    assert other != tiny_generator.generate(reqs)[0].text


def test_transformers_stop_string_cuts_text_and_reports_stop(tiny_generator):
    base = tiny_generator.generate([chat("stop test", max_new_tokens=30, temperature=1.0, seed=7)])[0]
    assert len(base.text) > 12
    stop = base.text[8:12]
    cut = tiny_generator.generate([chat("stop test", max_new_tokens=30, temperature=1.0, seed=7, stop=[stop])])[0]
    assert cut.finish_reason == "stop"
    assert stop not in cut.text
    assert base.text.startswith(cut.text)


def test_transformers_on_result_sees_every_index_once(tiny_generator):
    seen = []
    reqs = [chat(f"p{i}", max_new_tokens=3 + i % 3, temperature=0) for i in range(7)]
    out = tiny_generator.generate(reqs, on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == list(range(7))
    assert all(r is not None for r in out)


@pytest.fixture()
def server(tiny_generator):
    with FakeOpenAIServer(tiny_generator, hang_seconds=10) as s:
        yield s


def fast_policy(attempts=3):
    return RetryPolicy(max_attempts=attempts, backoff_base=0.01, backoff_max=0.05, deadline=30)


def test_openai_backend_generates_through_a_real_http_server(server):
    gen = OpenAIGenerator(model="tiny", base_url=server.base_url, concurrency=2, timeout=5, retry=fast_policy())
    results = gen.generate(
        [chat("hello", max_new_tokens=6, temperature=0), GenerationRequest(prompt="raw", max_new_tokens=4)]
    )
    assert all(r.ok for r in results)
    assert results[0].completion_tokens <= 6 and results[0].finish_reason in ("stop", "length")
    assert server.served["ok"] == 2


def test_openai_backend_retries_each_fault_then_succeeds(server):
    server.faults.extend(["429", "429-retry", "500", "503", "close", "malformed", "empty", "hang"])
    gen = OpenAIGenerator(
        model="tiny", base_url=server.base_url, concurrency=1, timeout=0.5, retry=fast_policy(attempts=10)
    )
    results = gen.generate([chat("x", max_new_tokens=4, temperature=0)])
    assert results[0].ok
    assert results[0].failures == ["http_429", "http_429", "http_500", "http_503", "connection", "bad_response",
                                   "empty_choices", "timeout"]
    assert results[0].attempts == 9


def test_openai_backend_records_every_failure_and_its_reason(server):
    # Sequential requests: the first meets 500 twice (gives up), the second 429 once (recovers).
    server.faults.extend(["500", "500", "429"])
    gen = OpenAIGenerator(
        model="tiny", base_url=server.base_url, concurrency=1, timeout=5, retry=fast_policy(attempts=2)
    )
    results = gen.generate([chat("a", max_new_tokens=3), chat("b", max_new_tokens=3)])
    assert [r.ok for r in results] == [False, True]
    assert results[0].error == "http_500" and results[0].finish_reason == "error"
    summary = summarize_results(results)
    assert summary["completed"] == 1 and summary["failed"] == 1
    assert summary["failed_by_reason"] == {"http_500": 1}
    # the second 500 ended request a (no retry followed it); the first 500 and the 429 were retried
    assert summary["retries_by_reason"] == {"http_500": 1, "http_429": 1}


def test_openai_backend_gives_up_on_non_retryable_status(server):
    server.faults.extend(["400"])
    gen = OpenAIGenerator(model="tiny", base_url=server.base_url, concurrency=1, timeout=5, retry=fast_policy())
    result = gen.generate([chat("a", max_new_tokens=3)])[0]
    assert result.error == "http_400" and result.attempts == 1 and result.finish_reason == "error"


def test_openai_backend_refused_connection_is_counted_not_raised():
    gen = OpenAIGenerator(model="tiny", base_url="http://127.0.0.1:9/v1", concurrency=4, timeout=2, retry=fast_policy())
    results = gen.generate([chat("a", max_new_tokens=3) for _ in range(3)])
    assert [r.error for r in results] == ["connection"] * 3
    assert all(r.attempts == 3 for r in results)


def test_openai_backend_respects_the_total_deadline(server):
    server.fault_mix = {"500": 1.0}
    policy = RetryPolicy(max_attempts=1000, backoff_base=0.2, backoff_max=0.2, deadline=1.0)
    gen = OpenAIGenerator(model="tiny", base_url=server.base_url, concurrency=1, timeout=5, retry=policy)
    started = time.monotonic()
    result = gen.generate([chat("a", max_new_tokens=3)])[0]
    assert result.error == "http_500"
    assert time.monotonic() - started < 3


def test_openai_backend_bounded_concurrency(server):
    server.fault_mix = {"ok": 1.0}
    gen = OpenAIGenerator(model="tiny", base_url=server.base_url, concurrency=3, timeout=10, retry=fast_policy())
    results = gen.generate([chat(f"q{i}", max_new_tokens=3) for i in range(9)])
    assert sum(r.ok for r in results) == 9


def test_openai_backend_sends_the_key_from_the_environment_only_as_a_header(server, monkeypatch):
    monkeypatch.setenv("MY_TEST_KEY", "sk-secret-123")
    gen = OpenAIGenerator(model="tiny", base_url=server.base_url, api_key_env="MY_TEST_KEY", retry=fast_policy())
    gen.generate([chat("a", max_new_tokens=2)])
    assert server.seen_auth[-1] == "Bearer sk-secret-123"
    assert "sk-secret" not in repr(gen)


def test_openai_backend_works_inside_a_running_event_loop(server):
    gen = OpenAIGenerator(model="tiny", base_url=server.base_url, retry=fast_policy())

    async def inside():
        return gen.generate([chat("a", max_new_tokens=2)])

    assert asyncio.run(inside())[0].ok


def test_openai_backend_config_errors():
    with pytest.raises(ConfigError, match="--model"):
        OpenAIGenerator(base_url="http://x")
    with pytest.raises(ConfigError, match="--base-url"):
        OpenAIGenerator(model="m")
