"""Log-probability passes of TRL's GRPOTrainer over each chunk's own width, not the batch's.

TRL pads every completion of a generation batch to the longest one (and every prompt, on the left, to the
longest prompt) and runs its log-probability passes — the training forward of each micro-batch, the
reference model's — over that full width, chunk by chunk. A chunk of two short answers in a batch where
one answer ran to the token cap pays for the cap. ``TrimmedLogProbs._get_per_token_logps_and_entropies``
(TRL's method, pinned: trl >= 1.16, < 2) cuts each chunk to the columns where one of its rows has a token
and pads the results back with zeros: the completion columns it drops are masked out of every loss and
metric, and dropping leading prompt padding shifts every real token's position by the same amount, which
rotary position embeddings do not see (attention depends on position differences). Passes without
gradients (the reference model's, the old policy's) also chunk the rows in order of completion length, so
each chunk holds answers of similar length; the results return to the rows' own order. Text-only chunks on
a CPU; anything else goes to TRL's method unchanged.
"""

from __future__ import annotations

import torch

__all__ = ["TrimmedLogProbs", "used_columns"]


def used_columns(attention_mask: torch.Tensor, completion_width: int) -> tuple[int, int]:
    """``(start, end)``: the columns of a ``prompt + completion`` chunk that hold a token in some row, with at
    least one completion column kept."""
    used = attention_mask.bool().any(dim=0)
    prompt_width = attention_mask.size(1) - completion_width
    filled = used.nonzero().flatten()
    if filled.numel() == 0:
        return 0, attention_mask.size(1)
    start = min(int(filled[0]), prompt_width - 1) if prompt_width > 0 else 0
    end = max(int(filled[-1]) + 1, prompt_width + 1)
    return start, end


class TrimmedLogProbs:
    """Mixin for ``trl.GRPOTrainer`` (put it before the trainer in the bases)."""

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **multimodal):
        if (input_ids.device.type != "cpu" or compute_aux_loss
                or any(value is not None for value in multimodal.values())):
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              batch_size, compute_entropy, compute_aux_loss,
                                                              **multimodal)
        batch_size = batch_size or input_ids.size(0)
        order = None
        if not torch.is_grad_enabled() and batch_size < input_ids.size(0):  # rows may share chunks by length
            order = attention_mask[:, -logits_to_keep:].sum(-1).argsort(descending=True, stable=True)
            input_ids, attention_mask = input_ids[order], attention_mask[order]
        logps, entropies = [], []
        for first in range(0, input_ids.size(0), batch_size):
            ids, mask = input_ids[first:first + batch_size], attention_mask[first:first + batch_size]
            start, end = used_columns(mask, logits_to_keep)
            kept = end - (ids.size(1) - logits_to_keep)  # completion columns left in the chunk
            chunk_logps, chunk_entropies, _ = super()._get_per_token_logps_and_entropies(
                model, ids[:, start:end], mask[:, start:end], kept, None, compute_entropy, False)
            missing = logits_to_keep - kept
            logps.append(torch.nn.functional.pad(chunk_logps, (0, missing)))
            if compute_entropy:
                entropies.append(torch.nn.functional.pad(chunk_entropies, (0, missing)))
        logps = torch.cat(logps)
        entropies = torch.cat(entropies) if compute_entropy else None
        if order is not None:
            restore = order.argsort()
            logps = logps[restore]
            entropies = entropies[restore] if compute_entropy else None
        return logps, entropies, None
