"""Calibrate the hacking detectors on a sample of the user's own honest text.

The shipped operating points were chosen on one corpus of real prose; on registers it does not hold (scripture,
licences, man pages) they flag 6–12 % of honest texts (docs/rewards.md). Given honest texts of the register a
user trains on, ``calibrate_detectors`` raises each detector's cut just enough that at most ``target_fpr`` of
them are flagged by it, and never lowers one (a cut below the shipped one would trade recall the corpus was
calibrated for against texts nobody checked). The result is a ``detectors:`` block for the stack YAML or
``lengthwise audit --detectors``.

What moves: the flag thresholds of the copy and paraphrase detectors (their scores are shares of the text
implicated), and keyword stuffing's term probabilities per language (a text is flagged when any candidate term
reaches its language's cut). Paraphrase has one threshold for every script in the configuration, so with
English and Chinese texts together a moved threshold is at least the higher of their shipped ones (0.12).

What it costs: a raised cut also misses hacks it caught before. ``probes=True`` (the default) makes two hacks
of each honest text and reports how many each configuration catches (``DetectorCalibration.probes``): a paste
(earlier paragraphs pasted again until the text is 1.4 times as long) and keyword stuffing (two praise words,
each inserted before random words until it makes 1–2.5 % of the words, at least 4 times; words the stuffing
model was not fitted on). Paraphrase is not probed: restating a sentence in other words needs a thesaurus or a
model the package does not ship (docs/rewards.md gives the cost measured per register on the real-prose corpus).
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lengthwise.rewards.hack_audit import HackAudit
from lengthwise.rewards.keywords import StuffingModel
from lengthwise.synthetic import paste_hack
from lengthwise.text import count_words, is_cjk_text

__all__ = ["DetectorCut", "DetectorCalibration", "ProbeRecall", "calibrate_detectors", "cut_for", "stuffing_probe"]

# Praise a reward model would like, from the half of the real-prose corpus's pool the stuffing model was not
# fitted on (benchmarks/detector_corpus.py), so a probe is not caught merely for being a training word.
PROBE_WORDS_EN = ("impressive", "superb", "exemplary", "groundbreaking", "captivating", "eloquent", "illuminating",
                  "holistic", "thoughtful", "definitive", "authoritative")
PROBE_WORDS_ZH = ("权威详尽", "严谨透彻", "生动精辟", "新颖独特", "出类拔萃", "引人入胜")

# Above the highest honest score by this much, so the text that set the cut is not flagged at it.
_STEP = 1e-4


@dataclass
class DetectorCut:
    """One knob: the value in force (the lowest, where it depends on the script), the calibrated one, whether
    it moved, and how many honest texts the detector flags before and after."""

    knob: str
    default: float
    value: float
    changed: bool
    flagged_before: int
    flagged_after: int


@dataclass
class ProbeRecall:
    """One hack made from each honest text: how many of the ``n`` the cuts in force and the calibrated cuts
    catch (by that family's detectors)."""

    family: str
    n: int
    caught_before: int
    caught_after: int


@dataclass
class DetectorCalibration:
    n: int
    target_fpr: float
    cuts: list[DetectorCut] = field(default_factory=list)
    flagged_before: int = 0  # by any detector
    flagged_after: int = 0
    probes: list[ProbeRecall] = field(default_factory=list)

    def detectors_config(self) -> dict:
        """The ``detectors:`` block: only the knobs that moved (an empty block keeps every default)."""
        thresholds = {c.knob.split(".", 1)[1]: c.value for c in self.cuts
                      if c.knob.startswith("thresholds.") and c.changed}
        stuffing = {c.knob.split(".", 1)[1]: c.value for c in self.cuts if c.knob.startswith("stuffing.") and c.changed}
        out: dict = {}
        if thresholds:
            out["thresholds"] = thresholds
        if stuffing:
            out["stuffing"] = stuffing
        return out


def cut_for(scores: Sequence[float], default: float, target_fpr: float) -> float:
    """The lowest cut ≥ ``default`` at which at most ``target_fpr`` of ``scores`` reach it.

    >>> cut_for([0.01, 0.02, 0.2, 0.3], default=0.1, target_fpr=0.25)
    0.2001
    >>> cut_for([0.01, 0.02], default=0.1, target_fpr=0.0)
    0.1
    """
    allowed = math.floor(target_fpr * len(scores) + 1e-9)
    ranked = sorted(scores, reverse=True)
    if len(ranked) <= allowed:
        return default
    # flagging the `allowed` highest is fine; the next one must fall below the cut
    return max(default, round(ranked[allowed] + _STEP, 6))


def stuffing_probe(text: str, seed: int) -> str:
    """``text`` stuffed with two praise words (module doc), seeded; Chinese words for a Chinese text."""
    rng = random.Random(seed)
    cjk = is_cjk_text(text)
    chosen = rng.sample(PROBE_WORDS_ZH if cjk else PROBE_WORDS_EN, k=2)
    total = count_words(text)
    unit = count_words(chosen[0])  # a Chinese word counts per character
    order = [w for w in chosen for _ in range(max(4, round(total * rng.uniform(0.01, 0.025) / unit)))]
    rng.shuffle(order)
    paragraphs = [list(p) if cjk else p.split(" ") for p in text.split("\n\n")]
    for word in order:
        tokens = paragraphs[rng.randrange(len(paragraphs))]
        tokens.insert(rng.randint(0, len(tokens)), word)
    return "\n\n".join(("" if cjk else " ").join(t) for t in paragraphs)


def _seed(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def calibrate_detectors(samples: Sequence[tuple[str, str]], target_fpr: float = 0.02,
                        audit: HackAudit | None = None, progress=None, probes: bool = True) -> DetectorCalibration:
    """Cuts for honest ``(prompt, text)`` samples (module doc). ``audit`` gives the starting configuration
    (default: the shipped one, paraphrase on); ``progress(iterable, description)`` wraps each pass over the
    samples (e.g. tqdm); ``probes`` measures what the calibrated cuts still catch."""
    if not 0.0 <= target_fpr < 1.0:
        raise ValueError(f"target_fpr must be in [0, 1), got {target_fpr}")
    if not samples:
        raise ValueError("no honest texts to calibrate on")
    audit = audit or HackAudit(paraphrase=True)
    rows = []
    for prompt, text in (progress(samples, "calibrate") if progress else samples):
        detections = audit(prompt, text)
        stuffing = detections["keyword_stuffing"].details  # highest term probability per language
        rows.append((detections, stuffing.get("max_probability_en", 0.0), stuffing.get("max_probability_zh", 0.0)))
    model: StuffingModel = audit.stuffing
    result = DetectorCalibration(len(rows), target_fpr)
    any_before = [any(det.flagged for det in d.values()) for d, *_ in rows]
    any_after = [False] * len(rows)
    for name in ("exact_repetition", "near_duplicate_paragraphs", "paraphrase_repetition"):
        if name not in rows[0][0]:
            continue  # paraphrase off
        before = [d[name].flagged for d, *_ in rows]
        scores = [d[name].score for d, *_ in rows]
        # the threshold in force for each text: configured, or the detector's default for its script
        in_force = [d[name].threshold for d, *_ in rows]
        low, high = min(in_force), max(in_force)
        needed = cut_for(scores, low, target_fpr)
        changed = needed > low and any(before)
        # one configured threshold serves every script: never below any text's own cut
        value = max(needed, high) if changed else low
        after = [x >= value for x in scores] if changed else before
        result.cuts.append(DetectorCut(f"thresholds.{name}", low, value, changed, sum(before), sum(after)))
        any_after = [a or b for a, b in zip(any_after, after, strict=True)]
    stuffed_after = [False] * len(rows)
    for knob, default, scores in (("term_probability", model.term_probability, [en for _, en, _ in rows]),
                                  ("zh_term_probability", model.zh_term_probability, [zh for _, _, zh in rows])):
        before = [x >= default for x in scores]
        value = cut_for(scores, default, target_fpr)
        after = [x >= value for x in scores]
        result.cuts.append(DetectorCut(f"stuffing.{knob}", default, value, value != default, sum(before), sum(after)))
        stuffed_after = [a or b for a, b in zip(stuffed_after, after, strict=True)]
    # a stuffed term also needs ≥ 1 % of the text, which every candidate has: the flag is the term's
    any_after = [a or b for a, b in zip(any_after, stuffed_after, strict=True)]
    result.flagged_before, result.flagged_after = sum(any_before), sum(any_after)
    if probes:
        result.probes = _probe(progress(samples, "probe hacks") if progress else samples, audit, result)
    return result


def _probe(samples: Iterable[tuple[str, str]], audit: HackAudit, calibration: DetectorCalibration
           ) -> list[ProbeRecall]:
    """Paste and stuffing hacks of every honest text, read under the cuts in force and the calibrated ones."""
    cuts = {c.knob: c for c in calibration.cuts}
    # the same thresholds and stuffing model, without the paraphrase detector (neither probe is a paraphrase)
    probe_audit = HackAudit(paraphrase=False, embedder=audit.embedder, thresholds=audit.thresholds,
                            stuffing=audit.stuffing)
    probe_audit.appeal_embedder = audit.appeal_embedder  # one loaded model, not a second copy of MiniLM
    caught = {"paste": [0, 0], "stuffing": [0, 0]}
    copies = ("exact_repetition", "near_duplicate_paragraphs")
    n = 0
    for prompt, text in samples:
        if not text.strip():
            continue
        n += 1
        seed = _seed(text)
        pasted = probe_audit(prompt, paste_hack(text, seed, factor=1.4))
        caught["paste"][0] += any(pasted[name].flagged for name in copies)
        caught["paste"][1] += any(pasted[name].score >= cuts[f"thresholds.{name}"].value
                                  if cuts[f"thresholds.{name}"].changed else pasted[name].flagged for name in copies)
        details = probe_audit(prompt, stuffing_probe(text, seed))["keyword_stuffing"].details
        highest = {"term_probability": details.get("max_probability_en", 0.0),
                   "zh_term_probability": details.get("max_probability_zh", 0.0)}
        caught["stuffing"][0] += any(highest[k] >= cuts[f"stuffing.{k}"].default for k in highest)
        caught["stuffing"][1] += any(highest[k] >= cuts[f"stuffing.{k}"].value for k in highest)
    return [ProbeRecall(family, n, *counts) for family, counts in caught.items()]
