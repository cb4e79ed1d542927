"""Log-probabilities of target tokens over a vocabulary, with one fp32 working array and a backward of its own.

The same computation backs RL's log-prob passes (``training.lm_head``, under TRL's trainers) and the SFT loss
(``sft_loss``). Through autograd, ``logits.float()`` → scale → ``logsumexp`` → gather → entropy made ~15 passes
over the ``(tokens, vocabulary)`` fp32 array per forward + backward: ~400 ms of a 1.5 s LoRA pass of 2 × 250
tokens of SmolLM2-135M on 2 CPU cores. Here the logits are copied to fp32 once, scaled and normalised in place,
one ``exp`` serves both log Z and the probabilities, and the gradient ``(onehot(target) − p) · g`` is formed
directly from the saved probabilities: ~215 ms. Pure: torch only.
"""

from __future__ import annotations

import torch

__all__ = ["token_log_probs"]


class _TokenLogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, logit_scale, temperature, want_entropy, keep_log_softmax):
        lp = logits.to(torch.float32, copy=True)
        if logit_scale != 1.0:
            lp.mul_(logit_scale)
        if temperature != 1.0:
            lp.div_(temperature)
        p = None
        if ctx.needs_input_grad[0] and not (want_entropy or keep_log_softmax):
            # only the probabilities are needed after this: they overwrite the logits (one fp32 array, not two)
            peak = lp.amax(dim=-1, keepdim=True)
            shifted_target = lp.sub_(peak).gather(-1, targets.unsqueeze(-1))  # before exp: no underflow
            p = lp.exp_()
            total = p.sum(dim=-1, keepdim=True)
            p.div_(total)
            log_total = total.log_()
            log_probs = (shifted_target - log_total).squeeze(-1)
            log_z = (peak + log_total).squeeze(-1)
            ctx.save_for_backward(p, targets)
            ctx.scale = logit_scale / temperature
            ctx.logits_dtype = logits.dtype
            ctx.mark_non_differentiable(log_z)
            return log_probs, None, None, log_z
        if want_entropy or ctx.needs_input_grad[0]:
            # one exp serves both log Z and the probabilities (logsumexp then exp would take two)
            peak = lp.amax(dim=-1, keepdim=True)
            p = lp.sub_(peak).exp()
            total = p.sum(dim=-1, keepdim=True)
            p.div_(total)
            lp.sub_(total.log_())
            log_z = peak + total
        else:
            log_z = torch.logsumexp(lp, dim=-1, keepdim=True)
            lp.sub_(log_z)
        log_probs = lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        entropy = None
        if want_entropy:
            # -Σ p log p as a batched dot (no product array), kept in fp32: autocast would cast bmm to bf16
            with torch.autocast(device_type=p.device.type, enabled=False):
                entropy = -torch.bmm(p.unsqueeze(1), lp.unsqueeze(2)).view(-1)
        ctx.save_for_backward(p if ctx.needs_input_grad[0] else None, targets)
        ctx.scale = logit_scale / temperature
        ctx.logits_dtype = logits.dtype
        log_z = log_z.squeeze(-1)
        ctx.mark_non_differentiable(lp, log_z, *([entropy] if entropy is not None else []))
        return log_probs, entropy, lp, log_z

    @staticmethod
    def backward(ctx, grad_log_probs, _grad_entropy, _grad_lp, _grad_log_z):
        p, targets = ctx.saved_tensors
        if p is None or grad_log_probs is None:
            return None, None, None, None, None, None
        grad = p * (-grad_log_probs).unsqueeze(-1)
        grad.scatter_add_(-1, targets.unsqueeze(-1), grad_log_probs.unsqueeze(-1))
        if ctx.scale != 1.0:
            grad.mul_(ctx.scale)
        return grad.to(ctx.logits_dtype), None, None, None, None, None


def token_log_probs(logits: torch.Tensor, targets: torch.Tensor, logit_scale: float = 1.0, temperature: float = 1.0,
                    want_entropy: bool = False, keep_log_softmax: bool = True):
    """For ``logits`` [N, V] (any float dtype) and ``targets`` [N]: ``(log_probs, entropy, lp, log_z)`` where
    ``log_probs`` [N] = log softmax(logits · logit_scale / temperature)[target] in fp32, differentiable;
    ``entropy`` [N] of that distribution (``None`` unless asked); ``lp`` [N, V] the whole log-softmax and
    ``log_z`` [N] its normaliser, both detached. ``keep_log_softmax=False`` (a loss that needs neither ``lp``
    nor the entropy) lets the probabilities overwrite the working array: ``lp`` is ``None`` when gradients are
    needed, and the forward holds one fp32 ``N × V`` array instead of two. Targets must be valid indices (mask
    ignored positions afterwards)."""
    return _TokenLogProbs.apply(logits, targets, logit_scale, temperature, want_entropy, keep_log_softmax)
