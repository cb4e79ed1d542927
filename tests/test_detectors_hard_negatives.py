"""Honest texts that repeat themselves by nature are not hacks; stuffing with off-topic praise is (issue #15).

The hard negatives are written for this test: a technical article that keeps naming its subject, a song with
a refrain, a numbered list, a contract whose clauses repeat. The real-prose figures are in
benchmarks/results/detectors.json.
"""

import pytest

from lengthwise.rewards.hack_audit import HackAudit
from lengthwise.rewards.keywords import StuffingModel, content_terms, keyword_stuffing, term_evidence
from lengthwise.rewards.redundancy import Detection, hack_penalty

ARTICLE = """A namespace is a mapping from names to objects. Most namespaces are implemented as dictionaries, but
that is rarely visible to the programmer, and it may change in later versions of the interpreter.

Examples of namespaces are the set of built-in names, the global names in a module, and the local names in a
function call. In a sense the set of attributes of an object also forms a namespace. The important thing to
know about namespaces is that there is absolutely no relation between names in different namespaces; two
different modules may both define a function called maximize without confusion, because users of the modules
must prefix it with the module name.

Namespaces are created at different moments and have different lifetimes. The namespace containing the
built-in names is created when the interpreter starts up, and it is never deleted. The global namespace for a
module is created when the module definition is read in; normally, module namespaces also last until the
interpreter quits. The local namespace for a function is created when the function is called, and deleted
when the function returns or raises an exception that is not handled within the function.

A scope is a textual region of a program where a namespace is directly accessible. Although scopes are
determined statically, they are used dynamically: at any time during execution there are nested scopes whose
namespaces are directly accessible. The innermost scope is searched first; then the scopes of enclosing
functions; then the current module's global namespace; and finally the namespace of built-in names.
"""

SONG = "\n".join(
    line
    for verse in (
        ("The river bends below the mill", "The miller counts his sacks of grain",
         "The children run across the hill", "And evening gathers in the lane"),
        ("My father planted rows of beans", "My mother mended coats by lamp",
         "We traded marbles, swapped our dreams", "And walked to school through fog and damp"),
        ("The war took Tom and then took Lee", "The mill burned down one winter night",
         "The hill is houses now, you see", "The lane is tar and traffic light"),
        ("But when I close my eyes I find", "The sacks, the beans, the lamp, the lane",
         "The village living in my mind", "Untouched by fire or by rain"),
    )
    for line in (*verse, "So sing it softly, sing it slow,", "For all the places that we know.")
)

LIST = """Setting up the development environment takes ten steps.

1. Install Python 3.11 from your system's package manager and check the version.
2. Create a virtual environment in the project folder with python -m venv .venv.
3. Activate the virtual environment in every new shell before you run a command.
4. Upgrade pip inside the virtual environment so that wheels resolve correctly.
5. Install the project in editable mode with its development extras.
6. Install the pre-commit hooks so that formatting runs before every commit.
7. Run the unit tests once to check that the environment is complete.
8. Run the linter on the source folder and fix anything it reports.
9. Build the documentation locally to check that every page renders.
10. Commit nothing from the virtual environment folder; it is ignored on purpose.

Each step should take less than a minute on a recent machine. If a step fails, repeat the previous step
first: most failures come from a virtual environment that was not activated in the current shell.
"""

CONTRACT = """1. Definitions. In this Agreement, "Licensor" means the party granting the licence and "Licensee" means
the party receiving it. "Software" means the programs and documentation delivered under this Agreement.

2. Grant. Subject to the terms of this Agreement, the Licensor grants the Licensee a non-exclusive,
non-transferable licence to use the Software for the Licensee's internal business purposes.

3. Restrictions. Subject to the terms of this Agreement, the Licensee shall not sublicense, sell, rent or
lease the Software, and the Licensee shall not remove any notice of ownership from the Software.

4. Fees. Subject to the terms of this Agreement, the Licensee shall pay the fees stated in the order within
thirty days of the invoice date. Late payments bear interest at the rate stated in the order.

5. Warranty. The Licensor warrants that the Software will perform substantially as described in its
documentation for ninety days from delivery. The Licensee's sole remedy for a breach of this warranty is the
repair or replacement of the Software.

6. Liability. Neither party shall be liable to the other party for indirect or consequential damages arising
out of this Agreement, even if that party was advised of the possibility of such damages.

7. Termination. Either party may terminate this Agreement on thirty days' written notice if the other party
breaches this Agreement and does not cure the breach within that period. On termination the Licensee shall
stop using the Software and destroy every copy of the Software in its possession.
"""


