"""The reasoning demo's warm start: answers relabeled with the budgets they used, SFT, merge, RL on top; reruns
skip finished work and a kill -9 during the fine-tuning resumes from its checkpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lengthwise.backends.base import GenerationResult
from lengthwise.errors import ConfigError
from lengthwise.jobs import reasoning_warmstart
from lengthwise.jobs.reasoning_demo import ReasoningDemoSettings, run_reasoning_demo
from lengthwise.jobs.reasoning_warmstart import (
    STYLES,
    WarmStartSettings,
    balanced,
    relabeled_examples,
    sample_rows,
)
from lengthwise.tasks import budget_prompt


def _sample(ident: str, problem: str, n: int, response: str = r"so \boxed{7}", finish: str = "stop") -> dict:
    return {"id": ident, "problem": problem, "question": f"What is {problem}?", "answer": "7", "response": response,
            "completion_tokens": n, "finish_reason": finish}


def test_relabeled_examples_keep_ended_correct_answers_restated_at_their_own_length():
    samples = [
        _sample("a~0", "3 + 4", 12),
        _sample("a~1", "3 + 4", 40),  # the same problem at another length: a second example
        _sample("a~2", "3 + 4", 12, r"also \boxed{7}"),  # same problem, same length: a duplicate
        _sample("b~0", "2 + 5", 224, finish="length"),  # cut at the cap: its length is not its own
        _sample("c~0", "1 + 6", 30, r"so \boxed{8}"),  # wrong
        _sample("d~0", "0 + 7", 2),  # shorter than min_tokens
        _sample("e~0", "5 + 2", 300),  # at or above max_tokens
    ]
    rows, dropped = relabeled_examples(samples, min_tokens=4, max_tokens=224)
    assert dropped == {"not_ended": 1, "wrong": 1, "out_of_range": 2, "duplicate": 1}
    assert [r["id"] for r in rows] == ["a~0", "a~1"]
    assert [r["target_tokens"] for r in rows] == [12, 40]
    # the request states exactly the length the answer has, in L1's exact sentence; the answer is unchanged
    assert rows[1]["messages"] == [{"role": "user", "content": budget_prompt("What is 3 + 4?", 40, "exact")},
                                   {"role": "assistant", "content": r"so \boxed{7}"}]
    assert rows[1]["messages"][0]["content"].endswith("Think for 40 tokens.")
    # wrong answers are kept only when asked to (models that solve nothing)
    loose, dropped = relabeled_examples(samples, 4, 224, require_correct=False)
    assert [r["id"] for r in loose] == ["a~0", "a~1", "c~0"] and dropped["wrong"] == 0


def test_sample_rows_one_per_style_hint_which_never_reaches_the_fine_tuning_prompt():
    train = [{"id": "p1", "question": "What is 1 + 2?", "answer": "3", "prompt": "What is 1 + 2? Think for 50 tokens."},
             {"id": "p2", "question": "What is 2 + 2?", "answer": "4", "prompt": "What is 2 + 2? Think for 90 tokens."}]
    rows = sample_rows(train, STYLES)
    assert len(rows) == 2 * len(STYLES)
    assert len({r["id"] for r in rows}) == len(rows) and len({r["seed"] for r in rows}) == len(rows)
    assert rows[0]["prompt"] == train[0]["prompt"] + STYLES[0]
    assert {r["problem"] for r in rows} == {"p1", "p2"}
    examples, _ = relabeled_examples([{**r, "response": r"\boxed{3}", "completion_tokens": 10 + k,
                                       "finish_reason": "stop"} for k, r in enumerate(rows)], 4, 224, False)
    assert not any(style.strip() and style.strip() in e["messages"][0]["content"]
                   for e in examples for style in STYLES)


def test_warm_start_settings_are_checked():
    assert WarmStartSettings().check() == []
    assert WarmStartSettings(styles=()).check()
    assert WarmStartSettings(min_tokens=300).check()
    assert WarmStartSettings(problems=0, traces=0).check()
    assert WarmStartSettings(trace_tokens=(50, 20)).check()
    with pytest.raises(ConfigError, match="min_tokens"):
        ReasoningDemoSettings(warm=WarmStartSettings(min_tokens=0)).check()


class _LengthByStyle:
    """A stand-in sampler (a random tiny model never ends an answer): brief answers are short, detailed ones long;
    each ends by itself. Everything after sampling (relabel, SFT, merge, RL, measurement) is real."""

    def generate(self, requests):
        out = []
        for r in requests:
            prompt = r.messages[-1]["content"]
            n = 6 if prompt.endswith("Be brief.") else 20 if "detail" in prompt else 12
            out.append(GenerationResult(text=" ".join(["so"] * n) + r" \boxed{0}", finish_reason="stop",
                                        prompt_tokens=10, completion_tokens=n + (r.seed or 0) % 3))
        return out


def _settings(model_dir, **kw) -> ReasoningDemoSettings:
    training = {"model.name": str(model_dir), "max_steps": 1, "max_completion_length": 16}
    warm = WarmStartSettings(problems=64, traces=0, max_tokens=64, epochs=1.0, batch_size=4, require_correct=False,
                             save_steps=1)
    values = dict(n_problems=3, n_train=8, budgets=(8, 16), train_budgets=(8, 16), warm=warm, measure_warm=True)
    values.update(kw)
    return ReasoningDemoSettings.quick(training=training, **values)


def test_reasoning_demo_warm_starts_then_trains_rl_on_the_merged_model(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(reasoning_warmstart, "_load_generator", lambda *a: _LengthByStyle())
    phases: list[str] = []
    out = tmp_path / "demo"
    run_reasoning_demo(out, _settings(tiny_model_dir), progress=False, on_phase=phases.append)
    assert [p[:3] for p in phases if p[1] == "/"] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    samples = [json.loads(x) for x in (out / "warm" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 8 * len(STYLES)
    examples = [json.loads(x) for x in (out / "warm" / "sft.jsonl").read_text().splitlines()]
    by_id = {s["id"]: s for s in samples}
    for e in examples:  # each request states the length its answer has (repeats carry "+i" after the id)
        sample = by_id[e["id"].split("+")[0]]
        assert e["messages"][0]["content"].endswith(f"Think for {sample['completion_tokens']} tokens.")
    assert len({e["target_tokens"] for e in examples}) >= 6
    merged = out / "warm" / "model"
    assert (merged / ".complete").exists() and (merged / "config.json").exists()
    # RL trains a fresh adapter on the merged weights; the measurement of "after" loads that adapter
    assert json.loads((out / "train" / "config.json").read_text())["model"]["name"] == str(merged.resolve())
    adapter = json.loads((out / "train" / "final" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(merged.resolve())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["warm"]["n"] == 6 and summary["warm"]["paired"]["n"] == 6
    assert summary["settings"]["warm_start"]["styles"] == list(STYLES)
    assert "warm" in summary["phase_seconds"]
    assert summary["warm_start_data"] == {"samples": 24, "rows": len(examples), "solver_rows": 0}
    assert "after the warm start alone: Spearman" in (out / "report.html").read_text()

    # rerun: nothing sampled, fine-tuned or merged again
    stamps = {p: (out / "warm" / p).stat().st_mtime_ns for p in ("samples.jsonl", "sft.jsonl", "model/.complete")}
    run_reasoning_demo(out, _settings(tiny_model_dir), progress=False)
    assert {p: (out / "warm" / p).stat().st_mtime_ns for p in stamps} == stamps


_KILLABLE = """
import dataclasses, sys
sys.path.insert(0, {tests!r})
from lengthwise.jobs import reasoning_warmstart
from test_reasoning_warmstart import _LengthByStyle, _settings
reasoning_warmstart._load_generator = lambda *a: _LengthByStyle()
from lengthwise.jobs.reasoning_demo import run_reasoning_demo
settings = _settings({model!r})
# four epochs so the kill lands inside the fine-tuning: 8 problems x 3 styles / 4 per step = 6 steps an epoch
settings = dataclasses.replace(settings, warm=dataclasses.replace(settings.warm, epochs=4.0))
run_reasoning_demo({out!r}, settings, progress=False)
"""


def test_warm_start_resumes_its_fine_tuning_after_kill_9(tiny_model_dir, tmp_path):
    out = tmp_path / "demo"
    script = _KILLABLE.format(tests=str(Path(__file__).parent), out=str(out), model=str(tiny_model_dir))
    args = [sys.executable, "-c", script]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    sft = out / "warm" / "sft"
    while time.monotonic() < deadline and not (sft / "checkpoint-3" / "trainer_state.json").exists():
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read().decode()[-3000:])
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "warm" / "model").exists(), "the kill must land before the merge"
    stamp = (out / "warm" / "samples.jsonl").stat().st_mtime_ns
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "warm" / "samples.jsonl").stat().st_mtime_ns == stamp  # not resampled
    state = json.loads((sft / "checkpoint-24" / "trainer_state.json").read_text())
    steps = [r["step"] for r in state["log_history"] if "loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == 24
    assert (out / "warm" / "model" / ".complete").exists()


def test_balanced_spreads_the_rows_evenly_over_octaves_of_length():
    rows = [{"id": f"s{k}", "target_tokens": n} for k, n in enumerate([5, 6, 7, 9, 10, 11, 12, 13, 14, 100])]
    out = balanced(rows, seed=0)
    assert len(out) == len(rows)
    octave = [int(r["target_tokens"]).bit_length() for r in out]
    # three occupied octaves (4-7, 8-15, 64-127): 4 + 3 + 3 rows; the lone long answer is repeated
    assert sorted(octave.count(k) for k in set(octave)) == [3, 3, 4]
    assert sum(r["id"].split("+")[0] == "s9" for r in out) == 3
    assert len({r["id"] for r in out}) == len(out)  # repeats have ids of their own (the SFT file keys rows by id)
    # all three short ones (one repeated to fill 4) and 3 distinct of the 6 mid-length ones
    assert len({r["id"].split("+")[0] for r in out if r["target_tokens"] < 16}) == 6
    assert balanced(rows, seed=0) == out and balanced([], 0) == []


def test_the_default_warm_start_fine_tunes_on_solver_written_solutions_without_sampling(tiny_model_dir, tmp_path,
                                                                                         monkeypatch):
    from lengthwise.jobs.reasoning_warmstart import warm_start
    from lengthwise.tasks import problems

    def no_sampling(*_a):
        raise AssertionError("the solver-only warm start samples nothing")

    monkeypatch.setattr(reasoning_warmstart, "_load_generator", no_sampling)
    train = [{"id": p.id, "question": p.question, "answer": p.answer, "kind": p.kind, "prompt": p.question}
             for p in problems("train", 10, kinds=["sum", "compare"])]
    settings = WarmStartSettings(traces=12, trace_tokens=(8, 64), epochs=1.0, batch_size=4, save_steps=1)
    assert settings.problems == 0 and WarmStartSettings().traces > 0  # the default recipe
    said: list[str] = []
    result = warm_start(tmp_path / "warm", train, str(tiny_model_dir), settings, progress=False, say=said.append)
    rows = [json.loads(x) for x in (tmp_path / "warm" / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and {r["source"] for r in rows} == {"solver"}
    assert result.solver_rows == 12 and result.samples == 0 and result.examples == 12
    assert not (tmp_path / "warm" / "samples.jsonl").exists()
    assert (result.model / ".complete").exists()
    assert any("12 solver-written solutions" in m for m in said)
