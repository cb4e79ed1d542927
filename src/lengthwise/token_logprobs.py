"""Log-probabilities of target tokens over a vocabulary, a row chunk at a time, with a backward of its own.

The same computation backs RL's log-prob passes (``training.lm_head``, under TRL's trainers) and the SFT loss
(``sft_loss``). Through autograd, ``logits.float()`` → scale → ``logsumexp`` → gather → entropy made ~15 passes
over a ``(tokens, vocabulary)`` fp32 array per forward + backward. A first rewrite (one fp32 copy of the logits,
normalised in place, gradient formed from saved probabilities) cut that to three such arrays, but profiling a
LoRA SFT step of SmolLM2-135M (16 × 335 tokens, 2 CPU cores) still found ~6.5 s of a 22 s step in four
operations over them whose arithmetic is ~0.1 s each: every fresh 0.5–1 GB array is first-touched page by page,
and on this machine that cost ~1.3 s per array, more than the work itself.

So nothing here is vocabulary-sized except the logits the caller already has and the gradient the caller needs.
The forward walks the logits in chunks of rows through one reused fp32 buffer (~16 MB) and keeps, per token,
the peak logit and the normaliser; the backward walks them again, rebuilding the probabilities bit for bit, and
writes ``scale · (onehot(target) − p) · g`` straight into the gradient. What is saved for the backward is the
logits themselves (for bf16 logits half the bytes of a fp32 probability array) and two numbers per token.
Statistics TRL's trainers log (entropy, log Σ p², mean logit, whether the target is the top token) come from
the same pass. Pure: torch only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["CHUNK_ELEMENTS", "EXP_FLOOR", "STATISTICS", "TokenLogProbs", "token_log_probs"]

# Shifted logits (logit − max) are clamped here before ``exp``. Below about −87 an fp32 ``exp`` returns a denormal,
# and on x86 CPUs both torch's vectorised ``exp`` and every later op on a denormal fall to a slow path: a
# SmolLM2 pass of 3,200 tokens spent 1.9 s in one ``exp`` (0.03 s clamped), most of a 49k vocabulary being
# that far below the peak. exp(−64) ≈ 1.6e-28: with up to 256k such tokens their share of the normaliser is
# < 1e-22 (nothing in fp32), and each probability stays a normal number however large the normaliser. The
# target's own log-probability is taken before the clamp, so it is exact.
EXP_FLOOR = -64.0

# elements of the fp32 working buffer: 4M = 16 MB, ~85 rows of a 49k vocabulary; small enough to stay in the
# allocator's reuse, large enough that each op is one parallel sweep
CHUNK_ELEMENTS = 1 << 22

STATISTICS = ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


class TokenLogProbs(NamedTuple):
    """Per token: ``log_probs`` (differentiable), ``log_z`` the log normaliser, and the statistics asked for
    (``None`` otherwise): ``entropy`` −Σ p log p, ``log_sum_sq_probs`` log Σ p², ``mean_logits`` the mean of the
    scaled logits, ``is_top1`` whether the target is the first maximum. All fp32 (``is_top1`` bool), detached."""

    log_probs: torch.Tensor
    log_z: torch.Tensor
    entropy: torch.Tensor | None = None
    log_sum_sq_probs: torch.Tensor | None = None
    mean_logits: torch.Tensor | None = None
    is_top1: torch.Tensor | None = None


def _chunk_rows(vocab: int, chunk_elements: int) -> int:
    return max(1, chunk_elements // max(1, vocab))


def _row_chunks(rows: int, vocab: int, chunk_elements: int):
    step = _chunk_rows(vocab, chunk_elements)
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


class _TokenLogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, scale, wanted, chunk_elements):
        rows, vocab = logits.shape
        f32 = dict(device=logits.device, dtype=torch.float32)
        log_probs, peak, total = (torch.empty(rows, **f32) for _ in range(3))
        stats = {name: torch.empty(rows, **f32) for name in wanted if name != "is_top1"}
        if "is_top1" in wanted:
            stats["is_top1"] = torch.empty(rows, device=logits.device, dtype=torch.bool)
        span = min(rows, _chunk_rows(vocab, chunk_elements))
        work = torch.empty(span, vocab, **f32)
        # entropy needs the shifted logits and their exponentials side by side
        exps = torch.empty(span, vocab, **f32) if "entropy" in stats else None
        # autocast would turn the bmm below into a bf16 product: every sum here stays fp32
        with torch.autocast(device_type=logits.device.type, enabled=False):
            for start, stop in _row_chunks(rows, vocab, chunk_elements):
                z = work[: stop - start].copy_(logits[start:stop])
                if scale != 1.0:
                    z.mul_(scale)
                top = z.amax(dim=-1, keepdim=True)
                z.sub_(top)
                chunk_targets = targets[start:stop].unsqueeze(-1)
                shifted_target = z.gather(-1, chunk_targets).squeeze(-1)  # before the clamp: exact
                if "mean_logits" in stats:
                    stats["mean_logits"][start:stop] = z.mean(dim=-1) + top.squeeze(-1)
                if "is_top1" in stats:  # argmax returns the first maximum: a tie with an earlier token is not top-1
                    stats["is_top1"][start:stop] = z.argmax(dim=-1) == chunk_targets.squeeze(-1)
                z.clamp_(min=EXP_FLOOR)
                e = torch.exp(z, out=exps[: stop - start]) if exps is not None else z.exp_()
                chunk_total = e.sum(dim=-1)
                log_total = chunk_total.log()
                log_probs[start:stop] = shifted_target - log_total
                peak[start:stop] = top.squeeze(-1)
                total[start:stop] = chunk_total
                if "entropy" in stats:  # −Σ p log p = log T − Σ e·z / T, as a batched dot (no product array)
                    dot = torch.bmm(e.unsqueeze(1), z.unsqueeze(2)).view(-1)
                    stats["entropy"][start:stop] = log_total - dot / chunk_total
                if "log_sum_sq_probs" in stats:  # log Σ p² = log Σ e² − 2 log T
                    squares = torch.bmm(e.unsqueeze(1), e.unsqueeze(2)).view(-1)
                    stats["log_sum_sq_probs"][start:stop] = squares.log() - 2 * log_total
        log_z = peak + total.log()
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(logits, targets, peak, total)
        ctx.scale, ctx.chunk_elements = scale, chunk_elements
        outputs = [stats.get(name) for name in STATISTICS]
        ctx.mark_non_differentiable(log_z, *[o for o in outputs if o is not None])
        return (log_probs, log_z, *outputs)

    @staticmethod
    def backward(ctx, grad_log_probs, *_unused):
        if grad_log_probs is None or not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        logits, targets, peak, total = ctx.saved_tensors
        rows, vocab = logits.shape
        grad = torch.empty_like(logits)
        in_place = logits.dtype == torch.float32  # the gradient rows themselves are the working buffer
        span = min(rows, _chunk_rows(vocab, ctx.chunk_elements))
        work = None if in_place else torch.empty(span, vocab, device=logits.device, dtype=torch.float32)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            for start, stop in _row_chunks(rows, vocab, ctx.chunk_elements):
                p = grad[start:stop] if in_place else work[: stop - start]
                # the forward's operations in the forward's order: the same probabilities, bit for bit
                p.copy_(logits[start:stop])
                if ctx.scale != 1.0:
                    p.mul_(ctx.scale)
                p.sub_(peak[start:stop].unsqueeze(-1)).clamp_(min=EXP_FLOOR).exp_()
                p.div_(total[start:stop].unsqueeze(-1))
                g = grad_log_probs[start:stop].unsqueeze(-1).to(torch.float32)
                p.mul_(-g).scatter_add_(-1, targets[start:stop].unsqueeze(-1), g)  # (onehot − p) · g
                if ctx.scale != 1.0:
                    p.mul_(ctx.scale)
                if not in_place:
                    grad[start:stop].copy_(p)
        return grad, None, None, None, None


def token_log_probs(logits: torch.Tensor, targets: torch.Tensor, logit_scale: float = 1.0, temperature: float = 1.0,
                    statistics: tuple[str, ...] = (), chunk_elements: int = CHUNK_ELEMENTS) -> TokenLogProbs:
    """For ``logits`` [N, V] (any float dtype) and ``targets`` [N]: log softmax(logits · logit_scale /
    temperature)[target] in fp32, differentiable with respect to ``logits`` (the gradient in the logits' dtype),
    plus the normaliser and the ``statistics`` named (any of ``STATISTICS``). Targets must be valid indices
    (mask ignored positions afterwards)."""
    unknown = set(statistics) - set(STATISTICS)
    if unknown:
        raise ValueError(f"unknown statistics {sorted(unknown)}; choose from {STATISTICS}")
    if logits.dim() != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"logits must be [N, V] and targets [N], got {tuple(logits.shape)} and {tuple(targets.shape)}")
    scale = logit_scale / temperature
    wanted = tuple(name for name in STATISTICS if name in statistics)
    return TokenLogProbs(*_TokenLogProbs.apply(logits, targets, scale, wanted, chunk_elements))
