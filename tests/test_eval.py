"""`lengthwise eval` and `lengthwise audit`: LongBench-Write scores, buckets, judges, failures, resume."""

from __future__ import annotations

import json

import pytest

from browser import check_report
from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.jobs.evaluate import EvalSettings, evaluate_responses
from lengthwise.judging.rubric import (
    DIMENSIONS,
    GeneratorJudge,
    ProbabilityJudge,
    judge_with_cache,
    quality_score,
)
from lengthwise.synthetic import honest_text as _honest
from scripted import ScriptedGenerator, rubric_reply


def honest_text(words: int, seed: int = 0) -> str:
    return _honest(seed, words=words)[0]

ALL = {d: 3 for d in DIMENSIONS}


def _words(n: int) -> str:
    return " ".join(["word"] * n)


def _responses(tmp_path, rows):
    return write_jsonl(tmp_path / "responses.jsonl", rows)


def test_length_scores_buckets_and_unscored_items(tmp_path):
    rows = [
        {"id": "a", "prompt": "Write a story.", "length": 1000, "response": _words(1500), "type": "story"},
        {"id": "b", "prompt": "Write about 500 words on tides.", "response": _words(500), "type": "essay"},
        {"id": "c", "prompt": "Write a poem.", "response": _words(40), "type": "poem"},  # no length anywhere
        {"id": "d", "prompt": "Essay", "length": 2000, "response": "", "type": "essay"},  # empty: S_l = 0
        {"id": "e", "prompt": "Essay", "length": 4000, "response": None, "type": "essay"},
        {"id": "f", "prompt": "Essay", "length": 499, "response": _words(499)},
    ]
    summary = evaluate_responses(_responses(tmp_path, rows), tmp_path / "out", progress=False)
    items = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "items.jsonl").read_text().splitlines())}
    assert items["a"]["S_l"] == pytest.approx(100 * (1 - 0.5 / 3))
    assert items["b"]["S_l"] == 100 and items["b"]["required_from"] == "prompt"
    assert items["c"]["S_l"] is None and items["c"]["bucket"] is None
    assert items["d"]["S_l"] == 0 and "malformed" in items["d"]["flags"]
    assert items["e"]["S_l"] == 0
    assert [items[k]["bucket"] for k in "abdef"] == ["[500,2000)", "[500,2000)", "[2000,4000)", "[4000,inf)", "[0,500)"]
    assert summary["n"] == 6 and summary["n_scored"] == 5 and summary["n_unscored"] == 1
    assert summary["S_l"] == pytest.approx((100 * (1 - 0.5 / 3) + 100 + 0 + 0 + 100) / 5)
    assert summary["S_q"] is None and summary["S"] is None and summary["judge_failures"] is None
    assert set(summary["by_bucket"]) == {"[0,500)", "[500,2000)", "[2000,4000)", "[4000,inf)"}
    assert summary["by_type"]["essay"]["n"] == 3 and summary["by_type"]["untyped"]["n"] == 1
    for key in ("n", "n_scored", "S_l", "S_q", "S", "by_bucket", "by_type", "judge_failures", "counter"):
        assert key in json.loads((tmp_path / "out" / "summary.json").read_text())


def test_counter_is_recorded_and_changes_counts(tmp_path):
    rows = [{"id": "z", "prompt": "写一篇文章，字数约10字。", "response": "今天天气很好，我们去公园散步。"}]
    lb = evaluate_responses(_responses(tmp_path, rows), tmp_path / "lb", progress=False, report=False)
    ws = evaluate_responses(_responses(tmp_path, rows), tmp_path / "ws", EvalSettings(counter="whitespace"),
                            progress=False, report=False)
    assert lb["counter"] == "longbench" and ws["counter"] == "whitespace"
    item_lb = json.loads((tmp_path / "lb" / "items.jsonl").read_text())
    item_ws = json.loads((tmp_path / "ws" / "items.jsonl").read_text())
    assert item_lb["words"] == 6 + 7 and item_ws["words"] == 1


def test_judge_gives_S_q_and_S_bar_and_counts_failures(tmp_path):
    replies = {"good": rubric_reply({d: 5 for d in DIMENSIONS}), "mid": rubric_reply(ALL),
               "bad": "I refuse to give JSON"}

    def reply(request):
        return next(v for k, v in replies.items() if f"[Response]\n{k}" in request.messages[-1]["content"])

    rows = [{"id": k, "prompt": "Essay", "length": 1, "response": k} for k in replies]
    judge = GeneratorJudge(ScriptedGenerator(reply), max_attempts=2)
    summary = evaluate_responses(_responses(tmp_path, rows), tmp_path / "out", judge=judge, progress=False)
    items = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "items.jsonl").read_text().splitlines())}
    assert items["good"]["S_q"] == 100 and items["mid"]["S_q"] == 50
    assert items["good"]["S"] == pytest.approx((items["good"]["S_l"] + 100) / 2)
    assert items["bad"]["S_q"] is None and items["bad"]["judge_error"].startswith("parse: no JSON object")
    assert items["bad"]["judge_attempts"] == 2
    assert summary["S_q"] == 75  # the failure is excluded, not scored as zero
    assert summary["judge_failures"] == {"count": 1, "by_reason": {"parse: no JSON object in the reply": 1}}
    assert summary["S"] == pytest.approx((summary["S_l"] + 75) / 2)
    assert summary["S_q_by_dimension"]["Clarity"] == 75


