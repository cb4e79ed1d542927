"""Arena: both orders, Bradley–Terry with bootstrap intervals, known strengths recovered, resumable."""

from __future__ import annotations

import hashlib
import json
import math
import random

import numpy as np
import pytest
from scipy.stats import spearmanr

from browser import check_report
from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.evaluation.arena import ELO_SCALE, Comparison, fit_bradley_terry
from lengthwise.jobs.arena import run_arena
from lengthwise.judging.pairwise import (
    CallablePairJudge,
    GeneratorPairJudge,
    ProbabilityPairJudge,
    parse_pairwise_reply,
)
from scripted import ScriptedGenerator

STRENGTH = {f"s{k}": 0.45 * k for k in range(6)}  # log-strengths, spaced enough to be told apart


def _systems(tmp_path, n_prompts: int, names=STRENGTH) -> list:
    paths = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in names:
        rows = [
            {"id": f"p{k}", "prompt": f"Prompt {k}", "response": f"{name}|{k}", "model": name} for k in range(n_prompts)
        ]
        paths.append(write_jsonl(tmp_path / f"{name}.jsonl", rows))
    return paths


def _simulated_judge(seed: int = 0, position_bias: float = 0.3) -> CallablePairJudge:
    """Bradley–Terry outcomes from known strengths, plus a pull towards the first-shown answer; each
    (prompt, A, B) draws its own fixed random number, so the outcomes do not depend on call order."""

    def fn(prompt, a, b):
        d = STRENGTH[a.split("|")[0]] - STRENGTH[b.split("|")[0]] + position_bias
        u = random.Random(hashlib.sha256(f"{seed}|{prompt}|{a}|{b}".encode()).digest()).random()
        return float(u < 1 / (1 + math.exp(-d)))

    return CallablePairJudge(fn, name=f"sim{seed}")


@pytest.mark.parametrize("reply, outcome", [("A is better.\n[[A]]", 1.0), ("[[B]]", 0.0), ("tie\n[[C]]", 0.5),
                                            ("first [[B]] then on reflection\n[[A]]", 1.0)])
def test_pairwise_replies_parse(reply, outcome):
    assert parse_pairwise_reply(reply) == outcome


@pytest.mark.parametrize("reply", ["", "A wins", "[[A]] [[B]]", "[[D]]"])
def test_unreadable_pairwise_replies_raise(reply):
    with pytest.raises(ValueError):
        parse_pairwise_reply(reply)


def test_bradley_terry_two_systems_matches_the_closed_form():
    # 3 wins of 4: θ_a − θ_b = ln 3 (up to the tiny L2 pull), rating gap 400·log10(3)
    comps = [Comparison("p", "a", "b", s) for s in (1, 1, 1, 0)]
    r = fit_bradley_terry(comps, ["a", "b"], anchor="b")
    assert r["b"] == 1000
    assert r["a"] - 1000 == pytest.approx(math.log(3) * ELO_SCALE, rel=2e-3)


def test_all_ties_give_equal_ratings():
    comps = [Comparison(f"p{k}", a, b, 0.5) for k in range(20) for a, b in (("x", "y"), ("y", "z"), ("x", "z"))]
    ratings = fit_bradley_terry(comps, ["x", "y", "z"])
    assert all(v == pytest.approx(1000, abs=1e-6) for v in ratings.values())


def test_a_clean_sweep_stays_finite():
    r = fit_bradley_terry([Comparison(f"p{k}", "a", "b", 1.0) for k in range(50)], ["a", "b"], anchor="b")
    assert math.isfinite(r["a"]) and r["a"] > 1400


def test_swapping_every_pair_order_changes_nothing(tmp_path):
    paths = _systems(tmp_path, 30)
    first = run_arena(
        paths, tmp_path / "one", _simulated_judge(position_bias=0.0), n_bootstrap=20, progress=False, report=False
    )
    swapped = run_arena(list(reversed(paths)), tmp_path / "two", _simulated_judge(position_bias=0.0), n_bootstrap=20,
                        anchor="s0", progress=False, report=False)
    # the same judge outcomes (same prompts, same pairs, same orders) in reversed input order
    one = {r["system"]: r["rating"] for r in first["leaderboard"]}
    two = {r["system"]: r["rating"] for r in swapped["leaderboard"]}
    assert one.keys() == two.keys()
    for name in one:
        assert one[name] == pytest.approx(two[name], abs=1e-3)


def test_order_swap_is_invariant_for_a_deterministic_judge():
    comps = [Comparison("p1", "a", "b", 0.75), Comparison("p2", "b", "c", 0.4), Comparison("p3", "a", "c", 1.0)]
    swapped = [Comparison(c.prompt, c.j, c.i, 1 - c.score) for c in comps]
    r1, r2 = fit_bradley_terry(comps, ["a", "b", "c"], "a"), fit_bradley_terry(swapped, ["a", "b", "c"], "a")
    assert all(r1[s] == pytest.approx(r2[s], abs=1e-6) for s in r1)


