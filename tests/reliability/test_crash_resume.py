"""kill -9 every long command at several points, rerun it, and compare with an uninterrupted run:
same completed items, no duplicates, no truncated line, no corrupted cache."""

from __future__ import annotations

import time

import pytest

from conftest import write_jsonl
from lengthwise.judging.rubric import DIMENSIONS
from openai_server import FakeOpenAIServer
from reliability.harness import check_same_items, cli, complete_lines, jsonl_rows, kill_when, tear_last_line
from scripted import ScriptedGenerator, rubric_reply

pytestmark = pytest.mark.reliability

PROMPTS = [{"id": f"p{k}", "prompt": f"Write about {40 + 10 * k} words on topic {k}."} for k in range(6)]
KILL_POINTS = ["after_first_item", "mid_run", "during_a_write"]


def _ready_after(path, n):
    return lambda: complete_lines(path) >= n


_CLEAN: dict[str, object] = {}


def clean_run(key: str, tmp_path_factory, args_for):
    """The uninterrupted reference run of a command, once per session."""
    if key not in _CLEAN:
        folder = tmp_path_factory.mktemp(f"clean-{key}")
        result = cli(args_for(folder))
        assert result.returncode == 0, result.stderr
        _CLEAN[key] = folder
    return _CLEAN[key]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_generate_survives_kill_9(point, tiny_model_dir, tmp_path, tmp_path_factory):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    common = [
        "--model",
        str(tiny_model_dir),
        "--batch-size",
        "1",
        "--max-new-tokens",
        "48",
        "--temperature",
        "0",
        "--quiet",
    ]
    clean = clean_run("generate", tmp_path_factory,
                      lambda d: ["generate", str(prompts), "--out", str(d / "clean.jsonl"), *common]) / "clean.jsonl"
    out = tmp_path / "out.jsonl"
    kill_when(
        ["generate", str(prompts), "--out", str(out), *common],
        _ready_after(out, 1 if point == "after_first_item" else 3),
    )
    if point == "during_a_write":
        tear_last_line(out)
    done = cli(["generate", str(prompts), "--out", str(out), *common])
    assert done.returncode == 0, done.stderr
    check_same_items(out, clean)
    # greedy decoding: the resumed run's answers equal the uninterrupted run's
    assert {r["id"]: r["response"] for r in jsonl_rows(out)} == {r["id"]: r["response"] for r in jsonl_rows(clean)}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_write_survives_kill_9(point, tiny_model_dir, tmp_path, tmp_path_factory):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"id": "d0", "prompt": "Write about rivers.", "length": 240}])
    common = ["--model", str(tiny_model_dir), "--batch-size", "1", "--temperature", "0", "--plan-attempts", "1",
              "--min-section-words", "50", "--max-section-words", "80", "--max-continuations", "0", "--quiet"]
    clean = clean_run("write", tmp_path_factory,
                      lambda d: ["write", str(prompts), "--out", str(d / "clean.jsonl"), *common]) / "clean.jsonl"
    out = tmp_path / "out.jsonl"
    cache = tmp_path / "out.jsonl.cache.jsonl"
    kill_when(
        ["write", str(prompts), "--out", str(out), *common],
        _ready_after(cache, 1 if point == "after_first_item" else 3),
    )
    if point == "during_a_write":
        tear_last_line(cache, b'{"key": "d0:s9", "sect')
    done = cli(["write", str(prompts), "--out", str(out), *common])
    assert done.returncode == 0, done.stderr
    check_same_items(out, clean)
    keys = [r["key"] for r in jsonl_rows(cache)]
    assert len(keys) == len(set(keys)), "a plan or section was written twice"
    assert {r["id"]: r["response"] for r in jsonl_rows(out)} == {r["id"]: r["response"] for r in jsonl_rows(clean)}


def _slow_rubric_server():
    def reply(request):
        time.sleep(0.15)
        return rubric_reply({d: 4 for d in DIMENSIONS})

    return FakeOpenAIServer(ScriptedGenerator(reply))


