"""AgentWrite plans: parsing malformed plans (en and zh) and repairing them to the contract."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lengthwise.agentwrite.plan import (
    PlanContract,
    PlanParseError,
    PlanSection,
    even_plan,
    parse_plan,
    plan_text,
    repair_plan,
)

MALFORMED = [
    # (plan text, expected [(main point, words)])
    (
        "Paragraph 1 - Main Point: Origins of tides - Word Count: 300 words\n"
        "Paragraph 2 - Main Point: The moon's pull - Word Count: 500 words",
        [("Origins of tides", 300), ("The moon's pull", 500)],
    ),
    ("Paragraph 1 – Main Point: Intro – Word Count: 400 words", [("Intro", 400)]),  # en dash
    ("Paragraph 1 — Main Point: Intro — Word Count: 400 words", [("Intro", 400)]),  # em dash
    (
        "Sure! Here is the plan:\n\nParagraph 1 - Main Point: Intro - Word Count: 250 words\n"
        "Paragraph 2 - Main Point: Body - Word Count: 750 words\n\nLet me know if you want changes.",
        [("Intro", 250), ("Body", 750)],
    ),  # chatter around it
    (
        "1. Main Point: Intro - Word Count: 200 words\n2. Main Point: Body - Word Count: 800 words",
        [("Intro", 200), ("Body", 800)],
    ),  # numbered list
    (
        "Section 1: The setting (300 words)\nSection 2: The conflict (700 words)",
        [("The setting", 300), ("The conflict", 700)],
    ),  # counts in parentheses
    ("**Paragraph 1** - Main Point: Intro - Word Count: 1,200 words", [("Intro", 1200)]),  # markdown bold, comma
    (
        "- Paragraph 1 - Main Point: Intro - Word Count: 300\n- Paragraph 2 - Main Point: End - Word Count: 300",
        [("Intro", 300), ("End", 300)],
    ),  # bullets, no unit
    (
        "Paragraph 1 - Main Point: Intro\nParagraph 2 - Main Point: Body - Word Count: 600 words",
        [("Intro", None), ("Body", 600)],
    ),  # a missing count
    ("Paragraph 1 - Main Point: Intro - Word Count: about 300 words", [("Intro", 300)]),
    ("paragraph 3 - main point: lower case - word count: 350 words", [("lower case", 350)]),
    (
        "段落1 - 主要内容：潮汐的成因 - 字数：300字\n段落2 - 主要内容：月球的引力 - 字数：500字",
        [("潮汐的成因", 300), ("月球的引力", 500)],
    ),  # zh, full-width colons
    (
        "第1段 - 主要内容：引言 - 字数要求：400字\n第2段 - 主要内容：结论 - 字数要求：600字",
        [("引言", 400), ("结论", 600)],
    ),
    ("段落１－主要内容：引言－字数：３００字", [("引言", 300)]),  # full-width digits and dash
    (
        "好的，以下是写作计划：\n段落 1 - 主要内容：背景（约200字）\n以上是计划。",
        [("背景", 200)],
    ),  # zh chatter, parenthesised count
    ("Main Point: A single unnumbered section - Word Count: 900 words", [("A single unnumbered section", 900)]),
    ("1) Intro, 300 words\n2) Body, 700 words", [("Intro", 300), ("Body", 700)]),
    # a small model's copy of the template: placeholder lines are dropped, bracketed counts read
    (
        "Paragraph 1 - Main Point: [what this section covers, in one or two sentences] - Word Count: [number] words\n"
        "Paragraph 2 - Main Point: The harbour - Word Count: [400] words",
        [("The harbour", 400)],
    ),
    (
        "段落 1 - 主要内容：长江的源头 - 字数：[数字]字\n段落 2 - 主要内容：[这一段写什么！] - 字数：[200] 字",
        [("长江的源头", None)],
    ),
    # a looping model repeats its lines: the repeats are not new sections
    (
        "Paragraph 1 - Main Point: Tides - Word Count: 300 words\n"
        "Paragraph 2 - Main Point: Moon - Word Count: 300 words\n"
        "Paragraph 3 - Main Point: Tides - Word Count: 300 words\n"
        "Paragraph 4 - Main Point: tides. - Word Count: 300 words",
        [("Tides", 300), ("Moon", 300)],
    ),
]


@pytest.mark.parametrize("text, expected", MALFORMED)
def test_malformed_plans_parse(text, expected):
    assert [(s.main_point, s.words) for s in parse_plan(text)] == expected


@pytest.mark.parametrize("text", ["", "   \n", "I cannot help with that.", "Here is an essay about tides. It is long."])
def test_unparseable_plans_raise(text):
    with pytest.raises(PlanParseError):
        parse_plan(text)


def test_a_plan_of_only_template_placeholders_is_unparseable():
    copied = "段落 1 - 主要内容：[这一段写什么！] - 字数:[200] 字\n" * 5
    with pytest.raises(PlanParseError, match="placeholders"):
        parse_plan(copied)


def _check(result, total, contract):
    counts = [s.words for s in result.sections]
    assert sum(counts) == total
    assert len(counts) <= contract.max_sections
    return counts


def test_repair_rescales_counts_to_the_requested_total():
    contract = PlanContract()
    result = repair_plan([PlanSection("a", 300), PlanSection("b", 500)], 1600, contract)
    assert _check(result, 1600, contract) == [600, 1000]
    assert any("rescaled" in n for n in result.notes)


def test_repair_fills_missing_counts_then_sums():
    result = repair_plan([PlanSection("a", None), PlanSection("b", 600)], 1000)
    assert _check(result, 1000, PlanContract()) == [500, 500]
    assert "filled 1 missing word count(s)" in result.notes


def test_repair_splits_sections_over_the_maximum():
    result = repair_plan([PlanSection("long", 3000)], 3000)
    counts = _check(result, 3000, PlanContract())
    assert len(counts) == 3 and all(200 <= c <= 1000 for c in counts)
    assert result.sections[0].main_point.startswith("long (part")


def test_repair_merges_sections_under_the_minimum():
    secs = [PlanSection(str(k), 50) for k in range(10)]
    result = repair_plan(secs, 500)
    counts = _check(result, 500, PlanContract())
    assert all(200 <= c <= 1000 for c in counts) and len(counts) == 2


def test_repair_caps_the_number_of_sections():
    secs = [PlanSection(str(k), 250) for k in range(80)]
    result = repair_plan(secs, 20000)
    counts = _check(result, 20000, PlanContract())
    assert len(counts) <= 50 and all(200 <= c <= 1000 for c in counts)


def test_totals_beyond_the_contract_bend_the_bounds_not_the_sum():
    huge = repair_plan([PlanSection("a", 100)], 100_000)
    assert _check(huge, 100_000, PlanContract()) and len(huge.sections) == 50
    assert any("sections exceed" in n for n in huge.notes)
    tiny = repair_plan([PlanSection("a", 100), PlanSection("b", 100)], 120)
    assert [s.words for s in tiny.sections] == [120]


def test_even_plan_fallback_obeys_the_contract():
    sections = even_plan(10_000)
    assert sum(s.words for s in sections) == 10_000 and len(sections) == 10
    assert all(s.words == 1000 for s in sections)
    assert sections[0].main_point.startswith("Part 1 of 10: the opening")
    assert sections[-1].main_point.startswith("Part 10 of 10: the close")
    zh = even_plan(10_000, PlanContract(200, 500), language="zh")
    assert len(zh) == 20 and zh[0].main_point.startswith("全文第1部分（共20部分）")


def test_plan_text_round_trips_through_the_parser():
    sections = repair_plan([PlanSection("Tides", 300), PlanSection("潮汐", 700)], 1000).sections
    for lang in ("en", "zh"):
        again = parse_plan(plan_text(sections, lang))
        assert [(s.main_point, s.words) for s in again] == [(s.main_point, s.words) for s in sections]


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.one_of(st.none(), st.integers(1, 5000)), min_size=1, max_size=80),
       total=st.integers(1, 60_000), lo=st.integers(50, 400), span=st.integers(0, 1500))
def test_repair_always_sums_to_total_and_respects_feasible_bounds(counts, total, lo, span):
    contract = PlanContract(min_words=lo, max_words=lo + span, max_sections=50)
    result = repair_plan([PlanSection(str(k), c) for k, c in enumerate(counts)], total, contract)
    got = _check(result, total, contract)
    feasible = any(n * lo <= total <= n * (lo + span) for n in range(1, 51))
    if feasible:
        assert all(lo <= c <= lo + span for c in got), (got, result.notes)


def test_lines_copied_from_the_prompts_example_are_not_sections():
    from lengthwise.agentwrite.prompts import EXAMPLE_POINTS

    text = (
        "Paragraph 1 - Main Point: The history of the Port City - Word Count: 400 words\n"
        "Paragraph 2 - Main Point: How a hive is organized: the queen, workers and drones - Word Count: 1000 words\n"
        "Paragraph 3 - Main Point: The threats bees face today - Word Count: 100 words\n"
    )
    assert [s.main_point for s in parse_plan(text, ignore=EXAMPLE_POINTS["en"])] == ["The history of the Port City"]
    zh = "段落 1 - 主要内容：长江的源头 - 字数：300字\n段落 2 - 主要内容：蜂巢的分工：蜂王、工蜂和雄蜂 - 字数：400字"
    assert [s.main_point for s in parse_plan(zh, ignore=EXAMPLE_POINTS["zh"])] == ["长江的源头"]
    with pytest.raises(PlanParseError):
        parse_plan("Paragraph 1 - Main Point: Why bees matter to farms and wild plants - Word Count: 300 words",
                   ignore=EXAMPLE_POINTS["en"])
    # a short real point that happens to share the example's words is kept (a task about bees)
    bees = (
        "Paragraph 1 - Main Point: The queen - Word Count: 300 words\nParagraph 2 - Main Point: Bees - Word Count: 300"
    )
    assert [s.main_point for s in parse_plan(bees, ignore=EXAMPLE_POINTS["en"])] == ["The queen", "Bees"]
