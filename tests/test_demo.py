"""``lengthwise demo`` end to end on a tiny offline model: measure, train, re-measure, report."""

from __future__ import annotations

import json

import pytest

from browser import check_report
from conftest import REPO
from lengthwise.cli import main
from lengthwise.jobs.demo import DEMO_LENGTHS, DemoSettings, demo_train_config, heldout_prompts, run_demo
from lengthwise.prompts import writing_tasks
from lengthwise.training.config import load_config


def _settings(model_dir, **kw) -> DemoSettings:
    training = {"model.name": str(model_dir), "max_steps": 1, "max_completion_length": 24, "data.builtin_n": 8,
                **kw.pop("training", {})}
    kw.setdefault("warm", None)  # the warm start has its own test below
    # phases in this process (a spawned one costs ~5 s of imports); the warm-start test runs them isolated
    kw.setdefault("isolate_phases", False)
    return DemoSettings.quick(training=training, n_prompts=4, eval_max_tokens=24, **kw)


def test_heldout_prompts_never_appear_in_training():
    held = {r["prompt"] for r in heldout_prompts(37)}
    train = {r["prompt"].split(" in about")[0] for r in writing_tasks("train", lengths=DEMO_LENGTHS, languages=("en",))}
    assert held and not {p.split(" in about")[0] for p in held} & train
    assert {r["length"] for r in heldout_prompts(24)} == set(DEMO_LENGTHS)


def test_the_default_measurement_is_the_whole_heldout_grid_greedy():
    from lengthwise.prompts import length_grid

    grid = heldout_prompts()
    assert len(grid) == 222 and len({r["id"] for r in grid}) == 222
    # every held-out task at every target, and any prefix balanced over the targets
    assert {(r["id"].rsplit("-", 1)[0], r["length"]) for r in grid} == {
        (t, n) for t in {r["id"].rsplit("-", 1)[0] for r in grid} for n in DEMO_LENGTHS}
    first = [r["length"] for r in heldout_prompts(36)]
    assert all(first.count(n) == 6 for n in DEMO_LENGTHS)
    train_tasks = {r["prompt"] for r in length_grid("train", (100,))}
    assert not {r["prompt"] for r in length_grid("heldout", (100,))} & train_tasks
    settings = DemoSettings()
    assert settings.n_prompts is None and settings.sampled_seeds == 0


def test_demo_reports_a_sampled_figure_beside_the_greedy_one(tiny_model_dir, tmp_path):
    result = run_demo(tmp_path / "demo", _settings(tiny_model_dir, sampled_seeds=1), progress=False)
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["decoding"] == "greedy"
    sampled = summary["sampled"]
    assert sampled["seeds"] == 1 and len(sampled["S_l_before"]) == len(sampled["S_l_after"]) == 1
    assert sampled["gain"]["low"] <= sampled["gain"]["mean"] <= sampled["gain"]["high"]
    assert (tmp_path / "demo" / "before_sampled_0.jsonl").exists()
    greedy = [r for r in result.before.rows]
    assert all(r.get("response") is not None for r in greedy)
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "sampled (T = 0.7, 1 seed(s))" in page and "greedy" in page


def test_demo_recipe_matches_the_cpu_demo_example(tmp_path):
    """examples/cpu-demo.yaml is the documented form of what `lengthwise demo` trains."""
    ours = demo_train_config(DemoSettings(), tmp_path).as_dict()
    example = load_config(REPO / "examples" / "cpu-demo.yaml", [f"output_dir={tmp_path}"]).as_dict()
    for key in ("preset", "rewards", "advantage", "num_generations", "per_device_batch_size",
                "gradient_accumulation_steps", "max_steps",
                "learning_rate", "beta", "max_completion_length", "temperature", "seed"):
        assert ours[key] == example[key], key
    assert ours["model"] == example["model"]
    for key in ("lengths", "languages", "think", "builtin_n"):
        assert ours["data"][key] == example["data"][key], key


