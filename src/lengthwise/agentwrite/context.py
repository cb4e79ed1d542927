"""Fit a section's request into the model's window.

The request carries the task, the plan, what was written so far, and the current step. When the
text so far no longer fits, it is replaced by a digest of the earlier sections (each one's plan
line plus its first sentence, or a model-written summary) followed by as much of the latest text
as fits. Sizes are measured on the exact rendered prompt with the model's own tokenizer, and the
section's ``max_new_tokens`` is reserved, so prompt + answer never exceed the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lengthwise.agentwrite.prompts import latest_label, section_messages
from lengthwise.errors import ConfigError
from lengthwise.text import split_sentences

__all__ = ["DoneSection", "FittedPrompt", "fit_section_prompt", "make_measure"]

Messages = list[dict[str, str]]


@dataclass
class DoneSection:
    main_point: str
    text: str
    summary: str | None = None


@dataclass
class FittedPrompt:
    messages: Messages
    prompt_tokens: int
    mode: str  # "full" or "digest"
    digest_sections: int = 0
    tail_chars: int = 0


def make_measure(generator, tokenizer=None) -> Callable[[Messages], int]:
    """Tokens of a request as the model will see it: the backend's own renderer and tokenizer when
    it has them (local models), else ``tokenizer`` on the concatenated turns plus a per-turn
    allowance for the chat template (remote servers)."""
    from lengthwise.backends.base import GenerationRequest

    if hasattr(generator, "render") and hasattr(generator, "count_tokens"):
        return lambda messages: generator.count_tokens(generator.render(GenerationRequest(messages=messages)))
    if tokenizer is None:
        raise ConfigError("a remote backend needs a tokenizer to measure the context budget (--tokenizer)")

    def measure(messages: Messages) -> int:
        text = "\n".join(m["content"] for m in messages)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 8 * len(messages) + 8

    return measure


def _first_sentence(text: str, limit: int = 240) -> str:
    sentences = split_sentences(text)
    first = sentences[0] if sentences else text.strip()
    return first if len(first) <= limit else first[:limit].rstrip() + "…"


def _tail_starts(text: str) -> list[int]:
    """Offsets where a tail of ``text`` may start: sentence starts, newest last."""
    starts, pos = [], 0
    for sentence in split_sentences(text):
        at = text.find(sentence, pos)
        if at < 0:
            continue
        starts.append(at)
        pos = at + len(sentence)
    return starts or [0]


def fit_section_prompt(
    instruction: str,
    plan: str,
    done: list[DoneSection],
    current: str,
    step: str,
    words: int,
    last: bool,
    budget: int,
    measure: Callable[[Messages], int],
    language: str = "en",
) -> FittedPrompt:
    """The richest request for this step within ``budget`` tokens: the whole text so far if it fits,
    else the digest of earlier sections plus the longest tail (from a sentence start) that fits;
    oldest digest lines go first if even that is too long. ``current``: the part of this section
    already written (continuations). Raises ``ConfigError`` when the task and plan alone do not fit."""
    texts = [d.text for d in done] + ([current] if current else [])
    full_text = "\n\n".join(t for t in texts if t)

    def build(context: str, digest: bool) -> Messages:
        return section_messages(instruction, plan, context, step, words, last, digest, language)

    messages = build(full_text, digest=False)
    tokens = measure(messages)
    if tokens <= budget:
        return FittedPrompt(messages, tokens, "full")
    # the latest text: the section in progress, else the last finished one
    latest = current or (done[-1].text if done else "")
    earlier = done if current else done[:-1]
    lines = [f"{k + 1}. {d.main_point}: {d.summary or _first_sentence(d.text)}" for k, d in enumerate(earlier)]
    starts = _tail_starts(latest)

    def with_tail(digest_lines: list[str], start: int) -> Messages:
        tail = latest[start:] if latest else ""
        context = "\n".join(digest_lines) + (f"\n\n{latest_label(language)}\n{tail}" if tail else "")
        return build(context, digest=True)

    for drop in range(len(lines) + 1):
        kept = lines[drop:]
        # the longest tail that fits: binary search over sentence starts (later start = shorter tail)
        lo, hi, best = 0, len(starts), None
        while lo < hi:
            mid = (lo + hi) // 2
            m = with_tail(kept, starts[mid])
            t = measure(m)
            if t <= budget:
                best, hi = (m, t, starts[mid]), mid
            else:
                lo = mid + 1
        if best is None:
            m = with_tail(kept, len(latest))
            t = measure(m)
            if t <= budget:
                best = (m, t, len(latest))
        if best is not None:
            m, t, start = best
            return FittedPrompt(m, t, "digest", len(kept), len(latest) - start)
    raise ConfigError(f"the task and its plan alone need more than {budget} tokens; use a model with a larger "
                      "window, fewer sections, or a smaller --max-new-tokens per section")
