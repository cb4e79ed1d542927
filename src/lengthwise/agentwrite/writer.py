"""AgentWrite over any ``Generator``: plan, then write the sections in order with the earlier text
in context, many documents at once.

Documents advance in rounds: each round sends every unfinished document's next request (its plan,
a section, a continuation or a summary) to the backend as one batch (batched locally, concurrent
over HTTP). Each finished plan and section is appended to a cache keyed by (prompt id, step), so a
rerun resumes every document at its first unwritten section; nothing finished is written twice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lengthwise.agentwrite.context import DoneSection, fit_section_prompt
from lengthwise.agentwrite.guard import GuardSettings, escalation, pick_least_redundant, section_redundancy
from lengthwise.agentwrite.plan import (
    PlanContract,
    PlanParseError,
    PlanSection,
    even_plan,
    parse_plan,
    parse_point,
    place_name,
    plan_text,
    repair_plan,
    repeats_point,
    section_count,
)
from lengthwise.agentwrite.prompts import (
    EXAMPLE_POINTS,
    PLAN_PREFIX,
    continuation_note,
    plan_messages,
    point_messages,
    step_name,
    summary_messages,
)
from lengthwise.backends.base import GenerationRequest, GenerationResult
from lengthwise.io import ResumableJsonl
from lengthwise.rewards.length import length_score
from lengthwise.text import count_words, detect_language, split_sentences
from lengthwise.token_budget import token_rate_of

__all__ = ["WriteSettings", "Document", "AgentWriter", "cut_at_sentence", "drop_unfinished_sentence", "guard_summary"]

# The starting rate of tokens per counted word is the generator's tokenizer's, measured once
# (``lengthwise.token_budget``); after a few sections each document uses its own measured rate.
MEASURED_AFTER_WORDS = 200


@dataclass
class WriteSettings:
    """How AgentWrite plans and writes. Section bounds and the plan contract: ``min_section_words``,
    ``max_section_words``, ``max_sections``. A section under ``short_ratio`` × its target is
    continued (at most ``max_continuations`` times); one over ``long_ratio`` × is cut at a sentence
    boundary. ``plan_example``: show a worked plan for another task; ``plan_prefill``: start the
    plan answer with ``Paragraph 1 - Main Point:`` when the backend can continue an assistant turn
    (local models; small ones follow the format only then). ``digest``: how earlier sections are
    kept when the text outgrows the window (``first_sentences`` or ``summary``, one model call per
    section). ``window``: the context window in tokens (default: the model's).

    ``incremental_plan``: when no one-shot plan parses, build it one section's main point at a time
    (``point_attempts`` tries per point; a point that repeats an earlier one is rejected) before falling back to
    the even split. ``guard``: score each finished section's redundancy against the text so far and write it
    again above ``guard_threshold`` (at most ``guard_attempts`` times, escalating; the least redundant is kept);
    ``guard_paraphrase`` also counts paraphrased sentences (needs the embedder). ``repetition_penalty``: applied to
    every section from its first writing (a small model's sections restate the text so far: fewer rewrites)."""

    min_section_words: int = 200
    max_section_words: int = 1000
    max_sections: int = 50
    plan_attempts: int = 3
    plan_example: bool = True
    plan_prefill: bool = True
    step_attempts: int = 3
    short_ratio: float = 0.6
    long_ratio: float = 1.5
    max_continuations: int = 2
    digest: str = "first_sentences"
    window: int | None = None
    safety_tokens: int = 32
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 0
    counter: str = "longbench"
    incremental_plan: bool = True
    point_attempts: int = 5
    guard: bool = True
    guard_threshold: float = 0.3
    guard_attempts: int = 3
    guard_paraphrase: bool = False
    # a mild penalty on every section's first writing (None: none); the guard's escalations only ever raise it
    repetition_penalty: float | None = None

    def contract(self) -> PlanContract:
        return PlanContract(self.min_section_words, self.max_section_words, self.max_sections)

    def guard_settings(self) -> GuardSettings:
        return GuardSettings(self.guard, self.guard_threshold, self.guard_attempts, self.guard_paraphrase)

    def __post_init__(self) -> None:
        from lengthwise.errors import ConfigError

        problems = []
        try:
            self.contract()
        except ValueError as exc:
            problems.append(str(exc))
        if self.digest not in ("first_sentences", "summary"):
            problems.append(f"digest must be first_sentences or summary, got {self.digest!r}")
        if not 0 < self.short_ratio < 1 < self.long_ratio:
            problems.append("need 0 < short_ratio < 1 < long_ratio")
        if self.plan_attempts < 1 or self.step_attempts < 1 or self.max_continuations < 0 or self.point_attempts < 1:
            problems.append("attempt counts must be >= 1 and max_continuations >= 0")
        try:
            self.guard_settings()
        except ValueError as exc:
            problems.append(str(exc))
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            problems.append(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if problems:
            raise ConfigError("; ".join(problems))


def cut_at_sentence(text: str, target: int, counter: str = "longbench") -> str:
    """``text`` cut at the sentence boundary closest to ``target`` words (never empty)."""
    sentences = split_sentences(text)
    kept, best, best_gap = [], text, math.inf
    for s in sentences:
        kept.append(s)
        candidate = " ".join(kept) if not any("\u4e00" <= ch <= "\u9fff" for ch in s) else "".join(kept)
        gap = abs(count_words(candidate, counter) - target)
        if gap < best_gap:
            best, best_gap = candidate, gap
        elif count_words(candidate, counter) > target:
            break
    return best


_SENTENCE_END = ".!?。！？…\"'”’)）]】"


def drop_unfinished_sentence(text: str) -> str:
    """``text`` without a last sentence the token budget cut off (no closing punctuation), when an
    earlier sentence ends properly; otherwise ``text`` unchanged.

    >>> drop_unfinished_sentence("Rivers carve valleys. They also carry")
    'Rivers carve valleys.'
    >>> drop_unfinished_sentence("河流塑造土地。它们还")
    '河流塑造土地。'
    """
    stripped = text.rstrip()
    if not stripped or stripped[-1] in _SENTENCE_END:
        return text
    cut = max(stripped.rfind(ch) for ch in ".!?。！？")
    return stripped[:cut + 1] if cut > 0 else text


@dataclass
class Document:
    id: str
    prompt: str
    total: int
    language: str
    plan: list[PlanSection] | None = None
    sections: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    plan_notes: list[str] = field(default_factory=list)
    # the section in progress
    current: str = ""
    continuations: int = 0
    pending_summary: bool = False
    failures: int = 0
    failed: str | None = None
    completion_tokens: int = 0  # all steps, including those restored from the cache
    section_tokens: int = 0  # tokens generated for section text, and the words they made (before cuts)
    section_words: int = 0
    step_tokens: int = 0  # the step in progress (a section with its continuations and summary)
    seconds: float = 0.0  # wall time of the finished steps, across runs
    step_started: float = field(default_factory=time.monotonic)
    plan_attempts: int = 0
    # the incremental planner: the points so far (None until the one-shot plan has failed) and the rejected
    # replies for the point in progress
    points: list[str] | None = None
    point_rejects: int = 0
    placed: list[int] = field(default_factory=list)  # sections named by their place after rejected points
    # the repetition guard: the finished attempts at the section in progress
    guard_candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.failed is not None or (self.plan is not None and len(self.sections) == len(self.plan)
                                           and not self.pending_summary)

    @property
    def text(self) -> str:
        return "\n\n".join(s["text"] for s in self.sections)


class AgentWriter:
    """Runs documents to completion over ``generator``; ``cache``: a ``ResumableJsonl`` keyed by
    ``key`` = ``"<id>:plan"`` / ``"<id>:s<k>"``."""

    def __init__(self, generator, settings: WriteSettings, cache: ResumableJsonl,
                 measure: Callable[[list[dict[str, str]]], int], window: int,
                 on_event: Callable[[str, Document], None] | None = None, embed: Callable | None = None):
        self.generator = generator
        self.settings = settings
        self.guard = settings.guard_settings()
        if self.guard.enabled and self.guard.paraphrase and embed is None:
            from lengthwise.rewards.embeddings import Embedder

            embed = Embedder()
        self.embed = embed if self.guard.paraphrase else None
        self.cache = cache
        self.measure = measure
        self.window = window
        self.on_event = on_event or (lambda _e, _d: None)
        self.prefills = settings.plan_prefill and getattr(generator, "supports_prefill", False)

    # --- state from the cache ---------------------------------------------------------------
    def restore(self, doc: Document) -> Document:
        plan_row = self.cache.done.get(f"{doc.id}:plan")
        if plan_row is None:
            return doc
        doc.plan = [PlanSection(p["main_point"], p["words"]) for p in plan_row["plan"]]
        doc.fallbacks = list(plan_row.get("fallbacks", []))
        doc.plan_notes = list(plan_row.get("notes", []))
        doc.completion_tokens = plan_row.get("completion_tokens", 0)
        doc.seconds = plan_row.get("seconds", 0.0)
        k = 0
        while (row := self.cache.done.get(f"{doc.id}:s{k}")) is not None:
            doc.sections.append(row["section"])
            doc.fallbacks += row.get("fallbacks", [])
            doc.completion_tokens += row.get("completion_tokens", 0)
            doc.section_tokens, doc.section_words = row.get("section_rate", (doc.section_tokens, doc.section_words))
            doc.seconds += row.get("seconds", 0.0)
            k += 1
        return doc

    # --- requests -------------------------------------------------------------------------------
    def _request(self, messages, max_new_tokens: int, salt: int, **anti_repetition: Any) -> GenerationRequest:
        return GenerationRequest(messages=messages, max_new_tokens=max(16, max_new_tokens),
                                 temperature=self.settings.temperature, top_p=self.settings.top_p,
                                 seed=self.settings.seed + salt, **anti_repetition)

    def _anti_repetition(self, attempt: int) -> dict[str, Any]:
        """The guard's escalation for this attempt, never below the settings' own repetition penalty."""
        esc = escalation(attempt).as_dict()
        base = self.settings.repetition_penalty
        if base is not None:
            esc["repetition_penalty"] = max(base, esc["repetition_penalty"] or base)
        return esc

    def tokens_per_word(self, doc: Document) -> float:
        if doc.section_words >= MEASURED_AFTER_WORDS and doc.section_tokens > 0:  # some backends report no usage
            return min(4.0, max(0.5, doc.section_tokens / doc.section_words))
        return token_rate_of(self.generator, self.settings.counter).per_word(doc.language)

    def next_request(self, doc: Document) -> tuple[str, GenerationRequest]:
        s = self.settings
        if doc.plan is None and doc.points is not None:
            n = section_count(doc.total, s.contract())
            messages = point_messages(doc.prompt, _real_points(doc), n, doc.language, prefill=self.prefills)
            request = self._request(messages, 48, salt=100_000 + 1000 * len(doc.points) + doc.point_rejects)
            if doc.point_rejects:  # a rejected point was the model's likeliest: sample more widely
                request.temperature = max(request.temperature, 1.0)
            if self.prefills:
                request.stop = ("\n",)  # one outline line
            return "point", request
        if doc.plan is None:
            messages = plan_messages(doc.prompt, doc.total, s.min_section_words, s.max_section_words, doc.language,
                                     example=s.plan_example, prefill=self.prefills)
            # about 40 tokens per plan line, for as many lines as the contract could need
            lines = min(s.max_sections, math.ceil(doc.total / s.min_section_words))
            budget = min(40 * lines + 64, self.window - self.measure(messages) - s.safety_tokens)
            return "plan", self._request(messages, budget, salt=1000 * doc.plan_attempts)
        k = len(doc.sections)
        if doc.pending_summary:
            return "summary", self._request(summary_messages(doc.sections[-1]["text"], doc.language), 96, salt=k)
        section = doc.plan[k]
        done_words = count_words(doc.current, s.counter)
        target = max(1, section.words - done_words)
        max_new = math.ceil(target * self.tokens_per_word(doc) * 1.5) + 32
        plan_str = plan_text(doc.plan, doc.language)
        step = (continuation_note(k, section.main_point, done_words, section.words, doc.language) if doc.current
                else step_name(k, section.main_point, doc.language))
        done = [DoneSection(x["main_point"], x["text"], x.get("summary")) for x in doc.sections]
        # the answer's room first: at most half the window, the rest for the prompt
        max_new = min(max_new, self.window // 2)
        fitted = fit_section_prompt(doc.prompt, plan_str, done, doc.current, step, target, k == len(doc.plan) - 1,
                                    self.window - max_new - s.safety_tokens, self.measure, doc.language)
        if fitted.mode == "digest" and not any(f.startswith("context: digest") for f in doc.fallbacks):
            doc.fallbacks.append(f"context: digest from section {k + 1}")
        attempt = len(doc.guard_candidates)
        return "section", self._request(fitted.messages, max_new,
                                        salt=10 * k + doc.continuations + escalation(attempt).salt,
                                        **self._anti_repetition(attempt))

    # --- results --------------------------------------------------------------------------------
    def apply(self, doc: Document, kind: str, result: GenerationResult) -> None:
        s = self.settings
        if not result.ok:
            doc.failures += 1
            if doc.failures >= s.step_attempts:
                doc.failed = f"{kind}: {result.error}"
            return
        doc.failures = 0
        doc.completion_tokens += result.completion_tokens
        doc.step_tokens += result.completion_tokens
        if kind == "plan":
            self._apply_plan(doc, result)
        elif kind == "point":
            self._apply_point(doc, result)
        elif kind == "summary":
            doc.sections[-1]["summary"] = result.text.strip()
            doc.pending_summary = False
            self._save_section(doc, len(doc.sections) - 1)
        else:
            self._apply_section(doc, result)

    def _apply_plan(self, doc: Document, result: GenerationResult) -> None:
        s = self.settings
        doc.plan_attempts += 1
        text = (PLAN_PREFIX[doc.language] + result.text) if self.prefills else result.text
        if result.finish_reason == "length" and "\n" in text.strip():
            text = text.rstrip().rsplit("\n", 1)[0]  # the budget ran out mid-line: that line is not a section
        try:
            parsed = parse_plan(text, ignore=EXAMPLE_POINTS[doc.language] if s.plan_example else ())
        except PlanParseError as exc:
            if doc.plan_attempts < s.plan_attempts:
                return
            parsed = None
            if s.incremental_plan:
                doc.fallbacks.append(f"plan: built point by point after {doc.plan_attempts} unparseable plans ({exc})")
                doc.points = []
                return
            doc.fallbacks.append(f"plan: even split after {doc.plan_attempts} unparseable plans ({exc})")
        if parsed is None:
            doc.plan = even_plan(doc.total, s.contract(), doc.language)
        elif s.incremental_plan and len(parsed) < math.ceil(doc.total / s.max_section_words):
            # Too few sections: the repair would split each into "part 1..k" with the same instruction, which a
            # small model answers k times alike. Keep the parsed points and ask for the rest one at a time.
            doc.fallbacks.append(f"plan: {len(parsed)} parsed sections extended point by point to "
                                 f"{section_count(doc.total, s.contract())}")
            doc.points = [p.main_point for p in parsed][:section_count(doc.total, s.contract())]
            return
        else:
            repaired = repair_plan(parsed, doc.total, s.contract())
            doc.plan, doc.plan_notes = repaired.sections, repaired.notes
        self._save_plan(doc, text)

    def _save_plan(self, doc: Document, raw: str) -> None:
        self.cache.append({"key": f"{doc.id}:plan", "id": doc.id, "step": "plan",
                           "plan": [p.as_dict() for p in doc.plan], "raw": raw, "notes": doc.plan_notes,
                           "fallbacks": list(doc.fallbacks), **self._step_cost(doc)})
        self.on_event("plan", doc)

    def _apply_point(self, doc: Document, result: GenerationResult) -> None:
        """One reply to the incremental planner: a new point is kept; an empty one or one that repeats an earlier
        point is rejected, and after ``point_attempts`` rejections the rest of the plan is the even split's."""
        s = self.settings
        assert doc.points is not None
        n = section_count(doc.total, s.contract())
        point = parse_point(result.text)
        real = _real_points(doc)
        repeated = repeats_point(point, real, topic=doc.prompt) if point else None
        if point and not repeated:
            doc.points.append(point)
            doc.point_rejects = 0
        else:
            doc.point_rejects += 1
            why = f"repeats point {doc.points.index(repeated) + 1}" if repeated else "no point in the reply"
            doc.plan_notes.append(f"point {len(doc.points) + 1}: rejected ({why}): {result.text.strip()[:80]!r}")
            if doc.point_rejects >= s.point_attempts:
                # this section is named by its place (the even split's name); the next one is asked for again
                k = len(doc.points)
                doc.fallbacks.append(
                    f"plan: section {k + 1} named by its place after {doc.point_rejects} rejected points")
                doc.points.append(place_name(k, n, doc.language))
                doc.placed.append(k)
                doc.point_rejects = 0
        if len(doc.points) < n:
            return
        sections = [PlanSection(p, None) for p in doc.points]
        repaired = repair_plan(sections, doc.total, s.contract())
        doc.plan, doc.plan_notes = repaired.sections, doc.plan_notes + repaired.notes
        doc.points, doc.point_rejects, doc.placed = None, 0, []
        self._save_plan(doc, "\n".join(p.main_point for p in sections))

    @staticmethod
    def _step_cost(doc: Document) -> dict[str, Any]:
        """Tokens and seconds of the step just finished (saved with it, so totals survive a resume)."""
        now = time.monotonic()
        cost = {"completion_tokens": doc.step_tokens, "seconds": round(now - doc.step_started, 3)}
        doc.seconds += cost["seconds"]
        doc.step_tokens, doc.step_started = 0, now
        return cost

    def _apply_section(self, doc: Document, result: GenerationResult) -> None:
        s = self.settings
        k = len(doc.sections)
        section = doc.plan[k]
        piece = result.text.strip()
        doc.section_tokens += result.completion_tokens
        doc.section_words += count_words(piece, s.counter)
        joiner = "" if doc.language == "zh" else " "
        doc.current = (doc.current + joiner + piece).strip() if doc.current else piece
        words = count_words(doc.current, s.counter)
        if words < s.short_ratio * section.words and doc.continuations < s.max_continuations and piece:
            doc.continuations += 1
            return
        notes = []
        if doc.continuations:
            notes.append(f"section {k + 1}: continued {doc.continuations}x")
        if words > s.long_ratio * section.words:
            doc.current = cut_at_sentence(doc.current, section.words, s.counter)
            notes.append(f"section {k + 1}: cut at a sentence boundary ({words} words)")
        elif words < s.short_ratio * section.words:
            notes.append(f"section {k + 1}: short ({words} of {section.words} words)")
        # A section cut by its token budget, and the document's last section whatever stopped it,
        # end on a whole sentence.
        last = k == len(doc.plan) - 1
        if (result.finish_reason == "length" or last) and words <= s.long_ratio * section.words:
            trimmed = drop_unfinished_sentence(doc.current)
            if trimmed != doc.current:
                doc.current = trimmed
                notes.append(f"section {k + 1}: unfinished last sentence dropped")
        row = {"index": k, "main_point": section.main_point, "target_words": section.words,
               "text": doc.current, "words": count_words(doc.current, s.counter),
               "continuations": doc.continuations, "notes": notes}
        doc.current, doc.continuations = "", 0
        if self.guard.enabled:
            row = self._guarded(doc, row)
            if row is None:
                return  # written again, more insistently (next_request reads the attempt count)
        doc.sections.append(row)
        doc.fallbacks += row["notes"]
        if s.digest == "summary" and k < len(doc.plan) - 1:
            doc.pending_summary = True
            return
        self._save_section(doc, k)

    def _guarded(self, doc: Document, row: dict[str, Any]) -> dict[str, Any] | None:
        """The repetition guard on a finished section: ``None`` to write it again, else the row to keep (the least
        redundant attempt) with the guard's decisions recorded under ``guard``."""
        g = self.guard
        attempt = len(doc.guard_candidates)
        redundancy = section_redundancy(doc.text, row["text"], self.embed)
        # tokens this attempt generated (the step's tokens so far, less the earlier attempts'): what a rewrite costs
        tokens = doc.step_tokens - sum(c["tokens"] for c in doc.guard_candidates)
        doc.guard_candidates.append({**row, "redundancy": redundancy, "escalation": self._anti_repetition(attempt),
                                     "tokens": tokens})
        if redundancy["score"] > g.threshold and attempt < g.attempts:
            return None
        candidates, doc.guard_candidates = doc.guard_candidates, []
        kept = pick_least_redundant(candidates)
        chosen = {k: v for k, v in candidates[kept].items() if k not in ("redundancy", "escalation", "tokens")}
        chosen["guard"] = {
            "threshold": g.threshold, "attempts": len(candidates), "kept": kept,
            "scores": [c["redundancy"]["score"] for c in candidates],
            "tokens": [c["tokens"] for c in candidates],
            "detail": [{**c["redundancy"], **c["escalation"]} for c in candidates],
        }
        if len(candidates) > 1:
            chosen["notes"] = chosen["notes"] + [
                f"section {row['index'] + 1}: guard rewrote it {len(candidates) - 1}x, kept attempt {kept + 1} "
                f"(redundancy {candidates[kept]['redundancy']['score']:.2f})"]
        return chosen

    def _save_section(self, doc: Document, k: int) -> None:
        row = doc.sections[k]
        self.cache.append({"key": f"{doc.id}:s{k}", "id": doc.id, "step": f"s{k}", "section": row,
                           "fallbacks": row.get("notes", []), "section_rate": [doc.section_tokens, doc.section_words],
                           **self._step_cost(doc)})
        self.on_event("section", doc)

    # --- the loop -------------------------------------------------------------------------------
    def run(self, docs: list[Document], on_done: Callable[[Document], None]) -> None:
        active = [d for d in docs if not d.done]
        for d in docs:
            if d.done:
                on_done(d)
        while active:
            batch = [(d, *self.next_request(d)) for d in active]
            results = self.generator.generate([req for _, _, req in batch])
            for (doc, kind, _), result in zip(batch, results, strict=True):
                self.apply(doc, kind, result)
            still = []
            for d in active:
                if d.done:
                    on_done(d)
                else:
                    still.append(d)
            active = still


def _real_points(doc: Document) -> list[str]:
    """The incremental plan's points the model gave (not the sections named by their place)."""
    return [p for k, p in enumerate(doc.points or []) if k not in doc.placed]


def new_document(item_id: str, prompt: str, total: int) -> Document:
    return Document(id=item_id, prompt=prompt, total=int(total), language=detect_language(prompt))


def document_row(doc: Document, counter: str, model: str) -> dict[str, Any]:
    """The output row of one finished document."""
    text = doc.text
    words = count_words(text, counter)
    return {
        "id": doc.id, "prompt": doc.prompt, "required": doc.total, "language": doc.language,
        "plan": [p.as_dict() for p in (doc.plan or [])], "plan_notes": doc.plan_notes,
        "sections": [{k: v for k, v in s.items() if k != "text"} for s in doc.sections],
        "response": text, "words": words, "counter": counter,
        "S_l": length_score(required=doc.total, produced=words), "seconds": round(doc.seconds, 2),
        "completion_tokens": doc.completion_tokens, "fallbacks": doc.fallbacks, "model": model,
        "guard": guard_summary(doc.sections),
    }


def guard_summary(sections: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Per document: sections the repetition guard checked, how many it rewrote, the extra attempts, and the mean
    redundancy of the kept sections (None when the guard was off)."""
    checked = [s["guard"] for s in sections if s.get("guard")]
    if not checked:
        return None
    kept = [g["scores"][g["kept"]] for g in checked]
    return {"checked": len(checked), "rewritten": sum(g["attempts"] > 1 for g in checked),
            "extra_attempts": sum(g["attempts"] - 1 for g in checked),
            "mean_kept_redundancy": round(sum(kept) / len(kept), 4),
            "discarded_tokens": sum(sum(g["tokens"]) - g["tokens"][g["kept"]] for g in checked if g.get("tokens")),
            "first_attempt_redundancy": round(sum(g["scores"][0] for g in checked) / len(checked), 4)}
