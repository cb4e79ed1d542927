"""AgentWrite for small models: the incremental planner and the repetition guard in the write loop."""

from __future__ import annotations

import json

import pytest

from lengthwise.agentwrite.guard import escalation, pick_least_redundant, section_redundancy
from lengthwise.agentwrite.plan import parse_point, repeats_point, section_count
from lengthwise.agentwrite.writer import AgentWriter, WriteSettings, guard_summary, new_document
from lengthwise.cli import main
from lengthwise.errors import ConfigError
from lengthwise.io import ResumableJsonl
from lengthwise.jobs.write import document_line, fallback_kind
from lengthwise.synthetic import honest_text
from lengthwise.text import split_sentences
from scripted import ScriptedGenerator


def honest(words: int, seed: int = 0) -> str:
    return honest_text(seed, words=words)[0]


def half_copy(text: str, seed: int) -> str:
    """The first half of ``text``'s sentences, then new text: about a third of the result repeats ``text``."""
    sentences = split_sentences(text)
    return " ".join(sentences[:len(sentences) // 2]) + "\n\n" + honest(60, seed=seed)


def _writer(tmp_path, reply, **settings):
    values = dict(min_section_words=50, max_section_words=200, window=4096)
    values.update(settings)
    generator = ScriptedGenerator(reply)
    cache = ResumableJsonl(tmp_path / "cache.jsonl", key="key")
    return AgentWriter(generator, WriteSettings(**values), cache, lambda m: 10, 4096), generator


def _kind(request) -> str:
    content = request.messages[-1]["content"]
    if "Break the writing task" in content:
        return "plan"
    if "give the main point of section" in content:
        return "point"
    return "section"


# --- the incremental planner -------------------------------------------------------------------------

def test_section_redundancy_golden_values():
    a, b = honest(120, seed=1), honest(120, seed=2)
    assert section_redundancy(a, a)["score"] == pytest.approx(1.0, abs=0.02)  # a pasted copy of the text so far
    fresh = section_redundancy(a, b)
    assert fresh["score"] == 0.0 and fresh["exact"] == 0.0 and fresh["near_duplicate"] == 0.0
    assert fresh["paraphrase"] is None  # no embedder given
    half = section_redundancy(a, a + "\n\n" + b)  # the copy is half of the new section
    assert 0.4 < half["score"] < 0.6
    assert section_redundancy("", a)["score"] == 0.0
    assert pick_least_redundant([{"redundancy": {"score": s}} for s in (0.5, 0.2, 0.2, 0.9)]) == 1


def test_parse_point_and_repeated_points():
    assert parse_point("Section 4: The harbour's night markets.\nI hope this helps!") == "The harbour's night markets."
    assert parse_point("**Main point:** 'Street food after dark'") == "Street food after dark"
    assert parse_point("\n\n  \n") is None and parse_point("[what this section covers]") is None
    assert parse_point("第3段：港口的夜市") == "港口的夜市"
    assert repeats_point("The history of the old harbour", ["History of the old harbour district"])
    assert repeats_point("Food in the markets", ["The history of the old harbour"]) is None
    # years shared by two points are not what they are about
    assert repeats_point("The 1990 and 2000 floods", ["The 1990 and 2000 elections"]) is None
    assert repeats_point("The 1990 floods", ["Floods of 1990"]) == "Floods of 1990"
    assert section_count(10_000, WriteSettings().contract()) == 17  # sections of ~600 words within [200, 1000]
    assert section_count(500, WriteSettings().contract()) == 1


def test_the_incremental_planner_rejects_repeated_points_and_records_it(tmp_path):
    points = iter(["The old harbour and its ships.", "1. The old harbour and its ships", "Food in the night markets.",
                   "Neighbourhoods along the river.", "The port city's future."])

    def reply(request):
        kind = _kind(request)
        if kind == "plan":
            return "Sure! Here is my plan: first the harbour, then the rest."
        if kind == "point":
            return next(points)
        return honest(100, seed=hash(request.messages[-1]["content"]) % 1000)

    writer, _ = _writer(tmp_path, reply, min_section_words=100, max_section_words=200)
    doc = new_document("d", "Write about 600 words on a port city.", 600)
    writer.run([doc], lambda d: None)
    assert [p.main_point for p in doc.plan] == ["The old harbour and its ships.", "Food in the night markets.",
                                                "Neighbourhoods along the river.", "The port city's future."]
    assert sum(p.words for p in doc.plan) == 600
    assert any(f.startswith("plan: built point by point after 3 unparseable plans") for f in doc.fallbacks)
    assert any(n.startswith("point 2: rejected (repeats point 1)") for n in doc.plan_notes)
    assert not any("even split" in f for f in doc.fallbacks)
    cached = [json.loads(x) for x in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert cached[0]["step"] == "plan" and len(cached[0]["plan"]) == 4  # saved once, when complete


def test_a_section_is_named_by_its_place_only_after_repeated_rejections(tmp_path):
    replies = iter(["The old harbour and its ships.", "The old harbour and its ships.", "The old harbour, its ships.",
                    "Food in the night markets.", "The future of the port."])
    temperatures = []

    def reply(request):
        kind = _kind(request)
        if kind == "plan":
            return "no plan"
        if kind == "point":
            temperatures.append(request.temperature)
            return next(replies)  # a small model stuck on one idea for a while
        return honest(100, seed=len(request.messages[-1]["content"]))

    writer, generator = _writer(tmp_path, reply, min_section_words=100, max_section_words=200, point_attempts=2)
    doc = new_document("d", "Write about 600 words on a port city.", 600)
    writer.run([doc], lambda d: None)
    assert [p.main_point for p in doc.plan] == [
        "The old harbour and its ships.", "Part 2 of 4: a new aspect of the subject, not covered before",
        "Food in the night markets.", "The future of the port."]
    assert "plan: section 2 named by its place after 2 rejected points" in doc.fallbacks
    assert fallback_kind("plan: section 2 named by its place after 2 rejected points") == \
        "plan section named by its place after rejected points"
    # after a rejection the next point is sampled more widely
    assert temperatures == [0.7, 0.7, 1.0, 0.7, 0.7]


def test_a_plan_with_too_few_sections_is_extended_point_by_point(tmp_path):
    points = iter(["Food in the night markets.", "Neighbourhoods along the river.", "The port city's future."])

    def reply(request):
        kind = _kind(request)
        if kind == "plan":  # one section for 600 words at most 200 each: the repair would split it in "parts"
            return "Paragraph 1 - Main Point: The old harbour and its ships - Word Count: 600 words"
        if kind == "point":
            assert "1. The old harbour and its ships" in request.messages[-1]["content"]
            return next(points)
        return honest(100, seed=len(request.messages[-1]["content"]))

    writer, _ = _writer(tmp_path, reply, min_section_words=100, max_section_words=200)
    doc = new_document("d", "Write about 600 words on a port city.", 600)
    writer.run([doc], lambda d: None)
    assert [p.main_point for p in doc.plan] == ["The old harbour and its ships", "Food in the night markets.",
                                                "Neighbourhoods along the river.", "The port city's future."]
    assert "plan: 1 parsed sections extended point by point to 4" in doc.fallbacks
    assert not any("part 2" in p.main_point for p in doc.plan)


def test_without_the_incremental_planner_unparseable_plans_split_evenly(tmp_path):
    writer, generator = _writer(tmp_path, lambda r: "no plan" if _kind(r) == "plan" else honest(100),
                                min_section_words=100, max_section_words=300, incremental_plan=False)
    doc = new_document("d", "Write about 600 words.", 600)
    writer.run([doc], lambda d: None)
    assert any(f.startswith("plan: even split after 3 unparseable plans") for f in doc.fallbacks)


# --- the repetition guard ----------------------------------------------------------------------------

# sections of 200 words; the guard tests write with short_ratio 0.3, so the synthetic texts below (90-190 words)
# are neither continued nor cut
PLAN = "\n".join(f"Paragraph {k + 1} - Main Point: part {k + 1} - Word Count: 200 words" for k in range(3))


def test_a_section_that_copies_an_earlier_one_is_rewritten_and_the_least_redundant_kept(tmp_path):
    first = honest(100, seed=11)
    fresh = honest(100, seed=12)
    half = half_copy(first, seed=13)
    seen = []

    def reply(request):
        if _kind(request) == "plan":
            return PLAN
        content = request.messages[-1]["content"]
        seen.append(request)
        if "paragraph 1 " in content:
            return first
        if "paragraph 2 " in content:  # a copy, a copy, a half copy, then fresh text
            attempts = [r for r in seen if "paragraph 2 " in r.messages[-1]["content"]]
            return [first, first, half, fresh][len(attempts) - 1]
        return honest(100, seed=14)

    writer, _ = _writer(tmp_path, reply, max_section_words=300, short_ratio=0.3)
    doc = new_document("d", "Write about 600 words on rivers.", 600)
    writer.run([doc], lambda d: None)
    second = doc.sections[1]
    guard = second["guard"]
    assert guard["attempts"] == 4 and guard["kept"] == 3 and second["text"] == fresh
    assert guard["scores"][0] > 0.9 and guard["scores"][1] > 0.9 and 0.2 < guard["scores"][2] < 0.9
    assert guard["scores"][3] == 0.0
    # each rewrite is more insistent: another seed, then a repetition penalty, then also no repeated 4-grams
    requests = [r for r in seen if "paragraph 2 " in r.messages[-1]["content"]]
    assert len({r.seed for r in requests}) == 4
    assert [(r.repetition_penalty, r.no_repeat_ngram_size) for r in requests] == [
        (None, None), (None, None), (1.2, None), (1.3, 4)]
    assert [d["repetition_penalty"] for d in guard["detail"]] == [None, None, 1.2, 1.3]
    assert doc.sections[0]["guard"]["attempts"] == 1  # fresh text passes at once
    assert "section 2: guard rewrote it 3x, kept attempt 4 (redundancy 0.00)" in doc.fallbacks
    summary = guard_summary(doc.sections)
    assert summary == {"checked": 3, "rewritten": 1, "extra_attempts": 3, "mean_kept_redundancy": 0.0,
                       "discarded_tokens": 0,  # the scripted backend reports no token usage
                       "first_attempt_redundancy": pytest.approx((guard["scores"][0]) / 3, abs=1e-3)}
    assert guard["tokens"] == [0, 0, 0, 0]
    line = document_line({"id": "d", "words": 600, "S_l": 99.0, "guard": summary})
    assert "guard rewrote 1/3 sections (+3 attempts)" in line
    # the cache holds each section once, with its guard record
    cached = [json.loads(x) for x in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert [r["step"] for r in cached] == ["plan", "s0", "s1", "s2"]
    assert cached[2]["section"]["guard"]["kept"] == 3


def test_when_every_attempt_repeats_the_guard_keeps_the_least_redundant(tmp_path):
    first = honest(100, seed=21)
    half = half_copy(first, seed=22)
    calls = {"n": 0}

    def reply(request):
        if _kind(request) == "plan":
            return PLAN
        content = request.messages[-1]["content"]
        if "paragraph 1 " in content:
            return first
        if "paragraph 2 " in content:
            calls["n"] += 1
            return half if calls["n"] == 2 else first
        return honest(100, seed=23)

    writer, _ = _writer(tmp_path, reply, guard_attempts=2, max_section_words=300, short_ratio=0.3)
    doc = new_document("d", "Write about 600 words on rivers.", 600)
    writer.run([doc], lambda d: None)
    guard = doc.sections[1]["guard"]
    assert guard["attempts"] == 3 and guard["kept"] == 1 and doc.sections[1]["text"] == half


def test_the_guard_can_be_switched_off(tmp_path):
    first = honest(100, seed=31)
    writer, generator = _writer(tmp_path, lambda r: PLAN if _kind(r) == "plan" else first, guard=False,
                                max_section_words=300, short_ratio=0.3)
    doc = new_document("d", "Write about 600 words on rivers.", 600)
    writer.run([doc], lambda d: None)
    assert generator.calls == 4 and "guard" not in doc.sections[1]
    assert guard_summary(doc.sections) is None


def test_a_base_repetition_penalty_applies_from_the_first_writing_and_escalation_only_raises_it(tmp_path):
    seen = []

    def reply(request):
        if _kind(request) == "plan":
            return PLAN
        seen.append(request)
        return honest(100, seed=20)  # every section the same text: from section 2 on, a copy

    writer, _ = _writer(tmp_path, reply, max_section_words=300, short_ratio=0.3, repetition_penalty=1.25)
    doc = new_document("d", "Write about 600 words on rivers.", 600)
    writer.run([doc], lambda d: None)
    first = [r for r in seen if "paragraph 1 " in r.messages[-1]["content"]]
    second = [r for r in seen if "paragraph 2 " in r.messages[-1]["content"]]
    assert [r.repetition_penalty for r in first] == [1.25]  # fresh text: one writing, with the base penalty
    # section 2 copies section 1 each time: 1.25, 1.25, then max(1.2, 1.25), then 1.3 with no repeated 4-grams
    assert [(r.repetition_penalty, r.no_repeat_ngram_size) for r in second] == [
        (1.25, None), (1.25, None), (1.25, None), (1.3, 4)]
    assert [d["repetition_penalty"] for d in doc.sections[1]["guard"]["detail"]] == [1.25, 1.25, 1.25, 1.3]
    with pytest.raises(ConfigError, match="repetition_penalty"):
        WriteSettings(repetition_penalty=0.0)


def test_escalation_steps():
    assert escalation(0).salt == 0 and escalation(1).salt != escalation(2).salt
    assert escalation(5).as_dict() == {"repetition_penalty": 1.3, "no_repeat_ngram_size": 4}


@pytest.mark.parametrize("args, message", [
    (["--guard-threshold", "0"], "guard threshold must be in (0, 1]"),
    (["--guard-attempts", "-1"], "guard attempts must be >= 0"),
])
def test_write_cli_rejects_bad_guard_settings(args, message, tmp_path, capsys):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "a", "prompt": "Write about rivers.", "length": 300}\n')
    assert main(["write", str(prompts), "-o", str(tmp_path / "o.jsonl"), *args]) == 2
    assert message in capsys.readouterr().err


def test_repetition_settings_reach_the_local_model(tiny_generator):
    from lengthwise.backends.base import GenerationRequest

    prompt = [{"role": "user", "content": "Write about rivers and rivers and rivers."}]
    plain, banned = tiny_generator.generate([
        GenerationRequest(messages=prompt, max_new_tokens=40, temperature=0.0),
        GenerationRequest(messages=prompt, max_new_tokens=40, temperature=0.0, no_repeat_ngram_size=2)])
    ids = tiny_generator.tokenizer(banned.text, add_special_tokens=False)["input_ids"]
    pairs = list(zip(ids, ids[1:], strict=False))
    assert len(pairs) == len(set(pairs))  # no bigram twice
    with pytest.raises(ValueError, match="repetition_penalty must be > 0"):
        GenerationRequest(messages=prompt, repetition_penalty=0)


# --- key/value reuse across sections -----------------------------------------------------------------

def test_prefix_reuse_gives_the_same_tokens_as_a_fresh_prefill(tiny_model_dir):
    from lengthwise.backends.base import GenerationRequest
    from lengthwise.backends.transformers_backend import TransformersGenerator

    plain = TransformersGenerator.from_pretrained(str(tiny_model_dir), batch_size=1)
    reusing = TransformersGenerator.from_pretrained(str(tiny_model_dir), batch_size=1, reuse_prefix=True)
    so_far = "Text written so far: " + " ".join(f"river{k} valley{k}." for k in range(60))
    prompts = [f"{so_far} Now write paragraph 1.", f"{so_far} The delta widens. Now write paragraph 2.",
               f"{so_far} The delta widens. Floods come. Now write paragraph 3."]
    requests = [GenerationRequest(messages=[{"role": "user", "content": p}], max_new_tokens=20, temperature=0.0)
                for p in prompts]
    fresh = [plain.generate([r])[0] for r in requests]
    reused = [reusing.generate([r])[0] for r in requests]
    assert [r.text for r in reused] == [r.text for r in fresh]
    assert [r.completion_tokens for r in reused] == [r.completion_tokens for r in fresh]
    stats = reusing.prefix_stats
    assert stats["requests"] == 3 and stats["reused_tokens"] > 2 * 100  # the shared text is prefilled once
    assert stats["prefilled_tokens"] < sum(r.prompt_tokens for r in fresh) - 200
    reusing.clear_prefixes()
    assert reusing.generate([requests[0]])[0].text == fresh[0].text


def test_agentwrite_with_prefix_reuse_writes_the_same_document(tiny_model_dir, tmp_path):
    from lengthwise.agentwrite.context import make_measure
    from lengthwise.backends.transformers_backend import TransformersGenerator

    docs = {}
    for reuse in (False, True):
        generator = TransformersGenerator.from_pretrained(str(tiny_model_dir), batch_size=1, reuse_prefix=reuse)
        settings = WriteSettings(min_section_words=40, max_section_words=80, temperature=0.0, max_continuations=0,
                                 plan_attempts=1, point_attempts=1, guard=False)
        cache = ResumableJsonl(tmp_path / f"cache-{reuse}.jsonl", key="key")
        writer = AgentWriter(generator, settings, cache, make_measure(generator), 2048)
        doc = new_document("d", "Write about 200 words on rivers.", 200)
        writer.run([doc], lambda d: None)
        docs[reuse] = doc
        if reuse:
            assert generator.prefix_stats["reused_tokens"] > 0
    assert docs[True].text == docs[False].text and len(docs[True].sections) >= 2


def test_backends_that_continue_an_answer_get_the_outline_to_continue(tmp_path):
    from lengthwise.agentwrite.prompts import point_messages

    messages = point_messages("Write about a port city.", ["The harbour", "Night markets"], 5, prefill=True)
    assert messages[-1] == {"role": "assistant", "content": "1. The harbour\n2. Night markets\n3."}
    assert "List the 5 sections" in messages[0]["content"]
    asked = []

    class Prefilling(ScriptedGenerator):
        supports_prefill = True

    titles = iter([" The harbour", " The harbour again", " Night markets", " Old streets", " The future"])

    def reply(request):
        if request.messages[-1]["role"] == "assistant" and request.messages[-1]["content"].endswith("."):
            asked.append(request)
            return next(titles)
        if "Break the writing task" in request.messages[0]["content"]:
            return " I cannot plan."
        return honest(100, seed=len(asked))

    generator = Prefilling(reply)
    cache = ResumableJsonl(tmp_path / "cache.jsonl", key="key")
    writer = AgentWriter(generator, WriteSettings(min_section_words=100, max_section_words=200, plan_attempts=1),
                         cache, lambda m: 10, 4096)
    doc = new_document("d", "Write about 600 words on a port city.", 600)
    writer.run([doc], lambda d: None)
    assert all(r.stop == ("\n",) for r in asked)  # one outline line per request
    # the prefilled plan gave one "section" (the model's refusal), so the outline was continued from it
    assert [p.main_point for p in doc.plan] == ["I cannot plan.", "The harbour", "Night markets", "Old streets"]
    assert any("rejected (repeats point" in n for n in doc.plan_notes)


def test_servers_get_the_repetition_penalty_under_both_names():
    from lengthwise.backends.base import GenerationRequest
    from lengthwise.backends.openai_backend import OpenAIGenerator
    from openai_server import FakeOpenAIServer

    with FakeOpenAIServer(ScriptedGenerator(lambda r: "A fresh section.")) as server:
        gen = OpenAIGenerator(model="m", base_url=server.base_url, concurrency=1, timeout=5)
        plain, penalised = gen.generate([
            GenerationRequest(messages=[{"role": "user", "content": "a"}], max_new_tokens=8),
            GenerationRequest(messages=[{"role": "user", "content": "b"}], max_new_tokens=8, repetition_penalty=1.3,
                              no_repeat_ngram_size=4)])
    assert plain.ok and penalised.ok
    bodies = {body["messages"][0]["content"]: body for _, body in server.requests}
    assert "repetition_penalty" not in bodies["a"] and "repeat_penalty" not in bodies["a"]
    # vLLM reads repetition_penalty, llama.cpp repeat_penalty; no server takes an n-gram ban
    assert bodies["b"]["repetition_penalty"] == 1.3 and bodies["b"]["repeat_penalty"] == 1.3
    assert "no_repeat_ngram_size" not in bodies["b"]
