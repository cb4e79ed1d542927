"""``lengthwise write``: AgentWrite over a prompts JSONL, resumable mid-document.

Build → run → report: load prompts and their required totals, restore each document from
``<out>.cache.jsonl``, run the writer until every document is finished or failed, append each
finished document to ``<out>`` (keyed by id), and write ``<out>.summary.json``. Documents that
failed are recorded in ``<out>.failures.jsonl``; a rerun retries them from their last section.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from lengthwise.agentwrite.context import make_measure
from lengthwise.agentwrite.writer import AgentWriter, Document, WriteSettings, document_row, new_document
from lengthwise.io import ResumableJsonl, atomic_write_json, check_output
from lengthwise.manifest import check_run
from lengthwise.records import PromptRecord

__all__ = ["WriteReport", "write_documents", "document_line"]


@dataclass
class WriteReport:
    total: int
    already_done: int
    completed: int
    failed: int
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    completion_tokens: int = 0
    words: int = 0
    defaulted_length: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)  # kind of fallback → documents that used it
    plan_prefill: bool = True
    # the documents this run finished: id, words, S_l and the repetition guard's summary
    documents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "tokens_per_second": round(self.tokens_per_second, 2)}


def fallback_kind(note: str) -> str:
    """A fallback note without its particulars: "section 3: cut at a sentence boundary (612 words)"
    → "section cut at a sentence boundary"."""
    import re

    head, _, rest = note.partition(":")
    rest = re.sub(r"\s*\(.*\)$", "", rest.strip())
    if rest.startswith("guard rewrote it"):
        rest = "rewritten by the repetition guard"
    elif "extended point by point" in rest:
        rest = "parsed sections extended point by point"
    elif "named by its place" in rest:
        rest = "section named by its place after rejected points"
    rest = re.sub(r"\d+x$|\d+ of \d+ words|from section \d+|after \d+ (?:unparseable plans|rejected points)", "",
                  rest).strip()
    head = re.sub(r" \d+$", "", head)
    return f"{head} {rest}".strip()


def fallback_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many documents used each kind of fallback (even-split plan, digest, cut, short section...)."""
    from collections import Counter

    return dict(Counter(kind for row in rows for kind in {fallback_kind(n) for n in row.get("fallbacks") or []}))


def write_documents(records: list[PromptRecord], out_path: str | os.PathLike, generator, settings: WriteSettings,
                    default_words: int = 2000, tokenizer=None, progress: bool = True,
                    source: str | os.PathLike | None = None, restart: bool = False) -> WriteReport:
    out_path = check_output(out_path)
    started = time.monotonic()
    cache_path = out_path.with_name(out_path.name + ".cache.jsonl")
    check_run(out_path.with_name(out_path.name + ".manifest.json"), [source] if source else [],
              {"model": getattr(generator, "model_name", None), "default_words": default_words,
               **{k: v for k, v in settings.__dict__.items() if k not in ("batch",)}},
              [out_path, cache_path, out_path.with_name(out_path.name + ".failures.jsonl"),
               out_path.with_name(out_path.name + ".summary.json")], restart=restart)
    writer_out = ResumableJsonl(out_path)
    cache = ResumableJsonl(cache_path, key="key")
    window = settings.window or getattr(generator, "context_window", None) or 8192
    measure = make_measure(generator, tokenizer)
    docs: list[Document] = []
    defaulted = 0
    for r in records:
        if r.id in writer_out:
            continue
        total = r.length
        if not total:
            total, defaulted = default_words, defaulted + 1
        docs.append(new_document(r.id, r.prompt, int(round(total))))
    already = len(records) - len(docs)
    bar = tqdm(total=sum(d.total for d in docs), desc="write", unit="word", disable=not progress, dynamic_ncols=True)
    tokens = 0

    def on_event(kind: str, doc: Document) -> None:
        if kind == "section":
            bar.update(doc.sections[-1]["words"])

    agent = AgentWriter(generator, settings, cache, measure, window, on_event=on_event)
    failures_path = out_path.with_name(out_path.name + ".failures.jsonl")
    failures: dict[str, str] = {}
    finished: list[dict[str, Any]] = []
    completed = 0

    def on_done(doc: Document) -> None:
        nonlocal completed, tokens
        tokens += doc.completion_tokens
        if doc.failed:
            failures[doc.id] = doc.failed
            with open(failures_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"id": doc.id, "error": doc.failed, "sections_done": len(doc.sections)}) + "\n")
            return
        row = document_row(doc, settings.counter, getattr(generator, "model_name", "model"))
        writer_out.append(row)
        finished.append({"id": row["id"], "words": row["words"], "S_l": round(row["S_l"], 1), "guard": row["guard"]})
        completed += 1

    for d in docs:
        agent.restore(d)
        bar.update(sum(s["words"] for s in d.sections))
    try:
        agent.run(docs, on_done)
    finally:
        bar.close()
        writer_out.close()
        cache.close()
    done_rows = [writer_out.done[r.id] for r in records if r.id in writer_out.done]
    report = WriteReport(
        total=len(records), already_done=already, completed=completed, failed=len(failures), failures=failures,
        seconds=round(time.monotonic() - started, 2), completion_tokens=tokens,
        words=sum(r["words"] for r in done_rows), defaulted_length=defaulted,
        fallbacks=fallback_counts(done_rows), plan_prefill=agent.prefills, documents=finished)
    atomic_write_json(out_path.with_name(out_path.name + ".summary.json"), report.as_dict())
    return report


def document_line(doc: dict[str, Any]) -> str:
    """One terminal line per finished document: length, S_l and what the repetition guard did."""
    line = f"{doc['id']}: {doc['words']:,} words, S_l {doc['S_l']:.1f}"
    g = doc.get("guard")
    if g:
        line += (f"; guard rewrote {g['rewritten']}/{g['checked']} sections (+{g['extra_attempts']} attempts), "
                 f"section redundancy {g['first_attempt_redundancy']:.2f} -> {g['mean_kept_redundancy']:.2f}")
    return line
