"""Judges and generation against an OpenAI-compatible server, as a user meets them: structured output
with fallbacks, raw replies kept, failures retried on rerun, server-aware concurrency and timeouts,
fixes named for errors no retry cures, an arena with nothing to rank."""

from __future__ import annotations

import json
import time

import pytest

from conftest import write_jsonl
from lengthwise.backends.base import GenerationRequest
from lengthwise.backends.openai_backend import OpenAIGenerator, RetryPolicy, probe_concurrency
from lengthwise.cli import main
from lengthwise.judging.pairwise import PAIRWISE_SCHEMA, GeneratorPairJudge
from lengthwise.judging.rubric import DIMENSIONS, RUBRIC_SCHEMA, GeneratorJudge
from openai_server import FakeOpenAIServer
from scripted import ScriptedGenerator, rubric_reply

GOOD = rubric_reply({d: 4 for d in DIMENSIONS})


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _responses(tmp_path, n=3):
    rows = [{"id": f"r{k}", "prompt": "Write about 5 words.", "response": "one two three four five"} for k in range(n)]
    return write_jsonl(tmp_path / "r.jsonl", rows)


def _fast():
    return RetryPolicy(max_attempts=2, backoff_base=0.0, backoff_max=0.0)


# --- structured output -------------------------------------------------------------------------------

def test_rubric_judge_asks_for_a_json_schema_and_the_reply_parses():
    with FakeOpenAIServer(ScriptedGenerator(lambda r: GOOD)) as server:
        gen = OpenAIGenerator(model="judge", base_url=server.base_url, concurrency=1, retry=_fast())
        [verdict] = GeneratorJudge(gen).judge([("Write 5 words.", "one two three four five")])
    assert verdict.ok and verdict.scores["Clarity"] == 4
    [fmt] = server.response_formats
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == RUBRIC_SCHEMA["schema"]
    assert set(fmt["json_schema"]["schema"]["required"]) >= set(DIMENSIONS)


@pytest.mark.parametrize("status", [400, 422, 500])
def test_a_server_refusing_json_schema_is_asked_the_llama_cpp_python_way_then_free_text(status):
    with FakeOpenAIServer(ScriptedGenerator(lambda r: GOOD)) as server:
        server.refuse_formats = {"json_schema"}
        server.refuse_status = status  # llama-cpp-python 0.3.36 answers its validation error with a 500
        gen = OpenAIGenerator(model="judge", base_url=server.base_url, concurrency=1, retry=_fast())
        verdicts = GeneratorJudge(gen).judge([("p", "a"), ("p", "b")])
        assert all(v.ok for v in verdicts)
        assert gen.structured_style == "json_object" and gen.structured_fallbacks == ["json_schema"]
        assert server.response_formats[1]["schema"] == RUBRIC_SCHEMA["schema"]
        # a server that takes neither gets free text, parsed the same way
        server.refuse_formats = {"json_schema", "json_object"}
        gen = OpenAIGenerator(model="judge", base_url=server.base_url, concurrency=1, retry=_fast())
        assert GeneratorJudge(gen).judge([("p", "c")])[0].ok
        assert gen.structured_style is None and server.response_formats[-1] is None


def test_no_judge_structured_sends_no_schema(tmp_path):
    with FakeOpenAIServer(ScriptedGenerator(lambda r: GOOD)) as server:
        code = main(["eval", str(_responses(tmp_path, 1)), "-o", str(tmp_path / "out"), "--judge", server.base_url,
                     "--judge-model", "judge", "--no-judge-structured", "-q"])
    assert code == 0 and server.response_formats == [None]


def test_pairwise_judge_is_constrained_to_a_verdict_letter():
    reply = json.dumps({"comparison": "B is vaguer.", "verdict": "A"})
    with FakeOpenAIServer(ScriptedGenerator(lambda r: reply)) as server:
        gen = OpenAIGenerator(model="judge", base_url=server.base_url, concurrency=1, retry=_fast())
        [verdict] = GeneratorPairJudge(gen).compare([("p", "a", "b")])
    assert verdict.outcome == 1.0
    schema = server.response_formats[0]["json_schema"]["schema"]
    assert schema == PAIRWISE_SCHEMA["schema"] and schema["properties"]["verdict"]["enum"] == ["A", "B", "C"]


# --- failures are kept with their raw reply and retried on rerun ------------------------------------

def test_eval_judge_failures_keep_the_raw_reply_and_are_retried_on_rerun(tmp_path, capsys):
    responses = _responses(tmp_path)
    out = tmp_path / "out"
    with FakeOpenAIServer(ScriptedGenerator(lambda r: "I think it is fine, maybe a four.")) as server:
        code = main(["eval", str(responses), "-o", str(out), "--judge", server.base_url, "--judge-model", "j",
                     "--judge-attempts", "1", "-q"])
        assert code == 1
        assert "rerun the same command to retry them" in capsys.readouterr().err
        items = _rows(out / "items.jsonl")
        assert [i["judge_raw"] for i in items] == ["I think it is fine, maybe a four."] * 3
        assert all(i["judge_error"] == "parse: no JSON object in the reply" for i in items)
    with FakeOpenAIServer(ScriptedGenerator(lambda r: GOOD)) as server:
        code = main(["eval", str(responses), "-o", str(out), "--judge", server.base_url, "--judge-model", "j", "-q"])
        assert code == 0
        assert len(server.response_formats) == 3  # the rerun asked the judge again for every failed item
    summary = json.loads((out / "summary.json").read_text())
    assert summary["judge_failures"]["count"] == 0 and summary["S_q"] == 75.0 and summary["n"] == 3
    # append-only: the failed rows stay on disk, superseded by the finished ones
    assert len(_rows(out / "items.jsonl")) == 6
    # a third run has nothing left to ask
    with FakeOpenAIServer(ScriptedGenerator(lambda r: GOOD)) as server:
        assert main(["eval", str(responses), "-o", str(out), "--judge", server.base_url, "--judge-model", "j",
                     "-q"]) == 0
        assert server.response_formats == []


