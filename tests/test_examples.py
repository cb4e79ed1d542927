"""Every recipe in examples/ loads, validates and maps to the TRL / verl settings it promises."""

from pathlib import Path

import pytest
import yaml

from conftest import REPO, write_jsonl
from lengthwise.losses import get_preset
from lengthwise.training.config import load_config
from lengthwise.training.trainer import build_grpo_config, build_reward_stack

RECIPES = sorted(p for p in (REPO / "examples").glob("*.yaml") if not p.name.startswith("accelerate"))


@pytest.fixture()
def prompts(tmp_path):
    return write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": "Write about 100 words.", "length": 100, "answer": "4"}])


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_starts_with_its_command_and_comments_every_key(recipe):
    lines = recipe.read_text().splitlines()
    assert lines[0].startswith("#") and any(
        "lengthwise train" in line or "lengthwise.cli train" in line for line in lines[:6]
    )
    assert any("--set" in line for line in lines[:8])
    for k, line in enumerate(lines):
        if line and not line.startswith((" ", "#", "-")) and ":" in line:
            assert lines[k - 1].lstrip().startswith("#") or k == 0, f"{recipe.name}: no comment above {line!r}"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_validates_and_builds_its_grpo_config(recipe, prompts, tmp_path):
    raw = yaml.safe_load(recipe.read_text())
    overrides = [f"output_dir={tmp_path}"]
    if raw.get("data", {}).get("prompts"):
        overrides.append(f"data.prompts={prompts}")
    config = load_config(recipe, overrides)
    stack = build_reward_stack(config)
    args = build_grpo_config(config, stack)
    for key, value in get_preset(config.preset).trl.items():
        assert getattr(args, key) == value
    assert args.num_generations == config.num_generations
    assert list(args.reward_weights) == stack.reward_weights


def test_lwz_recipe_is_longwriter_zero_shaped(prompts, tmp_path):
    config = load_config(REPO / "examples/lwz-8xgpu.yaml", [f"data.prompts={prompts}", f"output_dir={tmp_path}"])
    args = build_grpo_config(config, build_reward_stack(config))
    assert config.data.think and config.num_generations >= 16 and config.model.dtype == "bfloat16"
    assert build_reward_stack(config).names == ["length", "quality", "format"]
    assert args.use_vllm and args.vllm_mode == "server"
    assert config.steps_per_generation > config.gradient_accumulation_steps  # off-policy: where LUSPO matters
    zero3 = yaml.safe_load((REPO / "examples/accelerate-zero3.yaml").read_text())
    assert zero3["deepspeed_config"]["zero_stage"] == 3 and zero3["mixed_precision"] == "bf16"


def test_export_verl_writes_parquet_stack_and_overrides(prompts, tmp_path):
    import pyarrow.parquet as pq

    from lengthwise.cli import main
    from lengthwise.integrations.verl import compute_score

    out = tmp_path / "verl"
    assert (
        main(["export-verl", str(REPO / "examples/cpu-demo.yaml"), "--out", str(out), "--set", "data.builtin_n=6",
              "--set", "preset=luspo"]) == 0
    )
    table = pq.read_table(out / "train.parquet").to_pylist()
    assert len(table) == 6 and table[0]["extra_info"]["length"] > 0 and table[0]["prompt"][-1]["role"] == "user"
    overrides = (out / "verl_overrides.txt").read_text().splitlines()
    assert "actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum" in overrides
    assert "custom_reward_function.name=compute_score" in overrides
    stack_path = next(o.split("=", 1)[1] for o in overrides if "reward_kwargs.stack" in o)
    row = table[0]
    answer = "<answer>" + "word " * int(row["extra_info"]["length"]) + "</answer>"
    result = compute_score(
        row["data_source"], answer, row["reward_model"]["ground_truth"], row["extra_info"], stack=stack_path
    )
    assert result["length"] == pytest.approx(1.0) and set(result) == {
        "score",
        "length",
        "quality",
    }  # the recipe's stack
    assert Path(stack_path).exists()
