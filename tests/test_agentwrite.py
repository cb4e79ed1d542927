"""AgentWrite end to end: context budget, section control, resume after kill -9, HTTP backend, exports."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, write_jsonl
from lengthwise.agentwrite.context import DoneSection, fit_section_prompt, make_measure
from lengthwise.agentwrite.writer import AgentWriter, WriteSettings, cut_at_sentence, new_document
from lengthwise.backends.base import GenerationRequest
from lengthwise.cli import main
from lengthwise.io import ResumableJsonl
from lengthwise.synthetic import honest_text as _honest
from lengthwise.text import count_words
from openai_server import FakeOpenAIServer
from scripted import ScriptedGenerator


def honest(words: int, seed: int = 0) -> str:
    return _honest(seed, words=words)[0]


PLAN = "\n".join(f"Paragraph {k + 1} - Main Point: part {k + 1} - Word Count: 100 words" for k in range(4))


def test_late_section_prompt_never_exceeds_the_window(tiny_generator):
    measure = make_measure(tiny_generator)
    window, max_new = 1024, 200
    done = [DoneSection(f"point {k}", honest(400, seed=k)) for k in range(12)]  # ~ 6,500 tokens of text so far
    fitted = fit_section_prompt("Write a long essay on rivers.", PLAN, done, "", "paragraph 13 (rivers)", 300,
                                False, window - max_new, measure)
    assert fitted.mode == "digest"
    rendered = tiny_generator.render(GenerationRequest(messages=fitted.messages))
    assert tiny_generator.count_tokens(rendered) == fitted.prompt_tokens <= window - max_new
    assert fitted.tail_chars > 0 and fitted.digest_sections > 0
    content = fitted.messages[0]["content"]
    assert done[-1].text[-200:] in content  # the latest text's end is kept verbatim
    # early sections fit whole
    early = fit_section_prompt("Write.", PLAN, done[:1], "", "paragraph 2", 100, False, 4096, measure)
    assert early.mode == "full" and done[0].text in early.messages[0]["content"]


def test_oldest_digest_lines_are_dropped_when_even_the_digest_is_too_long(tiny_generator):
    measure = make_measure(tiny_generator)
    done = [DoneSection("a long main point " * 5, honest(60, seed=k)) for k in range(60)]
    fitted = fit_section_prompt("Write.", PLAN, done, "", "paragraph 61", 100, False, 700, measure)
    assert fitted.prompt_tokens <= 700 and fitted.digest_sections < 59


def test_a_task_too_long_for_the_window_is_a_clear_error(tiny_generator):
    from lengthwise.errors import ConfigError

    with pytest.raises(ConfigError, match="larger window"):
        fit_section_prompt(honest(2000), PLAN, [], "", "paragraph 1", 100, False, 256, make_measure(tiny_generator))


def test_cut_at_sentence_lands_near_the_target():
    text = " ".join(f"Sentence number {k} has six words." for k in range(50))
    cut = cut_at_sentence(text, 60)
    assert cut.endswith(".") and abs(count_words(cut) - 60) <= 6


def _scripted_writer(tmp_path, section_reply, settings=None):
    def reply(request):
        content = request.messages[-1]["content"]
        return PLAN if "Break the writing task" in content else section_reply(content)

    generator = ScriptedGenerator(reply)
    settings = settings or WriteSettings(min_section_words=50, max_section_words=200, window=4096)
    cache = ResumableJsonl(tmp_path / "cache.jsonl", key="key")
    measure = lambda m: sum(len(x["content"].split()) for x in m)  # noqa: E731
    return AgentWriter(generator, settings, cache, measure, 4096), generator


def test_short_sections_are_continued_and_long_ones_cut(tmp_path):
    calls = {"n": 0}

    def section(content):
        calls["n"] += 1
        if "Now write paragraph 1 " in content or "the rest of paragraph 1 " in content:
            return f"A short try number {calls['n']}."  # too short: continued until the cap
        return honest(400, seed=calls["n"])  # too long: cut at a sentence boundary

    writer, _ = _scripted_writer(tmp_path, section)
    doc = new_document("d", "Write about 400 words on rivers.", 400)
    finished = []
    writer.run([doc], finished.append)
    assert finished == [doc] and len(doc.sections) == 4
    assert doc.sections[0]["continuations"] == 2
    assert all(s["words"] <= 150 for s in doc.sections[1:])
    assert any("cut at a sentence boundary" in f for f in doc.fallbacks)
    assert sum(1 for _ in (tmp_path / "cache.jsonl").open()) == 5  # plan + 4 sections


def test_unparseable_plans_fall_back_to_an_even_split(tmp_path):
    def reply(request):
        return (
            "I would rather just write it."
            if "Break the writing task" in request.messages[-1]["content"]
            else honest(120)
        )

    generator = ScriptedGenerator(reply)
    cache = ResumableJsonl(tmp_path / "c.jsonl", key="key")
    writer = AgentWriter(generator, WriteSettings(min_section_words=100, max_section_words=300,
                                                  incremental_plan=False), cache, lambda m: 10, 4096)
    doc = new_document("d", "Write about 600 words.", 600)
    writer.run([doc], lambda d: None)
    assert sum(p.words for p in doc.plan) == 600
    assert any(f.startswith("plan: even split after 3 unparseable plans") for f in doc.fallbacks)


def _prompts(tmp_path):
    return write_jsonl(tmp_path / "prompts.jsonl", [
        {"id": "en1", "prompt": "Write about 300 words on rivers."},
        {"id": "zh1", "prompt": "写一篇关于长江的文章，字数约300字。"},
        {"id": "en2", "prompt": "Write a story about a lighthouse.", "length": 250},
    ])


WRITE_ARGS = ["--min-section-words", "60", "--max-section-words", "150", "--batch-size", "3", "--quiet",
              "--max-continuations", "1", "--temperature", "0", "--plan-attempts", "1"]


def test_write_cli_three_prompts(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "docs.jsonl"
    assert main(["write", str(_prompts(tmp_path)), "--out", str(out), "--model", str(tiny_model_dir), *WRITE_ARGS]) == 0
    assert "3/3 documents" in capsys.readouterr().out
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"en1", "zh1", "en2"}
    for r in rows.values():
        assert sum(p["words"] for p in r["plan"]) == r["required"]
        assert [s["index"] for s in r["sections"]] == list(range(len(r["plan"])))
        assert r["words"] == count_words(r["response"]) and 0 <= r["S_l"] <= 100
        assert r["completion_tokens"] > 0 and r["seconds"] > 0
    assert rows["zh1"]["language"] == "zh" and rows["en2"]["required"] == 250
    summary = json.loads((tmp_path / "docs.jsonl.summary.json").read_text())
    assert summary["completed"] == 3 and summary["tokens_per_second"] > 0


def test_kill_9_mid_document_then_resume(tiny_model_dir, tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": f"d{k}", "prompt": "Write about rivers.", "length": 400}
                                                 for k in range(2)])
    out = tmp_path / "docs.jsonl"
    cache = tmp_path / "docs.jsonl.cache.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "lengthwise.cli",
        "write",
        str(prompts),
        "--out",
        str(out),
        "--model",
        str(tiny_model_dir),
        *WRITE_ARGS,
        "--batch-size",
        "1",
        "--max-continuations",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        rows = [json.loads(x) for x in cache.read_text().splitlines()] if cache.exists() else []
        if sum(r["step"].startswith("s") for r in rows) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = [json.loads(x) for x in cache.read_text().splitlines() if x.strip() and x.endswith("}")]
    assert not out.exists() or len(out.read_text().splitlines()) < 2, "killed too late to test a resume"
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    after = [json.loads(x) for x in cache.read_text().splitlines()]
    keys = [r["key"] for r in after]
    assert len(keys) == len(set(keys)), "a section was written twice"
    assert [r["key"] for r in after[:len(before)]] == [r["key"] for r in before]  # the old steps were kept, not redone
    docs = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(docs) == {"d0", "d1"}
    for doc in docs.values():
        sections = [r["section"] for r in after if r["id"] == doc["id"] and r["step"].startswith("s")]
        assert "\n\n".join(s["text"] for s in sections) == doc["response"]  # whole: every section, in order
        assert len(sections) == len(doc["plan"])


def test_write_through_the_openai_backend(tiny_generator, tmp_path, capsys):
    out = tmp_path / "docs.jsonl"
    with FakeOpenAIServer(tiny_generator) as server:
        server.faults.extend(["500", "429-retry"])
        code = main(
            [
                "write",
                str(_prompts(tmp_path)),
                "--out",
                str(out),
                "--backend",
                "openai",
                "--model",
                "tiny",
                "--base-url",
                server.base_url,
                "--api-key",
                "sk-test",
                "--tokenizer",
                str(tiny_generator.model_name),
                "--window",
                "2048",
                *WRITE_ARGS,
            ]
        )
    assert code == 0, capsys.readouterr()
    assert len(out.read_text().splitlines()) == 3


def test_export_sft_filters_by_length_score_and_redundancy(tmp_path, capsys):
    docs = write_jsonl(tmp_path / "docs.jsonl", [
        {"id": "good", "prompt": "p1", "response": honest(300), "S_l": 95.0},
        {"id": "short", "prompt": "p2", "response": honest(50), "S_l": 20.0},
        {"id": "padded", "prompt": "p3", "response": "\n\n".join([honest(80, seed=2)] * 5), "S_l": 90.0},
    ])
    assert main(["export-sft", str(docs), "--out", str(tmp_path / "sft.jsonl"), "--min-sl", "80",
                 "--max-redundancy", "0.3"]) == 0
    rows = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    assert rows[0]["messages"][1]["content"] == honest(300)
    assert "dropped: 1 for S_l, 1 for redundancy" in capsys.readouterr().out


def test_export_dpo_pairs_best_against_worst_above_the_margin(tmp_path):
    responses = write_jsonl(tmp_path / "r.jsonl", [
        {"id": "a1", "prompt": "A", "response": "a one"}, {"id": "a2", "prompt": "A", "response": "a two"},
        {"id": "a3", "prompt": "A", "response": "a three"}, {"id": "b1", "prompt": "B", "response": "b one"},
        {"id": "b2", "prompt": "B", "response": "b two"}, {"id": "c1", "prompt": "C", "response": "c one"}])
    scores = write_jsonl(tmp_path / "s.jsonl", [
        {"id": "a1", "score": 0.2}, {"id": "a2", "score": 0.9}, {"id": "a3", "score": 0.5},
        {"id": "b1", "score": 0.50}, {"id": "b2", "score": 0.55}, {"id": "c1", "score": 1.0}])
    assert main(["export-dpo", str(responses), "--scores", str(scores), "--out", str(tmp_path / "dpo.jsonl"),
                 "--min-margin", "0.1"]) == 0
    pairs = [json.loads(x) for x in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert pairs == [
        {"prompt": "A", "chosen": "a two", "rejected": "a one", "chosen_score": 0.9, "rejected_score": 0.2}
    ]


def test_a_local_backend_continues_the_plan_from_its_first_line(tmp_path, tiny_generator):
    from lengthwise.agentwrite.prompts import PLAN_PREFIX, plan_messages

    messages = plan_messages("Write about rivers.", 600, 100, 300, prefill=True)
    rendered = tiny_generator.render(GenerationRequest(messages=messages))
    assert rendered.endswith(PLAN_PREFIX["en"])  # the assistant turn is left open, not closed
    assert "Example (a different task" in rendered

    class Prefilling(ScriptedGenerator):
        supports_prefill = True

    seen = []

    def reply(request):
        seen.append(request.messages)
        if request.messages[-1]["role"] == "assistant":  # the rest of line 1, then more lines
            return (" Where rivers begin - Word Count: 300 words\n"
                    "Paragraph 2 - Main Point: How a hive is organised - Word Count: 300 words\n"
                    "Paragraph 3 - Main Point: Rivers and cities - Word Count: 300 words")
        return honest(150)

    writer = AgentWriter(Prefilling(reply), WriteSettings(min_section_words=100, max_section_words=300),
                         ResumableJsonl(tmp_path / "c.jsonl", key="key"), lambda m: 10, 4096)
    doc = new_document("d", "Write about 600 words on rivers.", 600)
    writer.run([doc], lambda d: None)
    assert seen[0][-1] == {"role": "assistant", "content": PLAN_PREFIX["en"]}
    # line 1 is whole again; the copied example line is dropped
    assert [p.main_point for p in doc.plan] == ["Where rivers begin", "Rivers and cities"]
    assert all(m[-1]["role"] == "user" for m in seen[1:])  # sections are not prefilled


def test_a_plan_cut_by_its_token_budget_loses_only_the_cut_line(tmp_path):
    from lengthwise.backends.base import GenerationResult

    class CutPlan(ScriptedGenerator):
        def generate(self, requests, on_result=None):
            if "Break the writing task" in requests[0].messages[-1]["content"]:
                return [GenerationResult("Paragraph 1 - Main Point: Sources - Word Count: 300 words\n"
                                         "Paragraph 2 - Main Point: Deltas - Word Count: 300 words\n"
                                         "Paragraph 3 - Main", "length")]
            return super().generate(requests, on_result)

    writer = AgentWriter(CutPlan(lambda r: honest(300)), WriteSettings(min_section_words=100, max_section_words=300),
                         ResumableJsonl(tmp_path / "c.jsonl", key="key"), lambda m: 10, 4096)
    doc = new_document("d", "Write about 600 words on rivers.", 600)
    writer.run([doc], lambda d: None)
    assert [p.main_point for p in doc.plan] == ["Sources", "Deltas"]


def test_section_budgets_follow_the_documents_measured_tokens_per_word(tmp_path):
    from lengthwise.backends.base import GenerationResult
    from lengthwise.token_budget import DEFAULT_RATE

    budgets = []

    class TwoTokensPerWord(ScriptedGenerator):
        def generate(self, requests, on_result=None):
            out = []
            for r in requests:
                if "Break the writing task" in r.messages[-1]["content"]:
                    out.append(GenerationResult(PLAN, "stop"))
                    continue
                budgets.append(r.max_new_tokens)
                text = honest(300)
                out.append(GenerationResult(text, "stop", completion_tokens=2 * count_words(text)))
            return out

    cache = ResumableJsonl(tmp_path / "c.jsonl", key="key")
    settings = WriteSettings(min_section_words=100, max_section_words=300)
    writer = AgentWriter(TwoTokensPerWord(lambda r: None), settings, cache, lambda m: 10, 8192)
    doc = new_document("d", "Write about 900 words on rivers.", 900)
    writer.run([doc], lambda d: None)
    target = doc.plan[0].words
    # the starting guess: a generator without a tokenizer (a server) gets the default rate
    assert budgets[0] == math.ceil(target * DEFAULT_RATE.en * 1.5) + 32
    assert budgets[-1] == math.ceil(doc.plan[-1].words * 2.0 * 1.5) + 32  # the measured rate
    # a resumed document keeps its measured rate
    resumed = AgentWriter(TwoTokensPerWord(lambda r: None), settings, ResumableJsonl(tmp_path / "c.jsonl", key="key"),
                          lambda m: 10, 8192)
    again = resumed.restore(new_document("d", "Write about 900 words on rivers.", 900))
    assert resumed.tokens_per_word(again) == 2.0


def _plan_or_section(request):
    """A server-side script: the rest of a prefilled plan, or an honest section ending mid-sentence."""
    if request.prompt is not None and request.prompt.endswith("Paragraph 1 - Main Point:"):
        return (" Where rivers begin - Word Count: 150 words\n"
                "Paragraph 2 - Main Point: Rivers and cities - Word Count: 150 words")
    return honest(150) + " And then the river"


def test_write_over_http_prefills_the_plan_through_raw_completions(tiny_generator, tmp_path, capsys):
    from lengthwise.agentwrite.prompts import PLAN_PREFIX

    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Write about 300 words on rivers."}])
    out = tmp_path / "docs.jsonl"
    with FakeOpenAIServer(ScriptedGenerator(_plan_or_section)) as server:
        code = main(["write", str(prompts), "-o", str(out), "--backend", "openai", "--model", "m",
                     "--base-url", server.base_url, "--tokenizer", str(tiny_generator.model_name),
                     "--concurrency", "1", "--min-section-words", "100", "--max-section-words", "300", "-q",
                     "--no-guard"])  # the scripted sections are alike on purpose: this test is about the plan
    assert code == 0, capsys.readouterr()
    path, body = server.requests[0]
    assert path == "/v1/completions" and body["prompt"].endswith(PLAN_PREFIX["en"])
    assert "<|im_start|>assistant" in body["prompt"]  # the served model's chat template, rendered here
    assert all(p == "/v1/chat/completions" for p, _ in server.requests[1:])  # sections are chats
    [row] = [json.loads(x) for x in out.read_text().splitlines()]
    assert [p["main_point"] for p in row["plan"]] == ["Where rivers begin", "Rivers and cities"]
    assert not any(f.startswith("plan") for f in row["fallbacks"])
    # the budget-cut last sentence is gone, and the summary line names the fallback
    assert not row["response"].rstrip().endswith("And then the river")
    assert "unfinished last sentence dropped" in " ".join(row["fallbacks"])
    out_text = capsys.readouterr().out
    assert "fallbacks: section unfinished last sentence dropped x1" in out_text


def test_write_over_http_without_a_tokenizer_says_the_plan_is_not_prefilled(tmp_path, capsys):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Write about 300 words on rivers."}])
    with FakeOpenAIServer(ScriptedGenerator(lambda r: "Rivers are long. " * 20)) as server:
        code = main(["write", str(prompts), "-o", str(tmp_path / "d.jsonl"), "--backend", "openai", "--model", "m",
                     "--base-url", server.base_url, "--concurrency", "1", "--plan-attempts", "1",
                     "--min-section-words", "100", "--max-section-words", "300", "-q"])
    assert code == 0
    assert all(p == "/v1/chat/completions" for p, _ in server.requests)
    out_text = capsys.readouterr().out
    # the plan that did not parse is built point by point (no prefill needed)
    assert "plan prefill: off" in out_text and "plan built point by point x1" in out_text
