"""Benchmark (P3): AgentWrite with the embedded SmolLM2-135M on CPU for 10,000-word requests (en and
zh), against single-pass generation of the same prompts by the same model (the peer), same run.

Goals: >= 8,000 words and S_l >= 80 on every request, >= 20x the single-pass length, and pipeline
throughput within 20% of raw generation tokens/s (the peer's). Also reported: the redundancy
score of each AgentWrite text (a small model may fill sections with repetition). Figures in
benchmarks/results/agentwrite.json. AGENTWRITE_WORDS shortens the requests for a smoke run. The run
resumes from its cache (benchmarks/.work/agentwrite); AGENTWRITE_REPORT_ONLY=1 writes the figures of
what the cache holds without generating (a run stopped for time: "complete": false).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import goal, write_results  # noqa: E402

from lengthwise.agentwrite.writer import AgentWriter, WriteSettings, new_document  # noqa: E402
from lengthwise.backends.base import GenerationRequest  # noqa: E402
from lengthwise.backends.transformers_backend import TransformersGenerator  # noqa: E402
from lengthwise.io import ResumableJsonl, atomic_write_text, write_jsonl  # noqa: E402
from lengthwise.jobs.export import redundancy_score  # noqa: E402
from lengthwise.jobs.write import write_documents  # noqa: E402
from lengthwise.prompts import build_messages  # noqa: E402
from lengthwise.records import load_prompts  # noqa: E402
from lengthwise.rewards.length import length_score  # noqa: E402
from lengthwise.text import count_words  # noqa: E402

WORDS = int(os.environ.get("AGENTWRITE_WORDS", "10000"))
WORK = Path(os.environ.get("AGENTWRITE_DIR", Path(__file__).resolve().parent / ".work" / "agentwrite"))
PROMPTS = [
    {"id": "en-city", "prompt": f"Write a {WORDS}-word guide to the history, neighbourhoods, food and future of a "
                                "great port city."},
    {"id": "zh-river", "prompt": f"写一篇{WORDS}字的长文，介绍长江的地理、历史、文化和今天面临的挑战。"},
]


def _documents_from_cache(records, settings: WriteSettings) -> dict[str, dict]:
    """Each document as far as it got, restored from the writer's (id, step) cache the way a rerun
    restores it: the figures do not need the run to have finished, so a run stopped for time
    reports what it measured."""
    cache = ResumableJsonl(WORK / "documents.jsonl.cache.jsonl", key="key")
    writer = AgentWriter(None, settings, cache, measure=lambda _m: 0, window=settings.window or 8192)
    docs = {}
    for r in records:
        doc = writer.restore(new_document(r.id, r.prompt, WORDS))
        docs[r.id] = {
            "required": WORDS, "planned_sections": len(doc.plan) if doc.plan else None,
            "sections_done": len(doc.sections), "complete": doc.done, "words": count_words(doc.text),
            "text": doc.text, "plan": [p.main_point for p in doc.plan or []], "plan_notes": doc.plan_notes,
            "fallbacks": doc.fallbacks, "completion_tokens": doc.completion_tokens, "seconds": round(doc.seconds, 2),
            "section_seconds": [cache.done[f"{r.id}:s{k}"]["seconds"] for k in range(len(doc.sections))],
        }
    return docs


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    write_jsonl(WORK / "prompts.jsonl", PROMPTS)
    records, _ = load_prompts(WORK / "prompts.jsonl")
    report_only = os.environ.get("AGENTWRITE_REPORT_ONLY") == "1"
    generator = None if report_only else TransformersGenerator.from_pretrained(None, batch_size=len(records))

    # the peer: one pass each, as long as the window allows (kept, so a resumed run does not redo it)
    single_file = WORK / "single_pass.json"
    if single_file.exists():
        single = json.loads(single_file.read_text())
    else:
        started = time.perf_counter()
        requests = [GenerationRequest(messages=build_messages(r.prompt), max_new_tokens=4096, temperature=0.7,
                                      top_p=0.95, seed=k) for k, r in enumerate(records)]
        results = generator.generate(requests)
        single = {"seconds": time.perf_counter() - started, "max_new_tokens": 4096,
                  "texts": [x.text for x in results], "tokens": [x.completion_tokens for x in results]}
        atomic_write_text(single_file, json.dumps(single, ensure_ascii=False))
    single_seconds = single["seconds"]
    print(f"single pass: {single['tokens']} tokens in {single_seconds:.0f}s", flush=True)
    raw_tps = sum(single["tokens"]) / single_seconds

    settings = WriteSettings(min_section_words=200, max_section_words=500)
    report = None
    if not report_only:
        report = write_documents(records, WORK / "documents.jsonl", generator, settings, progress=True)
    docs = _documents_from_cache(records, settings)
    complete = all(d["complete"] for d in docs.values())
    per_prompt = {}
    for i, r in enumerate(records):
        d = docs[r.id]
        single_words = count_words(single["texts"][i])
        per_prompt[r.id] = {
            "required": d["required"], "complete": d["complete"], "words": d["words"],
            "S_l": round(length_score(required=d["required"], produced=d["words"]), 2),
            "sections": d["sections_done"], "planned_sections": d["planned_sections"],
            "seconds": d["seconds"], "completion_tokens": d["completion_tokens"],
            "tokens_per_second": round(d["completion_tokens"] / d["seconds"], 2) if d["seconds"] else None,
            "mean_words_per_section": round(d["words"] / max(1, d["sections_done"]), 1),
            "redundancy": round(redundancy_score(d["text"]), 4) if d["text"] else None,
            "single_pass_words": single_words,
            "single_pass_S_l": round(length_score(required=d["required"], produced=single_words), 2),
            "ratio_to_single_pass": round(d["words"] / max(1, single_words), 2),
            "single_pass_tokens": single["tokens"][i],
            "single_pass_redundancy": round(redundancy_score(single["texts"][i]), 4),
            "excerpt": d["text"][:600], "single_pass_excerpt": single["texts"][i][:600],
            "plan": d["plan"], "plan_notes": d["plan_notes"], "fallback_notes": d["fallbacks"],
            "section_seconds": d["section_seconds"],
        }
    # documents are written concurrently (one batch per round): the pipeline's rate is all their
    # tokens over the longest document's time (per-step times live in the cache, so resumes count)
    pipeline_tps = (sum(p["completion_tokens"] for p in per_prompt.values())
                    / max(p["seconds"] for p in per_prompt.values()))
    goals = {
        "min_words": goal(min(p["words"] for p in per_prompt.values()), f">= {int(WORDS * 0.8)}"),
        "min_S_l": goal(min(p["S_l"] for p in per_prompt.values()), ">= 80"),
        "min_ratio_to_single_pass": goal(min(p["ratio_to_single_pass"] for p in per_prompt.values()), ">= 20"),
        "throughput_vs_raw_generation": goal(pipeline_tps / raw_tps, ">= 0.8"),
    }
    write_results(
        "agentwrite",
        goals=goals,
        figures={"requested_words": WORDS, "complete": complete, "per_prompt": per_prompt,
                 "pipeline_tokens_per_second": round(pipeline_tps, 2),
                 "raw_generation_tokens_per_second": round(raw_tps, 2), "single_pass_seconds": round(single_seconds, 1),
                 "write_report": report.as_dict() if report else None,
                 "settings": {"min_section_words": settings.min_section_words,
                              "max_section_words": settings.max_section_words, "digest": settings.digest,
                              "max_continuations": settings.max_continuations, "plan_example": settings.plan_example,
                              "plan_prefill": settings.plan_prefill, "window": settings.window or 8192,
                              "batch_size": len(records), "temperature": settings.temperature}},
        summary=("" if complete else "INCOMPLETE RUN: ")
        + ", ".join(f"{k}: {p['words']} words in {p['sections']}/{p['planned_sections']} sections, S_l {p['S_l']:.0f} "
                    f"({p['ratio_to_single_pass']}x single pass, redundancy {p['redundancy']})"
                    for k, p in per_prompt.items())
        + f"; {pipeline_tps:.1f} vs raw {raw_tps:.1f} tok/s",
    )


if __name__ == "__main__":
    main()
