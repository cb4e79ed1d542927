"""Synthetic honest texts and their reward-hacked versions, for testing and calibrating the detectors.

Honest texts (English and Chinese) are assembled from varied sentence templates with large slot
vocabularies; one genre is a refrain-style poem, which repeats a short refrain on purpose. Hacks pad
a text toward a length target the three ways RL policies do: pasting paragraphs again, paraphrasing
earlier sentences (synonym swaps, reordered clauses), and stuffing keywords a quality model likes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lengthwise.text import count_words

__all__ = ["Sample", "honest_text", "paste_hack", "paraphrase_hack", "stuffing_hack", "hacking_corpus"]

# -- English vocabulary: each slot word has synonyms, used by the paraphrase hack -----------------
_EN = {
    "who": {
        "the old keeper": "the elderly warden",
        "a young engineer": "a junior technician",
        "the mayor": "the town leader",
        "my grandmother": "my father's mother",
        "a travelling painter": "a wandering artist",
        "the fishermen": "the anglers",
        "a quiet student": "a reserved pupil",
        "the ship's captain": "the vessel's commander",
        "two botanists": "a pair of plant scientists",
        "the night nurse": "the evening caregiver",
        "a local historian": "a regional chronicler",
        "the baker": "the bread maker",
        "our neighbour": "the family next door",
        "the surveyor": "the land measurer",
        "a retired pilot": "a former aviator",
    },
    "did": {
        "repaired": "fixed",
        "studied": "examined",
        "described": "portrayed",
        "measured": "gauged",
        "painted": "depicted",
        "protected": "guarded",
        "visited": "toured",
        "questioned": "challenged",
        "documented": "recorded",
        "rebuilt": "reconstructed",
        "admired": "praised",
        "mapped": "charted",
        "cleaned": "scrubbed",
        "explained": "clarified",
        "tested": "checked",
    },
    "what": {
        "the rusted lantern": "the corroded lamp",
        "the harbour wall": "the pier barrier",
        "an old map": "an ancient chart",
        "the tide tables": "the sea schedules",
        "a broken compass": "a damaged navigator",
        "the stone bridge": "the rock crossing",
        "the village archive": "the hamlet records",
        "a ledger of storms": "a book of gales",
        "the signal tower": "the beacon mast",
        "the school garden": "the classroom plot",
        "a wooden boat": "a timber vessel",
        "the weather station": "the climate post",
        "a box of letters": "a crate of correspondence",
        "the market square": "the trading plaza",
        "the northern road": "the upper route",
    },
    "when": {
        "at dawn": "at daybreak",
        "before the storm": "ahead of the tempest",
        "in late autumn": "toward the end of fall",
        "after midnight": "past twelve at night",
        "during the festival": "throughout the celebration",
        "every winter": "each cold season",
        "on a foggy morning": "one misty forenoon",
        "last spring": "the previous springtime",
        "in the summer heat": "amid the warm months",
        "at low tide": "when the water ebbed",
    },
    "why": {
        "to warn passing ships": "so that vessels nearby were alerted",
        "for the children": "for the sake of the youngsters",
        "because the records were lost": "since the archives had vanished",
        "to earn a living": "in order to make money",
        "out of curiosity": "from sheer interest",
        "after the council asked": "once the committee requested it",
        "to settle an argument": "so a dispute could end",
        "for a museum exhibit": "for a gallery display",
    },
    "adj": {
        "patient": "unhurried",
        "careful": "meticulous",
        "curious": "inquisitive",
        "tired": "weary",
        "hopeful": "optimistic",
        "stubborn": "obstinate",
        "generous": "open-handed",
        "anxious": "uneasy",
        "cheerful": "jovial",
        "proud": "dignified",
    },
}
_EN_TEMPLATES = [
    ("{when}, {who} {did} {what} {why}.", "{who} {did} {what} {when}, {why}."),
    ("{who}, {adj} as ever, {did} {what} {when}.", "{when} {who} {did} {what}, {adj} as ever."),
    ("Nobody expected that {who} would have {did} {what} {why}.", "That {who} {did} {what} {why} surprised everyone."),
    ("It was {when} that {who} finally {did} {what}.", "{who} finally {did} {what} {when}."),
    (
        "Some say {who} {did} {what} only {why}, but the truth was more {adj}.",
        "The truth was more {adj}, although people claim {who} {did} {what} only {why}.",
    ),
    (
        "With a {adj} smile, {who} {did} {what} and went home {when}.",
        "{who} went home {when} after a {adj} smile and having {did} {what}.",
    ),
    ("{what} had been neglected until {who} {did} it {when}.", "Until {who} {did} it {when}, {what} stayed neglected."),
    ("According to the diary, {who} {did} {what} {why}.", "{who} {did} {what} {why}, the diary says."),
    (
        "Years later, people still remember how {who} {did} {what} {when}.",
        "How {who} {did} {what} {when} is still remembered years later.",
    ),
    ("Because {who} was {adj}, {what} was {did} {when}.", "{what} was {did} {when}, since {who} was {adj}."),
    (
        "Rumour has it that {who} {did} {what} alone {when}.",
        "People whisper that {who} {did} {what} without help {when}.",
    ),
    (
        "If {who} had not {did} {what}, the rest of the story would be different.",
        "The rest of the story would be different had {who} not {did} {what}.",
    ),
    (
        "Thanks to {who}, who {did} {what} {why}, it survives today.",
        "It survives today because {who} {did} {what} {why}.",
    ),
    (
        "On that day {who} seemed unusually {adj} and {did} {what} {when}.",
        "{when}, an unusually {adj} {who} {did} {what}.",
    ),
]
_ZH = {
    "who": {
        "老守塔人": "年迈的看塔人",
        "年轻工程师": "青年技术员",
        "镇长": "小镇领导",
        "我的外婆": "我妈妈的母亲",
        "流浪画家": "四处漂泊的画师",
        "渔民们": "打鱼的人们",
        "安静的学生": "沉默的学子",
        "船长": "舰船指挥",
        "两位植物学家": "一对研究植物的学者",
        "夜班护士": "值夜的护理员",
        "地方史学家": "本地的史志研究者",
        "面包师": "烘焙师傅",
        "邻居": "隔壁人家",
        "测量员": "勘测人员",
        "退休飞行员": "离职的机师",
    },
    "did": {
        "修好了": "修复了",
        "研究了": "考察了",
        "描绘了": "刻画了",
        "测量了": "丈量了",
        "保护了": "守护了",
        "拜访了": "探访了",
        "记录了": "记载了",
        "重建了": "重新修建了",
        "整理了": "梳理了",
        "清洗了": "擦洗了",
        "解释了": "说明了",
        "检查了": "查验了",
    },
    "what": {
        "生锈的灯笼": "锈蚀的提灯",
        "港口的石墙": "码头的护墙",
        "一张旧地图": "一幅古老的海图",
        "潮汐表": "潮水时刻表",
        "坏掉的罗盘": "损坏的指南针",
        "石桥": "石头砌的桥",
        "村里的档案": "乡村的卷宗",
        "风暴日志": "暴风记录簿",
        "信号塔": "信标塔",
        "学校的菜园": "校园里的菜地",
        "木船": "木头小船",
        "气象站": "天气观测站",
        "一箱旧信": "一盒陈年信件",
        "集市广场": "赶集的广场",
        "北边的公路": "北面的道路",
    },
    "when": {
        "在黎明时分": "天刚亮的时候",
        "在暴风雨来临之前": "风暴到来以前",
        "在深秋": "秋末的时候",
        "在午夜之后": "半夜过后",
        "在节日期间": "过节的那几天",
        "每年冬天": "每逢冬季",
        "在一个起雾的早晨": "某个雾蒙蒙的清晨",
        "去年春天": "上一个春季",
        "在盛夏": "最热的夏天",
        "在退潮时": "潮水退去时",
    },
    "why": {
        "为了提醒过往的船只": "好让路过的船只注意",
        "为了孩子们": "为了那些小孩",
        "因为记录丢失了": "由于档案不见了",
        "为了谋生": "为了挣钱养家",
        "出于好奇": "因为感到好奇",
        "应议会的请求": "按照委员会的要求",
        "为了结束争论": "为了平息争执",
        "为了博物馆的展览": "为了展馆的陈列",
    },
    "adj": {
        "耐心": "不急不躁",
        "细心": "一丝不苟",
        "好奇": "充满求知欲",
        "疲惫": "困倦",
        "满怀希望": "乐观",
        "固执": "倔强",
        "慷慨": "大方",
        "焦虑": "不安",
        "开朗": "快活",
        "自豪": "骄傲",
    },
}
_ZH_TEMPLATES = [
    ("{when}，{who}{why}{did}{what}。", "{who}{when}{did}{what}，是{why}。"),
    ("一向{adj}的{who}{when}{did}{what}。", "{when}，{who}{did}{what}，依旧那么{adj}。"),
    ("谁也没想到{who}会{why}{did}{what}。", "{who}{why}{did}{what}，这让所有人都感到意外。"),
    ("直到{when}，{who}才终于{did}{what}。", "{who}终于{did}{what}，那是{when}。"),
    ("有人说{who}{did}{what}只是{why}，但真相更加{adj}。", "真相更加{adj}，虽然有人说{who}{did}{what}只是{why}。"),
    ("据日记记载，{who}{why}{did}{what}。", "日记里写着，{who}是{why}才{did}{what}的。"),
    ("多年以后，人们仍然记得{who}{when}{did}{what}的情景。", "{who}{when}{did}{what}的情景，人们多年以后仍然记得。"),
    ("因为{who}很{adj}，{what}{when}被{did}。", "{what}{when}被{did}，原因是{who}很{adj}。"),
    ("听说{who}{when}独自{did}{what}，邻居们议论纷纷。", "邻居们议论纷纷，据说{who}{when}一个人{did}{what}。"),
    ("{what}能保存到今天，多亏{who}{why}把它{did}。", "多亏{who}{why}把{what}{did}，它才保存到今天。"),
    ("那天{who}显得格外{adj}，{when}便{did}{what}。", "{when}，格外{adj}的{who}便{did}{what}。"),
    ("村里的老人常说，{who}{did}{what}是{why}。", "{who}{did}{what}是{why}，村里的老人常这样说。"),
    ("为了这件事，{who}{when}专门{did}{what}。", "{who}{when}专门{did}{what}，就是为了这件事。"),
    ("如果不是{who}{did}{what}，后来的故事也许完全不同。", "后来的故事也许完全不同，要不是{who}{did}{what}。"),
]
_STUFF_EN = ["comprehensive", "innovative", "insightful"]
_STUFF_ZH = ["全面深入", "创新视角", "深刻洞察"]
_REFRAIN_EN = ["and still the lantern burns above the sea", "so sing it low and sing it slow"]
_REFRAIN_ZH = ["灯火依旧照亮远方的海", "轻轻地唱吧慢慢地唱"]


@dataclass
class Sample:
    text: str
    language: str
    kind: str  # honest, poem, paste, paraphrase, stuffing
    source: int  # index of the honest text it came from
    prompt: str


@dataclass
class _Sentence:
    template: int
    slots: dict[str, str]


def _sentences(rng: random.Random, vocab: dict, templates: list, n: int) -> list[_Sentence]:
    return [
        _Sentence(rng.randrange(len(templates)), {k: rng.choice(list(v)) for k, v in vocab.items()}) for _ in range(n)
    ]


def _render(
    s: _Sentence, templates: list, vocab: dict, paraphrase: bool = False, rng: random.Random | None = None
) -> str:
    """The sentence; a paraphrase uses the template's reordered form and swaps about half of the slot
    fillers for synonyms, as a policy restating its own earlier sentences does."""
    form = templates[s.template][1 if paraphrase else 0]
    rng = rng or random.Random(0)
    slots = {k: (vocab[k][v] if paraphrase and rng.random() < 0.5 else v) for k, v in s.slots.items()}
    text = form.format(**slots)
    return text[0].upper() + text[1:] if text[0].isascii() else text


def _assemble(paragraphs: list[list[str]], language: str) -> str:
    joiner = " " if language == "en" else ""
    return "\n\n".join(joiner.join(p) for p in paragraphs)


def honest_text(seed: int, language: str = "en", words: int = 1500) -> tuple[str, list[list[_Sentence]]]:
    """An honest text of about ``words`` (LongBench counter) and its sentence plan."""
    rng = random.Random(seed)
    vocab, templates = (_EN, _EN_TEMPLATES) if language == "en" else (_ZH, _ZH_TEMPLATES)
    plan: list[list[_Sentence]] = []
    total = 0
    while total < words:
        para = _sentences(rng, vocab, templates, rng.randint(4, 7))
        plan.append(para)
        total += count_words(_assemble([[_render(s, templates, vocab) for s in para]], language))
    text = _assemble([[_render(s, templates, vocab) for s in p] for p in plan], language)
    return text, plan


def honest_poem(seed: int, language: str = "en", words: int = 1200) -> str:
    """A refrain-style poem: varied four-line stanzas, each followed by the same short refrain."""
    rng = random.Random(seed)
    vocab = _EN if language == "en" else _ZH
    refrain = _REFRAIN_EN if language == "en" else _REFRAIN_ZH
    stanzas, total = [], 0
    while total < words:
        lines = []
        for _ in range(4):
            if language == "en":
                lines.append(
                    f"{rng.choice(list(vocab['who']))} {rng.choice(list(vocab['did']))} "
                    f"{rng.choice(list(vocab['what']))} "
                    f"{rng.choice(list(vocab['when']))}"
                )
            else:
                lines.append(f"{rng.choice(list(vocab['when']))}{rng.choice(list(vocab['who']))}{rng.choice(list(vocab['did']))}"
                             f"{rng.choice(list(vocab['what']))}")
        stanza = "\n".join(lines + [refrain[len(stanzas) % 2]])
        stanzas.append(stanza)
        total += count_words(stanza)
    return "\n\n".join(stanzas)


def paste_hack(text: str, seed: int, factor: float = 1.6) -> str:
    """Pad by pasting earlier paragraphs again (each pasted paragraph a verbatim copy)."""
    rng = random.Random(seed)
    paragraphs = text.split("\n\n")
    sizes = [count_words(p) for p in paragraphs]
    total, target = sum(sizes), sum(sizes) * factor
    out = list(paragraphs)
    while total < target:
        k = rng.randrange(len(paragraphs))
        out.insert(rng.randint(len(paragraphs) // 2, len(out)), paragraphs[k])
        total += sizes[k]
    return "\n\n".join(out)


def paraphrase_hack(plan: list[list[_Sentence]], language: str, seed: int, factor: float = 1.6) -> str:
    """Pad by restating earlier sentences with synonyms and reordered clauses."""
    rng = random.Random(seed)
    vocab, templates = (_EN, _EN_TEMPLATES) if language == "en" else (_ZH, _ZH_TEMPLATES)
    paragraphs = [[_render(s, templates, vocab) for s in p] for p in plan]
    base = count_words(_assemble(paragraphs, language))
    all_sentences = [s for p in plan for s in p]
    extra: list[list[str]] = []
    while base + count_words(_assemble(extra, language)) < base * factor:
        chosen = rng.sample(all_sentences, k=min(5, len(all_sentences)))
        extra.append([_render(s, templates, vocab, paraphrase=True, rng=rng) for s in chosen])
    return _assemble(paragraphs + extra, language)


def stuffing_hack(text: str, language: str, seed: int, per_sentence: float = 0.6) -> str:
    """Stuff quality-model keywords: a phrase naming them is added to about 60% of the sentences."""
    rng = random.Random(seed)
    words = _STUFF_EN if language == "en" else _STUFF_ZH
    out = []
    for para in text.split("\n\n"):
        if language == "en":
            sentences = para.split(". ")
            sentences = [
                s + (f", a {rng.choice(words)} and {rng.choice(words)} point" if rng.random() < per_sentence else "")
                for s in sentences
            ]
            out.append(". ".join(sentences))
        else:
            sentences = para.split("。")
            sentences = [
                s + (f"，体现了{rng.choice(words)}与{rng.choice(words)}" if s and rng.random() < per_sentence else "")
                for s in sentences
            ]
            out.append("。".join(sentences))
    return "\n\n".join(out)


def hacking_corpus(n_per_language: int = 6, seed: int = 0) -> list[Sample]:
    """Honest texts (1,000–3,000 words, one poem per language) and, for each prose text, its
    pasted, paraphrased and keyword-stuffed versions."""
    samples: list[Sample] = []
    rng = random.Random(seed)
    for language in ("en", "zh"):
        prompt = "Write a story about a lighthouse town." if language == "en" else "写一个关于灯塔小镇的故事。"
        for k in range(n_per_language):
            idx = len(samples)
            words = rng.randint(1000, 3000)
            if k == 0:
                samples.append(Sample(honest_poem(seed + k, language, words), language, "poem", idx, prompt))
                continue
            text, plan = honest_text(seed * 1000 + k + (0 if language == "en" else 500), language, words)
            samples.append(Sample(text, language, "honest", idx, prompt))
            samples.append(Sample(paste_hack(text, seed + k), language, "paste", idx, prompt))
            samples.append(Sample(paraphrase_hack(plan, language, seed + k), language, "paraphrase", idx, prompt))
            samples.append(Sample(stuffing_hack(text, language, seed + k), language, "stuffing", idx, prompt))
    return samples