def test_demo_measures_trains_remeasures_and_reports(tiny_model_dir, tmp_path):
    phases = []
    result = run_demo(tmp_path / "demo", _settings(tiny_model_dir), progress=False, on_phase=phases.append)
    out = tmp_path / "demo"
    assert [p[:3] for p in phases] == ["1/4", "2/4", "3/4", "4/4"]
    for name in ("prompts.jsonl", "before.jsonl", "after.jsonl", "summary.json", "report.html",
                 "required_vs_produced.png", "training_curves.png", "train/final/adapter_config.json",
                 "train/metrics.jsonl"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["before"]["n"] == summary["after"]["n"] == 4
    assert summary["delta_S_l"] == pytest.approx(summary["after"]["S_l"] - summary["before"]["S_l"], abs=0.02)
    assert set(summary["phase_seconds"]) == {"before", "train", "after", "report"}
    ci = summary["gain"]["S_l"]
    assert ci["n"] == 4 and ci["low"] <= ci["mean"] <= ci["high"]
    assert ci["mean"] == pytest.approx(summary["delta_S_l"], abs=0.02)
    assert sum(g["n"] for g in summary["gain"]["S_l_by_target"].values()) == 4
    assert result.after is not None and len(result.after.rows) == 4
    page = (out / "report.html").read_text()
    for part in (
        "mean S_l before",
        "mean S_l after",
        "paired 95% CI",
        "S_l by requested length",
        "required_vs_produced.png",
        "training_curves.png",
        "Samples (8)",
    ):
        assert part in page, part
    seen = check_report(out / "report.html", tmp_path / "shot.png")
    assert len(seen["images"]) == 2 and all(w > 0 for _, w in seen["images"])
    assert seen["sample_opened"]

    # rerun: every phase is already done, nothing is regenerated or retrained
    before_mtime = (out / "after.jsonl").stat().st_mtime_ns
    phases.clear()
    again = run_demo(out, _settings(tiny_model_dir), progress=False, on_phase=phases.append)
    assert any("already finished" in p for p in phases)
    assert (out / "after.jsonl").stat().st_mtime_ns == before_mtime
    assert again.after.mean_S_l == result.after.mean_S_l
    # what the demo cost is counted over both runs, not replaced by the rerun's few seconds
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["seconds"] >= summary["seconds"] and again.seconds >= result.seconds
    for phase, seconds in summary["phase_seconds"].items():
        assert resumed["phase_seconds"][phase] >= seconds, phase
    assert resumed["phase_seconds"]["train"] == pytest.approx(summary["phase_seconds"]["train"], abs=1.0)
    for phase, peak in summary["phase_peak_rss_mb"].items():
        assert resumed["phase_peak_rss_mb"][phase] >= peak, phase


def test_demo_warm_start_phase_feeds_rl_the_merged_model_and_reports_what_each_stage_added(tiny_model_dir, tmp_path):
    from lengthwise.jobs.writing_warmstart import WritingWarmStart

    # the tiny model writes no sentences, so a wide tolerance keeps its whole answers as "cuts"
    warm = WritingWarmStart(tasks=6, max_new_tokens=40, tolerance=0.95, batch_size=2, micro_batch=2, epochs=1.0)
    phases = []
    out = tmp_path / "demo"
    isolated = _settings(tiny_model_dir, warm=warm, measure_warm=True, isolate_phases=True)
    run_demo(out, isolated, progress=False, on_phase=phases.append)
    assert [p[:3] for p in phases if p[1] == "/"] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    # the warm start ran in its own process and its messages still reached the caller
    assert any(p.startswith("   warm start:") for p in phases)
    assert (out / "warm" / "model" / ".complete").exists() and (out / "warm.jsonl").exists()
    rows = [json.loads(x) for x in (out / "warm" / "sft.jsonl").read_text().splitlines()]
    assert rows and all(r["target"] in DEMO_LENGTHS for r in rows)
    # RL trained its own adapter on the merged warm start
    adapter = json.loads((out / "train" / "final" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str((out / "warm" / "model").resolve())
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["phase_seconds"]) == {"before", "warm", "warm_measure", "train", "after", "report"}
    assert set(summary["warm_start_data"]["seconds"]) == {"sample", "sft", "merge"}
    warm_block = summary["warm"]
    assert warm_block["n"] == 4 and warm_block["gain"]["S_l"]["n"] == 4 and warm_block["rl_gain"]["S_l"]["n"] == 4
    assert summary["warm_start_data"]["examples"] == len(rows)
    # each phase's process and this one's memory meanwhile
    assert set(summary["phase_peak_rss_mb"]) == {"before", "warm", "warm_measure", "train", "after"}
    assert all(mb > 50 for mb in summary["phase_peak_rss_mb"].values())
    # a rerun finds every phase done
    mtime = (out / "warm" / "model" / ".complete").stat().st_mtime_ns
    phases.clear()
    run_demo(out, isolated, progress=False, on_phase=phases.append)
    assert (out / "warm" / "model" / ".complete").stat().st_mtime_ns == mtime
    assert any("already finished" in p for p in phases)


def test_demo_cli_measure_only(tiny_model_dir, tmp_path, capsys):
    code = main(["demo", "--quick", "--steps", "0", "--prompts", "3", "--model", str(tiny_model_dir),
                 "--out", str(tmp_path / "d"), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "mean S_l" in out and "report:" in out
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["after"] is None and summary["before"]["n"] == 3


@pytest.mark.parametrize("args, message", [
    (["--preset", "ppo"], "--preset must be one of"),
    (["--prompts", "1"], "prompts must be >= 2"),
    (["--steps", "-1"], "steps must be >= 0"),
    (["--task", "reasoning", "--measure-warm"], "--measure-warm belongs to --task writing"),
])
def test_demo_cli_rejects_bad_options(args, message, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), *args]) == 2
    assert message in capsys.readouterr().err


def test_the_demo_measures_in_the_dtype_its_training_names(tiny_model_dir, tmp_path, monkeypatch):
    """--dtype reaches the before/after measurement, not only training."""
    from lengthwise.backends import transformers_backend

    seen = []
    original = transformers_backend.TransformersGenerator.from_pretrained.__func__

    def spy(cls, model=None, device=None, dtype=None, **kw):
        seen.append(dtype)
        return original(cls, model, device=device, dtype=dtype, **kw)

    monkeypatch.setattr(transformers_backend.TransformersGenerator, "from_pretrained", classmethod(spy))
    # the spy lives in this process: the measurement runs here too
    run_demo(tmp_path / "run", _settings(tiny_model_dir, training={"model.dtype": "float32"}, isolate_phases=False),
             progress=False, train=False)
    assert seen == ["float32"]
