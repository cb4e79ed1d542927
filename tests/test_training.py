"""`lengthwise train`: presets reach TRL, metrics are logged, interruptions resume, bad configs fail early."""

import json
import signal
import subprocess
import sys
import time

import pytest

from lengthwise.cli import main
from lengthwise.errors import ConfigError
from lengthwise.losses import get_preset
from lengthwise.metrics import read_metrics
from lengthwise.training.config import load_config
from lengthwise.training.trainer import build_grpo_config, build_reward_stack

PRESETS = ["grpo", "dapo", "dr_grpo", "gspo", "luspo"]


def tiny_overrides(model_dir, out, steps=2, save_steps=10):
    return [
        f"model.name={model_dir}",
        f"output_dir={out}",
        f"max_steps={steps}",
        f"save_steps={save_steps}",
        "num_generations=2",
        "per_device_batch_size=2",
        "max_completion_length=8",
        "data.builtin_n=8",
        "rewards={components: [{name: length, type: lwz_range}, {name: format, type: format, params: {think: false}}], "
        "detectors: {paraphrase: false}}",
    ]


@pytest.mark.parametrize("preset", PRESETS)
def test_two_step_training_for_each_preset(preset, tiny_model_dir, tmp_path):
    out = tmp_path / preset
    cfg = load_config(None, tiny_overrides(tiny_model_dir, out) + [f"preset={preset}"])
    args = build_grpo_config(cfg, build_reward_stack(cfg))
    for key, value in get_preset(preset).trl.items():
        assert getattr(args, key) == value, key
    assert args.max_completion_length == 8 and args.multi_objective_aggregation == "normalize_then_sum"
    assert (
        main(
            [
                "train",
                "--set",
                f"preset={preset}",
                *sum((["--set", o] for o in tiny_overrides(tiny_model_dir, out)), []),
            ]
        )
        == 0
    )
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    for key in ("length/words_mean", "length/words_median", "length/S_l_mean", "length/S_c_mean",
                "rewards/length/mean", "rewards/format/mean",
                "completions/clipped_ratio", "clip_ratio/low_mean", "clip_ratio/high_mean"):
        assert key in rows[-1], key
    assert any(k.startswith("length/S_l/[") for k in rows[-1])
    assert (out / "final").exists()


def test_kill_after_first_checkpoint_then_resume(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "lengthwise.cli", "train"]
    for o in tiny_overrides(tiny_model_dir, out, steps=6, save_steps=2):
        args += ["--set", o]
    args += ["--set", "max_completion_length=48"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (out / "checkpoint-2" / "trainer_state.json").exists():
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read().decode()[-3000:])
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "final").exists(), "the kill must land before the run ends"
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed from checkpoint-" in done.stdout
    # a clean terminal: one progress line, no library warnings, no raw dicts of every log row;
    # the full logs are in the run folder
    terminal = done.stdout + done.stderr
    for noise in ("Warning", "{'loss'", "'reward':", "Loading weights"):
        assert noise not in terminal, noise
    assert "S_l=" in terminal and "train:" in terminal
    logged = [json.loads(x) for x in (out / "logs.jsonl").read_text().splitlines()]
    assert [r for r in logged if "loss" in r][-1]["step"] == 6
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl")]
    assert steps == sorted(set(steps)) and steps[-1] == 6
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6


@pytest.mark.parametrize(
    "override, message",
    [
        ("preset=ppo", "preset: unknown 'ppo'"),
        ("data.prompts=/no/such/prompts.jsonl", "file not found"),
        ("model.name=./no/such/model", "model.name: model"),
        ("rewards=/no/such/stack.yaml", "reward stack file not found"),
        ("num_generations=3", "multiple of num_generations"),
        ("bogus=1", "unknown key(s) ['bogus']"),
    ],
)
def test_config_errors_are_one_line_before_any_model_loads(override, message, capsys):
    assert main(["train", "--set", override]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_config_collects_every_problem_at_once():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["preset=ppo", "max_steps=0", "learning_rate=-1"])
    assert "preset" in str(err.value) and "max_steps" in str(err.value) and "learning_rate" in str(err.value)


def test_unknown_reward_component_is_reported(tiny_model_dir, tmp_path, capsys):
    code = main(["train", "--set", f"model.name={tiny_model_dir}", "--set", f"output_dir={tmp_path}",
                 "--set", "rewards={components: [{type: lenght}]}"])
    assert code == 2 and "unknown type 'lenght'" in capsys.readouterr().err


def test_override_values_are_typed_and_wrong_types_are_config_errors(capsys):
    cfg = load_config(None, ["learning_rate=5e-5", "max_steps=3", "temperature=1"])
    assert cfg.learning_rate == 5e-5 and cfg.max_steps == 3 and cfg.temperature == 1.0
    assert main(["train", "--set", "max_steps=many"]) == 2
    assert "max_steps must be int, got 'many'" in capsys.readouterr().err
    assert main(["train", "--set", "model.lora=maybe"]) == 2
    assert "model.lora must be bool" in capsys.readouterr().err


