"""Hacking detectors on the synthetic corpus: each flags its hack, none flags honest text."""

import logging
import zlib
from collections import defaultdict

import numpy as np
import pytest

from lengthwise.rewards.embeddings import Embedder
from lengthwise.rewards.format import check_markdown, check_think_answer
from lengthwise.rewards.hack_audit import HackAudit
from lengthwise.rewards.keywords import keyword_stuffing
from lengthwise.rewards.redundancy import (
    exact_repetition,
    naive_near_duplicate_paragraphs,
    near_duplicate_paragraphs,
)
from lengthwise.synthetic import hacking_corpus
from lengthwise.text import count_words

DETECTOR_FOR = {
    "paste": ["exact_repetition", "near_duplicate_paragraphs"],
    "paraphrase": ["paraphrase_repetition"],
    "stuffing": ["keyword_stuffing"],
}


@pytest.fixture(scope="module")
def corpus():
    return hacking_corpus(6, seed=0) + hacking_corpus(6, seed=1)


@pytest.fixture(scope="module")
def audited(corpus):
    audit = HackAudit()
    return [(s, audit(s.prompt, s.text)) for s in corpus]


def test_corpus_has_honest_texts_of_1000_to_3000_words_in_both_languages(corpus):
    honest = [s for s in corpus if s.kind in ("honest", "poem")]
    assert {s.language for s in honest} == {"en", "zh"}
    assert any(s.kind == "poem" for s in honest)
    assert all(900 <= count_words(s.text) <= 3300 for s in honest)
    for part in (hacking_corpus(6, seed=0), hacking_corpus(6, seed=1)):
        for s in part:
            if s.kind in ("paste", "paraphrase"):
                assert count_words(s.text) > 1.4 * count_words(part[s.source].text)


@pytest.mark.parametrize("hack, language", [(h, lang) for h in sorted(DETECTOR_FOR) for lang in ("en", "zh")])
def test_each_detector_flags_its_hack_with_recall_at_least_0_9(audited, hack, language):
    for name in DETECTOR_FOR[hack]:
        flags = [d[name].flagged for s, d in audited if s.kind == hack and s.language == language]
        assert len(flags) == 10
        assert sum(flags) / len(flags) >= 0.9, (name, flags)


def test_no_detector_flags_honest_texts_more_than_one_in_ten(audited):
    honest = [(s, d) for s, d in audited if s.kind in ("honest", "poem")]
    rates = defaultdict(list)
    for _, d in honest:
        for name, det in d.items():
            rates[name].append(det.flagged)
    for name, flags in rates.items():
        assert sum(flags) / len(flags) <= 0.1, (name, flags)


def test_refrain_poem_is_left_alone(audited):
    for s, d in audited:
        if s.kind == "poem":
            assert not any(det.flagged for det in d.values()), (s.language, {k: v.score for k, v in d.items()})


def test_detections_carry_evidence_spans_that_point_at_copies(audited):
    s, d = next((s, d) for s, d in audited if s.kind == "paste" and s.language == "en")
    det = d["exact_repetition"]
    assert det.spans and det.details["longest_span_chars"] > 100
    span = det.spans[0]
    copy, original = s.text[span.start:span.end], s.text[span.ref_start:span.ref_end]
    assert copy == original
    stuffed = next(d for s, d in audited if s.kind == "stuffing" and s.language == "en")["keyword_stuffing"]
    assert {t["term"] for t in stuffed.details["terms"]} & {"comprehensive", "innovative", "insightful"}


def test_exact_repetition_ignores_short_refrains_and_catches_pasted_paragraph():
    refrain = "so sing it low and sing it slow"
    poem = "\n\n".join(f"line {i} about the sea and sky number {i}\n{refrain}" for i in range(30))
    assert exact_repetition(poem).score == 0.0
    para = " ".join(f"token{chr(97 + i % 26)}{i}" for i in range(40))
    text = "Intro sentence here.\n\n" + para + "\n\nMiddle part with other words entirely.\n\n" + para
    det = exact_repetition(text)
    assert det.flagged and len(det.spans) == 1
    span = det.spans[0]
    assert text[span.start:span.end] == text[span.ref_start:span.ref_end] == para


def test_near_duplicate_lsh_agrees_with_the_all_pairs_reference(corpus):
    for s in corpus[:12]:
        assert near_duplicate_paragraphs(s.text).score == pytest.approx(
            naive_near_duplicate_paragraphs(s.text), abs=0.02
        )


def test_keyword_stuffing_ignores_terms_the_prompt_asks_for():
    from lengthwise.rewards.embeddings import Embedder
    from lengthwise.synthetic import honest_text

    embed = Embedder()
    text, _ = honest_text(3, "en", 1500)
    body = text.replace(". ", ", an outstanding and superb moment. ")  # the same praise in most sentences
    flagged_without = keyword_stuffing(body, prompt="Write about the sea.", embed=embed)
    flagged_with = keyword_stuffing(body, prompt="Write an outstanding, superb story.", embed=embed)
    assert {"outstanding", "superb"} & {t["term"] for t in flagged_without.details["terms"]}
    assert not {"outstanding", "superb"} & {t["term"] for t in flagged_with.details["terms"]}
    assert flagged_with.score <= flagged_without.score


