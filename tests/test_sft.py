"""`lengthwise relabel` and `lengthwise sft`: self-relabeled length data and SFT on TRL's SFTTrainer."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.errors import ConfigError
from lengthwise.jobs.relabel import RelabelSettings, relabel_rows
from lengthwise.sft_loss import aggregate_sft_loss, sft_loss
from lengthwise.text import count_words

# --- loss weighting (docs/reference.md §8) ----------------------------------------------------------

def test_token_weighting_is_the_mean_over_all_answer_tokens():
    nll = torch.tensor([[1.0, 1.0, 0.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert aggregate_sft_loss(nll, mask, "token").item() == pytest.approx((1 + 1 + 4) / 3)
    assert aggregate_sft_loss(nll, mask, "sequence").item() == pytest.approx((1 + 4) / 2)  # each answer weighs 1


def test_sequence_weighting_ignores_answerless_rows_and_empty_batches_are_zero():
    nll = torch.tensor([[3.0, 3.0], [9.0, 9.0]], requires_grad=True)
    mask = torch.tensor([[1, 1], [0, 0]])
    assert aggregate_sft_loss(nll, mask, "sequence").item() == 3.0
    empty = aggregate_sft_loss(nll, torch.zeros_like(mask), "sequence")
    assert empty.item() == 0.0 and empty.requires_grad


def test_sft_loss_shifts_labels_and_skips_ignored_positions():
    logits = torch.zeros(1, 3, 4)  # uniform: every target token costs log 4
    labels = torch.tensor([[-100, 2, 3]])
    assert sft_loss(logits, labels).item() == pytest.approx(torch.log(torch.tensor(4.0)).item())
    with pytest.raises(ValueError):
        aggregate_sft_loss(torch.zeros(1, 1), torch.ones(1, 1), "bogus")


def test_end_weight_counts_the_end_token_that_many_times_over_the_same_divisor():
    logits = torch.zeros(1, 4, 4)  # uniform: every target token costs log 4
    labels = torch.tensor([[-100, 1, 3, 2]])  # 2 = the end token
    log4 = torch.log(torch.tensor(4.0)).item()
    assert sft_loss(logits, labels, end_token_id=2, end_weight=10.0).item() == pytest.approx((1 + 1 + 10) * log4 / 3)
    assert sft_loss(logits, labels, "sequence", end_token_id=2, end_weight=10.0).item() == pytest.approx(12 * log4 / 3)
    assert sft_loss(logits, labels, end_token_id=2).item() == pytest.approx(log4)  # weight 1: unchanged


def test_end_weight_moves_only_the_end_token_gradient():
    logits = torch.zeros(1, 4, 4, requires_grad=True)
    labels = torch.tensor([[-100, 1, 3, 2]])
    sft_loss(logits, labels, end_token_id=2, end_weight=5.0).backward()
    plain = torch.zeros(1, 4, 4, requires_grad=True)
    sft_loss(plain, labels).backward()
    # position 2 predicts the end token (label at 3): 5x the plain gradient; the others unchanged
    torch.testing.assert_close(logits.grad[0, 2], 5 * plain.grad[0, 2])
    torch.testing.assert_close(logits.grad[0, :2], plain.grad[0, :2])


# --- relabel ------------------------------------------------------------------------------------------

TASKS = {"t1": {"prompt": "Write an essay about tides.", "language": "en"}}


def _sample(sid, text, finish="stop"):
    return {"id": sid, "task_id": "t1", "response": text, "finish_reason": finish}


def test_relabel_states_the_produced_length_keeps_model_ended_answers_and_dedupes():
    long_text = " ".join("Rivers carry water seaward daily." for _ in range(20))  # 100 words
    samples = [_sample("a", long_text), _sample("b", long_text), _sample("c", "cut off mid", "length"),
               _sample("d", "too short.")]
    rows, counts = relabel_rows(samples, TASKS, RelabelSettings(min_words=5, cut_targets=(20, 50, 200)))
    assert counts == {"ended_by_model": 2, "from_cuts": 2, "duplicates": 3}
    whole = rows[0]
    assert whole["length"] == count_words(long_text) == 100
    assert "100 words" in whole["messages"][0]["content"] and "tides" in whole["messages"][0]["content"]
    assert whole["messages"][1]["content"] == long_text
    cuts = {r["how"]: r for r in rows[1:]}
    assert set(cuts) == {"cut:20", "cut:50"}  # 200 is longer than the answer
    for how, r in cuts.items():
        target = int(how.split(":")[1])
        assert abs(r["length"] - target) <= 0.15 * target and r["messages"][1]["content"].endswith(".")
        assert f"{r['length']} words" in r["messages"][0]["content"]


def test_relabel_then_sft_end_to_end_on_a_tiny_model(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "relabeled.jsonl"
    code = main(["relabel", "-o", str(out), "--model", str(tiny_model_dir), "--tasks", "3", "--samples", "2",
                 "--max-new-tokens", "24", "--min-words", "1", "-q"])
    assert code == 0, capsys.readouterr()
    samples = [json.loads(x) for x in (tmp_path / "relabeled.jsonl.samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert all(r["length"] == count_words(r["messages"][1]["content"]) for r in rows)
    # SFT on a hand-made chat file (the tiny model's answers may all hit their budget)
    data = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": f"Write about {n} words on rivers."},
                      {"role": "assistant", "content": "Rivers run. " * (n // 2)}]} for n in (4, 8, 12, 16)])
    first_loss = {}
    for weighting, extra in (("token", []), ("sequence", []), ("token", ["--end-weight", "20"])):
        run = tmp_path / f"sft-{weighting}-{len(extra)}"
        assert main(["sft", str(data), "-o", str(run), "--model", str(tiny_model_dir), "--max-steps", "2",
                     "--batch-size", "2", "--weighting", weighting, "-q", *extra]) == 0
        assert (run / "final" / "adapter_config.json").exists()
        logged = [json.loads(x) for x in (run / "logs.jsonl").read_text().splitlines()]
        assert logged[-1]["step"] == 2 and "loss" in logged[0]
        first_loss[(weighting, len(extra))] = logged[0]["loss"]
    # same seed, same first batch: the weighted end token adds to the loss, and the sum is over the same tokens
    assert first_loss[("token", 2)] > first_loss[("token", 0)] * 1.5


def test_sft_bad_chat_rows_are_one_line_errors(tmp_path, capsys):
    data = write_jsonl(tmp_path / "chat.jsonl", [{"messages": [{"role": "user", "content": "hi"}]}])
    assert main(["sft", str(data), "-o", str(tmp_path / "run")]) == 2
    assert f"{data}:1:" in capsys.readouterr().err


def test_sft_survives_kill_9_and_resumes(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": f"Write {n} words."},
                      {"role": "assistant", "content": "word " * n}]} for n in range(4, 20)])
    run = tmp_path / "run"
    args = [sys.executable, "-m", "lengthwise.cli", "sft", str(data), "-o", str(run), "--model", str(tiny_model_dir),
            "--max-steps", "6", "--save-steps", "2", "--batch-size", "2", "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (run / "checkpoint-2" / "trainer_state.json").exists():
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read().decode()[-2000:])
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "final").exists()
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from checkpoint-" in done.stdout
    state = json.loads((run / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6


@pytest.mark.parametrize("end_weight", [1.0, 2.0])  # TRL's trainer and the weighted subclass
def test_sft_passes_are_sorted_within_each_optimizer_step(end_weight):
    from types import SimpleNamespace

    from lengthwise.training.batching import StepSortedSampler
    from lengthwise.training.sft import SFTSettings, _trainer_class

    settings = SFTSettings(data="unused.jsonl", end_weight=end_weight)
    trainer = SimpleNamespace(args=SimpleNamespace(train_batch_size=2, gradient_accumulation_steps=3, seed=5),
                              train_dataset={"input_ids": [[1] * n for n in (3, 9, 4, 7, 2, 8)]})
    sampler = _trainer_class(settings, end_token_id=2)._get_train_sampler(trainer)
    assert isinstance(sampler, StepSortedSampler) and sampler.step_size == 6 and sampler.seed == 5
    assert [sampler.lengths[i] for i in sampler] == [9, 8, 7, 4, 3, 2]  # one step: all of it, longest first


def test_sft_cli_constant_schedule_and_minute_checkpoints(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": f"Write about {n} words on rivers."},
                      {"role": "assistant", "content": "Rivers run. " * (n // 2)}]} for n in (4, 8, 12, 16)])
    run = tmp_path / "curve"
    assert main(["sft", str(data), "-o", str(run), "--model", str(tiny_model_dir), "--max-steps", "3",
                 "--batch-size", "2", "--lr", "1e-3", "--lr-scheduler", "constant", "--save-steps", "100",
                 "--save-at-minutes", "0.00001", "-q"]) == 0
    logged = [json.loads(x) for x in (run / "logs.jsonl").read_text().splitlines() if "learning_rate" in x]
    assert {r["learning_rate"] for r in logged} == {1e-3}  # constant: no decay to 0 by the last step
    marks = json.loads((run / "time_spent.json").read_text())["marks"]
    assert marks == {"1e-05": 1} and (run / "checkpoint-1" / "adapter_config.json").exists()
    assert not (run / "checkpoint-2").exists()  # a mark saves once; save_steps 100 saves nothing else
    assert main(["sft", str(data), "-o", str(tmp_path / "bad"), "--lr-scheduler", "sideways"]) == 2


def test_warmup_stable_decay_decays_the_last_fraction_of_the_steps():
    from lengthwise.training.sft import SFTSettings, _scheduler_kwargs

    # 375 examples x 3.5 epochs / (2 x 8 per step) = 82.03 -> 83 steps; a quarter of them decay
    wsd = SFTSettings(data="x", lr_scheduler="warmup_stable_decay", decay_fraction=0.25, batch_size=2,
                      gradient_accumulation_steps=8, epochs=3.5)
    assert _scheduler_kwargs(wsd, 375) == {"num_decay_steps": 21, "decay_type": "linear"}
    assert _scheduler_kwargs(SFTSettings(data="x", lr_scheduler="warmup_stable_decay", max_steps=10), 375) == {
        "num_decay_steps": 2, "decay_type": "linear"}
    assert _scheduler_kwargs(SFTSettings(data="x", lr_scheduler="linear"), 375) == {}
    for bad in (dict(decay_fraction=0.0), dict(decay_fraction=1.5), dict(lora_layers=0), dict(lora_layers=True)):
        with pytest.raises(ConfigError):
            SFTSettings(data="x", **bad).check()


def test_lora_on_the_top_layers_only_and_a_decaying_end(tiny_model_dir, tmp_path, capsys):
    from safetensors import safe_open

    data = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": f"Write about {n} words on rivers."},
                      {"role": "assistant", "content": "Rivers run. " * (n // 2)}]} for n in (4, 8, 12, 16)])
    run = tmp_path / "top"
    assert main(["sft", str(data), "-o", str(run), "--model", str(tiny_model_dir), "--max-steps", "4",
                 "--batch-size", "2", "--lr", "1e-3", "--lr-scheduler", "warmup_stable_decay",
                 "--decay-fraction", "0.5", "--lora-layers", "1", "--save-steps", "100", "-q"]) == 0
    assert "Tokenizing" not in capsys.readouterr().err  # datasets' own bars stay off the terminal
    layers = json.loads((tiny_model_dir / "config.json").read_text())["num_hidden_layers"]
    with safe_open(str(run / "final" / "adapter_model.safetensors"), "pt") as f:
        adapted = {int(k.split(".layers.")[1].split(".")[0]) for k in f.keys()}
        names = {k.split(".layers.")[1].split(".")[2] for k in f.keys()}
    assert adapted == {layers - 1}  # only the top layer has adapters
    assert {"q_proj", "v_proj", "down_proj"} <= names  # every linear of that layer, as "all-linear" would
    rates = [json.loads(x)["learning_rate"] for x in (run / "logs.jsonl").read_text().splitlines()
             if '"learning_rate"' in x]
    # stable, then the last 2 steps decay linearly towards 0 (the rate logged at a step is the one it used)
    assert rates == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4])
