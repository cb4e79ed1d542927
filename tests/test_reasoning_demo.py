"""``lengthwise demo --task reasoning`` end to end on a tiny offline model: measure at each budget, train with
LCPO under LUSPO, re-measure, report; rerun and kill -9 resume; the preset comparison."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from browser import check_report
from lengthwise.cli import main
from lengthwise.jobs.reasoning_demo import (
    REASONING_BUDGETS,
    ReasoningDemoSettings,
    answer_cap,
    heldout_rows,
    measure_answers,
    run_reasoning_demo,
    train_rows,
)


def _settings(model_dir, **kw) -> ReasoningDemoSettings:
    training = {"model.name": str(model_dir), "max_steps": 1, "max_completion_length": 16, **kw.pop("training", {})}
    # RL from the untrained model (the warm start has its own tests: test_reasoning_warmstart.py)
    values = dict(n_problems=3, n_train=8, budgets=(8, 16), train_budgets=(8, 16), warm=None)
    values.update(kw)
    return ReasoningDemoSettings.quick(training=training, **values)


def test_heldout_rows_cover_every_budget_and_never_share_a_problem_with_training():
    settings = ReasoningDemoSettings()
    held = heldout_rows(settings)
    assert len(held) == settings.n_problems * len(REASONING_BUDGETS)
    assert {r["target_tokens"] for r in held} == set(REASONING_BUDGETS)
    assert all(r["prompt"].endswith(f"Think for {r['target_tokens']} tokens.") for r in held)
    train = train_rows(settings)
    assert len(train) == settings.n_train
    assert not {r["question"] for r in held} & {r["question"] for r in train}
    lo, hi = settings.train_budgets
    assert all(lo <= r["target_tokens"] <= hi for r in train)
    assert len({r["target_tokens"] for r in train}) > 10  # drawn per row, not one value
    assert {r["kind"] for r in held} == {"sum", "compare"}
    # the cap leaves room to overshoot the budget by half, so overshooting is measured, not cut
    assert answer_cap(64) == 128 and all(answer_cap(b) > 1.5 * b for b in REASONING_BUDGETS)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_measurement_decodes_in_the_dtype_the_settings_name(tiny_model_dir, tmp_path, dtype):
    import torch

    settings = _settings(tiny_model_dir, training={"model.dtype": dtype})
    rows = heldout_rows(settings)[:2]
    loaded: dict = {}
    answers = measure_answers(tmp_path / "a.jsonl", rows, str(tiny_model_dir), settings, False, "x", loaded)
    assert len(answers) == 2 and all(a["completion_tokens"] >= 1 for a in answers)
    assert loaded[str(tiny_model_dir)].model.dtype == getattr(torch, dtype)


def test_reasoning_demo_measures_trains_remeasures_and_reports(tiny_model_dir, tmp_path):
    phases: list[str] = []
    out = tmp_path / "demo"
    result = run_reasoning_demo(out, _settings(tiny_model_dir), progress=False, on_phase=phases.append)
    assert [p[:3] for p in phases] == ["1/4", "2/4", "3/4", "4/4"]
    for name in ("prompts.jsonl", "train_prompts.jsonl", "before.jsonl", "after.jsonl", "summary.json",
                 "report.html", "budget_vs_produced.png", "accuracy_by_budget.png", "training_curves.png",
                 "train/final/adapter_config.json", "train/metrics.jsonl"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "reasoning" and summary["decoding"] == "greedy"
    assert summary["before"]["n"] == summary["after"]["n"] == 6
    assert set(summary["before"]["by_budget"]) == {"8", "16"}
    rows = [json.loads(x) for x in (out / "after.jsonl").read_text().splitlines()]
    for row in rows:  # lengths in the policy's tokens, capped at 1.5 x budget + 32
        assert 0 < row["completion_tokens"] <= answer_cap(row["target_tokens"])
    # the trained model's rows answer the same prompts as the untrained model's
    before = {json.loads(x)["id"]: json.loads(x)["prompt"] for x in (out / "before.jsonl").read_text().splitlines()}
    assert {r["id"]: r["prompt"] for r in rows} == before
    paired = summary["paired"]
    assert paired["n"] == 6 and paired["accuracy_gain"]["low"] <= paired["accuracy_gain"]["mean"]
    assert result.after["mean_relative_error"] == summary["after"]["mean_relative_error"]
    metrics = [json.loads(x) for x in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    assert "rewards/lcpo/mean" in metrics[-1] and "rewards/accuracy/mean" in metrics[-1]
    page = (out / "report.html").read_text()
    for part in ("reasoning within a token budget", "Spearman(requested, produced) before", "accuracy after",
                 "Per budget (held-out problems)", "budget_vs_produced.png", "accuracy_by_budget.png",
                 "Samples (12)"):
        assert part in page, part
    seen = check_report(out / "report.html", tmp_path / "shot.png")
    assert len(seen["images"]) == 3 and all(w > 0 for _, w in seen["images"])

    # rerun: nothing is regenerated or retrained
    stamp = (out / "after.jsonl").stat().st_mtime_ns
    again = run_reasoning_demo(out, _settings(tiny_model_dir), progress=False)
    assert (out / "after.jsonl").stat().st_mtime_ns == stamp
    assert again.after == result.after
    # other problems in the same folder would mix two runs: a clear error, nothing overwritten
    from lengthwise.errors import InputError

    with pytest.raises(InputError, match="n_problems: 3 -> 5"):
        run_reasoning_demo(out, _settings(tiny_model_dir, n_problems=5), progress=False)
    assert (out / "after.jsonl").stat().st_mtime_ns == stamp


def test_reasoning_demo_compares_loss_presets_on_the_same_prompts(tiny_model_dir, tmp_path):
    out = tmp_path / "demo"
    settings = _settings(tiny_model_dir, compare_presets=("gspo", "luspo"), compare_steps=2)
    result = run_reasoning_demo(out, settings, progress=False, train=False)
    assert result.after is None and set(result.presets) == {"gspo", "luspo"}
    for preset, rows in result.presets.items():
        assert [r["step"] for r in rows] == [1, 2], preset
        # lengths are logged where a generation round starts (two optimizer steps per round), clipping every step
        assert rows[0]["mean_length"] > 0 and rows[1]["mean_length"] is None
        assert all(r["clipped_positive"] is not None and r["clipped_negative"] is not None for r in rows)
        config = json.loads((out / "presets" / preset / "config.json").read_text())
        # the same prompts and seed; two optimizer steps per generation round, so the second is off-policy
        assert config["preset"] == preset and config["data"]["prompts"] == str(out / "train_prompts.jsonl")
        assert config["steps_per_generation"] == 2 * config["gradient_accumulation_steps"]
    assert (out / "presets.png").exists()
    assert "Loss presets: response length per step" in (out / "report.html").read_text()


def test_reasoning_demo_resumes_after_kill_9(tiny_model_dir, tmp_path):
    out = tmp_path / "demo"
    args = [sys.executable, "-m", "lengthwise.cli", "demo", "--task", "reasoning", "--quick", "--steps", "6",
            "--prompts", "3", "--model", str(tiny_model_dir), "--out", str(out), "--no-warm-start"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (out / "train" / "checkpoint-2" / "trainer_state.json").exists():
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read().decode()[-3000:])
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "train" / "final").exists(), "the kill must land before training ends"
    stamp = (out / "before.jsonl").stat().st_mtime_ns
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "before.jsonl").stat().st_mtime_ns == stamp  # the measured phase is not redone
    steps = [json.loads(x)["step"] for x in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6
    assert "2/4 resuming from checkpoint-" in done.stdout
    assert json.loads((out / "train" / "checkpoint-6" / "trainer_state.json").read_text())["global_step"] == 6
    after = [json.loads(x)["id"] for x in (out / "after.jsonl").read_text().splitlines()]
    assert len(after) == len(set(after)) == 6


def test_reasoning_demo_cli_prints_the_budget_table(tiny_model_dir, tmp_path, capsys):
    code = main(["demo", "--task", "reasoning", "--quick", "--steps", "0", "--prompts", "2", "--model",
                 str(tiny_model_dir), "--out", str(tmp_path / "d"), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "tokens before" in text and "Spearman(requested, produced)" in text and "report:" in text
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["after"] is None and summary["before"]["n"] == 4


@pytest.mark.parametrize("args, message", [
    (["--task", "poetry"], "--task must be writing or reasoning"),
    (["--compare-presets", "gspo"], "--compare-presets belongs to --task reasoning"),
    (["--task", "reasoning", "--compare-presets", "ppo"], "unknown presets to compare"),
    (["--task", "reasoning", "--prompts", "1"], "problems must be >= 2"),
])
def test_reasoning_demo_cli_rejects_bad_options(args, message, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), *args]) == 2
    assert message in capsys.readouterr().err


def test_the_reasoning_headline_reads_before_to_after():
    from lengthwise.cli.training import reasoning_line

    before = {"spearman_requested_produced": 0.132, "mean_relative_error": 0.781}
    after = {"spearman_requested_produced": 0.9429, "mean_relative_error": 0.1738}
    paired = {"accuracy_gain": {"mean": 0.6111, "low": 0.5, "high": 0.7111}}
    assert reasoning_line(before, after, paired) == (
        "Spearman(requested, produced) 0.13 -> 0.94, relative error 0.78 -> 0.17; accuracy change +61.1 points "
        "(paired 95% CI +50.0 to +71.1)")
    assert reasoning_line({**before, "spearman_requested_produced": None}, None, None) == (
        "Spearman(requested, produced) -, relative error 0.78")