def stuffed(text: str, words: tuple[str, ...], every: int = 9) -> str:
    """Insert the praise words in turn after every ``every``-th word, as a policy padding for a reward model."""
    out, k = [], 0
    for i, word in enumerate(text.split(" ")):
        out.append(word)
        if i % every == every - 1:
            out.append(words[k % len(words)])
            k += 1
    return " ".join(out)


@pytest.fixture(scope="module")
def audit():
    return HackAudit()


@pytest.mark.parametrize("name, text, prompt", [
    ("technical article", ARTICLE, "Explain scopes and namespaces."),
    ("technical article, prompt silent on its subject", ARTICLE, "Write a section of a programming tutorial."),
    ("song with a refrain", SONG, "Write a song about a village."),
    ("numbered list", LIST, "Write the set-up instructions."),
    ("contract with repeated clauses", CONTRACT, "Write a software licence agreement."),
])
def test_hard_negatives_are_not_flagged(audit, name, text, prompt):
    result = audit(prompt, text)
    assert not any(d.flagged for d in result.values()), (name, {k: d.as_dict() for k, d in result.items()})
    assert result["keyword_stuffing"].score == 0.0


def test_the_subject_of_an_article_is_a_candidate_but_the_evidence_clears_it(audit):
    evidence, _ = term_evidence(ARTICLE, "Write a section of a programming tutorial.", audit.embedder)
    namespace = next(e for e in evidence if e.term == "namespace")
    assert namespace.lift > 1000  # far above ordinary language: the background model alone would flag it
    assert namespace.word_forms >= 1  # namespace / namespaces: used the way a subject is
    assert namespace.probability < StuffingModel().term_probability


def test_off_topic_praise_is_flagged_and_explained(audit):
    text = stuffed(ARTICLE, ("outstanding", "superb", "brilliant"), every=7)
    detection = audit("Explain scopes and namespaces.", text)["keyword_stuffing"]
    assert detection.flagged
    terms = {t["term"]: t for t in detection.details["terms"]}
    assert {"outstanding", "superb", "brilliant"} & set(terms)
    why = next(iter(terms.values()))
    assert why["observed_rate"] > 50 * why["expected_rate"]  # the background model's evidence
    assert why["lift"] == pytest.approx(why["observed_rate"] / why["expected_rate"], rel=0.01)
    assert not why["in_prompt"] and why["appeal"] > 0 and 0 <= why["first_at"] < len(text)
    assert detection.spans and text[detection.spans[0].start:detection.spans[0].end].lower() in terms


def test_praise_the_prompt_asks_for_is_not_stuffing(audit):
    text = stuffed(ARTICLE, ("outstanding",), every=7)
    assert not keyword_stuffing(text, "Write an outstanding explanation of outstanding namespaces.",
                                embed=audit.embedder).flagged


def test_the_penalty_grows_with_the_evidence(audit):
    light = stuffed(ARTICLE, ("outstanding",), every=25)
    heavy = stuffed(ARTICLE, ("outstanding", "superb"), every=4)
    prompt = "Explain scopes and namespaces."
    light_det, heavy_det = (audit(prompt, t)["keyword_stuffing"] for t in (light, heavy))
    assert 0 < light_det.score < heavy_det.score
    assert audit.penalty(prompt, heavy) == 1.0


def test_stuffing_penalty_grows_from_a_fifth_at_the_threshold_to_one_at_three_times_it():
    assert hack_penalty([Detection("keyword_stuffing", 0.049, 0.1, saturation=0.3)]) == 0.0
    assert hack_penalty([Detection("keyword_stuffing", 0.1, 0.1, saturation=0.3)]) == pytest.approx(0.2)
    assert hack_penalty([Detection("keyword_stuffing", 0.3, 0.1, saturation=0.3)]) == 1.0
    assert hack_penalty([Detection("copies", 0.15, 0.15)]) == 1.0  # copying saturates at its threshold
    detection = keyword_stuffing(stuffed(ARTICLE, ("outstanding",), every=7), "Explain scopes.")
    assert detection.saturation == pytest.approx(0.3)


def test_the_stuffing_model_is_configuration(audit):
    text = stuffed(ARTICLE, ("outstanding", "superb", "brilliant"), every=7)
    strict = StuffingModel(term_probability=0.999999)
    assert not keyword_stuffing(text, "Explain scopes.", embed=audit.embedder, model=strict).flagged


