"""Length scores and length rewards (docs/reference.md §2), as pure functions of lengths.

Notation: ``required`` is x, the requested length; ``produced`` is y, the produced length, both
under the same counter. Every function takes named arguments so x and y cannot be swapped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "length_score",
    "log_ratio_reward",
    "lwz_range_reward",
    "lcpo_exact_reward",
    "lcpo_max_reward",
    "dapo_overlong_penalty",
    "cosine_length_reward",
    "kimi_length_penalty",
    "lifebench_length_score",
    "lifebench_length_score_released",
    "constraint_length_score",
    "score_constraint",
]


def length_score(required: float, produced: float) -> float:
    """LongBench-Write's length score S_l in [0, 100].

    ``S_l = 100·max(0, 1 − (y/x − 1)/3)`` when y > x (too long), else
    ``100·max(0, 1 − (x/y − 1)/2)`` (too short). We define y = 0 → 0, where the reference script
    divides by zero. Source: Bai et al., *LongWriter* (2024), LongBench-Write.

    Raises ``ValueError`` when ``required`` is not positive.

    >>> length_score(required=1000, produced=800)
    87.5
    >>> round(length_score(required=1000, produced=1500), 4)
    83.3333
    >>> length_score(required=1000, produced=0)
    0.0
    """
    if not required or required <= 0 or math.isnan(required):
        raise ValueError(f"required length must be positive, got {required!r}")
    if produced is None or not math.isfinite(produced) or produced <= 0:
        return 0.0
    if produced > required:
        return 100.0 * max(0.0, 1.0 - (produced / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / produced - 1.0) / 2.0)


def log_ratio_reward(required: float, produced: float, octaves: float = 1.0) -> float:
    """A length reward symmetric in the ratio: ``max(0, 1 − |log2(y/x)| / octaves)``, 1 on target and 0 at
    ``2**octaves`` times too long or too short (docs/reference.md §2).

    Why beside S_l: S_l forgives overshoot (1.5x → 0.83) more than undershoot (0.67x → 0.75), so a policy
    sampled around a target earns more by erring long; RL on S_l lengthened answers that already hit their
    length. Here 1.5x and 1/1.5x cost the same (0.415), and the slope near the target is steeper.

    >>> round(log_ratio_reward(100, 150), 4), round(log_ratio_reward(100, 75), 4), log_ratio_reward(100, 200)
    (0.415, 0.585, 0.0)
    >>> log_ratio_reward(100, 100), log_ratio_reward(100, 0)
    (1.0, 0.0)
    """
    if not required or required <= 0 or math.isnan(required):
        raise ValueError(f"required length must be positive, got {required!r}")
    if octaves <= 0:
        raise ValueError(f"octaves must be positive, got {octaves!r}")
    if produced is None or not math.isfinite(produced) or produced <= 0:
        return 0.0
    return max(0.0, 1.0 - abs(math.log2(produced / required)) / octaves)


def lwz_range_reward(produced: float, lo: float, hi: float, max_length: float) -> float:
    """LongWriter-Zero's range reward: 1 inside [lo, hi], y/lo below, a linear fall to 0 at L_max above.

    ``r = 1`` if lo ≤ y ≤ hi; ``y/lo`` if y < lo; ``max(0, (L_max − y)/(L_max − hi))`` if y > hi.
    Source: Wu et al., *LongWriter-Zero* (2025).

    >>> lwz_range_reward(900, lo=1800, hi=2200, max_length=12000)
    0.5
    >>> lwz_range_reward(7100, lo=1800, hi=2200, max_length=12000)
    0.5
    """
    if not (0 <= lo <= hi < max_length):
        raise ValueError(f"need 0 <= lo <= hi < max_length, got lo={lo}, hi={hi}, max_length={max_length}")
    if produced < lo:
        return produced / lo if lo > 0 else 1.0
    if produced <= hi:
        return 1.0
    return max(0.0, (max_length - produced) / (max_length - hi))


def lcpo_exact_reward(correct: bool, target_tokens: float, produced_tokens: float, alpha: float = 3e-4) -> float:
    """L1 / LCPO-Exact: ``1[correct] − α·|n_t − n_y|`` (Aggarwal & Welleck, 2025).

    >>> round(lcpo_exact_reward(True, target_tokens=1000, produced_tokens=1500), 6)
    0.85
    """
    return float(bool(correct)) - alpha * abs(target_tokens - produced_tokens)


def lcpo_max_reward(
    correct: bool, target_tokens: float, produced_tokens: float, alpha: float = 3e-4, delta: float = 0.5
) -> float:
    """L1 / LCPO-Max: ``1[correct]·clip(α·(n_t − n_y) + δ, 0, 1)`` (Aggarwal & Welleck, 2025).

    >>> lcpo_max_reward(True, target_tokens=1000, produced_tokens=1000)
    0.5
    """
    return float(bool(correct)) * min(1.0, max(0.0, alpha * (target_tokens - produced_tokens) + delta))


def dapo_overlong_penalty(produced: float, max_length: float, cache_length: float) -> float:
    """DAPO's soft overlong punishment (Yu et al., 2025), in [−1, 0].

    0 when y ≤ L_max − L_cache; ``((L_max − L_cache) − y)/L_cache`` inside the buffer; −1 beyond L_max.

    >>> dapo_overlong_penalty(90, max_length=100, cache_length=20)
    -0.5
    """
    if not (0 < cache_length <= max_length):
        raise ValueError(f"need 0 < cache_length <= max_length, got {cache_length}, {max_length}")
    expected = max_length - cache_length
    if produced <= expected:
        return 0.0
    if produced <= max_length:
        return (expected - produced) / cache_length
    return -1.0


def cosine_length_reward(
    produced: float,
    correct: bool,
    max_length: float,
    correct_short: float = 2.0,
    correct_long: float = 1.0,
    wrong_short: float = -10.0,
    wrong_long: float = 0.0,
    exceed: float = -10.0,
) -> float:
    """Cosine length-scaled reward (Yeo et al., *Demystifying Long CoT*, 2025).

    ``r = lo + ½(hi − lo)(1 + cos(π·y/L_max))`` with (hi, lo) = (r0, rL): correct (2, 1), wrong (−10, 0);
    past L_max the reward is ``exceed``.

    >>> cosine_length_reward(50, correct=True, max_length=100)
    1.5
    >>> cosine_length_reward(50, correct=False, max_length=100)
    -5.0
    """
    if produced > max_length:
        return exceed
    at_zero, at_max = (correct_short, correct_long) if correct else (wrong_short, wrong_long)
    return at_max + 0.5 * (at_zero - at_max) * (1.0 + math.cos(math.pi * produced / max_length))


def kimi_length_penalty(lengths: Sequence[float], correct: Sequence[bool]) -> list[float]:
    """Kimi k1.5 group length penalty: λ_i = 0.5 − (len_i − min)/(max − min); λ_i if correct,
    min(0, λ_i) if wrong; all lengths equal → 0 for everyone.

    >>> kimi_length_penalty([100, 200, 300], [True, True, False])
    [0.5, 0.0, -0.5]
    """
    if len(lengths) != len(correct):
        raise ValueError(f"lengths ({len(lengths)}) and correct ({len(correct)}) differ in size")
    if not lengths:
        return []
    shortest, longest = min(lengths), max(lengths)
    if longest == shortest:
        return [0.0] * len(lengths)
    out = []
    for n, ok in zip(lengths, correct, strict=True):
        lam = 0.5 - (n - shortest) / (longest - shortest)
        out.append(lam if ok else min(0.0, lam))
    return out


def _check_bound(name: str, value: float | None) -> float:
    if value is None or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def lifebench_length_score(required: float, produced: float, kind: str = "exact") -> float:
    """LIFEBench's length score LS in [0, 100] (Zhang et al., *LIFEBench*, 2025; docs/reference.md §6).

    Deviation ``LD = (y − x)/x`` as a fraction; ``LS = 100·e^{5·LD}`` when LD < 0 (too short) and
    ``100·e^{−2·LD}`` when LD ≥ 0 (too long). ``kind="max"`` scores 100 whenever LD ≤ 0 and
    ``kind="min"`` whenever LD ≥ 0; ``exact``/``about`` use both branches. x = ``required``,
    y = ``produced``. Raises ``ValueError`` when ``required`` is not positive.

    >>> round(lifebench_length_score(required=100, produced=80), 3)
    36.788
    >>> round(lifebench_length_score(required=100, produced=120), 3)
    67.032
    >>> lifebench_length_score(required=100, produced=80, kind="max")
    100.0
    """
    x = _check_bound("required", required)
    if kind not in ("exact", "about", "min", "max"):
        raise ValueError(f"kind must be exact, about, min or max, got {kind!r}")
    y = produced if produced is not None and math.isfinite(produced) and produced > 0 else 0.0
    deviation = (y - x) / x
    if (kind == "max" and deviation <= 0) or (kind == "min" and deviation >= 0):
        return 100.0
    return 100.0 * math.exp(5.0 * deviation) if deviation < 0 else 100.0 * math.exp(-2.0 * deviation)


def lifebench_length_score_released(required: float, produced: float, kind: str = "exact") -> float:
    """LIFEBench's length score as its released evaluation script computes it: LD in *percent*
    (``100·(y − x)/x``) under the same exponents, so a 10% overshoot scores ``100·e^{−20}`` ≈ 0.
    Only for comparing with published LIFEBench tables (docs/reference.md §6).

    >>> lifebench_length_score_released(required=100, produced=100)
    100.0
    >>> lifebench_length_score_released(required=100, produced=110) < 1e-6
    True
    """
    x = _check_bound("required", required)
    y = produced if produced is not None and math.isfinite(produced) and produced > 0 else 0.0
    percent = 100.0 * (y - x) / x
    if (kind == "max" and percent <= 0) or (kind == "min" and percent >= 0):
        return 100.0
    return 100.0 * math.exp(5.0 * percent) if percent < 0 else 100.0 * math.exp(-2.0 * percent)


def constraint_length_score(kind: str, produced: float, lo: float | None = None, hi: float | None = None,
                            target: float | None = None) -> float:
    """Constraint-aware S_l in [0, 100] (ours; docs/reference.md §6): S_l where the request is
    "about x", full marks wherever a bound is satisfied otherwise.

    exact/about → S_l(target, y); min → 100 if y ≥ lo else S_l(lo, y); max → 100 if y ≤ hi else
    S_l(hi, y); range → 100 if lo ≤ y ≤ hi, else S_l against the violated bound. y ≤ 0 → 0.

    >>> constraint_length_score("max", 300, hi=500)
    100.0
    >>> round(constraint_length_score("min", 600, lo=800), 3)
    83.333
    >>> round(constraint_length_score("range", 900, lo=400, hi=600), 3)
    83.333
    """
    if produced is None or not math.isfinite(produced) or produced <= 0:
        return 0.0
    if kind in ("exact", "about"):
        return length_score(required=_check_bound("target", target), produced=produced)
    if kind == "min":
        bound = _check_bound("lo", lo)
        return 100.0 if produced >= bound else length_score(required=bound, produced=produced)
    if kind == "max":
        bound = _check_bound("hi", hi)
        return 100.0 if produced <= bound else length_score(required=bound, produced=produced)
    if kind == "range":
        low, high = _check_bound("lo", lo), _check_bound("hi", hi)
        if low > high:
            raise ValueError(f"range needs lo <= hi, got {low} > {high}")
        if produced < low:
            return length_score(required=low, produced=produced)
        if produced > high:
            return length_score(required=high, produced=produced)
        return 100.0
    raise ValueError(f"kind must be exact, about, min, max or range, got {kind!r}")


def score_constraint(constraint, produced: float, method: str = "constraint") -> float | None:
    """Score ``produced`` counted words against a ``LengthConstraint`` (``lengthwise.constraints``):
    ``method="constraint"`` is ``constraint_length_score``, ``"lifebench"`` LIFEBench's LS (a range
    scores 100 inside and the violated bound's branch outside), ``"lifebench_released"`` the
    released script's percent variant, ``"S_l"`` plain S_l against the target. ``None`` when the
    constraint's unit does not convert to counted words."""
    c = constraint.in_words()
    if c is None:
        return None
    if method == "S_l":
        return length_score(required=c.target, produced=produced)
    if method == "constraint":
        return constraint_length_score(c.kind, produced, lo=c.lo, hi=c.hi, target=c.target)
    if method not in ("lifebench", "lifebench_released"):
        raise ValueError(f"method must be constraint, lifebench, lifebench_released or S_l, got {method!r}")
    fn = lifebench_length_score if method == "lifebench" else lifebench_length_score_released
    if c.kind == "range":
        if produced is not None and c.lo <= produced <= c.hi:
            return 100.0
        below = produced is None or produced < c.lo
        return fn(required=c.lo if below else c.hi, produced=produced, kind="exact")
    return fn(required=c.target, produced=produced, kind=c.kind)
