"""Asking a judge model until its reply parses, shared by the rubric and the pairwise judges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Asked", "ask_until_parsed", "truncate_middle"]


@dataclass
class Asked:
    """What asking a judge produced for one item: the parsed ``value`` (``None`` on failure), the
    last ``error``, the ``attempts`` spent and, on failure, the last ``raw`` reply."""

    value: Any
    error: str | None
    attempts: int
    raw: str | None = None


def ask_until_parsed(generator, messages: Sequence[list[dict[str, str]]], parse, max_attempts: int,
                     max_new_tokens: int, temperature: float, json_schema: dict[str, Any] | None = None) -> list[Asked]:
    """Ask ``generator`` each message list until ``parse(reply_text)`` succeeds (it raises
    ``ValueError`` when it cannot read a reply) or ``max_attempts`` asks are spent; later asks sample
    at temperature >= 0.7 to leave a stuck answer. ``json_schema`` asks for structured output where
    the backend offers it (the parser still reads the reply)."""
    from lengthwise.backends.base import GenerationRequest

    out: list[Asked | None] = [None] * len(messages)
    errors: dict[int, str] = {}
    raws: dict[int, str] = {}
    pending = list(range(len(messages)))
    for attempt in range(max_attempts):
        if not pending:
            break
        requests = [GenerationRequest(messages=messages[i], max_new_tokens=max_new_tokens,
                                      temperature=temperature if attempt == 0 else max(temperature, 0.7), seed=attempt,
                                      json_schema=json_schema)
                    for i in pending]
        still = []
        for i, reply in zip(pending, generator.generate(requests), strict=True):
            if not reply.ok:
                errors[i] = f"backend: {reply.error}"
                still.append(i)
                continue
            try:
                out[i] = Asked(parse(reply.text), None, attempt + 1)
            except ValueError as exc:
                errors[i] = f"parse: {exc}"
                raws[i] = reply.text
                still.append(i)
        pending = still
    for i in pending:
        out[i] = Asked(None, errors.get(i, "unknown"), max_attempts, raws.get(i))
    return [o for o in out if o is not None]



def truncate_middle(tokenizer, text: str, budget: int) -> str:
    """``text`` within ``budget`` tokens: its head and tail, joined by a marker (long responses are
    judged on their opening and ending when they exceed the judge's window)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= budget:
        return text
    half = max(1, budget // 2 - 4)
    return tokenizer.decode(ids[:half]) + "\n[…]\n" + tokenizer.decode(ids[-half:])