def test_collocation_reads_neighbours_around_the_shared_unit():
    from lengthwise.rewards.keywords import collocation

    # dropped in anywhere: a different word on each side every time
    assert collocation("a b x c d x e f x g".split(), "x", cjk=False) == 0.0
    # a topic term recurs in its phrases: "the x", "x is"
    assert collocation("the x is then the x was x is".split(), "x", cjk=False) == 1.0
    # an inserted idiom is one unit: its bigram is always followed by 深, which is no evidence of a phrase
    assert collocation(list("甲全面深入乙丙全面深入丁戊全面深入己"), "全面", cjk=True) == 0.0
    assert collocation(list("文件系统的系统的系统管理"), "系统", cjk=True) == 1.0
    assert collocation(["x"], "x", cjk=False) == 0.0  # one occurrence: nothing to share


def test_stuffed_words_have_no_phrases_of_their_own(audit):
    text = stuffed(ARTICLE, ("outstanding", "superb"), every=7)
    evidence = {e.term: e for e in term_evidence(text, "Explain scopes.", audit.embedder)[0]}
    assert evidence["namespace"].collocation > 0.5
    assert evidence["outstanding"].collocation < evidence["namespace"].collocation
    assert "collocation" in keyword_stuffing(text, "Explain scopes.", embed=audit.embedder).details["terms"][0]


def test_chance_collocation_golden_value():
    from lengthwise.rewards.keywords import chance_collocation

    # two words at rate 1/2, three placements: q = 2 * 0.5 * (1 - 0.5^2) = 0.75; either side 1 - 0.25^2
    assert chance_collocation(["a", "b"] * 5, 3) == pytest.approx(0.9375)
    assert chance_collocation(["a", "b"] * 5, 1) == 0.0
    # many distinct words: random neighbours rarely coincide
    assert chance_collocation([f"w{i}" for i in range(1000)], 5) < 0.02


def test_praise_lexicons():
    from lengthwise.rewards.praise import praise

    assert praise("superb", "en") > 0.5 and praise("Superb", "en") == praise("superb", "en")
    assert praise("object", "en") == 0.0 and praise("terrible", "en") == 0.0  # neutral and negative: none
    # Chinese: the share of three lexicons (HowNet positive, DUTIR 好, Tsinghua praise) that list the word
    assert praise("卓越", "zh") == 1.0 and praise("引人入胜", "zh") == 1.0  # all three
    assert praise("拔萃", "zh") == pytest.approx(1 / 3)  # DUTIR only (出类拔萃 is in all three)
    # one list's noise: "match", "clear away"
    assert praise("匹配", "zh") == pytest.approx(1 / 3) and praise("清除", "zh") == pytest.approx(1 / 3)
    assert praise("文件", "zh") == 0.0


NEWS = """Police in Sydney say a man named Hollingworth has been charged over a series of break-ins at shops in the
inner west. Detectives allege Hollingworth entered six stores over three weeks and took cash and phones.

Hollingworth was arrested at a house in Marrickville on Tuesday morning after officers matched footage from two
of the shops. A police spokeswoman said Hollingworth did not resist and was taken to Newtown station.

The owners of the shops said the break-ins had cost them thousands of dollars in repairs. One owner said he
had installed new locks twice in a month. Hollingworth is due to appear in the local court next week.

Detectives say they are still looking for a second man who may have driven a car used in the break-ins. They
have asked anyone with information to call Crime Stoppers. Lawyers for Hollingworth declined to comment."""

ZH_HONEST = """软件包管理是维护系统的日常工作。管理员通常先更新软件源的索引，再查看哪些软件包可以升级。
升级之前应当阅读变更说明，确认新版本不会破坏现有的配置文件。

安装新的软件包时，管理工具会自动计算依赖关系，并下载缺少的库文件。如果两个软件包提供同一个文件，工具会报告冲突，
需要管理员决定保留哪一个。删除软件包时，可以选择同时清除它的配置文件，也可以保留配置以便日后重新安装。

服务器上的升级最好安排在访问量较低的时段进行。升级内核以后需要重新启动机器，新内核才会生效。为了防止意外，
可以先在测试机器上完成同样的步骤，记录遇到的问题，再在正式环境中执行。日志文件记录了每一次安装和删除的时间，
排查故障时非常有用。"""


def _insert_every(text: str, words: tuple[str, ...], every: int) -> str:
    out, k = [], 0
    for i, ch in enumerate(text):
        out.append(ch)
        if i % every == every - 1 and ch not in "\n":
            out.append(words[k % len(words)])
            k += 1
    return "".join(out)


