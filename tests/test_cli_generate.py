"""End-to-end tests of `lengthwise generate`, `count`, `models` as a user runs them."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_jsonl
from lengthwise.cli import main
from openai_server import FakeOpenAIServer

PROMPTS = [{"id": f"p{i}", "prompt": f"Write about {50 + 10 * i} words on topic {i}."} for i in range(8)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lengthwise.cli", *args], capture_output=True, text=True, timeout=600)


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_generate_kill_9_then_rerun_resumes_without_duplicates(tmp_path, tiny_model_dir):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    out = tmp_path / "out.jsonl"
    args = [
        sys.executable,
        "-m",
        "lengthwise.cli",
        "generate",
        str(prompts),
        "--out",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--batch-size",
        "1",
        "--max-new-tokens",
        "160",
        "--quiet",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= 3:
            break
        if proc.poll() is not None:
            pytest.fail(f"generate ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = read_rows(out)
    assert 3 <= len(first) < 8, "the kill must land mid-run"

    done = run_cli(*args[3:])
    assert done.returncode == 0, done.stderr
    assert "already done" in done.stdout
    rows = read_rows(out)
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(p["id"] for p in PROMPTS)
    assert len(ids) == len(set(ids))
    assert rows[:3] == first[:3]
    for r in rows:
        assert set(r) >= {"id", "prompt", "response", "model", "finish_reason", "counter", "words", "required", "S_l"}
        assert r["counter"] == "longbench"
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["total"] == 8 and summary["failed"] == 0


def test_generate_in_process_writes_rows_with_scores(tmp_path, tiny_model_dir, capsys):
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"prompt": "写一篇100字的短文", "length": 100}, {"prompt": "No length here."}]
    )
    out = tmp_path / "o.jsonl"
    code = main(
        [
            "generate",
            str(prompts),
            "-o",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--max-new-tokens",
            "8",
            "-q",
            "--counter",
            "unicode",
        ]
    )
    assert code == 0
    rows = sorted(read_rows(out), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == ["line-1", "line-2"]
    assert rows[0]["required"] == 100 and rows[0]["S_l"] is not None and rows[0]["counter"] == "unicode"
    assert rows[1]["required"] is None and rows[1]["S_l"] is None
    assert "2/2 responses" in capsys.readouterr().out


BAD_INPUTS = {
    "broken_line": (b'{"prompt": "ok"}\n{"prompt": \n', ":2: not valid JSON"),
    "missing_prompt": (b'{"prompt": "ok"}\n{"id": "z", "length": 5}\n', ":2: missing field 'prompt'"),
    "non_utf8": (b'{"prompt": "ok"}\n{"prompt": "\xff\xfe"}\n', ":2: not valid UTF-8"),
    "empty": (b"", ": no rows to read"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_generate_bad_input_is_one_line_with_file_line_and_exit_2(tmp_path, case):
    content, expected = BAD_INPUTS[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(content)
    result = run_cli("generate", str(path), "--out", str(tmp_path / "o.jsonl"), "--model", "/nonexistent/model")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}") and expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_generate_skip_bad_reports_count_and_continues(tmp_path, tiny_model_dir):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"id": "a", "prompt": "Write 20 words."}\nnot json\n{"id": "b"}\n{"id": "c", "prompt": "Write 30 words."}\n'
    )
    result = run_cli("generate", str(path), "--out", str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir),
                     "--max-new-tokens", "4", "--skip-bad", "-q")
    assert result.returncode == 0, result.stderr
    assert "skipped 2 bad rows" in result.stderr
    assert [r["id"] for r in read_rows(tmp_path / "o.jsonl")] == ["a", "c"]


def test_generate_missing_file_and_directory(tmp_path):
    for target, message in ((tmp_path / "nope.jsonl", "file not found"), (tmp_path, "is a directory")):
        result = run_cli("generate", str(target), "--out", str(tmp_path / "o.jsonl"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_generate_unknown_model_path_is_a_clear_error(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", PROMPTS[:1])
    result = run_cli("generate", str(prompts), "--out", str(tmp_path / "o.jsonl"), "--model", "./no/such/model")
    assert result.returncode == 2
    assert "not found" in result.stderr and "Traceback" not in result.stderr


def test_generate_through_openai_backend_counts_failures_and_exits_nonzero(tmp_path, tiny_generator, capsys):
    prompts = write_jsonl(tmp_path / "p.jsonl", PROMPTS[:4])
    out = tmp_path / "o.jsonl"
    with FakeOpenAIServer(tiny_generator) as server:
        server.faults.extend(["500", "500", "500", "429"])  # with concurrency 1: p0 fails 3 times, p1 recovers
        code = main(["generate", str(prompts), "-o", str(out), "--backend", "openai", "--base-url", server.base_url,
                     "--model", "tiny", "--concurrency", "1", "--max-attempts", "3", "--max-new-tokens", "4", "-q"])
        assert code == 1
        err = capsys.readouterr().err
        assert "1 requests failed (http_500: 1)" in err
        assert sorted(r["id"] for r in read_rows(out)) == ["p1", "p2", "p3"]
        failures = read_rows(tmp_path / "o.jsonl.failures.jsonl")
        assert failures == [{"id": "p0", "error": "http_500", "attempts": 3, "failures": ["http_500"] * 3}]
        summary = json.loads((tmp_path / "o.jsonl.summary.json").read_text())
        # p0's third failure ended it and p1's 429 was retried: two 500s and one 429 were retries.
        assert summary["failed_by_reason"] == {"http_500": 1} and summary["retries_by_reason"] == {
            "http_500": 2,
            "http_429": 1,
        }
        first_tokens = summary["completion_tokens"]
        assert summary["responses"] == 3 and summary["runs"] == 1 and first_tokens > 0
        # The rerun retries only the failed item.
        code = main(["generate", str(prompts), "-o", str(out), "--backend", "openai", "--base-url", server.base_url,
                     "--model", "tiny", "--max-new-tokens", "4", "-q"])
        assert code == 0
        assert sorted(r["id"] for r in read_rows(out)) == ["p0", "p1", "p2", "p3"]
        # The summary adds up over both runs; the stale failure file is gone once p0 succeeded.
        summary = json.loads((tmp_path / "o.jsonl.summary.json").read_text())
        assert summary["responses"] == 4 and summary["runs"] == 2
        assert summary["completion_tokens"] == sum(r["completion_tokens"] for r in read_rows(out)) > first_tokens
        assert sum(summary["finish_reasons"].values()) == 4
        assert summary["this_run"]["completed"] == 1
        assert not (tmp_path / "o.jsonl.failures.jsonl").exists()
        # Files written by atomic replace get the same mode as the JSONL the job appends to.
        assert (tmp_path / "o.jsonl.summary.json").stat().st_mode & 0o777 == out.stat().st_mode & 0o777


def test_generate_all_requests_failing_ends_nonzero_not_hanging(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", PROMPTS[:3])
    started = time.monotonic()
    code = main(["generate", str(prompts), "-o", str(tmp_path / "o.jsonl"), "--backend", "openai",
                 "--base-url", "http://127.0.0.1:9/v1", "--model", "x", "--max-attempts", "2", "-q"])
    assert code == 1
    assert time.monotonic() - started < 60


def test_count_command_reports_words_and_constraint(capsys):
    assert main(["count", "写一篇不少于三千字的文章"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["words"] == 12 and payload["constraint"]["kind"] == "min"


def test_help_explains_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("generate", "demo", "models", "count"):
        assert command in result.stdout
    gen_help = run_cli("generate", "--help")
    assert "--skip-bad" in gen_help.stdout and "resume" in gen_help.stdout


def test_unknown_counter_is_a_clear_error(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", PROMPTS[:1])
    result = run_cli("generate", str(prompts), "--out", str(tmp_path / "o.jsonl"), "--counter", "letters")
    assert result.returncode == 2 and "unknown counter 'letters'" in result.stderr


def test_models_command_lists_embedded_models():
    result = run_cli("models")
    assert result.returncode == 0 and "smollm2" in result.stdout and "minilm" in result.stdout


def test_browser_set_up_is_idempotent_and_finds_chromium():
    import subprocess

    from conftest import REPO

    first = subprocess.run(["bash", str(REPO / "scripts" / "ensure-chromium.sh")], capture_output=True, text=True,
                           timeout=600)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(["bash", str(REPO / "scripts" / "ensure-chromium.sh")], capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 0 and again.stdout == "" and again.stderr == ""  # found: nothing to say
    makefile = (REPO / "Makefile").read_text()
    assert "test: setup browser" in makefile and "ensure-chromium.sh" in makefile and "-n $(TEST_WORKERS)" in makefile
    assert (REPO / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"
