"""Which answers share a forward/backward pass during fine-tuning.

With gradient accumulation, an optimizer step is ``passes`` passes of ``pass_size`` answers. Random passes
pad every answer to the longest of its pass (29 % of the tokens on the writing warm start's data). Grouping
the whole dataset by length (transformers' ``LengthGroupedSampler``) removes the padding but also makes each
optimizer step all-short or all-long answers: on that data, at lr 1e-3, the model then ended every answer
near 20 words. ``StepSortedSampler`` keeps the steps random — the same answers per step as a random sampler
would draw — and sorts only *within* a step, so its passes hold answers of similar length.

RL has the same choice one level down. TRL's GRPOTrainer shuffles each generation batch and splits it into
the passes of the optimizer steps it feeds; when one generation batch feeds exactly one optimizer step and
the loss does not depend on which rows share a pass, the shuffle only decides the padding. ``SortedPasses``
then regroups the rows by completion length (``sorted_passes``), so that with ``training.trim`` each pass
runs at the width of its own answers: measured on the demo's step (32 completions, 2 per pass, a third of
them at the 192-token cap), see benchmarks/results/rl_step.json.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

__all__ = ["ORDER_FREE_LOSSES", "SortedPasses", "StepSortedSampler", "sorted_passes"]

# TRL loss types whose gradient over one optimizer step is the same whichever rows share a pass (with equal
# pass sizes): a mean of per-sequence terms, or a sum normalised over the whole generation batch. Not
# "bnpo", which normalises each pass by its own token count.
ORDER_FREE_LOSSES = ("grpo", "dr_grpo", "dapo", "luspo", "cispo", "sapo")


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


def sorted_passes(passes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``passes`` (TRL's buffered micro-batches: per-row tensors and lists, shared 0-d tensors,
    ``None``) regrouped into as many passes of the same size, ordered by completion length, longest first."""
    merged: dict[str, Any] = {}
    for key, first in passes[0].items():
        if first is None or (isinstance(first, torch.Tensor) and first.ndim == 0):
            merged[key] = first
        elif isinstance(first, torch.Tensor):
            merged[key] = torch.cat([p[key] for p in passes])
        else:
            merged[key] = [row for p in passes for row in p[key]]
    order = merged["completion_mask"].sum(-1).argsort(descending=True, stable=True)
    size = len(order) // len(passes)
    out = []
    for k in range(len(passes)):
        rows = order[k * size:(k + 1) * size]
        out.append({key: value if value is None or (isinstance(value, torch.Tensor) and value.ndim == 0)
                    else value[rows] if isinstance(value, torch.Tensor) else [value[i] for i in rows.tolist()]
                    for key, value in merged.items()})
    return out


class SortedPasses:
    """Mixin for ``trl.GRPOTrainer``: each fresh generation batch's passes are ``sorted_passes`` when the
    order cannot change the update (one optimizer step per generation batch, one iteration, an order-free
    loss, no per-pass entropy quantile); otherwise TRL's shuffled passes stay."""

    def _order_free(self) -> bool:
        args = self.args
        return (args.steps_per_generation == args.gradient_accumulation_steps and self.num_iterations == 1
                and self.loss_type in ORDER_FREE_LOSSES and getattr(self, "top_entropy_quantile", 1.0) == 1.0)

    def _prepare_inputs(self, generation_batch):
        fresh = self.model.training and (
            self._step % (self.args.steps_per_generation * self.num_iterations) == 0 or self._buffered_inputs is None)
        inputs = super()._prepare_inputs(generation_batch)
        if fresh and self._order_free() and len(self._buffered_inputs) > 1:
            self._buffered_inputs = sorted_passes(self._buffered_inputs)
            inputs = self._buffered_inputs[self._step % self.args.steps_per_generation]
        return inputs