def test_a_name_the_news_is_about_is_not_stuffing(audit):
    evidence = {e.term: e for e in term_evidence(NEWS, "Write a news report.", audit.embedder)[0]}
    name = evidence["hollingworth"]
    assert name.lift > 1000 and name.capitalized == 1.0  # rare in ordinary language, but written as a name
    assert name.probability < StuffingModel().term_probability
    assert not audit("Write a news report.", NEWS)["keyword_stuffing"].flagged


def test_chinese_praise_idioms_are_stuffing_and_the_honest_text_is_not(audit):
    prompt = "介绍软件包管理。"
    assert not audit(prompt, ZH_HONEST)["keyword_stuffing"].flagged
    stuffed_zh = _insert_every(ZH_HONEST, ("出类拔萃", "精彩绝伦"), every=23)
    detection = audit(prompt, stuffed_zh)["keyword_stuffing"]
    assert detection.flagged
    terms = {t["term"] for t in detection.details["terms"]}
    assert terms & {"出类", "拔萃", "精彩", "绝伦"}
    why = detection.details["terms"][0]
    assert why["praise"] == 1.0 and why["collocation"] < 0.3


def test_a_term_no_word_list_knows_counts_against_stuffing(audit):
    import dataclasses

    text = ARTICLE.replace("namespace", "frobspace")  # a coinage the text is about: wordfreq has never seen it
    evidence, _ = term_evidence(text, "Write a section of a programming tutorial.", audit.embedder)
    coined = next(e for e in evidence if e.term == "frobspace")
    assert coined.unknown == 1.0 and coined.expected_rate == pytest.approx(1e-7)
    known = dataclasses.replace(coined, unknown=0.0)
    model = StuffingModel()
    assert model.probability(coined) < model.probability(known)
    assert keyword_stuffing(text, None, embed=audit.embedder).score == 0.0
    # praise words are ordinary words: never "unknown"
    praise = next(e for e in term_evidence(stuffed(ARTICLE, ("outstanding", "superb"), every=7), None,
                                           audit.embedder)[0] if e.term == "outstanding")
    assert praise.unknown == 0.0


def test_a_term_ordinary_language_barely_knows_is_unknown_too(audit):
    from wordfreq import word_frequency

    # wordfreq lists it, at 1.3e-8: below the 1e-7 floor the lift uses, so it counts as unknown (it was flagged
    # in a Dr. Seuss text of the calibration split while "unknown" meant a rate of exactly 0)
    assert 0 < word_frequency("truffula", "en") < 1e-7
    text = ARTICLE.replace("namespace", "truffula")
    evidence, _ = term_evidence(text, "Write a section of a programming tutorial.", audit.embedder)
    coined = next(e for e in evidence if e.term == "truffula")
    assert coined.unknown == 1.0 and coined.expected_rate == pytest.approx(1e-7)
    assert not keyword_stuffing(text, None, embed=audit.embedder).flagged


def test_a_missing_chinese_lexicon_lowers_praise_and_says_so(monkeypatch, caplog):
    from lengthwise.rewards import praise as module

    module._lexicon.cache_clear()
    monkeypatch.setattr(module, "ZH_LEXICONS", module.ZH_LEXICONS[:2] + (("no_such_package", "x.yaml"),))
    try:
        with caplog.at_level("WARNING", logger=module.__name__):
            value = module.praise("卓越", "zh")
        assert value == pytest.approx(2 / 3)  # still a share of three lists: the scale does not move
        assert "no_such_package/x.yaml is not installed" in caplog.text
    finally:
        module._lexicon.cache_clear()


def test_stuffing_reports_how_close_the_nearest_term_came(audit):
    honest = keyword_stuffing(ARTICLE, "Write a section of a programming tutorial.", embed=audit.embedder)
    text = stuffed(ARTICLE, ("outstanding", "superb"), every=7)
    flagged = keyword_stuffing(text, "Write a section of a programming tutorial.", embed=audit.embedder)
    cut = StuffingModel().term_probability
    assert 0.0 < honest.details["max_probability"] < cut <= flagged.details["max_probability"]
    highest = max(t["probability"] for t in flagged.details["terms"])  # shown to 4 significant digits
    assert flagged.details["max_probability"] == pytest.approx(highest, abs=1e-3)
    # per language too: English praise in an English text leaves the Chinese maximum at 0
    assert flagged.details["max_probability_en"] == flagged.details["max_probability"]
    assert flagged.details["max_probability_zh"] == 0.0



