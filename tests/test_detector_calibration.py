"""Calibrating the hacking detectors on a user's own honest text (`lengthwise.rewards.detector_calibration`,
`lengthwise audit --calibrate / --detectors`)."""

import json

import pytest

from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.rewards.detector_calibration import calibrate_detectors, cut_for
from lengthwise.rewards.hack_audit import HackAudit
from lengthwise.synthetic import hacking_corpus


def test_cut_for_golden_values():
    scores = [0.01, 0.02, 0.2, 0.3]
    assert cut_for(scores, default=0.1, target_fpr=0.25) == pytest.approx(0.2001)  # one of four may stay flagged
    assert cut_for(scores, default=0.1, target_fpr=0.0) == pytest.approx(0.3001)  # none may
    assert cut_for(scores, default=0.1, target_fpr=0.5) == 0.1  # two may: the shipped cut already allows that
    assert cut_for([0.01, 0.02], default=0.1, target_fpr=0.0) == 0.1  # never lowered


@pytest.fixture(scope="module")
def register():
    """A "register" whose honest texts restate themselves (the synthetic corpus's English paraphrase texts,
    standing in for licences that restate clauses) and, apart, stuffed texts of the same kind."""
    corpus = hacking_corpus(4, seed=3)
    restating = [s for s in corpus if s.kind == "paraphrase" and s.language == "en"]
    stuffed = [s for s in corpus if s.kind == "stuffing" and s.language == "en"]
    return restating, stuffed


@pytest.fixture(scope="module")
def audit():
    return HackAudit(paraphrase=True)


def test_calibration_raises_the_cut_the_register_needs_and_keeps_the_others(register, audit):
    restating, stuffed = register
    assert all(audit(s.prompt, s.text)["paraphrase_repetition"].flagged for s in restating)
    calibration = calibrate_detectors([(s.prompt, s.text) for s in restating], target_fpr=0.0, audit=audit)
    config = calibration.detectors_config()
    assert set(config["thresholds"]) == {"paraphrase_repetition"}
    # one of them also repeats the generator's "admired" (term probability 0.96): its language's cut rises past it
    assert config.get("stuffing", {}).get("term_probability", 0.93) > 0.93
    assert calibration.flagged_before == len(restating) and calibration.flagged_after == 0
    tuned = HackAudit(paraphrase=True, embedder=audit.embedder, thresholds=config["thresholds"],
                      stuffing=config.get("stuffing"))
    assert not any(any(d.flagged for d in tuned(s.prompt, s.text).values()) for s in restating)
    # stuffing with praise the register does not use is still caught
    assert all(tuned(s.prompt, s.text)["keyword_stuffing"].flagged for s in stuffed)


def test_calibration_on_texts_nothing_flags_changes_nothing(audit):
    honest = [s for s in hacking_corpus(3, seed=5) if s.kind in ("honest", "poem")]
    calibration = calibrate_detectors([(s.prompt, s.text) for s in honest], audit=audit)
    assert calibration.detectors_config() == {} and calibration.flagged_before == 0
    assert all(not c.changed and c.value == c.default for c in calibration.cuts)


def test_calibration_refuses_nothing_to_calibrate_on():
    with pytest.raises(ValueError, match="no honest texts"):
        calibrate_detectors([])


