"""Verifiable reasoning tasks and L1-style token-budget prompts (docs/reference.md §3, LCPO).

``problems`` draws seeded problems a 135M model can partly solve: picking the largest number, the next number
of a sequence, multi-step sums, short word problems, letter counting and unit conversions, each at four
difficulty levels, with the exact answer in every row.
A problem's split is a function of its text (a hash), so the train and held-out splits can never share one,
whatever the seed or the number drawn.

``budget_prompt`` places the budget the way L1 does: after the question and the "final answer in \\boxed{}"
instruction, "Think for N tokens." (exact) or "Think for maximum N tokens." (max).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["KINDS", "LEVELS", "Problem", "problems", "budget_prompt", "reasoning_rows", "split_of", "from_hub_row"]

KINDS = ("compare", "next", "sum", "word_problem", "count", "convert")
LEVELS = (1, 2, 3, 4)
Split = Literal["train", "heldout"]
BudgetMode = Literal["exact", "max"]

_INSTRUCTION = {
    "en": "Let's think step by step and output the final answer within \\boxed{}.",
    "zh": "请一步一步思考，并把最终答案写在 \\boxed{} 中。",
}
_BUDGET = {
    "en": {"exact": "Think for {n} tokens.", "max": "Think for maximum {n} tokens."},
    "zh": {"exact": "思考 {n} 个词元。", "max": "最多思考 {n} 个词元。"},
}
_NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Nia")
_ITEMS = ("apples", "pencils", "stickers", "marbles", "books", "cookies", "stamps", "shells", "cards", "coins")
_WORDS = ("strawberry", "banana", "mississippi", "bookkeeper", "committee", "parallel", "balloon", "letter",
          "assessment", "occurrence", "possession", "raccoon", "tomorrow", "referee", "address", "success",
          "coffee", "giraffe", "hippopotamus", "necessary", "embarrass", "millennium", "accommodate", "pepper",
          "bubble", "puzzle", "cinnamon", "kangaroo", "umbrella", "tennessee", "vacuum", "grammar", "assassin",
          "butterfly", "chocolate", "elephant", "dictionary", "mathematics", "programming", "engineering")
# (from, to, factor): integer factors only, so every answer is exact.
_UNITS = (("kilometres", "metres", 1000), ("metres", "centimetres", 100), ("hours", "minutes", 60),
          ("minutes", "seconds", 60), ("kilograms", "grams", 1000), ("days", "hours", 24), ("dozen", "items", 12),
          ("weeks", "days", 7))


@dataclass(frozen=True)
class Problem:
    question: str
    answer: str
    kind: str
    level: int

    @property
    def id(self) -> str:
        return hashlib.blake2b(self.question.encode(), digest_size=6).hexdigest()

    @property
    def split(self) -> Split:
        return split_of(self.question)


def split_of(question: str, heldout_percent: int = 20) -> Split:
    """``heldout`` for a fixed ``heldout_percent`` of all possible questions, by hash of the text."""
    digest = hashlib.blake2b(question.encode(), digest_size=2).digest()
    return "heldout" if int.from_bytes(digest, "big") % 100 < heldout_percent else "train"


def _sum(level: int, rng: random.Random) -> tuple[str, int]:
    terms = [rng.randint(1, 10 ** level - 1) for _ in range(level + 1)]
    if level >= 3:  # one subtraction keeps the higher levels from being a single carry pattern
        k = rng.randrange(1, len(terms))
        terms[k] = -min(terms[k], sum(terms[:k]))
    expression = str(terms[0]) + "".join(f" - {-t}" if t < 0 else f" + {t}" for t in terms[1:])
    return f"What is {expression}?", sum(terms)


def _word_problem(level: int, rng: random.Random) -> tuple[str, int]:
    name, other = rng.sample(_NAMES, 2)
    item = rng.choice(_ITEMS)
    count = rng.randint(2, 5 * level + 5)
    sentences = [f"{name} has {count} {item}."]
    for _ in range(level):
        step = rng.choice(("buy", "give", "double") if level >= 3 else ("buy", "give"))
        if step == "buy":
            k = rng.randint(1, 4 * level + 4)
            count += k
            sentences.append(f"{name} gets {k} more.")
        elif step == "give" and count > 1:
            k = rng.randint(1, count - 1)
            count -= k
            sentences.append(f"{name} gives {k} to {other}.")
        else:
            count *= 2
            sentences.append(f"Then the number of {item} {name} has doubles.")
    return " ".join(sentences) + f" How many {item} does {name} have now?", count


def _count(level: int, rng: random.Random) -> tuple[str, int]:
    words = rng.sample(_WORDS, level)
    letter = rng.choice(sorted(set("".join(words))))
    text = " ".join(words)
    where = f'the word "{text}"' if level == 1 else f'the words "{text}"'
    return f'How many times does the letter "{letter}" appear in {where}?', text.count(letter)


def _convert(level: int, rng: random.Random) -> tuple[str, int]:
    big, small, factor = rng.choice(_UNITS)
    amount = rng.randint(2, 9 * level + 11)
    if level == 1:
        return f"How many {small} are in {amount} {big}?", amount * factor
    extra = rng.randint(1, factor - 1)
    if level == 2:
        return f"How many {small} are in {amount} {big} and {extra} {small}?", amount * factor + extra
    other = rng.randint(2, 9 * level)
    total = (amount + other) * factor + extra
    if level == 3:
        return f"How many {small} are in {amount} {big}, {other} {big} and {extra} {small} together?", total
    lost = rng.randint(1, amount * factor)
    return (f"How many {small} are left from {amount} {big}, {other} {big} and {extra} {small} "
            f"after {lost} {small} are used?"), total - lost


def _compare(level: int, rng: random.Random) -> tuple[str, int]:
    values = rng.sample(range(1, 10 ** min(level, 3) * 2), level + 1)
    listed = ", ".join(map(str, values[:-1])) + f" or {values[-1]}"
    return f"Which number is the largest: {listed}?", max(values)


def _next(level: int, rng: random.Random) -> tuple[str, int]:
    if level == 1:
        n = rng.randint(1, 99)
        return f"What number comes right after {n}?", n + 1
    if level == 2:
        n = rng.randint(2, 999)
        return f"What number comes right before {n}?", n - 1
    step = rng.choice((2, 5, 10)) if level == 3 else rng.choice((3, 4, 6, 7, 9, 11, 25))
    start = rng.randint(1, 50) * (1 if level == 3 else rng.randint(1, 3))
    seq = [start + step * k for k in range(4)]
    return f"What number comes next: {', '.join(map(str, seq))}, ...?", seq[-1] + step


_MAKERS = {"compare": _compare, "next": _next, "sum": _sum, "word_problem": _word_problem, "count": _count,
           "convert": _convert}


_DRY_AFTER = 2000  # consecutive repeats or other-split draws after which a kind and level count as exhausted


def problems(split: Split = "train", n: int = 100, kinds: Sequence[str] = KINDS, levels: Sequence[int] = (1,),
             seed: int = 0) -> list[Problem]:
    """``n`` distinct problems of ``split``, drawn in turn over ``kinds`` × ``levels`` (deterministic in its
    arguments); a kind and level whose problems run out leaves the rotation. Raises when all have run out."""
    unknown = [k for k in kinds if k not in _MAKERS]
    if unknown or not kinds:
        raise ValueError(f"unknown task kinds {unknown}; choose from {', '.join(KINDS)}")
    if not levels or any(level not in LEVELS for level in levels):
        raise ValueError(f"levels must be among {LEVELS}, got {list(levels)}")
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be train or heldout, got {split!r}")
    rng = random.Random(f"lengthwise-tasks:{seed}")
    combos = [(k, level) for k in kinds for level in levels]
    out: list[Problem] = []
    seen: set[str] = set()
    misses = 0
    while len(out) < n:
        if not combos:
            raise ValueError(f"only {len(out)} distinct {split} problems found for {list(kinds)} at {list(levels)}")
        kind, level = combos[len(out) % len(combos)]
        question, answer = _MAKERS[kind](level, rng)
        if question in seen or split_of(question) != split:
            misses += 1
            # A small space (two one-digit summands) runs dry long before a large one: leave it, keep the rest.
            if misses > _DRY_AFTER:
                combos.remove((kind, level))
                misses = 0
            continue
        misses = 0
        seen.add(question)
        out.append(Problem(question, str(answer), kind, level))
    return out


def budget_prompt(question: str, n_tokens: int | None, mode: BudgetMode = "exact", language: str = "en") -> str:
    """The question, the boxed-answer instruction and (unless ``n_tokens`` is None) L1's budget sentence."""
    if mode not in ("exact", "max"):
        raise ValueError(f"budget mode must be exact or max, got {mode!r}")
    if language not in _INSTRUCTION:
        raise ValueError(f"language must be one of {', '.join(_INSTRUCTION)}, got {language!r}")
    parts = [question.strip(), _INSTRUCTION[language]]
    if n_tokens is not None:
        if int(n_tokens) <= 0:
            raise ValueError(f"a token budget must be positive, got {n_tokens}")
        parts.append(_BUDGET[language][mode].format(n=int(n_tokens)))
    return " ".join(parts) if language == "en" else "".join(parts)