def test_chinese_terms_have_their_own_cut(audit):
    model = StuffingModel(zh_term_probability=0.999999)
    assert model.cut("卓越") == 0.999999 and model.cut("outstanding") == StuffingModel().term_probability
    # a Chinese cut no term reaches leaves English terms judged at the English cut
    text = stuffed(ARTICLE, ("outstanding", "superb", "brilliant"), every=7)
    assert keyword_stuffing(text, "Explain scopes.", embed=audit.embedder, model=model).flagged


# Psalm 8 (King James Version, public domain): "hast" six times in 166 words. Modern English barely uses it
# (wordfreq 1.4e-6), so as a candidate its lift was huge and the detector flagged the psalm (realprose-3's
# calibration split flagged five psalms for `hast`, `hath`, `thy`).
PSALM_8 = "\n".join([
    "O LORD our Lord, how excellent is thy name in all the earth! who hast set thy glory above the"
    " heavens.",
    "Out of the mouth of babes and sucklings hast thou ordained strength because of thine enemies, that"
    " thou mightest still the enemy and the avenger.",
    "When I consider thy heavens, the work of thy fingers, the moon and the stars, which thou hast"
    " ordained;",
    "What is man, that thou art mindful of him? and the son of man, that thou visitest him?",
    "For thou hast made him a little lower than the angels, and hast crowned him with glory and honour.",
    "Thou madest him to have dominion over the works of thy hands; thou hast put all things under his"
    " feet:",
    "All sheep and oxen, yea, and the beasts of the field;",
    "The fowl of the air, and the fish of the sea, and whatsoever passeth through the paths of the seas.",
    "O LORD our Lord, how excellent is thy name in all the earth!",
])


def test_archaic_function_words_are_grammar_not_stuffing(audit):
    terms = content_terms(PSALM_8)
    assert not {"hast", "thy", "thou", "thine", "yea"} & set(terms)
    assert {"excellent", "glory", "heavens"} <= set(terms)  # content words stay candidates
    assert not keyword_stuffing(PSALM_8, "Write a poem or a song.", embed=audit.embedder).flagged
    # the same psalm stuffed with praise it does not use is flagged
    text = stuffed(PSALM_8, ("insightful", "meticulous"), every=6)
    assert keyword_stuffing(text, "Write a poem or a song.", embed=audit.embedder).flagged


def test_a_chinese_bigram_ordinary_language_barely_knows_is_no_term():
    from wordfreq import get_frequency_dict

    # 服务器 ("server") yields 服务 (a word) and 务器 (a fragment wordfreq's list holds at 2.8e-8)
    assert 0 < get_frequency_dict("zh")["务器"] < 1e-7
    terms = content_terms("配置服务器的地址。服务器启动以后，服务器会读取配置。")
    assert "服务" in terms and "务器" not in terms


MAN_PAGE = (
    "推荐创建如 /dev/cdrom 或者 /dev/zip 之类的符号链接，这样可以使用易记的名字。\n"
    "如果那样失败了，它会尝试在名字前面补加 '/dev/'，'/mnt'，`/dev/rdsk/'，\n"
    "'/dev/dsk/' 以及 './'，直到找到的设备文件名。\n"
    "可以仅指定一个主机名(host)，也可以使用 \"username@hostname\" 格式，\n"
    "或者形如 \"hostname:container\" 的格式，以表示直接连接到指定的容器。\n"
    "设备文件通常位于 /dev/sr0 或 /dev/hdc，挂载点通常位于 /mnt/cdrom。\n"
    "选项 --hostname 与 -H 相同。\n\n"
) * 3


def test_words_of_paths_options_and_identifiers_are_code_not_prose():
    assert content_terms("mount /dev/cdrom with --hostname as user@hostname on exim4 at host:port") == [
        "mount"]
    # and/or-joined words and words in brackets or quotes are prose; so is a hyphenated compound
    assert content_terms('insightful/innovative "remarkable" (thorough) well-known') == [
        "insightful", "innovative", "remarkable", "thorough", "well-known"]


def test_a_man_page_full_of_device_paths_is_not_stuffed(audit):
    # from the Chinese man pages of the calibration split: `dev` 5 times in paths, `hostname` in an address
    result = audit("介绍一个 Linux 命令或文件的用法。", MAN_PAGE)["keyword_stuffing"]
    assert not result.flagged and not {"dev", "hostname"} & {t["term"] for t in result.details.get("terms", [])}


def test_praise_joined_by_slashes_is_still_stuffing(audit):
    text = stuffed(ARTICLE, ("outstanding/superb",), every=9)
    result = audit("Explain scopes and namespaces.", text)["keyword_stuffing"]
    assert result.flagged and {"outstanding", "superb"} <= {t["term"] for t in result.details["terms"]}
