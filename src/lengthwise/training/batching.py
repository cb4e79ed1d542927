"""Which answers share a forward/backward pass during fine-tuning.

With gradient accumulation, an optimizer step is ``passes`` passes of ``pass_size`` answers. Random passes
pad every answer to the longest of its pass (29 % of the tokens on the writing warm start's data). Grouping
the whole dataset by length (transformers' ``LengthGroupedSampler``) removes the padding but also makes each
optimizer step all-short or all-long answers: on that data, at lr 1e-3, the model then ended every answer
near 20 words. ``StepSortedSampler`` keeps the steps random — the same answers per step as a random sampler
would draw — and sorts only *within* a step, so its passes hold answers of similar length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

__all__ = ["StepSortedSampler"]


class StepSortedSampler(Sampler[int]):
    """A random order of ``lengths``' indices in which each run of ``step_size`` (one optimizer step) is sorted
    by length, longest first. Epoch ``e`` draws its order from ``seed + e`` (``set_epoch``), so a resumed run
    sees the same steps."""

    def __init__(self, lengths: Sequence[int], step_size: int, seed: int = 0):
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.lengths = [int(n) for n in lengths]
        self.step_size = step_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        self.epoch += 1  # when the caller never sets the epoch, the next pass over the data is a new order
        for start in range(0, len(order), self.step_size):
            yield from sorted(order[start:start + self.step_size], key=lambda i: -self.lengths[i])