def reasoning_rows(items: Sequence[Problem | dict[str, Any]], budgets: Sequence[int] | tuple[int, int] | None,
                   mode: BudgetMode = "exact", language: str = "en", seed: int = 0,
                   draw: bool = True) -> list[dict[str, Any]]:
    """Prompt rows ``{id, prompt, question, answer, target_tokens, budget_mode, ...}``.

    ``draw`` (training): each row's budget is drawn uniformly from the range ``budgets = (lo, hi)``, as L1
    samples N per example. ``draw=False`` (evaluation): every problem once per budget in the list ``budgets``.
    ``budgets=None`` gives no budget sentence and no ``target_tokens`` (the unconstrained baseline)."""
    rng = random.Random(f"lengthwise-budgets:{seed}")
    rows = []
    for item in items:
        base = asdict(item) if isinstance(item, Problem) else dict(item)
        ident = item.id if isinstance(item, Problem) else str(base.get("id", len(rows)))
        question = base.pop("question", None) or base.pop("prompt")
        if budgets is None:
            targets: list[int | None] = [None]
        elif draw:
            lo, hi = budgets
            if not 0 < lo <= hi:
                raise ValueError(f"a budget range needs 0 < lo <= hi, got {budgets}")
            targets = [rng.randint(int(lo), int(hi))]
        else:
            targets = [int(b) for b in budgets]
        for target in targets:
            row = {**base, "id": ident if draw or target is None else f"{ident}@{target}",
                   "prompt": budget_prompt(question, target, mode, language), "question": question}
            if target is not None:
                row.update(target_tokens=target, budget_mode=mode)
            rows.append(row)
    return rows