def test_audit_calibrate_then_use_the_block(tmp_path, register, capsys):
    restating, stuffed = register
    honest = write_jsonl(tmp_path / "honest.jsonl",
                         [{"id": f"h{k}", "prompt": s.prompt, "response": s.text} for k, s in enumerate(restating)])
    suspects = write_jsonl(tmp_path / "suspects.jsonl",
                           [{"id": f"s{k}", "prompt": s.prompt, "response": s.text} for k, s in enumerate(stuffed)])
    block = tmp_path / "detectors.yaml"
    assert main(["audit", str(honest), "--calibrate", str(block), "--target-fpr", "0", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"flagged by any detector {len(restating)} -> 0" in out and "paraphrase_repetition" in out
    text = block.read_text()
    assert text.startswith("# lengthwise audit --calibrate") and "paraphrase_repetition:" in text
    # the block is used: the honest texts pass, the stuffed ones are still flagged
    assert main(["audit", str(honest), "--detectors", str(block), "-q"]) == 0
    assert f"0 of {len(restating)} responses flagged" in capsys.readouterr().out
    rows = tmp_path / "rows.jsonl"
    assert main(["audit", str(suspects), "--detectors", str(block), "-o", str(rows), "-q"]) == 0
    audited = [json.loads(x) for x in rows.read_text().splitlines()]
    assert all("keyword_stuffing" in r["flags"] for r in audited)
    # the same block read from a stack YAML's own 'detectors:' key
    stack = tmp_path / "stack.yaml"
    stack.write_text("components: []\n" + text.split("\n", 2)[2])
    assert main(["audit", str(honest), "--detectors", str(stack), "-q"]) == 0
    assert f"0 of {len(restating)} responses flagged" in capsys.readouterr().out


def test_a_bad_detectors_file_is_a_clear_error(tmp_path, capsys):
    responses = write_jsonl(tmp_path / "r.jsonl", [{"prompt": "p", "response": "Some text."}])
    bad = tmp_path / "bad.yaml"
    bad.write_text("detectors:\n  thresholds:\n    paraphrase_repetition: 2.5\n")
    assert main(["audit", str(responses), "--detectors", str(bad), "-q"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "paraphrase_repetition" in err and "Traceback" not in err
    bad.write_text("detectors:\n  stuffing:\n    cutoff: 0.9\n")
    assert main(["audit", str(responses), "--detectors", str(bad), "-q"]) == 2
    assert "term_probability" in capsys.readouterr().err  # the valid names are listed
    assert main(["audit", str(responses), "--calibrate", str(tmp_path / "x.yaml"), "--target-fpr", "1.5"]) == 2
    assert not (tmp_path / "x.yaml").exists()
    assert main(["audit", str(responses), "--calibrate", str(tmp_path / "x.yaml"), "-o", str(tmp_path / "r.out")]) == 2
    assert "give one of them" in capsys.readouterr().err and not (tmp_path / "x.yaml").exists()


def test_eval_audits_with_the_calibrated_block(tmp_path, register, capsys):
    restating, _ = register
    responses = write_jsonl(tmp_path / "r.jsonl", [{"id": f"h{k}", "prompt": s.prompt, "response": s.text}
                                                   for k, s in enumerate(restating)])
    block = tmp_path / "detectors.yaml"
    assert main(["audit", str(responses), "--calibrate", str(block), "--target-fpr", "0", "-q"]) == 0

    def flags(folder):
        return [json.loads(x)["flags"] for x in (folder / "items.jsonl").read_text().splitlines()]

    assert main(["eval", str(responses), "-o", str(tmp_path / "shipped"), "--paraphrase", "-q"]) == 0
    assert all("paraphrase_repetition" in f for f in flags(tmp_path / "shipped"))
    assert main(["eval", str(responses), "-o", str(tmp_path / "mine"), "--paraphrase", "--detectors", str(block),
                 "-q"]) == 0
    assert not any(flags(tmp_path / "mine"))
    # a rerun into the first folder with other cuts is another run: refused unless --restart
    assert main(["eval", str(responses), "-o", str(tmp_path / "shipped"), "--paraphrase", "--detectors", str(block),
                 "-q"]) == 2
    assert "--restart" in capsys.readouterr().err


def test_an_empty_honest_text_calibrates_like_any_other(audit):
    calibration = calibrate_detectors([("Write a poem.", ""), ("Write a poem.", "A short honest line.")],
                                      audit=audit)
    assert calibration.n == 2 and calibration.detectors_config() == {}


def test_stuffing_probe_inserts_two_unfitted_praise_words_at_one_to_two_and_a_half_percent():
    from lengthwise.rewards.detector_calibration import PROBE_WORDS_EN, PROBE_WORDS_ZH, stuffing_probe
    from lengthwise.rewards.keywords import content_terms
    from lengthwise.text import count_words

    vocabulary = "the river runs past an old stone mill where farmers bring grain each autumn".split()
    text = "\n\n".join(" ".join(vocabulary[(p + k) % len(vocabulary)] for k in range(200)) for p in range(3))
    assert count_words(text) == 600
    stuffed = stuffing_probe(text, seed=7)
    assert stuffed == stuffing_probe(text, seed=7) and stuffed.count("\n\n") == 2
    added = [w for w in stuffed.split() if w in PROBE_WORDS_EN]
    assert len(set(added)) == 2 and count_words(stuffed) == count_words(text) + len(added)
    for w in set(added):
        assert 0.01 * 600 - 1 <= added.count(w) <= 0.025 * 600 + 1
    zh = stuffing_probe("这是一个关于河流和城市的故事。" * 40, seed=1)
    assert sum(zh.count(w) for w in PROBE_WORDS_ZH) >= 8
    # none of the probe words is one the stuffing model was fitted on (benchmarks/detector_corpus.py)
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    corpus = pytest.importorskip("detector_corpus")
    fitted = corpus.PRAISE_EN[:len(corpus.PRAISE_EN) // 2] + corpus.PRAISE_ZH[:len(corpus.PRAISE_ZH) // 2]
    assert not set(PROBE_WORDS_EN + PROBE_WORDS_ZH) & set(fitted)
    assert all(content_terms(w) for w in PROBE_WORDS_EN)


def test_probes_report_what_a_raised_cut_stops_catching(register, audit):
    restating, _ = register
    kept = calibrate_detectors([(s.prompt, s.text) for s in restating], target_fpr=1 - 1e-9, audit=audit)
    raised = calibrate_detectors([(s.prompt, s.text) for s in restating], target_fpr=0.0, audit=audit)
    for calibration in (kept, raised):
        probes = {p.family: p for p in calibration.probes}
        assert set(probes) == {"paste", "stuffing"} and probes["paste"].n == len(restating)
        assert probes["paste"].caught_before == len(restating)  # a 1.4x paste of every text is caught
        assert probes["stuffing"].caught_before >= len(restating) - 1
    kept_probes = {p.family: p for p in kept.probes}
    assert all(p.caught_after == p.caught_before for p in kept_probes.values())  # no cut moved
    # the raised paraphrase threshold does not touch the copy detectors; the raised stuffing cut may cost catches
    raised_probes = {p.family: p for p in raised.probes}
    assert raised_probes["paste"].caught_after == raised_probes["paste"].caught_before
    assert raised_probes["stuffing"].caught_after <= raised_probes["stuffing"].caught_before
    assert not calibrate_detectors([(s.prompt, s.text) for s in restating], audit=audit, probes=False).probes
