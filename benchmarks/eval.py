"""Benchmark (P4): `lengthwise eval` without a judge on 120 responses of mixed length (up to 20,000
words each) within 30 s on 2 cores, and its S_l identical to a straightforward reimplementation of
LongBench-Write's reference length scoring, in the same run. Figures: benchmarks/results/eval.json.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _common import goal, write_results  # noqa: E402

from lengthwise.cli import main as cli  # noqa: E402
from lengthwise.synthetic import honest_text  # noqa: E402

N = 120


def reference_count(text: str) -> int:
    """LongBench-Write's counter as its script writes it: CJK ideographs plus ASCII words."""
    return len(re.findall(r"[\u4e00-\u9fff]", text)) + len(re.findall(r"\b[a-zA-Z]+\b", text))


def reference_score(x: float, y: float) -> float:
    if y == 0:  # the reference divides by zero here; the defined value is 0
        return 0.0
    if y > x:
        return 100 * max(0.0, 1.0 - (y / x - 1) / 3)
    return 100 * max(0.0, 1.0 - (x / y - 1) / 2)


def make_responses(path: Path) -> list[dict]:
    rng = random.Random(0)
    rows = []
    for k in range(N):
        lang = "zh" if k % 4 == 3 else "en"
        produced = int(math.exp(rng.uniform(math.log(50), math.log(20000))))
        required = int(produced * math.exp(rng.uniform(-0.9, 0.9)))
        text = honest_text(k, language=lang, words=produced)[0]
        stated_in_prompt = k % 5 == 0
        prompt = (
            (f"写一篇文章，字数约{required}字。" if lang == "zh" else f"Write about {required} words on topic {k}.")
            if stated_in_prompt
            else f"Write on topic {k}."
        )
        row = {"id": f"r{k}", "prompt": prompt, "response": text, "type": ["essay", "story", "report"][k % 3]}
        if not stated_in_prompt:
            row["length"] = required
        rows.append(row)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = make_responses(tmp / "responses.jsonl")
        words_total = sum(reference_count(r["response"]) for r in rows)
        started = time.perf_counter()
        code = cli(["eval", str(tmp / "responses.jsonl"), "--out", str(tmp / "out"), "--quiet"])
        seconds = time.perf_counter() - started
        assert code == 0, f"lengthwise eval exited {code}"
        items = {i["id"]: i for i in map(json.loads, (tmp / "out" / "items.jsonl").read_text().splitlines())}
        summary = json.loads((tmp / "out" / "summary.json").read_text())
        ref_started = time.perf_counter()
        ref = {r["id"]: reference_score(items[r["id"]]["required"], reference_count(r["response"])) for r in rows}
        ref_seconds = time.perf_counter() - ref_started
        diffs = [abs(items[i]["S_l"] - ref[i]) for i in ref]
        count_mismatch = sum(items[r["id"]]["words"] != reference_count(r["response"]) for r in rows)
        report_bytes = (tmp / "out" / "report.html").stat().st_size
    write_results(
        "eval",
        goals={
            "eval_120_responses_seconds": goal(seconds, "<= 30"),
            "max_abs_S_l_difference_vs_reference": goal(max(diffs), "<= 0"),
        },
        figures={
            "responses": N,
            "words_total": words_total,
            "max_words": max(reference_count(r["response"]) for r in rows),
            "seconds": round(seconds, 2),
            "words_per_second": round(words_total / seconds),
            "reference_scoring_seconds": round(ref_seconds, 3),
            "word_count_mismatches": count_mismatch,
            "mean_S_l": summary["S_l"],
            "flagged": summary["flagged"],
            "report_bytes": report_bytes,
            "note": "ours includes the audit detectors, summary and HTML report; the reference only counts and scores",
        },
        summary=f"eval of {N} responses ({words_total} words) in {seconds:.1f}s; "
        f"S_l max |diff| vs reference {max(diffs):.2g}",
    )


if __name__ == "__main__":
    main()