def test_adding_a_judge_to_a_finished_run_is_a_new_run(tmp_path, capsys):
    responses = _responses(tmp_path, 2)
    out = tmp_path / "out"
    assert main(["eval", str(responses), "-o", str(out), "-q"]) == 0
    with FakeOpenAIServer(ScriptedGenerator(lambda r: GOOD)) as server:
        judged = ["eval", str(responses), "-o", str(out), "--judge", server.base_url, "--judge-model", "j", "-q"]
        assert main(judged) == 2
        assert "judge: null -> \"rubric:j\"" in capsys.readouterr().err
        assert main([*judged, "--restart"]) == 0
    assert json.loads((out / "summary.json").read_text())["S_q"] == 75.0


def test_arena_failures_keep_raw_replies_and_nothing_to_rank_exits_1(tmp_path, capsys):
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "p", "prompt": "Write.", "response": "x", "model": "a"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "p", "prompt": "Write.", "response": "y", "model": "b"}])
    out = tmp_path / "arena"
    with FakeOpenAIServer(ScriptedGenerator(lambda r: "Both are nice.")) as server:
        code = main(["arena", str(a), str(b), "-o", str(out), "--judge", server.base_url, "--judge-model", "j",
                     "--judge-attempts", "1", "-q"])
    err = capsys.readouterr()
    assert code == 1 and "nothing to rank" in err.err
    assert "leaderboard" not in err.out.lower() and not (out / "leaderboard.json").exists()
    rows = _rows(out / "comparisons.jsonl")
    assert len(rows) == 2 and all(r["outcome"] is None and r["raw"] == "Both are nice." for r in rows)
    with FakeOpenAIServer(ScriptedGenerator(lambda r: "[[A]]")) as server:
        code = main(["arena", str(a), str(b), "-o", str(out), "--judge", server.base_url, "--judge-model", "j", "-q"])
        assert code == 0 and len(server.response_formats) == 2  # both failed comparisons asked again
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["judged"] == 2 and board["judge_failures"]["count"] == 0


# --- concurrency, timeouts and cancellation -------------------------------------------------------

def test_auto_concurrency_reads_llama_cpp_slots_and_defaults_to_one(tiny_generator):
    with FakeOpenAIServer(tiny_generator) as server:
        assert probe_concurrency(server.base_url)[0] == 1  # no /props: one request at a time
        server.slots = 4
        assert probe_concurrency(server.base_url) == (4, "llama.cpp server with 4 slot(s)")
        assert OpenAIGenerator(model="m", base_url=server.base_url).concurrency == 4
        assert OpenAIGenerator(model="m", base_url=server.base_url, concurrency="3").concurrency == 3


def test_a_request_given_up_on_is_closed_so_the_server_can_stop(tiny_generator):
    with FakeOpenAIServer(tiny_generator, hang_seconds=20) as server:
        server.faults.extend(["hang"])
        gen = OpenAIGenerator(model="m", base_url=server.base_url, concurrency=1, timeout=0.5,
                              retry=RetryPolicy(max_attempts=1))
        started = time.monotonic()
        [result] = gen.generate([GenerationRequest(messages=[{"role": "user", "content": "hi"}], max_new_tokens=4)])
        assert result.error == "timeout" and time.monotonic() - started < 10
        deadline = time.monotonic() + 5
        while server.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.disconnects == 1  # the server saw the connection close, not a request left open


def test_the_timeout_does_not_count_the_connect_phase_separately_from_the_reply():
    gen = OpenAIGenerator(model="m", base_url="http://127.0.0.1:9/v1", concurrency=1, timeout=60,
                          connect_timeout=0.5, retry=RetryPolicy(max_attempts=1))
    started = time.monotonic()
    [result] = gen.generate([GenerationRequest(prompt="x", max_new_tokens=2)])
    assert result.error == "connection" and time.monotonic() - started < 10


# --- errors no retry cures --------------------------------------------------------------------------

@pytest.mark.parametrize("fault, base_suffix, expected", [
    ("404", "", "usually end in /v1"),
    ("401", "/v1", "refused the API key"),
])
def test_wrong_url_or_key_is_told_the_fix_not_to_rerun(tiny_generator, tmp_path, capsys, fault, base_suffix, expected):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Write 5 words."}])
    with FakeOpenAIServer(tiny_generator) as server:
        base = server.base_url.removesuffix("/v1") + base_suffix
        if fault == "401":
            server.faults.extend(["401"])
        code = main(["generate", str(prompts), "-o", str(tmp_path / "o.jsonl"), "--backend", "openai",
                     "--base-url", base, "--model", "m", "--concurrency", "1", "--max-new-tokens", "4", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and expected in err and "rerun" not in err
