"""Numerics: NaN and infinite rewards, zero-variance groups, all-truncated groups and all-empty
completions give finite advantages and a finite loss in a real (tiny) TRL training run."""

from __future__ import annotations

import json
import math
import zlib

import pytest
import torch

from lengthwise.advantages import advantage_average, group_normalize, sanitize_rewards
from lengthwise.rewards.components import COMPONENTS, Component, register_component
from lengthwise.training.config import load_config
from lengthwise.training.trainer import train

pytestmark = pytest.mark.reliability

if "test_chaos" not in COMPONENTS:

    @register_component("test_chaos")
    class ChaosReward(Component):
        """NaN, +inf, -inf or a number, chosen by a hash of the text: the worst a reward can return."""

        def score_row(self, prompt, text, ids, row):
            return [float("nan"), float("inf"), float("-inf"), 0.5][zlib.crc32(text.encode()) % 4]

    @register_component("test_constant")
    class ConstantReward(Component):
        """The same value for everyone: every group has zero variance."""

        def score_row(self, prompt, text, ids, row):
            return 1.0

    @register_component("test_empty_answer")
    class EmptyAnswerReward(Component):
        """Scores the answer as if it were empty: what an all-empty group sees."""

        def score_row(self, prompt, text, ids, row):
            return float(len("") == 0)


def test_advantages_are_finite_for_degenerate_groups():
    for rewards in ([float("nan")] * 4, [float("inf"), 1.0, 2.0, float("-inf")], [3.0] * 4, [0.0] * 4):
        clean, _ = sanitize_rewards(rewards, 4)
        assert torch.isfinite(group_normalize(clean, 4)).all()
    assert torch.equal(group_normalize([3.0] * 4, 4), torch.zeros(4))
    poisoned = {"chaos": sanitize_rewards([float("nan"), float("inf"), 0.0, 1.0], 4)[0], "constant": [1.0] * 4}
    assert torch.isfinite(advantage_average(poisoned, 4)).all()


@pytest.mark.parametrize("advantage", ["normalize_then_sum", "lwz_average"])
def test_training_with_poisoned_rewards_keeps_a_finite_loss(advantage, tiny_model_dir, tmp_path):
    out = tmp_path / advantage
    stack = ("{detectors: {paraphrase: false}, components: [{name: chaos, type: test_chaos}, "
             "{name: constant, type: test_constant}, {name: empty, type: test_empty_answer}]}")
    # max_completion_length=2: every completion is truncated
    config = load_config(None, [f"model.name={tiny_model_dir}", f"output_dir={out}", "max_steps=2", "save_steps=10",
                                "num_generations=4", "per_device_batch_size=4", "max_completion_length=2",
                                "data.builtin_n=4", f"rewards={stack}", f"advantage={advantage}"])
    result = train(config)
    assert result.global_step == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert math.isfinite(row["loss"]) and math.isfinite(row["grad_norm"])
        for key, value in row.items():
            if isinstance(value, float) and key.startswith(("loss", "grad_norm")):
                assert math.isfinite(value), (key, value)
        assert row.get("completions/clipped_ratio") == 1.0
    from safetensors.torch import load_file

    weights = load_file(str(out / "final" / "adapter_model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())
