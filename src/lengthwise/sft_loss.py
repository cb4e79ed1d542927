"""How an SFT batch's token losses become one loss (docs/reference.md §8). Pure: torch only.

LongAlign (Bai et al., 2024) shows the choice matters when examples differ in length: the mean over
all target tokens of the batch ("token") lets a long answer outweigh a short one in proportion to
its length; the mean of each sequence's own token mean ("sequence") gives every example the same
weight whatever its length. Length control is about short and long answers alike, so both are offered.

``end_weight``: the end-of-answer token counts ``end_weight`` times (the divisor stays the token
count, so every other token's gradient is unchanged). Fine-tuning a model on its own text cut to
requested lengths teaches little else: the text is already likely under the model, and the one token
that carries the length — where the answer stops — is one position in a hundred.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from lengthwise.token_logprobs import token_log_probs

__all__ = ["SFTWeighting", "aggregate_sft_loss", "sft_loss"]

SFTWeighting = Literal["token", "sequence"]


def aggregate_sft_loss(token_nll: torch.Tensor, mask: torch.Tensor, weighting: SFTWeighting = "token",
                       weights: torch.Tensor | None = None) -> torch.Tensor:
    """One loss from per-token losses.

    token_nll: (B, T) negative log-likelihood of each target token; mask: (B, T), 1 where a token
    is a target. ``token``: Σ nll·mask / Σ mask. ``sequence``: mean over the sequences that have a
    target of (Σ_t nll·mask / Σ_t mask). ``weights`` (B, T) multiply each token's loss in the sums,
    never the divisors. A batch with no target token gives a zero that still carries the graph.

    >>> nll = torch.tensor([[1.0, 1.0, 0.0], [4.0, 0.0, 0.0]]); m = torch.tensor([[1, 1, 0], [1, 0, 0]])
    >>> float(aggregate_sft_loss(nll, m, "token")), float(aggregate_sft_loss(nll, m, "sequence"))
    (2.0, 2.5)
    """
    mask = mask.to(token_nll.dtype)
    masked = token_nll * mask * (1.0 if weights is None else weights.to(token_nll.dtype))  # (B, T)
    if weighting == "token":
        return masked.sum() / mask.sum().clamp(min=1.0)
    if weighting != "sequence":
        raise ValueError(f"weighting must be token or sequence, got {weighting!r}")
    counts = mask.sum(dim=1)  # (B,)
    has_targets = counts > 0
    if not bool(has_targets.any()):
        return masked.sum() * 0.0
    per_sequence = masked.sum(dim=1)[has_targets] / counts[has_targets]  # (B',)
    return per_sequence.mean()


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, weighting: SFTWeighting = "token",
             ignore_index: int = -100, end_token_id: int | None = None, end_weight: float = 1.0) -> torch.Tensor:
    """Causal-LM SFT loss: logits (B, T, V) predict labels shifted by one (B, T); ``ignore_index``
    marks prompt and padding positions; targets equal to ``end_token_id`` weigh ``end_weight``.
    Computed in fp32 whatever the logits' dtype (``token_logprobs``)."""
    shift_labels = labels[:, 1:]  # (B, T-1)
    mask = shift_labels != ignore_index  # (B, T-1)
    # every position of the (contiguous) logits gets a target — the last one a dummy, dropped after — so the
    # (B·T, V) array is used as it is instead of copying the shifted slice
    targets = F.pad(shift_labels.clamp(min=0), (0, 1))  # (B, T)
    log_probs = token_log_probs(logits.reshape(-1, logits.size(-1)), targets.reshape(-1)).log_probs
    nll = -log_probs.view_as(targets)[:, :-1]  # (B, T-1)
    weights = None
    if end_token_id is not None and end_weight != 1.0:
        weights = 1.0 + (end_weight - 1.0) * (shift_labels == end_token_id).float()
    return aggregate_sft_loss(nll, mask, weighting, weights)
