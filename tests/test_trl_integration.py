"""The reward stack inside a real TRL GRPOTrainer, and our losses against TRL's."""

import pytest
import torch

from lengthwise.rewards.stack import RewardStack
from lengthwise.training.trl_parity import trl_loss_parity


def test_reward_stack_trains_two_steps_in_grpo_trainer(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    stack = RewardStack.default(think=False)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = [p.detach().clone() for p in model.parameters()]
    data = Dataset.from_dict({
        "prompt": [[{"role": "user", "content": f"Write about {n} words on the sea."}] for n in (20, 40, 60, 80)],
        "length": [20, 40, 60, 80],
    })
    config = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=16, max_steps=2, logging_steps=1, learning_rate=1e-2, report_to=[], save_strategy="no",
        multi_objective_aggregation="normalize_then_sum", reward_weights=stack.reward_weights, seed=0,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=stack.reward_funcs, args=config, processing_class=tokenizer,
                          train_dataset=data)
    trainer.train()
    logged = {k for entry in trainer.state.log_history for k in entry}
    for name in ("length", "quality", "format"):
        assert f"rewards/{name}/mean" in logged
    assert trainer.state.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_reference_losses_equal_trl_compute_loss(tiny_model_dir):
    for row in trl_loss_parity(str(tiny_model_dir)):
        assert row["abs_diff"] <= 1e-6, row
        assert row["trl"] == pytest.approx(row["ours"], abs=1e-6)