def test_judge_verdicts_are_cached_and_failures_retried_on_rerun(tmp_path):
    generator = ScriptedGenerator(lambda r: rubric_reply(ALL))
    judge = GeneratorJudge(generator)
    items = [("p", "one"), ("p", "two")]
    first = judge_with_cache(judge, items, tmp_path / "cache.jsonl")
    calls = generator.calls
    again = judge_with_cache(judge, items, tmp_path / "cache.jsonl")
    assert generator.calls == calls and [v.scores for v in again] == [v.scores for v in first]
    failing = GeneratorJudge(ScriptedGenerator(lambda r: None), name=judge.name, max_attempts=1)
    assert judge_with_cache(failing, [("p", "three")], tmp_path / "cache.jsonl")[0].error == "backend: server_error"
    assert len((tmp_path / "cache.jsonl").read_text().splitlines()) == 2  # failures are not cached


def test_probability_judge_always_scores_within_range(tiny_model_dir):
    judge = ProbabilityJudge(model_spec=str(tiny_model_dir), device="cpu", max_context=256)
    verdicts = judge.judge(
        [("Write a poem.", "Roses are red."), ("Essay", honest_text(3000))]
    )  # the second is truncated
    for v in verdicts:
        assert v.ok and set(v.scores) == set(DIMENSIONS)
        assert all(1 <= s <= 5 for s in v.scores.values())
        assert 0 <= quality_score(v.scores) <= 100
    assert judge.judge([("Write a poem.", "Roses are red.")])[0].scores == verdicts[0].scores  # deterministic


def test_eval_cli_end_to_end_with_report_in_chromium(tmp_path, capsys):
    rows = [{"id": f"r{k}", "prompt": f"Write about {n} words on rivers.", "response": honest_text(n, seed=k),
             "type": "essay", "model": "m"} for k, n in enumerate([120, 300, 800])]
    rows.append({"id": "pad", "prompt": "Write about 300 words on rivers.", "model": "m",
                 "response": "\n\n".join([honest_text(60, seed=9)] * 5)})
    code = main(["eval", str(_responses(tmp_path, rows)), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "LongBench-Write scores" in out and "flagged" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["flagged"]["exact_repetition"] + summary["flagged"]["near_duplicate_paragraphs"] >= 1
    seen = check_report(tmp_path / "out" / "report.html", tmp_path / "shot.png")
    assert len(seen["images"]) == 2 and all(w > 0 for _, w in seen["images"])
    assert seen["sample_opened"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert '<mark class="repetition"' in page
    # report rebuild from the run folder
    (tmp_path / "out" / "report.html").unlink()
    assert main(["report", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").exists()


def test_eval_resumes_without_rescoring(tmp_path):
    rows = [{"id": f"r{k}", "prompt": "Essay", "length": 10, "response": _words(10)} for k in range(5)]
    path = _responses(tmp_path, rows)
    evaluate_responses(path, tmp_path / "out", progress=False, report=False)
    items = tmp_path / "out" / "items.jsonl"
    lines = items.read_text().splitlines()
    items.write_text("\n".join(lines[:2]) + "\n" + lines[2][:15])  # a crash: two rows and a torn third
    summary = evaluate_responses(path, tmp_path / "out", progress=False, report=False)
    assert summary["n"] == 5
    assert sorted(json.loads(x)["id"] for x in items.read_text().splitlines()) == [f"r{k}" for k in range(5)]


@pytest.mark.parametrize("content, message", [
    (b'{"id": "a", "prompt": "p"}\n', "responses.jsonl:1: missing field 'response'"),
    (b'{"id": "a", "prompt": "p", "response": 3}\n', "responses.jsonl:1: field 'response' must be a string"),
    (b'{"id": "a", "prompt": "p", "response": "x"}\n{"id": "a", "prompt": "p", "response": "y"}\n', "duplicate id 'a'"),
    (b'{"id": "a", "prompt": "p", "response": "\xff\xfe"}\n', "responses.jsonl:1"),
])
def test_eval_bad_input_is_one_line_and_exit_2(content, message, tmp_path, capsys):
    path = tmp_path / "responses.jsonl"
    path.write_bytes(content)
    assert main(["eval", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_eval_of_a_million_word_response_is_defined(tmp_path):
    rows = [{"id": "big", "prompt": "Write about 10000 words.", "response": honest_text(1_000_000)}]
    summary = evaluate_responses(_responses(tmp_path, rows), tmp_path / "out", progress=False, report=False)
    assert summary["n_scored"] == 1 and summary["S_l"] == 0  # 100x over: S_l floors at 0


def test_audit_cli_lists_flagged_items_with_evidence(tmp_path, capsys):
    rows = [{"id": "honest", "prompt": "Write about rivers.", "response": honest_text(300)},
            {"id": "padded", "prompt": "Write about rivers.", "response": "\n\n".join([honest_text(80, seed=3)] * 6)},
            {"id": "broken", "prompt": "Write.", "response": "<answer>text</think>"}]
    code = main(
        ["audit", str(_responses(tmp_path, rows)), "--no-paraphrase", "--out", str(tmp_path / "a.jsonl"), "--quiet"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "2 of 3 responses flagged" in out and "padded" in out and "malformed" in out
    audit = {r["id"]: r for r in map(json.loads, (tmp_path / "a.jsonl").read_text().splitlines())}
    assert audit["honest"]["flags"] == []
    assert audit["padded"]["audit"]["near_duplicate_paragraphs"]["spans"]