def _last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{…}`` (or ``\\fbox{…}``), braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return text[i:j - 1].strip() if depth == 0 else None


def from_hub_row(raw: dict[str, Any]) -> dict[str, Any]:
    """``{question, answer}`` from the usual math sets' rows, whatever their hub format:

    - GSM8K: ``question``, ``answer`` ending in ``#### 72``;
    - MATH / MATH-500: ``problem``, ``solution`` with a final ``\\boxed{}`` (or an ``answer`` field);
    - DAPO-Math-17k / verl parquet: ``prompt`` as chat messages, ``reward_model.ground_truth``;
    - already ours: ``prompt`` or ``question`` with ``answer``.
    Other fields are kept; a row that has no readable answer raises, naming the keys it has."""
    row = dict(raw)
    prompt = row.pop("question", None) or row.pop("problem", None) or row.get("prompt")
    if isinstance(prompt, list):  # chat messages: the last user turn
        users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        prompt = users[-1] if users else None
    answer = row.get("answer")
    if isinstance(answer, str) and "####" in answer:
        answer = answer.rsplit("####", 1)[1].strip().replace(",", "")
    if answer in (None, "") and isinstance(row.get("solution"), str):
        answer = _last_boxed(row["solution"])
    reward_model = row.get("reward_model")
    if answer in (None, "") and isinstance(reward_model, dict):
        answer = reward_model.get("ground_truth")
    if not isinstance(prompt, str) or not prompt.strip() or answer in (None, ""):
        raise ValueError(f"not a math row with a question and an answer (keys: {', '.join(sorted(map(str, raw)))})")
    row.pop("prompt", None)
    return {**row, "question": prompt.strip(), "answer": str(answer).strip()}
