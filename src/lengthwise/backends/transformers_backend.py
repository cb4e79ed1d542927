"""Local generation with a transformers causal LM: batched, left-padded, stop strings, seeds."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

import torch

from lengthwise.backends.base import GenerationRequest, GenerationResult, ResultCallback
from lengthwise.backends.pruned_decode import greedy_decode

__all__ = ["TransformersGenerator"]


class TransformersGenerator:
    """Generate with a local model.

    Requests are sorted by (sampling settings, prompt length) and run in batches of
    ``batch_size`` with left padding, so similar prompts share a forward pass. Within a batch the
    longest ``max_new_tokens`` is generated and each row is cut to its own limit. Sampling is seeded
    per batch with the first request's ``seed``: the same requests with the same batch size give the
    same texts.

    ``reuse_prefix``: keep the key/value cache of recent requests (``prefix_slots`` of them) and start each request
    from the one sharing the longest token prefix with it, so only the new tokens are prefilled. AgentWrite's
    section prompts grow by one section each step, so a document's next section reuses everything up to the end
    of the earlier text. Requests then run one at a time (a cache is one sequence), trading batching for prefill:
    worth it for one long document, not for many short ones. ``prefix_stats`` counts reused and prefilled tokens.

    ``prune_finished``: greedy requests (without stop strings or repetition controls) decode through
    ``pruned_decode.greedy_decode``, which drops rows from the batch as they end; with it, large batches pay off
    on a CPU. Sampling runs through transformers' own sampler.
    """

    name = "transformers"
    # a request may end with an assistant turn that the model continues (see ``render``)
    supports_prefill = True

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 8, model_name: str | None = None,
                 reuse_prefix: bool = False, prefix_slots: int = 4, min_reuse_tokens: int = 32,
                 prune_finished: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if prefix_slots < 1:
            raise ValueError(f"prefix_slots must be >= 1, got {prefix_slots}")
        self.reuse_prefix = reuse_prefix
        self.prune_finished = prune_finished
        self.prefix_slots, self.min_reuse_tokens = prefix_slots, min_reuse_tokens
        self._prefixes: list[tuple[list[int], Any]] = []  # (the tokens a cache holds, the cache), oldest first
        self.prefix_stats = {"requests": 0, "reused_tokens": 0, "prefilled_tokens": 0}
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.model_name = model_name or getattr(model.config, "_name_or_path", "") or "local"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self._stop_ids = self._end_token_ids()

    @classmethod
    def from_pretrained(
        cls, model: str | None = None, device: str | None = None, dtype: str | None = None, batch_size: int = 8,
        reuse_prefix: bool = False,
    ) -> TransformersGenerator:
        from lengthwise.models import load_causal_lm, resolve_model

        lm, tokenizer = load_causal_lm(model, device=device, dtype=dtype)
        name = "smollm2" if model in (None, "smollm2") else resolve_model(model)
        return cls(lm, tokenizer, batch_size=batch_size, model_name=name, reuse_prefix=reuse_prefix)

    def _end_token_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids

    def render(self, request: GenerationRequest) -> str:
        """The exact text the model sees for a request."""
        if request.prompt is not None:
            return request.prompt
        prefilled = request.messages[-1]["role"] == "assistant"
        if getattr(self.tokenizer, "chat_template", None):
            # a trailing assistant turn is the start of the answer: the model continues it
            return self.tokenizer.apply_chat_template(request.messages, tokenize=False,
                                                      add_generation_prompt=not prefilled,
                                                      continue_final_message=prefilled)
        return "\n\n".join(m["content"] for m in request.messages) + ("" if prefilled else "\n\n")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 0) or 2048)

    def generate(
        self, requests: Sequence[GenerationRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        texts = [self.render(r) for r in requests]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]

        def settings(i: int) -> tuple:
            r = requests[i]
            return (r.temperature, r.top_p, tuple(r.stop), r.repetition_penalty or 1.0, r.no_repeat_ngram_size or 0)

        order = sorted(range(len(requests)), key=lambda i: (settings(i), requests[i].max_new_tokens, len(encoded[i])))
        results: list[GenerationResult | None] = [None] * len(requests)
        if self.reuse_prefix:
            for i in order:
                results[i] = self._generate_reusing(requests[i], encoded[i])
                if on_result is not None:
                    on_result(i, results[i])
            return results  # type: ignore[return-value]
        for _, same_settings in groupby(order, key=settings):
            group = list(same_settings)
            for start in range(0, len(group), self.batch_size):
                batch = group[start:start + self.batch_size]
                for i, result in zip(
                    batch, self._generate_batch([requests[i] for i in batch], [encoded[i] for i in batch]), strict=True
                ):
                    results[i] = result
                    if on_result is not None:
                        on_result(i, result)
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(self, batch: list[GenerationRequest], prompt_ids: list[list[int]]) -> list[GenerationResult]:
        first = batch[0]
        pad_id = self.tokenizer.pad_token_id
        width = max(len(ids) for ids in prompt_ids)
        device = self.model.device
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(prompt_ids):  # left padding: generation continues at the right edge
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids):] = 1
        if self.prune_finished and self._plain_greedy(first):
            new_tokens = greedy_decode(self.model, input_ids.to(device), attention.to(device),
                                       [r.max_new_tokens for r in batch], self._stop_ids)
            return [self._finish(req, len(ids), toks) for req, ids, toks in zip(batch, prompt_ids, new_tokens,
                                                                               strict=True)]
        kwargs = self._generation_kwargs(first, max(r.max_new_tokens for r in batch))
        if first.seed is not None:
            torch.manual_seed(first.seed)
        output = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
        new_tokens = output[:, width:].tolist()
        return [self._finish(req, len(ids), toks) for req, ids, toks in zip(batch, prompt_ids, new_tokens, strict=True)]

    @torch.inference_mode()
    def _generate_reusing(self, request: GenerationRequest, ids: list[int]) -> GenerationResult:
        """One request, started from the cached prefix it shares most tokens with (see the class docstring)."""
        from transformers import DynamicCache

        best, shared = None, 0
        for k, (held, _) in enumerate(self._prefixes):
            n = 0
            for a, b in zip(held, ids, strict=False):
                if a != b:
                    break
                n += 1
            if n > shared:
                best, shared = k, n
        reuse = min(shared, len(ids) - 1)  # at least one token goes through the model to give the next logits
        if best is not None and reuse >= self.min_reuse_tokens:
            _, cache = self._prefixes.pop(best)
            surplus = cache.get_seq_length() - reuse
            if surplus > 0:
                cache.crop(-surplus)  # transformers 5: a negative count of tokens to drop from the end
        else:
            cache, reuse = DynamicCache(), 0
        kwargs = self._generation_kwargs(request, request.max_new_tokens)
        if request.seed is not None:
            torch.manual_seed(request.seed)
        input_ids = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        output = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                     cache=cache, return_dict_in_generate=True, **kwargs)
        sequence = output.sequences[0].tolist()
        cache = output.cache
        self._prefixes.append((sequence[:cache.get_seq_length()], cache))
        del self._prefixes[:-self.prefix_slots]
        self.prefix_stats["requests"] += 1
        self.prefix_stats["reused_tokens"] += reuse
        self.prefix_stats["prefilled_tokens"] += len(ids) - reuse
        return self._finish(request, len(ids), sequence[len(ids):])

    def clear_prefixes(self) -> None:
        """Drop every cached prefix (their memory grows with the documents' length)."""
        self._prefixes.clear()

    def _plain_greedy(self, request: GenerationRequest) -> bool:
        """Greedy with nothing transformers' logits processors or stop strings would change."""
        return (request.temperature == 0 and not request.stop and not request.repetition_penalty
                and not request.no_repeat_ngram_size)

    def _generation_kwargs(self, first: GenerationRequest, max_new: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": sorted(self._stop_ids) or None,
        }
        if first.temperature > 0:
            kwargs.update(do_sample=True, temperature=first.temperature, top_p=first.top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if first.stop:
            kwargs.update(stop_strings=list(first.stop), tokenizer=self.tokenizer)
        if first.repetition_penalty:
            kwargs["repetition_penalty"] = first.repetition_penalty
        if first.no_repeat_ngram_size:
            kwargs["no_repeat_ngram_size"] = first.no_repeat_ngram_size
        return kwargs

    def _finish(self, request: GenerationRequest, prompt_len: int, tokens: list[int]) -> GenerationResult:
        # Generation that ended before this row's budget without an EOS was ended by a stop string
        # (transformers may match one across the prompt boundary, so the text need not show it).
        stopped_early = len(tokens) < request.max_new_tokens
        tokens = tokens[: request.max_new_tokens]
        # Rows that finished early are filled with the pad token, so it ends a row as EOS does.
        enders = self._stop_ids | {self.tokenizer.pad_token_id}
        end = next((k for k, t in enumerate(tokens) if t in enders), None)
        if end is not None:
            kept, reason = tokens[:end], "stop"
            n_generated = end + 1
        else:
            kept, reason = tokens, "stop" if stopped_early else "length"
            n_generated = len(tokens)
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        for stop in request.stop:
            cut = text.find(stop)
            if cut >= 0:
                text, reason = text[:cut], "stop"
        return GenerationResult(
            text=text, finish_reason=reason, prompt_tokens=prompt_len, completion_tokens=n_generated
        )

    def close(self) -> None:
        pass
