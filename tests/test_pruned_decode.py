"""backends.pruned_decode: rows that end leave the batch, and every row's tokens are still transformers' greedy
tokens (fp32, tiny model: exactly)."""

from __future__ import annotations

import torch

from lengthwise.backends.pruned_decode import greedy_decode


def _batch(generator, prompts):
    ids = [generator.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    width = max(map(len, ids))
    pad = generator.tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids])
    attention = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
    return input_ids, attention


def _transformers_greedy(model, input_ids, attention, max_new, stop):
    out = model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=max_new, do_sample=False,
                         eos_token_id=stop, pad_token_id=model.config.pad_token_id)
    rows = []
    for seq in out[:, input_ids.shape[1]:].tolist():
        end = next((k for k, t in enumerate(seq) if t == stop), None)
        rows.append(seq if end is None else seq[:end + 1])
    return rows


def test_rows_end_at_their_stop_token_or_their_own_limit_with_transformers_tokens(tiny_generator):
    model = tiny_generator.model
    prompts = ["a short one", "a much longer prompt about rivers and hills and the sea", "third", "the fourth prompt"]
    input_ids, attention = _batch(tiny_generator, prompts)
    free = _transformers_greedy(model, input_ids, attention, 16, stop=-1)  # -1: no stop token at all
    # a token the first row writes at its 4th step stops it there; other rows stop wherever they meet it
    stop = free[0][3]
    expected = _transformers_greedy(model, input_ids, attention, 16, stop=stop)
    got = greedy_decode(model, input_ids, attention, [16] * 4, {stop}, prune_share=0.0)
    assert got == expected
    assert got[0][-1] == stop and len(got[0]) <= 4

    # each row keeps its own limit; pruning after every ended row gives the same tokens as never pruning
    limits = [3, 16, 7, 11]
    pruned = greedy_decode(model, input_ids, attention, limits, set(), prune_share=0.0)
    unpruned = greedy_decode(model, input_ids, attention, limits, set(), prune_share=2.0)
    assert [len(r) for r in pruned] == limits
    assert pruned == unpruned == [row[:n] for row, n in zip(free, limits, strict=True)]


def test_the_generator_uses_it_for_plain_greedy_requests_only(tiny_generator, monkeypatch):
    from lengthwise.backends import GenerationRequest, transformers_backend

    calls = []
    original = transformers_backend.greedy_decode

    def spy(*args, **kwargs):
        calls.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers_backend, "greedy_decode", spy)

    def chat(**kw):
        return GenerationRequest(messages=[{"role": "user", "content": "hello"}], max_new_tokens=6, **kw)

    tiny_generator.generate([chat(temperature=0), chat(temperature=0)])
    assert calls == [[6, 6]]
    tiny_generator.generate([chat(temperature=0.7, seed=1)])
    tiny_generator.generate([chat(temperature=0, repetition_penalty=1.3)])
    assert len(calls) == 1
