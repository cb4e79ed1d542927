"""The six-dimension writing-quality rubric (LongBench-Write S_q) and strict parsing of judge replies.

A reply must contain one JSON object with an integer 1–5 for each of the six dimensions (an
``analysis`` string may come first, braces inside it allowed; code fences are accepted). Anything
else is a ``JudgeParseError`` with the reason: callers retry, then count the failure. Never guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lengthwise.judging.ask import ask_until_parsed, truncate_middle

__all__ = [
    "DIMENSIONS",
    "RUBRIC_SCHEMA",
    "JudgeParseError",
    "judge_messages",
    "parse_judge_reply",
    "quality_score",
    "Verdict",
    "GeneratorJudge",
    "ProbabilityJudge",
    "judge_key",
    "judge_with_cache",
]

DIMENSIONS = ("Relevance", "Accuracy", "Coherence", "Clarity", "Breadth and Depth", "Reading Experience")

_RUBRIC = """You are an expert judge of writing quality. Rate the response to the user's writing request on six
dimensions, each an integer from 1 (very poor) to 5 (excellent):
- Relevance: does it address the request and its requirements?
- Accuracy: are its facts and reasoning correct?
- Coherence: is it logically organised, with smooth transitions?
- Clarity: is the language clear and precise?
- Breadth and Depth: does it cover the topic widely and in depth?
- Reading Experience: is it engaging and pleasant to read?
Judge quality only: ignore whether the response meets any requested length.

First write a short analysis, then give the scores as one JSON object with exactly these keys:
{"analysis": "...", "Relevance": n, "Accuracy": n, "Coherence": n, "Clarity": n, "Breadth and Depth": n, "Reading Experience": n}"""  # noqa: E501 (the prompt's exact text)


# Structured output for servers that offer it (llama.cpp, vLLM and OpenAI all take a JSON schema):
# the reply can only be the object the parser reads. The analysis is bounded so a small judge cannot
# spend its whole token budget inside the string.
RUBRIC_SCHEMA: dict[str, Any] = {
    "name": "writing_quality_scores",
    "schema": {
        "type": "object",
        "properties": {"analysis": {"type": "string", "maxLength": 800},
                       **{d: {"type": "integer", "enum": [1, 2, 3, 4, 5]} for d in DIMENSIONS}},
        "required": ["analysis", *DIMENSIONS],
        "additionalProperties": False,
    },
}


class JudgeParseError(ValueError):
    """The judge's reply could not be read as a complete, valid score set."""


def judge_messages(prompt: str, response: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": _RUBRIC},
        {"role": "user", "content": f"[Writing request]\n{prompt}\n\n[Response]\n{response}\n\n[Your judgement]"},
    ]


def _json_objects(text: str) -> list[str]:
    """Every top-level ``{…}`` in ``text``, respecting JSON strings (braces inside them don't count)."""
    found, depth, start, in_string, escaped = [], 0, None, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0 and start is not None:
                found.append(text[start:i + 1])
    return found


def parse_judge_reply(reply: str | None) -> dict[str, int]:
    """``{dimension: score}`` for all six dimensions, or ``JudgeParseError``.

    >>> parse_judge_reply('```json\\n{"analysis": "ok {fine}", "Relevance": 5, "Accuracy": 4, "Coherence": 4, '
    ...                   '"Clarity": 5, "Breadth and Depth": 3, "Reading Experience": 4}\\n```')["Breadth and Depth"]
    3
    """
    if not reply or not reply.strip():
        raise JudgeParseError("empty reply")
    text = re.sub(r"```(?:json)?", "", reply)
    candidates = _json_objects(text)
    if not candidates:
        raise JudgeParseError("no JSON object in the reply")
    last_problem = "no JSON object with the six scores"
    for raw in reversed(candidates):
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            last_problem = f"invalid JSON ({exc.msg})"
            continue
        if not isinstance(obj, dict):
            continue
        missing = [d for d in DIMENSIONS if d not in obj]
        if missing:
            last_problem = f"missing dimension(s): {', '.join(missing)}"
            continue
        scores = {}
        for d in DIMENSIONS:
            v = obj[d]
            if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v):
                raise JudgeParseError(f"{d} must be an integer 1-5, got {v!r}")
            if not 1 <= v <= 5:
                raise JudgeParseError(f"{d} must be between 1 and 5, got {v!r}")
            scores[d] = int(v)
        return scores
    raise JudgeParseError(last_problem)


def quality_score(scores: Mapping[str, float]) -> float:
    """S_q in [0, 100]: the mean over the six dimensions of ``(score − 1) · 25``.

    >>> quality_score({d: 3 for d in DIMENSIONS})
    50.0
    """
    missing = [d for d in DIMENSIONS if d not in scores]
    if missing:
        raise ValueError(f"missing dimension(s): {', '.join(missing)}")
    return sum((scores[d] - 1) * 25 for d in DIMENSIONS) / len(DIMENSIONS)


# --- judges -------------------------------------------------------------------------------------

@dataclass
class Verdict:
    """A judge's answer for one item: ``scores`` (dimension → 1–5, possibly fractional for the
    probability judge), or ``None`` with ``error`` after ``attempts`` tries."""

    scores: dict[str, float] | None
    error: str | None = None
    attempts: int = 1
    raw: str | None = None  # the judge's last reply when it failed, kept for diagnosis

    @property
    def ok(self) -> bool:
        return self.scores is not None

    @property
    def S_q(self) -> float | None:
        return None if self.scores is None else quality_score(self.scores)

    def as_dict(self) -> dict[str, Any]:
        return {"scores": self.scores, "error": self.error, "attempts": self.attempts, "raw": self.raw}