def test_known_strengths_are_recovered_and_intervals_narrow(tmp_path):
    big = run_arena(_systems(tmp_path / "big", 200), tmp_path / "a200", _simulated_judge(1), n_bootstrap=100,
                    progress=False, report=False)
    ratings = {r["system"]: r["rating"] for r in big["leaderboard"]}
    rho = spearmanr([STRENGTH[s] for s in ratings], list(ratings.values())).statistic
    assert rho >= 0.95
    small = run_arena(_systems(tmp_path / "small", 25), tmp_path / "a25", _simulated_judge(1), n_bootstrap=100,
                      progress=False, report=False)
    width = lambda s: np.mean([r["high"] - r["low"] for r in s["leaderboard"] if r["system"] != "s0"])  # noqa: E731
    assert width(big) < 0.6 * width(small)
    for r in big["leaderboard"]:
        assert r["low"] <= r["rating"] <= r["high"]


def test_arena_judge_failures_are_counted_and_resume_asks_only_the_missing(tmp_path):
    paths = _systems(tmp_path, 4, names=["s0", "s1"])
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        return None if calls["n"] % 3 == 0 else "[[A]]"

    judge = GeneratorPairJudge(ScriptedGenerator(flaky), max_attempts=1, name="flaky")
    summary = run_arena(paths, tmp_path / "out", judge, n_bootstrap=10, progress=False, report=False)
    assert summary["requested"] == 8
    assert summary["judge_failures"]["count"] == 8 - summary["judged"] > 0
    steady = GeneratorPairJudge(ScriptedGenerator(lambda r: "[[A]]"), max_attempts=1, name="flaky")
    again = run_arena(paths, tmp_path / "out", steady, n_bootstrap=10, progress=False, report=False)
    assert again["judged"] == 8 and again["judge_failures"]["count"] == 0
    assert steady.generator.calls == summary["judge_failures"]["count"]
    rows = [json.loads(x) for x in (tmp_path / "out" / "comparisons.jsonl").read_text().splitlines()]
    finished = [r for r in rows if r["outcome"] is not None]
    assert len(finished) == len({r["key"] for r in finished}) == 8
    # the first run's failures stay on disk (append-only) with their reason, superseded by the rerun
    assert len(rows) - 8 == summary["judge_failures"]["count"] and all(r["error"] for r in rows if r["outcome"] is None)


def test_arena_write_rows_load_as_the_baseline(tmp_path):
    base = write_jsonl(tmp_path / "arena.jsonl", [
        {"idx": k, "question": f"Prompt {k}", "type": "essay", "length": 100, "baseline_response": f"base {k}"}
        for k in range(3)])
    ours = write_jsonl(tmp_path / "ours.jsonl", [{"id": k, "prompt": f"Prompt {k}", "response": f"ours {k} longer",
                                                  "model": "ours"} for k in range(3)])
    judge = CallablePairJudge(lambda p, a, b: float(len(a) > len(b)), name="longer")
    summary = run_arena([base, ours], tmp_path / "out", judge, n_bootstrap=10, progress=False, report=False)
    assert summary["systems"] == ["baseline", "ours"] and summary["anchor"] == "baseline"
    board = {r["system"]: r for r in summary["leaderboard"]}
    assert board["baseline"]["rating"] == 1000 and board["ours"]["rating"] > 1000


def test_probability_pair_judge_outputs_a_probability(tiny_model_dir):
    judge = ProbabilityPairJudge(model_spec=str(tiny_model_dir), device="cpu", max_context=128)
    [v] = judge.compare([("Write.", "one " * 300, "two")])
    assert 0 <= v.outcome <= 1


def test_arena_cli_with_local_judge_and_report(tiny_model_dir, tmp_path, capsys):
    paths = _systems(tmp_path, 3, names=["s0", "s1", "s2"])
    code = main(["arena", *map(str, paths), "--out", str(tmp_path / "out"), "--judge", str(tiny_model_dir),
                 "--bootstrap", "20", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "arena: 3 systems, 3 prompts" in out
    board = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    assert len(board["leaderboard"]) == 3 and board["judged"] == 18
    seen = check_report(tmp_path / "out" / "report.html", tmp_path / "shot.png")
    assert seen["images"] and all(w > 0 for _, w in seen["images"]) and seen["sample_opened"]


def test_arena_needs_two_systems_and_shared_prompts(tmp_path, capsys):
    [one] = _systems(tmp_path, 2, names=["s0"])
    assert main(["arena", str(one), "--out", str(tmp_path / "o"), "--judge", "http://127.0.0.1:9/v1",
                 "--judge-model", "x"]) == 2
    assert "at least two" in capsys.readouterr().err
    other = write_jsonl(tmp_path / "o.jsonl", [{"id": "zzz", "prompt": "p", "response": "r", "model": "o"}])
    assert main(["arena", str(one), str(other), "--out", str(tmp_path / "o"), "--judge", "http://127.0.0.1:9/v1",
                 "--judge-model", "x"]) == 2
    assert "share no prompt ids" in capsys.readouterr().err
