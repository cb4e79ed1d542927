"""Worked solutions of any length for the problems of ``lengthwise.tasks``, written by the task's own solver.

Why: the reasoning warm start teaches the mapping from L1's "Think for N tokens." to a length by examples whose
stated N is the length they have (hindsight labels). A 135M model's own correct answers cover that range
poorly (of 192 sampled answers, 59 were usable and most were under 30 tokens), and sampling costs minutes per
batch on a CPU. The generator knows each problem's structure, so it can write correct solutions at every
verbosity: the bare result, then the working step by step, then checks by other routes (the reverse order,
the inverse operation, a recount), added in a fixed order until the solution reaches a target length. The fixed
order is the point: a longer budget always means the same kind of extra work, which is what a small model can
learn to read from the number.

Pure: parsing is of the question text ``tasks`` writes (a question of another form returns None); token counts
come from the caller's ``count`` (the policy's tokenizer).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["solution_parts", "worked_solution", "solver_examples"]

# (the working every solution shows, the extra work in the order it is added, each piece named for the plan line)
Parts = tuple[list[str], list[tuple[str, str]]]


def _sum(question: str, answer: int) -> Parts | None:
    m = re.fullmatch(r"What is (\d+(?: [+-] \d+)+)\?", question)
    if not m:
        return None
    tokens = m.group(1).split()
    signed = zip(tokens[1::2], tokens[2::2], strict=True)
    terms = [int(tokens[0])] + [int(v) if op == "+" else -int(v) for op, v in signed]
    running, lines = terms[0], []
    for t in terms[1:]:
        lines.append(f"{running} {'+' if t >= 0 else '-'} {abs(t)} = {running + t}.")
        running += t
    extra = [("restate", f"We need the value of {m.group(1)}, so we combine the {len(terms)} numbers from left to "
                         "right.")]
    last = terms[-1]
    if 0 < last <= 12:
        start = running - last
        extra.append(("count up", f"Counting up {last} from {start}: "
                      + ", ".join(str(start + k) for k in range(1, last + 1)) + "."))
    rev = list(reversed(terms))
    total, steps = rev[0], []
    for t in rev[1:]:
        steps.append(f"{total} {'+' if t >= 0 else '-'} {abs(t)} = {total + t}")
        total += t
    if all(t >= 0 for t in terms):
        extra.append(("reverse check", f"Check in the reverse order: {', '.join(steps)}. That is {answer} again."))
    extra.append(("inverse check", f"Check with the inverse operation: {answer} {'-' if last >= 0 else '+'} "
                  f"{abs(last)} = {answer - last}, which is the value before the last step, so it matches."))
    extra.append(("digit check", f"The result {answer} is {'even' if answer % 2 == 0 else 'odd'}, and the ones "
                  f"digits {' and '.join(str(abs(t) % 10) for t in terms)} give {abs(sum(terms)) % 10} as its ones "
                  "digit, as expected."))
    return lines, extra


def _compare(question: str, answer: int) -> Parts | None:
    m = re.fullmatch(r"Which number is the largest: ([\d, ]+) or (\d+)\?", question)
    if not m:
        return None
    values = [int(v) for v in m.group(1).split(", ")] + [int(m.group(2))]
    top = max(values)
    lines = [f"{top} is larger than " + ", ".join(str(v) for v in values if v != top) + "."]
    extra = [("restate", f"We compare the numbers {', '.join(map(str, values))} and keep the largest.")]
    best = values[0]
    for v in values[1:]:
        extra.append(("pairs", f"{best} against {v}: {max(best, v)} is larger."))
        best = max(best, v)
    extra.append(("difference check", "Check with differences: "
                  + "; ".join(f"{top} - {v} = {top - v}" for v in values if v != top) + ". Each difference is "
                  "positive."))
    extra.append(("order check", "In order from smallest to largest: " + ", ".join(map(str, sorted(values)))
                  + f". The last one is {top}."))
    extra.append(("digit check", "Digits: " + ", ".join(f"{v} has {len(str(v))}" for v in values)
                  + ". More digits means larger; with equal digits the first digit decides."))
    return lines, extra


def _next(question: str, answer: int) -> Parts | None:
    if m := re.fullmatch(r"What number comes right (after|before) (\d+)\?", question):
        n, step = int(m.group(2)), 1 if m.group(1) == "after" else -1
        sign = "+" if step > 0 else "-"
        lines = [f"{n} {sign} 1 = {n + step}."]
        extra = [("restate", f"The number right {m.group(1)} a number is one {'more' if step > 0 else 'less'}."),
                 ("count", "Counting: " + ", ".join(str(n + k * step) for k in range(-3, 2)) + "."),
                 ("inverse check", f"Check: {n + step} {'-' if step > 0 else '+'} 1 = {n}, the number we started "
                                   "from.")]
        return lines, extra
    if m := re.fullmatch(r"What number comes next: ([\d, ]+), \.\.\.\?", question):
        seq = [int(v) for v in m.group(1).split(", ")]
        step = seq[1] - seq[0]
        lines = [f"The numbers go up by {step}, so {seq[-1]} + {step} = {seq[-1] + step}."]
        differences = ", ".join(f"{b} - {a} = {b - a}" for a, b in zip(seq, seq[1:], strict=False))
        extra = [("differences", f"Differences: {differences}."),
                 ("rule", f"Every difference is {step}, so the rule is: add {step}."),
                 ("step check", f"Check: {seq[-1] + step} - {seq[-1]} = {step}, the same step."),
                 ("continue", f"The sequence continues {seq[-1] + step}, {seq[-1] + 2 * step}, "
                              f"{seq[-1] + 3 * step}.")]
        return lines, extra
    return None


def _convert(question: str, answer: int) -> Parts | None:
    from lengthwise.tasks import _UNITS

    m = re.fullmatch(r"How many (\w+) are (?:in|left from) (\d+) (\w+)(?:, (\d+) \w+)?(?:,? and (\d+) \w+)?"
                     r"(?: together)?(?: after (\d+) \w+ are used)?\?", question)
    if not m:
        return None
    small, amount, big = m.group(1), int(m.group(2)), m.group(3)
    factor = next((f for b, s, f in _UNITS if b == big and s == small), None)
    if factor is None:
        return None
    other, extra_small, used = (int(g) if g else 0 for g in m.group(4, 5, 6))
    whole = amount + other
    lines = []
    if other:
        lines.append(f"{amount} + {other} = {whole} {big}.")
    lines.append(f"{whole} x {factor} = {whole * factor} {small}.")
    total = whole * factor
    if extra_small:
        lines.append(f"{total} + {extra_small} = {total + extra_small} {small}.")
        total += extra_small
    if used:
        lines.append(f"{total} - {used} = {total - used} {small}.")
    extra = [("unit", f"One {big[:-1] if big.endswith('s') else big} is {factor} {small}."),
             ("inverse check", f"Check: {whole * factor} / {factor} = {whole}, the number of {big}."),
             ("second way", f"Another way: {whole} x {factor} = {whole} x {factor // 2 or 1} x "
                            f"{2 if factor % 2 == 0 else factor} = {whole * factor}.")]
    return lines, extra


def _word_problem(question: str, answer: int) -> Parts | None:
    sentences = re.findall(r"[^.?]+[.?]", question)
    first = re.fullmatch(r"(\w+) has (\d+) (\w+)\.", sentences[0].strip()) if sentences else None
    if not first:
        return None
    name, count, item = first.group(1), int(first.group(2)), first.group(3)
    lines, history = [], [count]
    for s in sentences[1:-1]:
        s = s.strip()
        if m := re.fullmatch(rf"{name} gets (\d+) more\.", s):
            lines.append(f"{count} + {m.group(1)} = {count + int(m.group(1))}.")
            count += int(m.group(1))
        elif m := re.fullmatch(rf"{name} gives (\d+) to \w+\.", s):
            lines.append(f"{count} - {m.group(1)} = {count - int(m.group(1))}.")
            count -= int(m.group(1))
        elif "doubles" in s:
            lines.append(f"{count} x 2 = {2 * count}.")
            count *= 2
        else:
            return None
        history.append(count)
    extra = [("restate", f"{name} starts with {history[0]} {item}."),
             ("track", f"After each step {name} has " + ", ".join(map(str, history)) + f" {item}."),
             ("backward check", f"Check backwards: undoing the steps from {count} gives "
                                + ", ".join(map(str, reversed(history))) + f", and we are back at {history[0]}.")]
    return lines, extra


def _count(question: str, answer: int) -> Parts | None:
    m = re.fullmatch(r'How many times does the letter "(\w)" appear in the words? "([a-z ]+)"\?', question)
    if not m:
        return None
    letter, words = m.group(1), m.group(2).split()
    lines = [" + ".join(str(w.count(letter)) for w in words) + f" = {answer}." if len(words) > 1
             else f'"{letter}" appears {answer} times.']
    extra = [("restate", f'We look for "{letter}" in ' + ", ".join(words) + ".")]
    extra += [("spell", f"{w}: " + " ".join(c.upper() if c == letter else c for c in w) + f" has {w.count(letter)}.")
              for w in words]
    extra.append(("position check", "Check by position: " + "; ".join(
        f"{w} at " + (", ".join(str(i + 1) for i, c in enumerate(w) if c == letter) or "none") for w in words)
        + "."))
    return lines, extra


_SOLVERS: dict[str, Callable[[str, int], Parts | None]] = {
    "sum": _sum, "compare": _compare, "next": _next, "convert": _convert, "word_problem": _word_problem,
    "count": _count}


def solution_parts(question: str, answer: Any, kind: str) -> Parts | None:
    """The working a solution always shows and the extra work in the order it is added, or None when the
    question is not one ``lengthwise.tasks`` writes (or the solver's result disagrees with ``answer``)."""
    solver = _SOLVERS.get(kind)
    try:
        value = int(str(answer))
    except ValueError:
        return None
    parts = solver(question.strip(), value) if solver else None
    if parts is None or str(value) not in parts[0][-1]:
        return None
    return parts


def worked_solution(parts: Parts, answer: Any, extras: int, checks_again: int = 0, plan: bool = False,
                    budget: int | None = None) -> str:
    """The solution with the first ``extras`` pieces of extra work (the first, a restatement, goes before the
    working; the rest after it) and ``checks_again`` closing re-statements of the working.

    ``plan`` opens with a line naming the pieces in order ("Plan for 40 tokens: restate, work, count up.", the
    budget restated when given): the length is decided once, and the rest is following a list. The restated
    budget puts the number right before the choice it decides: with "Plan: …" alone, a warm-started SmolLM2
    chose the same long plan at every budget (``benchmarks/results/reasoning.json``, attempts)."""
    core, extra = parts
    chosen = extra[:extras]
    named = chosen[:1] + [("work", line) for line in core] + chosen[1:]
    lines = [text for _, text in named]
    for k in range(checks_again):
        named.append(("recheck", ""))
        lines.append(("Checking the working once more: " if k == 0 else "And again: ") + " ".join(core))
    lines.append(f"The answer is \\boxed{{{answer}}}.")
    if plan:
        names = [name for k, (name, _) in enumerate(named) if name != "work" or named[k - 1][0] != "work" or k == 0]
        lines.insert(0, ("Plan: " if budget is None else f"Plan for {budget} tokens: ") + ", ".join(names) + ".")
    return "\n".join(lines)


def _settled(parts: Parts, answer: Any, shape: tuple[int, int], guess: int, count: Callable[[str], int],
             plan: bool) -> tuple[str, int] | None:
    """The solution of ``shape`` and its length; with a plan line, the number it restates is its own length,
    settled by iterating from ``guess`` (the number's digits change the count). None if it does not settle."""
    length = guess
    for _ in range(4):
        text = worked_solution(parts, answer, *shape, plan=plan, budget=length if plan else None)
        if count(text) + 1 == length or not plan:
            return text, count(text) + 1
        length = count(text) + 1
    return None


def solver_examples(rows: Sequence[dict[str, Any]], n: int, count: Callable[[str], int], low: int, high: int,
                    seed: int = 0, plan: bool = True) -> list[dict[str, Any]]:
    """``n`` chat rows (cycling over ``rows``, each with ``question``, ``answer``, ``kind``, ``id``): a target
    length drawn log-uniformly from ``low``..``high`` tokens, the solution whose length is nearest to it, and the
    question restated with L1's exact budget at the length the solution *has* (``count(text) + 1``: the
    end-of-turn token, as the generator counts it). Rows without a solver are skipped; one row per distinct
    (problem, length)."""
    from lengthwise.tasks import budget_prompt

    rng = random.Random(f"lengthwise-traces:{seed}")
    usable = [(r, p) for r in rows if (p := solution_parts(r["question"], r["answer"], str(r.get("kind")))) is not None]
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for k in range(n * 3):  # a few spare draws: short targets of one problem repeat its lengths
        if len(out) >= n or not usable:
            break
        row, parts = usable[k % len(usable)]
        target = math.exp(rng.uniform(math.log(low), math.log(high)))
        # rechecks with any number of extras, not only after all of them: the lengths then fill the gaps a whole
        # extra piece leaves (sums had no solution between 32 and 56 tokens, nor near 64, the grid's middle budget)
        shapes = [(e, again) for again in range(4) for e in range(len(parts[1]) + 1)]
        shape = min(shapes, key=lambda sh: abs(
            count(worked_solution(parts, row["answer"], *sh, plan=plan, budget=round(target))) + 1 - target))  # noqa: B023
        settled = _settled(parts, row["answer"], shape, round(target), count, plan)
        if settled is None:
            continue
        text, length = settled
        if (str(row["id"]), length) in seen:
            continue
        seen.add((str(row["id"]), length))
        out.append({"id": f"{row['id']}#{length}", "target_tokens": length, "source": "solver", "messages": [
            {"role": "user", "content": budget_prompt(row["question"], length, "exact")},
            {"role": "assistant", "content": text}]})
    return out
