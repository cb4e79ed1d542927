"""Benchmark: the hacking detectors on real, human-written prose (issue #15).

One run, same texts: the current detectors (keyword stuffing with a background model and topic support,
thresholds chosen on the calibration split) beside the previous ones (``_legacy_keywords.py``: stuffing
judged against the text's own frequency profile; the old paraphrase and penalty settings). Reported on the
held-out splits of ``detector_corpus`` per hack family, language and domain: precision, recall and the
false-positive rate on honest texts; and on the synthetic corpus, the recall the old calibration was built on.
Two held-out splits: ``heldout`` (half the source groups of the calibration's own sources) and ``fresh``
(sources no choice was made on, added once the detectors were fixed; docs/rewards.md).

    python benchmarks/detectors.py            # the benchmark (about 6 minutes on 2 cores)
    python benchmarks/detectors.py --fit      # refit the stuffing model and sweep thresholds on calibration
                                              # (out of fold; folds hold out sources and stuffed words)

Goals, on each held-out split and on both together: FPR on honest prose <= 5 % overall and per domain;
recall >= 0.9 for paste, paraphrase and stuffing; synthetic recall not below the previous detectors'.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import _legacy_keywords  # noqa: E402
import detector_corpus  # noqa: E402
from _common import RESULTS as RESULTS_DIR  # noqa: E402
from _common import goal, write_results  # noqa: E402

from lengthwise.rewards.detector_calibration import calibrate_detectors  # noqa: E402
from lengthwise.rewards.embeddings import Embedder  # noqa: E402
from lengthwise.rewards.hack_audit import HackAudit  # noqa: E402
from lengthwise.rewards.keywords import StuffingModel, content_terms, is_cjk_term, term_evidence  # noqa: E402
from lengthwise.rewards.redundancy import exact_repetition, near_duplicate_paragraphs, paraphrase_repetition  # noqa: E402
from lengthwise.stats import proportion_ci  # noqa: E402
from lengthwise.synthetic import hacking_corpus  # noqa: E402
from lengthwise.text import is_cjk_text  # noqa: E402

FAMILY_DETECTORS = {"paste": ("exact_repetition", "near_duplicate_paragraphs"),
                    "paraphrase": ("paraphrase_repetition",), "stuffing": ("keyword_stuffing",)}


def legacy_audit(embedder: Embedder, prompt: str, text: str) -> dict[str, bool]:
    """The detectors as they were before the real-prose calibration."""
    return {
        "exact_repetition": exact_repetition(text, threshold=0.15).flagged,
        "near_duplicate_paragraphs": near_duplicate_paragraphs(text, threshold=0.15).flagged,
        "keyword_stuffing": _legacy_keywords.keyword_stuffing(text, prompt, threshold=0.2).flagged,
        "paraphrase_repetition": paraphrase_repetition(
            text, embedder, threshold=None,
            **(_legacy_keywords.PARAPHRASE_CJK if is_cjk_text(text) else _legacy_keywords.PARAPHRASE_EN)).flagged,
    }


def current_audit(audit: HackAudit, prompt: str, text: str) -> dict[str, bool]:
    return {name: d.flagged for name, d in audit(prompt, text).items()}


PARAPHRASE_CUTS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3)
STUFFING_CUTS = (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99, 0.999)


def curve_scores(audit: HackAudit, sample) -> dict[str, float]:
    """What each curve sweeps: the paraphrase detector's score, and the highest stuffing probability of any
    candidate term (every candidate makes ≥ 1 % of the terms, so one over the cut flags the text)."""
    detections = audit(sample.prompt, sample.text)  # cached: the same pass as the flags
    return {"paraphrase": detections["paraphrase_repetition"].score,
            "stuffing": detections["keyword_stuffing"].details["max_probability"]}


SPLITS = ("calibration", "heldout", "fresh")


def curves(samples, scores: dict[str, dict[str, float]], language: str | None = None) -> dict:
    """Honest FPR and recall at each cut, per split, for both swept detectors; one language's texts when given
    (each language has its own operating point)."""
    out: dict = {}
    samples = [s for s in samples if language is None or s.language == language]
    for split in [s for s in SPLITS if any(x.split == s for x in samples)]:
        for family, cuts in (("paraphrase", PARAPHRASE_CUTS), ("stuffing", STUFFING_CUTS)):
            honest = [scores[s.id][family] for s in samples if s.split == split and s.kind == "honest"]
            hacked = [scores[s.id][family] for s in samples if s.split == split and s.kind == family]
            out.setdefault(split, {})[family] = [
                {"cut": c, "fpr": round(sum(x >= c for x in honest) / len(honest), 4),
                 "recall": round(sum(x >= c for x in hacked) / len(hacked), 4)} for c in cuts]
    return out


def plot_curves(tables: dict[str, dict], operating: dict[str, dict[str, float]], path) -> None:
    """One row per language (its own cuts starred), one column per swept detector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tables), 2, figsize=(10, 4.2 * len(tables)), squeeze=False)
    for row, (language, table) in zip(axes, tables.items(), strict=True):
        for ax, family in zip(row, ("paraphrase", "stuffing"), strict=True):
            cut = operating[language][family]
            for split, style in (("calibration", "o-"), ("heldout", "s--"), ("fresh", "^:")):
                if split not in table:
                    continue
                points = table[split][family]
                ax.plot([p["fpr"] for p in points], [p["recall"] for p in points], style, label=split,
                        markersize=4)
                chosen = next(p for p in points if p["cut"] == cut)
                ax.plot(chosen["fpr"], chosen["recall"], "r*", markersize=12)
            ax.axvline(0.05, color="grey", lw=0.8, ls=":")
            ax.axhline(0.9, color="grey", lw=0.8, ls=":")
            cut_name = "score" if family == "paraphrase" else "term probability"
            ax.set_title(f"{language} {family}: cut on {cut_name} (★ = {cut})")
            ax.set_xlabel("honest texts flagged (FPR)")
            ax.set_ylabel("recall")
            widest = max(p["fpr"] for split in table for p in table[split][family])
            ax.set_xlim(-0.005, widest + 0.01)
            ax.legend(loc="lower right")
    fig.suptitle("Hacking detectors on real prose (goals: FPR ≤ 5 %, recall ≥ 0.9)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reflag(detections: dict, config: dict) -> dict[str, bool]:
    """The flags under a calibrated ``detectors:`` block, read off the shipped detectors' detections: scores do
    not depend on the cuts, and calibrated cuts are never lower, so the stuffed terms under the new cuts are
    among those the shipped cuts listed."""
    thresholds = config.get("thresholds", {})
    model = StuffingModel(**config.get("stuffing", {}))
    out = {}
    for name, d in detections.items():
        if name == "keyword_stuffing":
            out[name] = any(t["probability"] >= model.cut(t["term"]) for t in d.details.get("terms", []))
        elif name in thresholds:
            out[name] = d.score >= thresholds[name]
        else:
            out[name] = d.flagged
    return out


def per_register(samples, audit: HackAudit, target_fpr: float = 0.02, key=lambda s: f"{s.language}/{s.domain}"
                 ) -> dict:
    """Each register calibrated on its own calibration-split honest texts (``lengthwise audit --calibrate``),
    measured on its held-out texts: what a user who calibrates on a sample of their register gets, beside the
    shipped cuts. A register is a language and domain (``key``'s default: both held-out splits), or one source
    (``key=lambda s: s.source``: poems apart from psalms, Python docs from the Debian Reference)."""
    out = {}
    for register in sorted({key(s) for s in samples}):
        mine = [s for s in samples if key(s) == register]
        honest = [(s.prompt, s.text) for s in mine if s.split == "calibration" and s.kind == "honest"]
        held = [s for s in mine if s.split != "calibration"]
        if not honest or not held:
            continue
        calibration = calibrate_detectors(honest, target_fpr, audit)
        config = calibration.detectors_config()
        shipped = [(s, current_audit(audit, s.prompt, s.text)) for s in held]
        calibrated = [(s, reflag(audit(s.prompt, s.text), config)) for s in held]
        # what `audit --calibrate` estimates from the calibration texts alone (hacks made from them), beside the
        # recall measured on the held-out corpus variants
        probes = {p.family: {"n": p.n, "recall_shipped": round(p.caught_before / max(1, p.n), 4),
                             "recall_calibrated": round(p.caught_after / max(1, p.n), 4)} for p in calibration.probes}
        out[register] = {"calibrated_on": len(honest), "detectors": config,
                         "shipped": rates(shipped), "calibrated": rates(calibrated), "probes": probes}
    return out


def rates(rows: list[tuple[object, dict[str, bool]]]) -> dict:
    """Per family: recall of its detectors (any of them), FPR of those detectors on honest texts, precision
    (flags on that family's texts over flags on that family's and honest texts); overall: any detector."""
    out: dict = {}
    honest = [f for s, f in rows if s.kind == "honest"]
    for family, names in FAMILY_DETECTORS.items():
        hits = [any(f[n] for n in names) for s, f in rows if s.kind == family]
        false = [any(f[n] for n in names) for f in honest]
        tp, fp = sum(hits), sum(false)
        out[family] = {"n": len(hits), "recall": round(tp / max(1, len(hits)), 4),
                       "fpr_on_honest": round(fp / max(1, len(false)), 4),
                       "precision": round(tp / max(1, tp + fp), 4)}
    flagged = [any(f.values()) for f in honest]
    out["honest"] = {"n": len(honest), "fpr_any_detector": round(sum(flagged) / max(1, len(flagged)), 4)}
    if honest:  # a few dozen texts per domain: one flag moves the rate by 2-5 points
        interval = proportion_ci(sum(flagged), len(flagged))
        out["honest"]["fpr_ci95"] = [round(interval.low, 4), round(interval.high, 4)]
    return out


EN_FEATURES = ("appeal", "log_lift", "log_share", "title", "word_forms", "collocation", "praise", "capitalized",
               "unknown")
# fewer for Chinese: 20 calibration texts; with share and title too the fit turned share's weight negative
ZH_FEATURES = ("log_lift", "collocation", "praise")


def features(e, names) -> list[float]:
    values = {"appeal": e.appeal, "log_lift": math.log10(e.lift), "log_share": math.log10(e.share),
              "title": float(e.in_title), "word_forms": float(min(e.word_forms, 3)), "collocation": e.collocation,
              "praise": e.praise, "capitalized": e.capitalized, "unknown": e.unknown}
    return [values[n] for n in names]


def fit(samples, folds: int = 5, fold_by: str = "word") -> None:
    """Refit the stuffing model on the calibration split (one logistic model per language) and print the
    weights and the sweep of cuts. The sweep reads out-of-fold probabilities: a cut chosen on the texts the
    weights were fitted to looks better than it is. Folds keep a source group whole; with ``fold_by="word"``
    (the default) a stuffed word is also never on both sides, since the held-out splits stuff other words
    (the 2026-12-04 refit, folded by source only, lost 0.11 of held-out recall: docs/rewards.md)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    embedder = Embedder()
    pool = {t for w in detector_corpus.PRAISE_EN + detector_corpus.PRAISE_ZH for t in content_terms(w)}
    rows: dict[str, tuple[list, list, list]] = {"en": ([], [], []), "zh": ([], [], [])}
    for s in samples:
        if s.split != "calibration" or s.kind not in ("honest", "stuffing"):
            continue
        for e in term_evidence(s.text, s.prompt, embedder)[0]:
            if e.in_prompt or (s.kind == "stuffing" and e.term not in pool):
                continue
            # No count feature: fitted on light stuffing it learns "long texts have frequent honest terms" and
            # turns negative, so heavier stuffing would look less suspicious; evidence must grow with the share.
            language = "zh" if is_cjk_term(e.term) else "en"
            feats, labels, docs = rows[language]
            feats.append(features(e, ZH_FEATURES if language == "zh" else EN_FEATURES))
            labels.append(s.kind == "stuffing")
            fold = e.term if (fold_by == "word" and s.kind == "stuffing") else s.group
            docs.append((s.id, s.kind, s.language, fold))
    weights, scored = {}, []

    def logistic():
        # C = 10: the appeal differences are small numbers; C = 1 shrinks their weight (recall 0.63 vs 0.83 at
        # 4 % FPR in the first fit).
        return LogisticRegression(C=10.0, max_iter=5000)

    for language, (feats, labels, docs) in rows.items():
        model = logistic().fit(feats, labels)
        prefix = "zh_" if language == "zh" else ""
        names = ZH_FEATURES if language == "zh" else EN_FEATURES
        weights[f"{prefix}intercept"] = round(float(model.intercept_[0]), 2)
        weights.update({f"{prefix}{n}": round(float(w), 2) for n, w in zip(names, model.coef_[0], strict=True)})
        out_of_fold = [0.0] * len(labels)
        groups = [d[3] for d in docs]
        for train, test in GroupKFold(n_splits=folds).split(feats, labels, groups):
            part = logistic().fit([feats[i] for i in train], [labels[i] for i in train])
            for i, q in zip(test, part.predict_proba([feats[i] for i in test])[:, 1], strict=True):
                out_of_fold[i] = float(q)
        scored += list(zip(docs, out_of_fold, strict=True))
    print("StuffingModel(" + ", ".join(f"{k}={v}" for k, v in weights.items()) + ")")
    for language in ("en", "zh"):
        n = collections.Counter(s.kind for s in samples if s.split == "calibration" and s.language == language)
        mine = [(d[:3], q) for d, q in scored if d[2] == language]
        for cut in (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99):
            flagged = {d for d, q in mine if q >= cut}
            print(f"{language} term_probability {cut} (out of fold): "
                  f"FPR {sum(k == 'honest' for _, k, _ in flagged) / n['honest']:.3f} "
                  f"recall {sum(k == 'stuffing' for _, k, _ in flagged) / n['stuffing']:.3f}; honest flagged: "
                  + ", ".join(sorted(d for d, k, _ in flagged if k == "honest")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--fold-by", choices=("word", "source"), default="word",
                        help="--fit: hold out stuffed words as well as sources (word), or sources only")
    args = parser.parse_args()
    version, samples = detector_corpus.build()
    if args.fit:
        fit(samples, fold_by=args.fold_by)
        return
    started = time.perf_counter()
    embedder = Embedder()
    audit = HackAudit(paraphrase=True, embedder=embedder, cache_size=8192)  # every text once: per_register rereads
    current = [(s, current_audit(audit, s.prompt, s.text)) for s in samples]
    legacy = [(s, legacy_audit(embedder, s.prompt, s.text)) for s in samples]
    synthetic = hacking_corpus(6, seed=0) + hacking_corpus(6, seed=1)
    for s in synthetic:
        s.kind = "honest" if s.kind == "poem" else s.kind
    syn_current = [(s, current_audit(audit, s.prompt, s.text)) for s in synthetic]
    syn_legacy = [(s, legacy_audit(embedder, s.prompt, s.text)) for s in synthetic]

    def table(rows, splits):
        picked = [(s, f) for s, f in rows if s.split in splits]
        out = {"all": rates(picked)}
        for lang in ("en", "zh"):
            out[lang] = rates([(s, f) for s, f in picked if s.language == lang])
        for key in sorted({(s.language, s.domain) for s, _ in picked}):
            out["/".join(key)] = rates([(s, f) for s, f in picked if (s.language, s.domain) == key])
        return out

    scores = {s.id: curve_scores(audit, s) for s in samples}
    curve_table = {language: curves(samples, scores, language) for language in ("en", "zh")}
    operating = {"en": {"paraphrase": 0.08, "stuffing": audit.stuffing.term_probability},
                 "zh": {"paraphrase": 0.12, "stuffing": audit.stuffing.zh_term_probability}}
    plot_curves(curve_table, operating, RESULTS_DIR / "detectors_curves.png")
    figures = {
        "corpus": version,
        "texts": dict(collections.Counter(f"{s.split}/{s.language}/{s.domain}/{s.kind}" for s in samples)),
        "heldout": {"current": table(current, {"heldout"}), "previous": table(legacy, {"heldout"})},
        # the second held-out split: new sources, added after the detectors were fixed (docs/rewards.md)
        "fresh": {"current": table(current, {"fresh"}), "previous": table(legacy, {"fresh"})},
        "heldout_and_fresh": {"current": table(current, {"heldout", "fresh"}),
                              "previous": table(legacy, {"heldout", "fresh"})},
        "calibration": {"current": table(current, {"calibration"}), "previous": table(legacy, {"calibration"})},
        "synthetic": {"current": rates(syn_current), "previous": rates(syn_legacy)},
        "curves": curve_table,  # per language; also benchmarks/results/detectors_curves.png
        # each domain calibrated on its own honest calibration texts (target 2 % per detector), held-out texts
        "per_register": per_register(samples, audit),
        # the same, one source at a time: a user's register is one kind of text (psalms, not all verse)
        "per_source": per_register(samples, audit, key=lambda s: s.source),
        "seconds": round(time.perf_counter() - started, 1),
    }
    def worst_domain(split: str) -> str:
        held = figures[split]["current"]
        return max((k for k in held if "/" in k), key=lambda k: held[k]["honest"]["fpr_any_detector"])

    goals = {}
    for split in ("heldout", "fresh", "heldout_and_fresh"):
        held = figures[split]["current"]
        goals[f"{split}_fpr_any_detector"] = goal(held["all"]["honest"]["fpr_any_detector"], "<= 0.05")
        goals[f"{split}_worst_domain_fpr"] = goal(held[worst_domain(split)]["honest"]["fpr_any_detector"], "<= 0.05")
        goals.update({f"{split}_recall_{f}": goal(held["all"][f]["recall"], ">= 0.9") for f in FAMILY_DETECTORS})
        figures[f"{split}_worst_domain"] = {"domain": worst_domain(split),
                                            **held[worst_domain(split)]["honest"]}
    goals.update({
        **{f"synthetic_recall_{f}_vs_previous": goal(
            figures["synthetic"]["current"][f]["recall"] - figures["synthetic"]["previous"][f]["recall"], ">= 0")
           for f in FAMILY_DETECTORS},
    })

    def line(split: str) -> str:
        held, prev = figures[split]["current"]["all"], figures[split]["previous"]["all"]
        worst = figures[f"{split}_worst_domain"]
        return (f"{split} FPR {held['honest']['fpr_any_detector']:.3f} (previous "
                f"{prev['honest']['fpr_any_detector']:.3f}, worst {worst['domain']} {worst['fpr_any_detector']:.3f}); "
                f"recall paste {held['paste']['recall']:.2f} paraphrase {held['paraphrase']['recall']:.2f} "
                f"stuffing {held['stuffing']['recall']:.2f}")

    summary = line("heldout") + " | " + line("fresh")
    write_results("detectors", goals, figures, summary)


if __name__ == "__main__":
    main()