class GeneratorJudge:
    """The rubric through any ``Generator`` (an OpenAI-compatible server, or a local model). A reply
    that does not parse (``parse_judge_reply``) or a backend failure is asked again, up to
    ``max_attempts`` in all (later attempts sample at temperature ≥ 0.7 to leave a stuck answer);
    then the item's verdict is a failure with the last reason. Never a guessed score."""

    def __init__(self, generator, max_attempts: int = 3, max_new_tokens: int = 512, temperature: float = 0.0,
                 name: str | None = None, structured: bool = True):
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.generator = generator
        self.max_attempts = max_attempts
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.structured = structured
        self.name = name or f"rubric:{getattr(generator, 'model_name', type(generator).__name__)}"

    def judge(self, items: Sequence[tuple[str, str]]) -> list[Verdict]:
        answers = ask_until_parsed(self.generator, [judge_messages(*item) for item in items], parse_judge_reply,
                                   self.max_attempts, self.max_new_tokens, self.temperature,
                                   json_schema=RUBRIC_SCHEMA if self.structured else None)
        return [Verdict(dict(a.value) if a.value is not None else None, a.error, a.attempts, a.raw) for a in answers]


_DIMENSION_QUESTIONS = {
    "Relevance": "how well the response addresses the request",
    "Accuracy": "how correct its facts and reasoning are",
    "Coherence": "how logically organised it is",
    "Clarity": "how clear and precise its language is",
    "Breadth and Depth": "how widely and deeply it covers the topic",
    "Reading Experience": "how engaging and pleasant it is to read",
}


class ProbabilityJudge:
    """A local judge for small models that never fails to answer: for each dimension it asks for a
    1–5 score and reads the next-token probabilities of "1"…"5"; the score is their expected value
    (probabilities renormalised over the five tokens). Deterministic, one forward pass per item."""

    def __init__(self, model=None, tokenizer=None, model_spec: str | None = None, device: str | None = None,
                 max_context: int | None = None, name: str | None = None):
        if model is None:
            from lengthwise.models import load_causal_lm

            model, tokenizer = load_causal_lm(model_spec, device=device)
        self.model, self.tokenizer = model, tokenizer
        window = getattr(model.config, "max_position_embeddings", 2048) or 2048
        self.max_context = int(max_context or min(window, 8192))
        self.score_ids = []
        for k in "12345":
            ids = tokenizer(k, add_special_tokens=False)["input_ids"]
            if len(ids) != 1:
                raise ValueError(f"the judge's tokenizer splits the score {k!r} into {len(ids)} tokens")
            self.score_ids.append(ids[0])
        self.name = name or f"prob:{getattr(model, 'name_or_path', 'local')}"

    def _prompt(self, prompt: str, response: str, dimension: str) -> str:
        question = (f"Rate the {dimension} of the response ({_DIMENSION_QUESTIONS[dimension]}) "
                    "as one digit from 1 (very poor) to 5 (excellent).")
        messages = [{"role": "user", "content": f"[Writing request]\n{prompt}\n\n[Response]\n{response}\n\n{question}"}]
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return rendered + f"{dimension} score: "

    def judge(self, items: Sequence[tuple[str, str]]) -> list[Verdict]:
        import torch

        verdicts = []
        device = next(self.model.parameters()).device
        for prompt, response in items:
            overhead = len(self.tokenizer(self._prompt(prompt, "", DIMENSIONS[-1]))["input_ids"])
            body = truncate_middle(self.tokenizer, response, max(16, self.max_context - overhead - 8))
            texts = [self._prompt(prompt, body, d) for d in DIMENSIONS]
            self.tokenizer.padding_side = "left"
            batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.inference_mode():
                logits = self.model(**batch).logits[:, -1, :].float()
            probs = torch.softmax(logits[:, self.score_ids], dim=-1)
            expected = (probs * torch.arange(1, 6, device=probs.device, dtype=probs.dtype)).sum(-1)
            verdicts.append(
                Verdict({d: round(float(v), 4) for d, v in zip(DIMENSIONS, expected.tolist(), strict=True)})
            )
        return verdicts


def judge_key(judge_name: str, prompt: str, response: str) -> str:
    return hashlib.sha256(f"{judge_name}\x00{prompt}\x00{response}".encode()).hexdigest()[:32]


def judge_with_cache(judge, items: Sequence[tuple[str, str]], cache_path, batch: int = 8,
                     progress: bool = False, desc: str = "judge") -> list[Verdict]:
    """Verdicts for ``items``; successful ones are appended to ``cache_path`` (JSONL keyed by judge,
    prompt and response) as they arrive, so a rerun asks only what is missing. Failures are not
    cached: the next run asks again."""
    from lengthwise.io import ResumableJsonl
    from lengthwise.resumable import Emit, run_pending

    cache = ResumableJsonl(cache_path, key="key")
    keys = [judge_key(judge.name, p, r) for p, r in items]
    out: dict[int, Verdict] = {}

    def work(chunk: list[int], emit: Emit) -> None:
        for i, verdict in zip(chunk, judge.judge([items[i] for i in chunk]), strict=True):
            out[i] = verdict
            emit({"key": keys[i], "judge": judge.name, "scores": verdict.scores, "attempts": verdict.attempts}
                 if verdict.ok else None)

    run_pending(range(len(items)), cache, key=keys.__getitem__, work=work, chunk=batch, progress=progress,
                desc=desc)
    for i, key in enumerate(keys):
        if i not in out:
            row = cache.done[key]
            out[i] = Verdict(row["scores"], None, row.get("attempts", 1))
    return [out[i] for i in range(len(items))]
