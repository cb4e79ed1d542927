"""Per-token log-probabilities for TRL's trainers computed the plain way on CPUs.

TRL (>= 1.16) patches every model it trains with a "fused LM head" that never materialises the
``(tokens, vocabulary)`` logits: it projects the hidden states through the head in vocabulary tiles
and folds each tile into running sums. On GPUs that saves memory at no cost. On a CPU without Triton
each tile is folded in eager torch and upcast to fp32, tile by tile, and the backward recomputes every
tile: profiled on a 2-core AMX Xeon, the head took ~13 s of a 26 s LoRA SFT step of SmolLM2-135M
(16 × 200 tokens), against ~1 s for one bf16 projection plus a fp32 log-softmax.

``use_plain_cpu_head()`` swaps TRL's kernel for one that, on CPU tensors only, computes the logits in
one projection (bf16 under autocast — TRL's CPU tiles are bf16 products too, so precision is the
same) and the log-probabilities a chunk of rows at a time through one small fp32 buffer, with a gradient
formed directly (``lengthwise.token_logprobs``; a softcap goes through autograd first). Any other device
keeps TRL's kernel. Values match TRL's kernel (tests/test_lm_head.py). Memory: the logits themselves (kept
for the backward) plus ~16 MB; the statistics TRL logs come from the same pass.
"""

from __future__ import annotations

__all__ = ["plain_log_probs", "use_plain_cpu_head"]

_installed = False


def plain_log_probs(hidden, weight, bias, targets, temperature: float, chunk_size: int,
                    final_logit_softcapping: float | None = None, logit_scale: float = 1.0,
                    outputs: tuple[str, ...] = ()):
    """TRL's ``ChunkedLogProbFunction.forward`` contract, computed through full logits: returns
    ``(log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1)`` for ``hidden`` [N, H] and
    ``targets`` [N]; fields not named in ``outputs`` are ``None``. ``log_probs`` carries gradients;
    the others are statistics (TRL's trainers log them or threshold on them), computed without."""
    import torch
    import torch.nn.functional as F

    from lengthwise.token_logprobs import STATISTICS, token_log_probs

    logits = F.linear(hidden, weight, bias)
    if final_logit_softcapping is not None:  # Gemma-style: autograd through the cap, then the same log-softmax
        capped = logits.float() * logit_scale
        logits, logit_scale = final_logit_softcapping * torch.tanh(capped / final_logit_softcapping), 1.0
    result = token_log_probs(logits, targets, logit_scale, temperature,
                             statistics=tuple(name for name in STATISTICS if name in outputs))
    return (result.log_probs, result.entropy, result.log_sum_sq_probs, result.mean_logits, result.is_top1)


class _CpuAwareLogProb:
    """Stands in for TRL's ``ChunkedLogProbFunction``: CPU tensors go through ``plain_log_probs``,
    everything else through TRL's own kernel."""

    trl_kernel = None

    @classmethod
    def apply(cls, hidden, weight, bias, targets, temperature, chunk_size, final_logit_softcapping=None,
              logit_scale=1.0, outputs=()):
        if hidden.device.type == "cpu":
            return plain_log_probs(hidden, weight, bias, targets, temperature, chunk_size, final_logit_softcapping,
                                   logit_scale, outputs)
        return cls.trl_kernel.apply(hidden, weight, bias, targets, temperature, chunk_size, final_logit_softcapping,
                                    logit_scale, outputs)


def use_plain_cpu_head() -> bool:
    """Route TRL's fused LM head through ``plain_log_probs`` for CPU tensors (idempotent). Returns
    whether the switch is in place: ``False`` when this TRL has no such kernel, which leaves TRL's
    own behaviour untouched."""
    global _installed
    if _installed:
        return True
    try:
        import trl.trainer.utils as trl_utils
    except ImportError:
        return False
    kernel = getattr(trl_utils, "_ChunkedLogProbFunction", None)
    if kernel is None or not hasattr(kernel, "apply"):
        return False
    _CpuAwareLogProb.trl_kernel = kernel
    trl_utils._ChunkedLogProbFunction = _CpuAwareLogProb
    _installed = True
    return True