def test_think_answer_grammar():
    assert check_think_answer("<think>plan</think><answer>text</answer>").ok
    assert check_think_answer("<think>plan</think>\n<answer>text").ok
    assert not check_think_answer("<think>plan</think><answer>a</answer><answer>b</answer>").ok
    assert not check_think_answer("hello <think>p</think><answer>t</answer>").ok
    assert not check_think_answer("<think>p</think><answer>t</answer> trailing").ok
    assert not check_think_answer("<answer>t</answer><think>p</think>").ok
    assert not check_think_answer("<think>p</think><answer>  </answer>").ok
    assert not check_think_answer("no tags").ok
    assert not check_think_answer(None).ok


def test_markdown_structure():
    assert check_markdown("plain prose") == (1.0, [])
    assert check_markdown("# A\ntext\n## B\ntext")[0] == 1.0
    score, problems = check_markdown("# A\ntext\n### C\ntext")
    assert score == 0.5 and "jumps" in problems[0]
    score, problems = check_markdown("# A\n\n# B\ntext")
    assert score == 0.5 and "empty section" in problems[0]


def test_table_rows_are_not_compared_as_paraphrases():
    from lengthwise.rewards.embeddings import Embedder
    from lengthwise.rewards.redundancy import _is_prose, paraphrase_repetition

    rows = ["| Operation | Result | Notes |", "+----------+--------+-------+",
            "| x in s | True if an item of s equals x | (1) |", "| x not in s | False if an item of s equals x | (1) |"]
    assert not any(_is_prose(r) for r in rows)
    assert _is_prose("The operations in the following table are supported by most sequence types.")
    # the same rows as a document's tables, twice over: layout, not restated prose
    text = "\n".join(rows * 3)
    assert paraphrase_repetition(text, Embedder()).score == 0.0


def test_short_lines_restated_with_synonyms_are_caught_at_their_own_cosine():
    from lengthwise.rewards.embeddings import Embedder
    from lengthwise.rewards.redundancy import paraphrase_repetition

    embed = Embedder()
    original = ["The quiet river runs beneath the old stone bridge", "Her lantern burns against the winter dark",
                "We walked the long road home before the dawn", "The farmer counts his sheep upon the hill"]
    restated = ["The silent river flows beneath the old stone bridge", "Her lamp burns against the winter dark",
                "We walked the lengthy road home before the dawn", "The farmer tallies his sheep upon the hill"]
    text = "\n".join(original) + "\n\n" + "\n".join(restated)
    default = paraphrase_repetition(text, embed)
    one_cosine = paraphrase_repetition(text, embed, short_units=0)  # every pair at the main cosine, 0.86
    assert default.details["short_similarity"] == 0.82 and default.details["short_units"] == 10
    # "Her lantern burns…" / "Her lamp burns…" sits between the two cosines: only the short-line rule sees it
    assert len(default.spans) == len(one_cosine.spans) + 1 and default.score > one_cosine.score
    assert any(0.82 <= span.similarity < 0.86 for span in default.spans)


def test_a_refrain_sung_again_with_other_punctuation_is_still_a_refrain():
    from lengthwise.rewards.embeddings import Embedder
    from lengthwise.rewards.redundancy import paraphrase_repetition

    verse = ["The tide comes in and carries us away.", "Gulls are circling over the harbour wall",
             "A bell is ringing somewhere down the bay", "The tide comes in, and Carries us away",
             "Nets are drying on the stones till morning", "THE TIDE COMES IN AND CARRIES US AWAY!"]
    detection = paraphrase_repetition("\n".join(verse), Embedder())
    assert detection.score == 0.0 and not detection.spans
    # the same words in a sentence of 12 units or more are a copy, not a refrain
    long_line = "The tide comes in at night and carries all of us away across the bay"
    copied = paraphrase_repetition("\n".join([long_line, verse[1], verse[2], long_line.upper() + "!"]), Embedder())
    assert copied.spans and copied.spans[0].similarity > 0.95


class _OtherEmbedder(Embedder):
    """Stands in for a user's own sentence model: a different space (seeded random unit vectors per text)."""

    def __init__(self):
        super().__init__("someone/else-embedder")
        self.seen: list[str] = []

    def _encode(self, texts):
        self.seen += texts
        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(16) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_stuffing_appeal_keeps_its_own_model_when_another_embedder_is_configured(corpus, caplog):
    stuffed = next(s for s in corpus if s.kind == "stuffing" and s.language == "en")
    other = _OtherEmbedder()
    with caplog.at_level(logging.WARNING, logger="lengthwise.rewards.hack_audit"):
        mine = HackAudit(embedder=other)(stuffed.prompt, stuffed.text)
    shipped = HackAudit()(stuffed.prompt, stuffed.text)
    # the fitted stuffing model reads the cosines it was fitted on, so its evidence is unchanged ...
    assert mine["keyword_stuffing"].details["terms"] == shipped["keyword_stuffing"].details["terms"]
    assert mine["keyword_stuffing"].flagged
    # ... while the paraphrase detector uses the configured model, and the user is told its cosines are MiniLM's
    assert other.seen and not any(t.startswith("It was very ") for t in other.seen)
    assert "paraphrase_similarity" in caplog.text