def test_lwz_reward_matrix_reproduces_advantage_averaging_golden_example():
    import torch

    from lengthwise.training.lwz_advantage import lwz_reward_matrix

    raw = torch.tensor([[1, 0.2, 1], [1, 0.4, 1], [0.5, 0.6, 1], [0, 0.8, 1]], dtype=torch.float32)
    out = lwz_reward_matrix(raw, 4, ["length", "write", "format"], [1.0, 1.0, 1.0])
    assert out[:, 0].tolist() == pytest.approx([-0.1262, 0.1320, 0.0421, -0.0479], abs=5e-4)
    assert out[:, 1:].abs().sum() == 0
    # TRL then subtracts the group mean (scale_rewards="none"): already zero, so nothing changes.
    assert abs(out[:, 0].mean().item()) < 1e-6


def test_lwz_average_trains_through_the_trl_adapter(tiny_model_dir, tmp_path):
    out = tmp_path / "lwz"
    overrides = tiny_overrides(tiny_model_dir, out) + ["advantage=lwz_average", "preset=grpo"]
    cfg = load_config(None, overrides)
    args = build_grpo_config(cfg, build_reward_stack(cfg))
    assert args.multi_objective_aggregation == "sum_then_normalize" and args.scale_rewards == "none"
    assert main(["train", *sum((["--set", o] for o in overrides), [])]) == 0
    rows = read_metrics(out / "metrics.jsonl")
    assert "components/length/mean" in rows[-1] and "components/format/mean" in rows[-1]


def test_lwz_average_advantages_reach_the_loss_unchanged(tiny_model_dir, tmp_path):
    from lengthwise.training.trainer import build_trainer

    cfg = load_config(None, tiny_overrides(tiny_model_dir, tmp_path / "lwz2") + ["advantage=lwz_average"])
    trainer, _ = build_trainer(cfg)
    trainer.train()
    ours = list(trainer._logs["rewards"]["length"])  # column 0 carries our averaged advantage
    trl = list(trainer._logs["advantages"])
    assert len(ours) == len(trl) > 0
    assert trl == pytest.approx(ours, abs=1e-5)


def test_time_budget_ends_training_after_the_step_that_reaches_it_and_counts_over_resumes(tiny_model_dir, tmp_path):
    out = tmp_path / "budget"
    # a budget far below one step: the run ends after its first step, of 5, with a checkpoint there
    overrides = tiny_overrides(tiny_model_dir, out, steps=5) + ["max_minutes=0.00001"]
    assert main(["train", *sum((["--set", o] for o in overrides), [])]) == 0
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl")] == [1]
    spent = json.loads((out / "time_spent.json").read_text())
    assert spent["step"] == 1 and spent["seconds"] > 0
    assert (out / "checkpoint-1").exists() and (out / "final").exists()


def test_time_budget_callback_adds_time_from_earlier_runs(tmp_path):
    from transformers import TrainerControl, TrainerState

    from lengthwise.training.callbacks import TimeBudget

    (tmp_path / "time_spent.json").write_text('{"seconds": 59.0, "step": 3}')
    budget = TimeBudget(tmp_path, minutes=1.0)
    state, control = TrainerState(), TrainerControl()
    budget.on_train_begin(None, state, control)
    assert not control.should_training_stop
    time.sleep(1.05)
    state.global_step = 4
    budget.on_step_end(None, state, control)
    assert control.should_training_stop and control.should_save
    assert json.loads((tmp_path / "time_spent.json").read_text())["step"] == 4
    with pytest.raises(ConfigError, match="max_minutes"):
        load_config(None, ["max_minutes=-1"]).validate()


def test_time_budget_marks_save_once_each_and_survive_a_resume(tmp_path):
    from transformers import TrainerControl, TrainerState

    from lengthwise.training.callbacks import TimeBudget

    # 0.5 minutes already spent: the 0.25-minute mark is crossed by the next step, the 1-minute one is not
    (tmp_path / "time_spent.json").write_text('{"seconds": 30.0, "step": 3}')
    marks = TimeBudget(tmp_path, minutes=None, marks=[1.0, 0.25])
    state = TrainerState()
    marks.on_train_begin(None, state, TrainerControl())
    state.global_step = 4
    control = TrainerControl()
    marks.on_step_end(None, state, control)
    assert control.should_save and not control.should_training_stop  # no budget: never stops
    saved = json.loads((tmp_path / "time_spent.json").read_text())
    assert saved["marks"] == {"0.25": 4}
    resumed = TimeBudget(tmp_path, minutes=None, marks=[1.0, 0.25])
    resumed.on_train_begin(None, state, TrainerControl())
    state.global_step = 5
    control = TrainerControl()
    resumed.on_step_end(None, state, control)
    assert not control.should_save  # the crossed mark is not saved again after a resume
    assert json.loads((tmp_path / "time_spent.json").read_text())["marks"] == {"0.25": 4}


def test_release_memory_callback_runs_every_nth_step(monkeypatch):
    from transformers import TrainerControl, TrainerState

    import lengthwise.training.callbacks as callbacks

    calls = []
    monkeypatch.setattr(callbacks, "release_memory", lambda: calls.append(1))
    release, state = callbacks.ReleaseMemory(every=3), TrainerState()
    for step in range(1, 8):
        state.global_step = step
        release.on_step_end(None, state, TrainerControl())
    assert len(calls) == 2  # steps 3 and 6
    from lengthwise.training.memory import release_memory

    release_memory()  # the real one runs on any system (a no-op where glibc is missing)
