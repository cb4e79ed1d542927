"""Remote-fault injection: the openai backend and the judge under mixed faults and 32 concurrent
requests; every request ends in a result or a counted failure with its reason; total failure ends
non-zero with a clear summary, never a hang. And API keys never reach an output."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.judging.rubric import DIMENSIONS
from openai_server import FakeOpenAIServer
from scripted import ScriptedGenerator, rubric_reply

pytestmark = pytest.mark.reliability

FAULT_MIX = {"ok": 0.45, "429": 0.08, "429-retry": 0.08, "500": 0.08, "503": 0.08, "malformed": 0.06, "empty": 0.06,
             "hang": 0.04, "close": 0.07}
FAST_RETRY = ["--max-attempts", "4", "--backoff", "0.01", "--deadline", "30", "--timeout", "1"]


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_generate_under_mixed_faults_accounts_for_every_request(tiny_generator, tmp_path, capsys):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": f"p{k}", "prompt": f"Say {k}."} for k in range(64)])
    out = tmp_path / "o.jsonl"
    with FakeOpenAIServer(tiny_generator, hang_seconds=3) as server:
        server.fault_mix = FAULT_MIX
        code = main(["generate", str(prompts), "-o", str(out), "--backend", "openai", "--base-url", server.base_url,
                     "--model", "tiny", "--concurrency", "32", "--max-new-tokens", "4", "-q", *FAST_RETRY])
        served = sum(server.served.values())
    done = {r["id"] for r in _rows(out)}
    failed = {r["id"]: r for r in _rows(tmp_path / "o.jsonl.failures.jsonl")}
    assert not done & set(failed)
    assert done | set(failed) == {f"p{k}" for k in range(64)}  # lost: 0
    assert len(_rows(out)) == len(done)  # duplicated: 0
    summary = json.loads((tmp_path / "o.jsonl.summary.json").read_text())
    assert summary["completed"] == len(done) and summary["failed"] == len(failed)
    assert sum(summary["failed_by_reason"].values()) == len(failed)  # silent drops: 0
    assert sum(summary["retries_by_reason"].values()) > 0 and served >= 64
    assert code == (1 if failed else 0)
    for f in failed.values():
        assert f["error"] and f["attempts"] == 4 and len(f["failures"]) == 4


def _judge_server(fault_mix):
    server = FakeOpenAIServer(ScriptedGenerator(lambda r: rubric_reply({d: 4 for d in DIMENSIONS})), hang_seconds=3)
    server.fault_mix = fault_mix
    return server


def test_judge_under_mixed_faults_scores_or_counts_every_item(tmp_path, capsys):
    rows = [{"id": f"r{k}", "prompt": "Write 5 words.", "response": "one two three four five"} for k in range(48)]
    responses = write_jsonl(tmp_path / "r.jsonl", rows)
    with _judge_server(FAULT_MIX) as server:
        code = main(["eval", str(responses), "--out", str(tmp_path / "out"), "--judge", server.base_url,
                     "--judge-model", "judge", "--judge-concurrency", "32", "--judge-timeout", "1",
                     "--judge-attempts", "2", "--quiet"])
    items = _rows(tmp_path / "out" / "items.jsonl")
    assert len(items) == 48 and len({i["id"] for i in items}) == 48
    judged = [i for i in items if i["S_q"] is not None]
    failed = [i for i in items if i["S_q"] is None]
    assert all(i["judge_error"] for i in failed)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["judge_failures"]["count"] == len(failed)
    assert sum(summary["judge_failures"]["by_reason"].values()) == len(failed)
    assert len(judged) > 0 and code == (1 if failed else 0)


def test_total_failure_ends_nonzero_with_a_summary_not_a_hang(tiny_generator, tmp_path, capsys):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": f"p{k}", "prompt": "Hi."} for k in range(32)])
    started = time.monotonic()
    with FakeOpenAIServer(tiny_generator) as server:
        server.fault_mix = {"500": 1.0}
        code = main(["generate", str(prompts), "-o", str(tmp_path / "o.jsonl"), "--backend", "openai", "--base-url",
                     server.base_url, "--model", "tiny", "--concurrency", "32", "-q", *FAST_RETRY])
    assert code == 1 and time.monotonic() - started < 60
    assert "32 requests failed (http_500: 32)" in capsys.readouterr().err
    rows = [{"id": f"r{k}", "prompt": "p", "response": "r"} for k in range(8)]
    with _judge_server({"503": 1.0}) as server:
        code = main(["eval", str(write_jsonl(tmp_path / "r.jsonl", rows)), "--out", str(tmp_path / "e"), "--judge",
                     server.base_url, "--judge-model", "j", "--judge-timeout", "1", "--judge-attempts", "1", "--quiet"])
    assert code == 1
    assert "8 of 8 items have no judge verdict" in capsys.readouterr().err
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert summary["judge_failures"]["count"] == 8 and summary["S_q"] is None


def test_api_keys_never_reach_outputs_logs_caches_or_reports(tiny_generator, tmp_path, capsys, monkeypatch):
    key = "sk-test-SECRET-0123456789abcdef"
    monkeypatch.setenv("LENGTHWISE_TEST_KEY", key)
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"id": f"p{k}", "prompt": f"Write about {10 + k} words."} for k in range(4)]
    )
    with FakeOpenAIServer(tiny_generator) as server:
        server.faults.extend(["500", "429"])  # failures and retries are logged too
        assert (
            main(
                [
                    "generate",
                    str(prompts),
                    "-o",
                    str(tmp_path / "gen.jsonl"),
                    "--backend",
                    "openai",
                    "--base-url",
                    server.base_url,
                    "--model",
                    "tiny",
                    "--api-key-env",
                    "LENGTHWISE_TEST_KEY",
                    "--max-new-tokens",
                    "4",
                    *FAST_RETRY,
                ]
            )
            == 0
        )
        seen = list(server.seen_auth)
    with _judge_server({"ok": 1.0}) as judge:
        assert main(["eval", str(tmp_path / "gen.jsonl"), "--out", str(tmp_path / "eval"), "--judge", judge.base_url,
                     "--judge-model", "j", "--judge-api-key-env", "LENGTHWISE_TEST_KEY"]) == 0
        seen += judge.seen_auth
    with FakeOpenAIServer(tiny_generator) as server:
        assert (
            main(
                [
                    "write",
                    str(prompts),
                    "-o",
                    str(tmp_path / "docs.jsonl"),
                    "--backend",
                    "openai",
                    "--base-url",
                    server.base_url,
                    "--model",
                    "tiny",
                    "--api-key",
                    key,
                    "--tokenizer",
                    str(tiny_generator.model_name),
                    "--window",
                    "2048",
                    "--min-section-words",
                    "5",
                    "--max-section-words",
                    "20",
                    "--plan-attempts",
                    "1",
                    "--quiet",
                ]
            )
            == 0
        )
        seen += server.seen_auth
    assert seen and all(a == f"Bearer {key}" for a in seen)  # the key was really used
    captured = capsys.readouterr()
    assert key not in captured.out and key not in captured.err
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 8
    for path in files:
        assert key.encode() not in path.read_bytes(), f"the API key leaked into {path}"
