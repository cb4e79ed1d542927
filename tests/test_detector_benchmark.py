"""The real-prose detector benchmark's own logic (benchmarks/detector_corpus.py, benchmarks/detectors.py):
the paraphrase variants and the curves, on made-up documents (the corpus itself needs its packages)."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
detector_corpus = pytest.importorskip("detector_corpus")


def test_a_restatement_never_copies_its_source(monkeypatch):
    # restating changes nothing for the "plain" sentences: they must be redrawn, then replaced by others
    def restate(sentence, rng):
        return sentence if "plain" in sentence else sentence.replace("river", "stream")

    monkeypatch.setattr(detector_corpus, "_restate_en", restate)
    lines = [f"The plain line number {k} says nothing else at all" for k in range(6)]
    lines += [f"The river line number {k} runs beside the town" for k in range(6)]
    text = "\n".join(lines[:6]) + "\n\n" + "\n".join(lines[6:])
    doc = detector_corpus.Doc("d", "en", "verse", "g", "Write a poem.", text)
    text = detector_corpus.paraphrase_variant(doc, seed=3)
    added = [line for line in text.split("\n") if line not in lines and line.strip()]
    share = max(2, int(len(lines) * 0.4))
    assert len(added) == share  # as many restatements as asked for, none of them a copy
    assert all("stream" in line for line in added)


def test_curves_count_flags_at_each_cut(monkeypatch):
    import detectors

    monkeypatch.setattr(detectors, "PARAPHRASE_CUTS", (0.05, 0.1))
    monkeypatch.setattr(detectors, "STUFFING_CUTS", (0.5, 0.9))
    samples = [SimpleNamespace(id=f"{split}-{kind}-{k}", split=split, kind=kind, language="en")
               for split in ("calibration", "heldout") for kind in ("honest", "paraphrase", "stuffing")
               for k in range(2)]
    scores = {}
    for s in samples:
        k = int(s.id[-1])
        scores[s.id] = {"paraphrase": (0.06, 0.2)[k] if s.kind == "paraphrase" else (0.0, 0.07)[k],
                        "stuffing": (0.6, 0.95)[k] if s.kind == "stuffing" else (0.1, 0.7)[k]}
    table = detectors.curves(samples, scores)
    assert table["heldout"]["paraphrase"] == [{"cut": 0.05, "fpr": 0.5, "recall": 1.0},
                                              {"cut": 0.1, "fpr": 0.0, "recall": 0.5}]
    assert table["calibration"]["stuffing"] == [{"cut": 0.5, "fpr": 0.5, "recall": 1.0},
                                                {"cut": 0.9, "fpr": 0.0, "recall": 0.5}]
    assert detectors.curves(samples, scores, "en") == table and detectors.curves(samples, scores, "zh") == {}


def test_licences_not_in_english_are_not_english_legal_text():
    english = ("Permission is hereby granted to any person obtaining a copy of this software, to deal in the "
               "software without restriction, subject to the following conditions.")
    french = ("Le « Concédant » : toute personne concédant un droit de « Réutilisation » sur l'« Information » "
              "dans les libertés et les conditions prévues par la présente licence.")
    german = "Der Lizenzgeber räumt Ihnen das Recht ein, das Werk zu vervielfältigen und zu verbreiten."
    assert detector_corpus._is_english(english)
    assert not detector_corpus._is_english(french) and not detector_corpus._is_english(german)


def test_reflag_reads_calibrated_cuts_off_the_shipped_detections():
    import detectors

    from lengthwise.rewards.redundancy import Detection

    shipped = {
        "exact_repetition": Detection("exact_repetition", 0.2, 0.15),
        "paraphrase_repetition": Detection("paraphrase_repetition", 0.1, 0.08),
        "keyword_stuffing": Detection("keyword_stuffing", 0.2, 0.1, details={"terms": [
            {"term": "superb", "probability": 0.95}, {"term": "卓越", "probability": 0.96}]}),
    }
    assert detectors.reflag(shipped, {}) == {"exact_repetition": True, "paraphrase_repetition": True,
                                             "keyword_stuffing": True}
    raised = {"thresholds": {"paraphrase_repetition": 0.12}, "stuffing": {"term_probability": 0.97}}
    assert detectors.reflag(shipped, raised) == {"exact_repetition": True, "paraphrase_repetition": False,
                                                 "keyword_stuffing": True}  # 卓越 still over the Chinese cut
    raised["stuffing"]["zh_term_probability"] = 0.99
    assert not detectors.reflag(shipped, raised)["keyword_stuffing"]


def _restate_by_swap(sentence, rng):
    return sentence.replace("river", "stream").replace("town", "village")


def test_inline_placement_puts_the_same_restatements_right_after_their_sources(monkeypatch):
    monkeypatch.setattr(detector_corpus, "_restate_en", _restate_by_swap)
    paragraphs = [" ".join(f"The river number {p}{k} runs beside the old town." for k in range(4)) for p in range(3)]
    doc = detector_corpus.Doc("d", "en", "docs", "g", "Write.", "\n\n".join(paragraphs))
    apart = detector_corpus.paraphrase_variant(doc, seed=5)
    inline = detector_corpus.paraphrase_variant(doc, seed=5, inline=True)
    restated = [s for s in detector_corpus.split_sentences(apart) if "stream" in s]
    assert restated and sorted(restated) == sorted(s for s in detector_corpus.split_sentences(inline) if "stream" in s)
    assert inline.count("\n\n") == doc.text.count("\n\n")  # no new paragraphs: each sits beside its source
    for r in restated:
        source = r.replace("stream", "river").replace("village", "town")
        assert f"{source} {r}" in inline
    assert apart.count("\n\n") > doc.text.count("\n\n")  # the corpus's own placement is unchanged


def test_embedder_sweep_reads_the_shipped_detector_and_its_same_paragraph_margin():
    detector_embedders = pytest.importorskip("detector_embedders")
    from lengthwise.rewards.redundancy import paraphrase_repetition

    vectors = {"A": [1.0, 0.0], "B": [0.9, 0.436], "C": [0.0, 1.0]}  # cos(A, B) = 0.9, C unrelated

    def embed(texts):
        return np.array([vectors[t.split()[0]] for t in texts], dtype=np.float32)

    first = "A one two three four five six seven eight nine ten eleven twelve."
    near = "B one two three four five six seven eight nine ten eleven twelve."
    other = "C one two three four five six seven eight nine ten eleven twelve."
    for text in (f"{first} {near} {other}", f"{first} {other}\n\n{near}"):
        cos = detector_embedders.cosines(text, embed)
        for long, cut in ((0.86, 0.08), (0.95, 0.08), (0.86, 0.5)):
            detected = paraphrase_repetition(text, embed, similarity=long, short_similarity=0.82, threshold=cut)
            assert detected.flagged == (cos.score(long, 0.82) >= cut)
    beside = detector_embedders.cosines(f"{first} {near} {other}", embed)
    apart = detector_embedders.cosines(f"{first} {other}\n\n{near}", embed)
    assert beside.score(0.86, 0.82, margin=0.05) == 0.0  # same paragraph: needs 0.91
    assert apart.score(0.86, 0.82, margin=0.05) == pytest.approx(13 / 39)  # other paragraph: 0.86 is enough
    assert beside.score(0.86, 0.82, margin=0.0) == pytest.approx(13 / 39)
