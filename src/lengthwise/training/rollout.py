"""Rollouts for TRL's GRPOTrainer on a CPU: the LoRA policy merged into a plain copy, sampled row-pruned.

TRL generates (without vLLM) by calling ``generate`` on the policy itself: with a LoRA adapter that is
every projection plus two low-rank products, and ``generate`` samples with ``torch.multinomial``, whose
CPU path is slow. Profiled on the demo's step (32 completions × ≤ 192 tokens, SmolLM2-135M bf16, 2 cores):
the unmerged adapter cost ~7 s of 32 s of generation (32.9 vs 25.2 s with the same weights merged), and
the sampler ~30 ms of each ~110 ms decoding step.

``CpuRollout._generate_single_turn`` (TRL's hook, pinned: trl >= 1.16, < 2) therefore, on a CPU and for
plain text prompts with sampling settings it reproduces (temperature, top-k, top-p), generates from a
plain copy of the policy whose projections hold ``W + ΔW`` of the current adapter (refreshed once per
optimizer step; the trained weights are never merged in place, which in bf16 would drift the frozen base
by rounding), through ``backends.pruned_decode.sample_decode`` — the same distribution as ``generate``,
a cheaper draw, finished rows leaving the batch. The completions are what TRL's own path returns: each
ends at its first end-of-sequence token (kept) or at ``max_completion_length``. TRL's vLLM path merges
the adapter for generation the same way. Anything else (GPUs, vLLM, tools, images, repetition penalty,
min-p, extra ``generation_kwargs``, DoRA) goes to TRL's path unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from lengthwise.backends.pruned_decode import sample_decode

__all__ = ["CpuRollout", "lora_layers", "merged_copy", "refresh_merged"]


def lora_layers(policy: Any) -> dict[str, Any]:
    """The policy's LoRA-wrapped linear layers by module name inside the base model (``{}`` when it has
    none); ``None`` when an adapter on them is not a plain low-rank delta (DoRA and other variants)."""
    from peft.tuners.lora import LoraLayer

    layers = {}
    for name, module in policy.get_base_model().named_modules():
        if isinstance(module, LoraLayer):
            if any(module.lora_variant.get(a) for a in module.active_adapters) or not isinstance(
                    module.get_base_layer(), torch.nn.Linear):
                return None
            layers[name] = module
    return layers


def merged_copy(policy: Any) -> Any:
    """A plain (adapter-free) copy of a peft ``policy`` in eval mode, its weights refreshed from the policy."""
    from peft.tuners.lora import LoraLayer

    plain = copy.deepcopy(policy.get_base_model())
    # TRL replaces the policy's ``forward`` (its fused LM head) by a closure over the *original* model's forward:
    # the copy keeps its class's own, or it would compute the policy, adapter and all
    plain.__dict__.pop("forward", None)
    for name, module in list(plain.named_modules()):
        if isinstance(module, LoraLayer):  # replace each wrapper by (a copy of) the layer it wraps
            parent_name, _, child = name.rpartition(".")
            setattr(plain.get_submodule(parent_name) if parent_name else plain, child, module.get_base_layer())
    for p in plain.parameters():
        p.requires_grad_(False)
    refresh_merged(plain, policy)
    return plain.eval()


@torch.no_grad()
def refresh_merged(plain: Any, policy: Any) -> None:
    """Set each adapted projection of ``plain`` to the policy's ``W + Σ ΔW`` over its active adapters
    (summed in fp32, rounded once to the weight's dtype)."""
    for name, layer in lora_layers(policy).items():
        base = layer.get_base_layer()
        weight = base.weight.float()
        if not layer.disable_adapters:
            for adapter in layer.active_adapters:
                if adapter in layer.lora_A:
                    weight = weight + layer.get_delta_weight(adapter).float()
        target = plain.get_submodule(name)
        target.weight.copy_(weight.to(target.weight.dtype))
        if base.bias is not None:
            target.bias.copy_(base.bias)


class CpuRollout:
    """Mixin for ``trl.GRPOTrainer`` (put it first in the bases): CPU rollouts as the module says."""

    _rollout_copy: Any = None
    _rollout_step: int = -1

    def _plain_cpu_rollout(self, images, multimodal_fields) -> bool:
        args = self.args
        return (self.accelerator.device.type == "cpu" and not self.use_vllm
                and not getattr(self, "use_transformers_continuous_batching", False)
                and not self._is_vlm and not self.tools and images is None and not multimodal_fields
                and self.repetition_penalty in (None, 1.0) and self.min_p is None
                and args.generation_kwargs is None and args.cache_implementation is None
                and self.pad_to_multiple_of is None)

    def _rollout_model(self) -> Any:
        """The model to sample from: the merged copy (refreshed once per optimizer step) for a LoRA policy
        whose adapters merge exactly, else the policy itself."""
        from peft import PeftModel

        policy = self.accelerator.unwrap_model(self.model)
        if not isinstance(policy, PeftModel):
            return policy
        extra_trained = getattr(policy.peft_config.get(policy.active_adapter), "modules_to_save", None)
        if extra_trained or lora_layers(policy) is None:
            return policy  # trained weights outside the low-rank deltas: a merged copy would miss them
        if self._rollout_copy is None:
            self._rollout_copy = merged_copy(policy)
        elif self._rollout_step != self.state.global_step:
            refresh_merged(self._rollout_copy, policy)
        self._rollout_step = self.state.global_step
        return self._rollout_copy

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if not self._plain_cpu_rollout(images, multimodal_fields):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        pad = self._tokenizer.pad_token_id
        width = max(len(ids) for ids in prompt_ids)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + list(ids) for ids in prompt_ids])
        attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompt_ids])
        completions = sample_decode(self._rollout_model(), input_ids, attention_mask,
                                    [self.max_completion_length] * len(prompt_ids), set(self.eos_token_ids),
                                    temperature=self.temperature, top_k=self.top_k or None, top_p=self.top_p)
        return completions, None
