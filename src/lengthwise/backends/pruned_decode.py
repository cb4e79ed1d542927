"""Decoding that drops finished rows from the batch: greedy, or sampled with a cheaper exact sampler.

transformers' ``generate`` keeps every row of a batch in every forward pass until the last row ends. On a
CPU the pass is compute-bound at large batches (SmolLM2-135M in bf16: ~1.7 ms per row per token at batch
112, 2 cores), so a batch where one answer loops to the token cap pays for every row that ended long before.
Here rows that ended leave the key/value cache (``Cache.batch_select_indices``), in groups so the copy is
amortised: the held-out demo measurement of a trained model (answers of 20-120 words, a few looping to the
cap) ran in about half the time (benchmarks/results/demo.json).

Greedy: each row's tokens are the model's argmax at every step, as in ``generate(do_sample=False)`` without
logits processors; only the batch a row shares its forward passes with changes, which in bf16 can flip a
near-tie.

Sampled: the distribution is ``generate(do_sample=True)``'s with the same temperature / top-k / top-p
(transformers' own warpers, in its order), drawn differently. ``torch.multinomial`` on a CPU draws one
exponential variate per vocabulary entry through a slow scalar path: ~33 ms per step for 32 rows × 49k
tokens, a third of a bf16 decoding step of SmolLM2-135M (profiled, 2 cores); any draw that needs one
random number per entry pays most of that (``torch.rand`` alone: ~4.5 ms). ``draw`` inverts the
distribution function instead, with two uniforms per row: it picks a block of 256 entries by the blocks'
cumulative mass, then the entry inside the block, both in float64 — one exact draw for ~2 ms.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import torch

__all__ = ["decode", "draw", "greedy_decode", "sample_decode", "sample_tokens"]

Choose = Callable[[torch.Tensor], torch.Tensor]  # (rows, vocabulary) logits -> (rows,) token ids


@torch.inference_mode()
def decode(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: Sequence[int],
           stop_ids: Collection[int], choose: Choose, prune_share: float = 0.25) -> list[list[int]]:
    """New tokens of each row of a left-padded batch, each chosen by ``choose`` from the row's next-token
    logits and ending with its stop token (if it met one) or at its own ``max_new_tokens``. Finished rows
    leave the batch once they are ``prune_share`` of it."""
    from transformers import DynamicCache

    n = input_ids.shape[0]
    if len(max_new_tokens) != n:
        raise ValueError(f"max_new_tokens has {len(max_new_tokens)} limits for {n} rows")
    limits = list(max_new_tokens)
    stops = set(stop_ids)
    tokens: list[list[int]] = [[] for _ in range(n)]
    live = list(range(n))  # the original row of each row still in the batch
    finished = [limit <= 0 for limit in limits]
    cache = DynamicCache(config=model.config)
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, cache=cache,
                   use_cache=True, logits_to_keep=1).logits[:, -1, :]
    while True:
        chosen = choose(logits)
        for row, token in zip(live, chosen.tolist(), strict=True):
            if finished[row]:
                continue
            tokens[row].append(token)
            finished[row] = token in stops or len(tokens[row]) >= limits[row]
        ended = [k for k, row in enumerate(live) if finished[row]]
        if len(ended) == len(live):
            return tokens
        if len(ended) >= max(1, prune_share * len(live)):
            keep = torch.tensor([k for k, row in enumerate(live) if not finished[row]], device=input_ids.device)
            cache.batch_select_indices(keep)
            attention_mask, chosen = attention_mask[keep], chosen[keep]
            live = [live[k] for k in keep.tolist()]
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((len(live), 1))], dim=-1)
        positions = attention_mask.sum(-1, keepdim=True) - 1
        logits = model(input_ids=chosen[:, None], attention_mask=attention_mask, position_ids=positions, cache=cache,
                       use_cache=True).logits[:, -1, :]


def greedy_decode(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: Sequence[int],
                  stop_ids: Collection[int], prune_share: float = 0.25) -> list[list[int]]:
    """``decode`` choosing each row's argmax."""
    return decode(model, input_ids, attention_mask, max_new_tokens, stop_ids, lambda logits: logits.argmax(-1),
                  prune_share)


def sample_tokens(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of ``logits`` drawn from ``generate(do_sample=True)``'s distribution: transformers'
    temperature, top-k and top-p warpers (that order), then a draw by the exponential race."""
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    scores = logits.float()
    if temperature != 1.0:
        scores = TemperatureLogitsWarper(temperature)(None, scores)
    if top_k:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p is not None and top_p < 1.0:
        scores = TopPLogitsWarper(top_p)(None, scores)
    return draw(torch.softmax(scores, dim=-1), generator)


def draw(probs: torch.Tensor, generator: torch.Generator | None = None, block: int = 256) -> torch.Tensor:
    """One index per row of ``probs`` (rows, n), drawn with probability proportional to its entry, by
    inverting the cumulative distribution in two levels (blocks of ``block`` entries, then entries), in
    float64. An entry of zero probability is never drawn."""
    rows, n = probs.shape
    width = -(-n // block) * block
    blocks = torch.nn.functional.pad(probs, (0, width - n)).view(rows, width // block, block)
    mass = blocks.sum(-1, dtype=torch.float64)  # (rows, blocks)
    cumulative = mass.cumsum(-1)
    u = torch.rand((rows, 1), dtype=torch.float64, generator=generator, device=probs.device) * cumulative[:, -1:]
    # right=True: the first block whose cumulative mass exceeds u, so an empty block is never picked
    b = torch.searchsorted(cumulative, u, right=True).clamp_(max=mass.size(1) - 1)
    inner = blocks[torch.arange(rows, device=probs.device), b[:, 0]].double().cumsum(-1)  # (rows, block)
    rest = u - (cumulative.gather(1, b) - mass.gather(1, b))  # where u falls inside the block
    # rounding may put the remainder a hair outside the block's own running sum: keep it strictly inside
    rest = torch.minimum(rest.clamp_(min=0.0), inner[:, -1:] * (1 - 1e-12))
    k = torch.searchsorted(inner, rest, right=True).clamp_(max=block - 1)
    return (b[:, 0] * block + k[:, 0]).clamp_(max=n - 1)


def sample_decode(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: Sequence[int],
                  stop_ids: Collection[int], temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, generator: torch.Generator | None = None,
                  prune_share: float = 0.25) -> list[list[int]]:
    """``decode`` drawing each token with ``sample_tokens``."""
    return decode(model, input_ids, attention_mask, max_new_tokens, stop_ids,
                  lambda logits: sample_tokens(logits, temperature, top_k, top_p, generator), prune_share)
