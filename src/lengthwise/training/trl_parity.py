"""Check that our reference loss aggregations equal TRL's for the same inputs.

This is the one place that reaches into TRL internals: ``GRPOTrainer._compute_loss`` and
``_get_per_token_logps_and_entropies`` (pinned: trl >= 1.16, < 2). A test runs it on a tiny model,
so a TRL upgrade that changes either signature or semantics fails loudly here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lengthwise.losses import LossSettings, get_preset, policy_loss

__all__ = ["trl_loss_parity"]


def _constant_reward(prompts, completions, **kwargs) -> list[float]:
    return [0.0] * len(completions)


def trl_loss_parity(
    model_path: str,
    presets: Sequence[str] = ("grpo", "dapo", "dr_grpo", "gspo", "luspo"),
    batch: int = 4,
    prompt_len: int = 6,
    completion_len: int = 12,
    seed: int = 0,
    also: Callable[[str, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, LossSettings], float] | None = None,
) -> list[dict[str, Any]]:
    """For each preset: TRL's loss and ours on one batch with off-policy log-probs (so ratios and
    clipping matter) and ragged completion masks. Returns ``{preset, trl, ours, abs_diff}`` rows; with
    ``also(name, logps, old, advantages, mask, settings)``, a third engine's loss on the very same
    inputs is added as ``also`` (the verl parity test passes verl's registered losses)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    vocab = len(tokenizer)
    prompt_ids = torch.randint(0, vocab, (batch, prompt_len))
    completion_ids = torch.randint(0, vocab, (batch, completion_len))
    lengths = torch.linspace(3, completion_len, batch).round().long()
    completion_mask = (torch.arange(completion_len)[None, :] < lengths[:, None]).long()
    advantages = torch.randn(batch)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in presets:
            preset = get_preset(name)
            config = GRPOConfig(output_dir=tmp, use_cpu=True, bf16=False, per_device_train_batch_size=batch,
                                num_generations=2, max_completion_length=completion_len, report_to=[],
                                **preset.trl_kwargs())
            model = AutoModelForCausalLM.from_pretrained(model_path)
            trainer = GRPOTrainer(model=model, reward_funcs=_constant_reward, args=config, processing_class=tokenizer,
                                  train_dataset=Dataset.from_dict({"prompt": ["x"] * batch}))
            trainer.model.eval()  # eval mode: no gradient-accumulation normaliser in TRL's loss
            input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
            attention = torch.cat([torch.ones_like(prompt_ids), completion_mask], dim=1)
            with torch.no_grad():
                logps, _, _ = trainer._get_per_token_logps_and_entropies(
                    trainer.model, input_ids, attention, completion_len
                )
            old = logps + 0.02 * torch.randn_like(logps)  # off-policy: ratios near, and some beyond, the clip range
            inputs = {
                "prompt_ids": prompt_ids,
                "prompt_mask": torch.ones_like(prompt_ids),
                "completion_ids": completion_ids,
                "completion_mask": completion_mask,
                "advantages": advantages,
                "old_per_token_logps": old,
                "num_items_in_batch": completion_mask.sum(),
            }
            trl_value = float(trainer._compute_loss(trainer.model, inputs).detach())
            settings = LossSettings(preset.trl.get("epsilon", config.epsilon), config.epsilon_high,
                                    max_completion_length=completion_len)
            ours, _ = policy_loss(name, logps, old, advantages, completion_mask.float(), settings)
            rows.append(
                {
                    "preset": name,
                    "trl": trl_value,
                    "ours": float(ours.detach()),
                    "abs_diff": abs(trl_value - float(ours.detach())),
                }
            )
            if also is not None:
                rows[-1]["also"] = float(also(name, logps, old, advantages, completion_mask.float(), settings))
    return rows