@pytest.mark.parametrize("point", KILL_POINTS)
def test_eval_with_judge_survives_kill_9(point, tmp_path):
    rows = [
        {"id": f"r{k}", "prompt": "Write about 20 words.", "response": " ".join(["word"] * (10 + k))} for k in range(24)
    ]
    responses = write_jsonl(tmp_path / "responses.jsonl", rows)
    with _slow_rubric_server() as server:
        common = ["--judge", server.base_url, "--judge-model", "judge", "--quiet"]
        assert cli(["eval", str(responses), "--out", str(tmp_path / "clean"), *common]).returncode == 0
        cache = tmp_path / "out" / "judge_cache.jsonl"
        kill_when(["eval", str(responses), "--out", str(tmp_path / "out"), *common],
                  _ready_after(cache, 1 if point == "after_first_item" else 10))
        if point == "during_a_write":
            tear_last_line(cache, b'{"key": "abc", "sco')
        served = server.served.copy()
        done = cli(["eval", str(responses), "--out", str(tmp_path / "out"), *common])
        assert done.returncode == 0, done.stderr
        asked_again = sum(server.served.values()) - sum(served.values())
    check_same_items(tmp_path / "out" / "items.jsonl", tmp_path / "clean" / "items.jsonl")
    keys = [r["key"] for r in jsonl_rows(cache)]
    assert len(keys) == len(set(keys)) == 24
    assert asked_again < 24  # cached verdicts were not asked again


@pytest.mark.parametrize("point", KILL_POINTS)
def test_arena_survives_kill_9(point, tmp_path):
    def reply(request):
        time.sleep(0.05)
        return "[[A]]"

    paths = []
    for name in ("a", "b", "c"):
        rows = [{"id": f"p{k}", "prompt": f"Prompt {k}", "response": f"{name} {k}", "model": name} for k in range(5)]
        paths.append(str(write_jsonl(tmp_path / f"{name}.jsonl", rows)))
    with FakeOpenAIServer(ScriptedGenerator(reply)) as server:
        common = ["--judge", server.base_url, "--judge-model", "judge", "--bootstrap", "20", "--quiet"]
        assert cli(["arena", *paths, "--out", str(tmp_path / "clean"), *common]).returncode == 0
        out = tmp_path / "out" / "comparisons.jsonl"
        kill_when(["arena", *paths, "--out", str(tmp_path / "out"), *common],
                  _ready_after(out, 1 if point == "after_first_item" else 12))
        if point == "during_a_write":
            tear_last_line(out, b'{"key": "x", "outc')
        done = cli(["arena", *paths, "--out", str(tmp_path / "out"), *common])
        assert done.returncode == 0, done.stderr
    check_same_items(out, tmp_path / "clean" / "comparisons.jsonl", key="key")
    import json

    board = json.loads((tmp_path / "out" / "leaderboard.json").read_text())["leaderboard"]
    clean_board = json.loads((tmp_path / "clean" / "leaderboard.json").read_text())["leaderboard"]
    assert [(r["system"], r["rating"]) for r in board] == [(r["system"], r["rating"]) for r in clean_board]


@pytest.mark.parametrize("point", ["before_any_checkpoint", "during_a_checkpoint_write"])
def test_train_survives_kill_9(point, tiny_model_dir, tmp_path):
    """(The kill after a complete checkpoint is tests/test_training.py.) Before any checkpoint the
    rerun starts over; a checkpoint torn by the kill (no trainer state yet) is ignored and the run
    resumes from the last complete one; metrics rows are never duplicated."""
    from lengthwise.metrics import read_metrics
    from test_training import tiny_overrides

    out = tmp_path / "run"
    args = ["train"]
    for o in tiny_overrides(tiny_model_dir, out, steps=4, save_steps=2) + ["max_completion_length=24"]:
        args += ["--set", o]
    if point == "before_any_checkpoint":
        kill_when(args, lambda: (out / "metrics.jsonl").exists())
        assert not list(out.glob("checkpoint-*/trainer_state.json"))
    else:
        kill_when(args, lambda: (out / "checkpoint-2" / "trainer_state.json").exists())
        torn = out / "checkpoint-4"
        torn.mkdir(exist_ok=True)
        (torn / "adapter_model.safetensors").write_bytes(b"\x00" * 100)  # a half-written checkpoint
        tear_last_line(out / "metrics.jsonl", b'{"step": 3, "loss')
    done = cli(args)
    assert done.returncode == 0, done.stderr[-2000:]
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4]
    assert (out / "final" / "adapter_config.json").exists()
