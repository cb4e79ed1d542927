"""Arena-Write-style pairwise evaluation: every pair of systems on every shared prompt, judged in
both orders, rated with a Bradley–Terry fit and bootstrap intervals (REFERENCE.md §5).

A comparison's outcome is the first-shown response's share of the win: 1, 0, 0.5 for a tie, or a
probability from the local judge. The two orders are averaged per (prompt, pair), so a split
verdict (position bias) counts 0.5 each, and the order in which systems are given cannot matter.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PAIRWISE_SCHEMA", "PairVerdict", "pairwise_messages", "parse_pairwise_reply", "GeneratorPairJudge", "ProbabilityPairJudge",
           "CallablePairJudge", "Comparison", "fit_bradley_terry", "leaderboard", "pair_key", "ELO_SCALE"]

ELO_SCALE = 400 / math.log(10)

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
    return [{"role": "system", "content": _PAIR_RUBRIC},
            {"role": "user", "content": f"[Writing request]\n{prompt}\n\n[Response A]\n{a}\n\n[Response B]\n{b}\n\n[Your comparison]"}]


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
    import json

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
        from lengthwise.evaluation.judge import ask_until_parsed

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
        from lengthwise.evaluation.judge import _truncate_middle

        if model is None:
            from lengthwise.models import load_causal_lm

            model, tokenizer = load_causal_lm(model_spec, device=device)
        self.model, self.tokenizer, self._truncate = model, tokenizer, _truncate_middle
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
            text = self._text(prompt, self._truncate(self.tokenizer, a, budget), self._truncate(self.tokenizer, b, budget))
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


@dataclass
class Comparison:
    """System ``i`` against system ``j`` on one prompt; ``score`` is ``i``'s share of the win."""

    prompt: str
    i: str
    j: str
    score: float


def fit_bradley_terry(comparisons: Sequence[Comparison], systems: Sequence[str], anchor: str | None = None,
                      l2: float = 1e-4) -> dict[str, float]:
    """Bradley–Terry ratings on the Elo scale: maximise Σ s·log σ(θ_i − θ_j) + (1 − s)·log σ(θ_j − θ_i)
    (``s`` fractional for ties and probabilities), with a tiny L2 penalty ``l2·Σθ²`` that keeps
    ratings finite when a system wins every comparison. Rating = 1000 + (θ − θ_anchor)·400/ln 10;
    the anchor defaults to the first system."""
    from scipy.optimize import minimize

    index = {s: k for k, s in enumerate(systems)}
    if not comparisons:
        return {s: 1000.0 for s in systems}
    ii = np.array([index[c.i] for c in comparisons])
    jj = np.array([index[c.j] for c in comparisons])
    ss = np.array([c.score for c in comparisons], dtype=float)
    n = len(systems)

    def objective(theta):
        d = theta[ii] - theta[jj]
        # log σ(d) = −log(1 + e^{−d}), computed stably with logaddexp
        ll = -(ss * np.logaddexp(0.0, -d) + (1 - ss) * np.logaddexp(0.0, d)).sum()
        p = 1 / (1 + np.exp(-d))
        grad_d = ss - p
        grad = np.zeros(n)
        np.add.at(grad, ii, grad_d)
        np.add.at(grad, jj, -grad_d)
        return -ll + l2 * len(ss) * (theta @ theta), -grad + 2 * l2 * len(ss) * theta

    result = minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B")
    theta = result.x
    base = theta[index[anchor]] if anchor is not None else theta[0]
    return {s: float(1000 + (theta[index[s]] - base) * ELO_SCALE) for s in systems}


def leaderboard(comparisons: Sequence[Comparison], systems: Sequence[str], anchor: str | None = None,
                n_bootstrap: int = 200, seed: int = 0, confidence: float = 0.95) -> list[dict[str, Any]]:
    """Ratings with bootstrap intervals (prompts resampled with replacement, ratings refit each
    time), win rates and comparison counts, best first."""
    ratings = fit_bradley_terry(comparisons, systems, anchor)
    by_prompt: dict[str, list[Comparison]] = {}
    for c in comparisons:
        by_prompt.setdefault(c.prompt, []).append(c)
    prompts = sorted(by_prompt)
    rng = np.random.default_rng(seed)
    samples = {s: [] for s in systems}
    for _ in range(n_bootstrap if prompts else 0):
        chosen = rng.integers(0, len(prompts), len(prompts))
        boot = [c for k in chosen for c in by_prompt[prompts[k]]]
        for s, r in fit_bradley_terry(boot, systems, anchor).items():
            samples[s].append(r)
    tail = (1 - confidence) / 2 * 100
    rows = []
    for s in systems:
        wins = [c.score for c in comparisons if c.i == s] + [1 - c.score for c in comparisons if c.j == s]
        low, high = (np.percentile(samples[s], [tail, 100 - tail]) if samples[s] else (ratings[s], ratings[s]))
        rows.append({"system": s, "rating": round(ratings[s], 2), "low": round(float(low), 2),
                     "high": round(float(high), 2), "win_rate": round(float(np.mean(wins)), 4) if wins else None,
                     "comparisons": len(wins)})
    return sorted(rows, key=lambda r: -r["rating"])


def combine_orders(first: Mapping[tuple[str, str, str], float]) -> list[Comparison]:
    """Average each (prompt, i, j) outcome with its swapped order (j, i) into one comparison of i
    against j; a missing order (failed judge) leaves the other alone."""
    out = []
    seen = set()
    for (prompt, i, j), _s in first.items():
        key = (prompt, *sorted((i, j)))
        if key in seen:
            continue
        seen.add(key)
        a, b = key[1], key[2]
        scores = []
        if (prompt, a, b) in first:
            scores.append(first[(prompt, a, b)])
        if (prompt, b, a) in first:
            scores.append(1 - first[(prompt, b, a)])
        out.append(Comparison(prompt, a, b, float(np.mean(scores))))
    return out
