"""The pairwise judges of the arena: which of two responses to one request is better.

An outcome is the first-shown response's share of the win: 1, 0, 0.5 for a tie, or a probability
from the local judge. Server judges are asked until the reply parses (``judging.ask``); a reply that
never does is a failure with its reason and raw text, never a guessed verdict.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lengthwise.judging.ask import ask_until_parsed, truncate_middle

__all__ = ["PAIRWISE_SCHEMA", "PairParseError", "PairVerdict", "pairwise_messages", "parse_pairwise_reply",
           "GeneratorPairJudge", "ProbabilityPairJudge", "CallablePairJudge", "pair_key"]

_PAIR_RUBRIC = """You compare two responses to the same writing request. Judge which one is better
overall: relevance to the request (including its requested length), accuracy, coherence, clarity,
breadth and depth, and reading experience. Do not let the order of the responses or their length
alone decide. First write a brief comparison, then end with exactly one verdict on its own line:
[[A]] if Response A is better, [[B]] if Response B is better, [[C]] for a tie."""


# Structured output: the verdict is one of three letters, so a constrained server cannot omit it.
PAIRWISE_SCHEMA: dict[str, Any] = {
    "name": "pairwise_verdict",
    "schema": {
        "type": "object",
        "properties": {"comparison": {"type": "string", "maxLength": 600},
                       "verdict": {"type": "string", "enum": ["A", "B", "C"]}},
        "required": ["comparison", "verdict"],
        "additionalProperties": False,
    },
}


def pairwise_messages(prompt: str, a: str, b: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": _PAIR_RUBRIC},
        {
            "role": "user",
            "content": f"[Writing request]\n{prompt}\n\n[Response A]\n{a}\n\n[Response B]\n{b}\n\n[Your comparison]",
        },
    ]


class PairParseError(ValueError):
    pass


_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]")


def parse_pairwise_reply(reply: str | None) -> float:
    """The first response's outcome: ``[[A]]`` → 1, ``[[B]]`` → 0, ``[[C]]`` → 0.5. The last verdict
    marker counts; none, or contradicting markers on the final line, is a ``PairParseError``.

    >>> parse_pairwise_reply("A is vaguer.\\n[[B]]")
    0.0
    """
    if not reply or not reply.strip():
        raise PairParseError("empty reply")
    structured = _structured_verdict(reply)
    if structured is not None:
        return structured
    found = _VERDICT.findall(reply)
    if not found:
        raise PairParseError("no [[A]]/[[B]]/[[C]] verdict")
    last_line = [ln for ln in reply.strip().splitlines() if ln.strip()][-1]
    if len(set(_VERDICT.findall(last_line))) > 1:
        raise PairParseError("contradicting verdicts on the last line")
    return {"A": 1.0, "B": 0.0, "C": 0.5}[found[-1]]


def _structured_verdict(reply: str) -> float | None:
    """The outcome of a structured reply ``{"comparison": ..., "verdict": "A"|"B"|"C"}``, else None."""
    text = reply.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    verdict = obj.get("verdict") if isinstance(obj, dict) else None
    if isinstance(verdict, str) and verdict.strip().strip("[]").strip() in ("A", "B", "C"):
        return {"A": 1.0, "B": 0.0, "C": 0.5}[verdict.strip().strip("[]").strip()]
    return None


@dataclass
class PairVerdict:
    outcome: float | None  # first-shown response's share of the win, in [0, 1]
    error: str | None = None
    attempts: int = 1
    raw: str | None = None  # the judge's last reply when it failed

    @property
    def ok(self) -> bool:
        return self.outcome is not None


class GeneratorPairJudge:
    """The pairwise rubric through any ``Generator`` (e.g. an OpenAI-compatible server); an
    unparseable reply or backend failure is asked again up to ``max_attempts``, then recorded as a
    failure with its reason (never a guessed verdict)."""

    def __init__(self, generator, max_attempts: int = 3, max_new_tokens: int = 384, temperature: float = 0.0,
                 name: str | None = None, structured: bool = True):
        self.generator = generator
        self.max_attempts = max(1, max_attempts)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.structured = structured
        self.name = name or f"pairwise:{getattr(generator, 'model_name', type(generator).__name__)}"

    def compare(self, items: Sequence[tuple[str, str, str]]) -> list[PairVerdict]:
        answers = ask_until_parsed(self.generator, [pairwise_messages(*item) for item in items], parse_pairwise_reply,
                                   self.max_attempts, self.max_new_tokens, self.temperature,
                                   json_schema=PAIRWISE_SCHEMA if self.structured else None)
        return [PairVerdict(a.value, a.error, a.attempts, a.raw) for a in answers]


class ProbabilityPairJudge:
    """A local pairwise judge that always answers: the outcome is P("A") / (P("A") + P("B")) for the
    next token after the question "Which response is better? Answer A or B." Long responses keep
    their head and tail within the window."""

    def __init__(self, model=None, tokenizer=None, model_spec: str | None = None, device: str | None = None,
                 max_context: int | None = None, name: str | None = None):
        if model is None:
            from lengthwise.models import load_causal_lm

            model, tokenizer = load_causal_lm(model_spec, device=device)
        self.model, self.tokenizer, self._truncate = model, tokenizer, truncate_middle
        window = getattr(model.config, "max_position_embeddings", 2048) or 2048
        self.max_context = int(max_context or min(window, 8192))
        self.ids = [tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in ("A", "B")]
        self.name = name or f"prob-pairwise:{getattr(model, 'name_or_path', 'local')}"

    def _text(self, prompt: str, a: str, b: str) -> str:
        user = (f"[Writing request]\n{prompt}\n\n[Response A]\n{a}\n\n[Response B]\n{b}\n\n"
                "Which response is better? Answer A or B.")
        rendered = self.tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                                      add_generation_prompt=True)
        return rendered + "Better response: "

    def compare(self, items: Sequence[tuple[str, str, str]]) -> list[PairVerdict]:
        import torch

        device = next(self.model.parameters()).device
        out = []
        for prompt, a, b in items:
            overhead = len(self.tokenizer(self._text(prompt, "", ""))["input_ids"])
            budget = max(16, (self.max_context - overhead - 8) // 2)
            text = self._text(
                prompt, self._truncate(self.tokenizer, a, budget), self._truncate(self.tokenizer, b, budget)
            )
            batch = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(device)
            with torch.inference_mode():
                logits = self.model(**batch).logits[0, -1, self.ids].float()
            out.append(PairVerdict(round(float(torch.softmax(logits, -1)[0]), 6)))
        return out


class CallablePairJudge:
    """Wrap ``fn(prompt, a, b) -> outcome`` (tests, simulations, custom heuristics) as a judge."""

    def __init__(self, fn: Callable[[str, str, str], float], name: str = "callable"):
        self.fn, self.name = fn, name

    def compare(self, items: Sequence[tuple[str, str, str]]) -> list[PairVerdict]:
        return [PairVerdict(float(self.fn(*item))) for item in items]


def pair_key(judge_name: str, prompt: str, a: str, b: str) -> str:
    return hashlib.sha256(f"{judge_name}\x00{prompt}\x00{a}\x00{b}".encode()).hexdigest()[:32]


