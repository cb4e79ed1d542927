"""Prompt templates (think / no-think, English / Chinese) and a built-in generator of writing tasks.

The think template is LongWriter-Zero's: plan inside ``<think>…</think>``, then write the piece
inside ``<answer>…</answer>``. The built-in tasks cross topics × genres × lengths × languages; a
(topic, genre) pair belongs to exactly one split, so train and held-out never share a prompt.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any, Literal

from lengthwise.text import detect_language

__all__ = [
    "THINK_INSTRUCTIONS",
    "build_messages",
    "render_prompt",
    "writing_tasks",
    "DEMO_LENGTHS",
    "demo_prompts",
    "task_prompts",
    "with_length",
]

Language = Literal["en", "zh"]

THINK_INSTRUCTIONS: dict[str, str] = {
    "en": (
        "First plan your response inside <think></think>: the structure, the main points of each part, "
        "and how many words each part needs to reach the requested length. Then write the complete "
        "response inside <answer></answer>. Output nothing outside these two blocks."
    ),
    "zh": (
        "请先在<think></think>中规划：整体结构、每一部分的要点，以及为达到要求的字数每部分需要多少字。"
        "然后在<answer></answer>中写出完整的正文。两个标签之外不要输出任何内容。"
    ),
}


def build_messages(prompt: str, think: bool = False, language: Language | None = None) -> list[dict[str, str]]:
    """Chat messages for a writing request, with the think instructions as the system turn when
    ``think`` is on (language chosen by CJK detection unless given)."""
    language = language or detect_language(prompt)  # type: ignore[assignment]
    messages = []
    if think:
        messages.append({"role": "system", "content": THINK_INSTRUCTIONS[language]})
    messages.append({"role": "user", "content": prompt})
    return messages


def render_prompt(prompt: str, think: bool = False, language: Language | None = None) -> str:
    """Raw-text form of the template, for base models without a chat template."""
    language = language or detect_language(prompt)  # type: ignore[assignment]
    head = f"{THINK_INSTRUCTIONS[language]}\n\n" if think else ""
    user, assistant = ("User", "Assistant") if language == "en" else ("用户", "助手")
    opener = "<think>" if think else ""
    return f"{head}{user}: {prompt}\n{assistant}: {opener}"


# ---------------------------------------------------------------------------------------------
# Built-in writing tasks

_TOPICS: dict[str, list[str]] = {
    "en": [
        "the history of lighthouses",
        "urban beekeeping",
        "a town that loses its river",
        "the ethics of self-driving cars",
        "learning a second language as an adult",
        "the night shift at a hospital",
        "deep-sea exploration",
        "the first day at a new school",
        "why bridges collapse",
        "a chess tournament in a small village",
        "the future of public libraries",
        "growing tomatoes on a balcony",
        "a letter that arrives fifty years late",
        "how tides work",
        "the invention of the printing press",
        "a robot that learns to paint",
        "remote work and loneliness",
        "the migration of monarch butterflies",
        "a family bakery's last week",
        "climate change and coastal cities",
        "the science of sleep",
        "a mountain rescue team",
        "street food in winter",
        "the life of a forgotten inventor",
    ],
    "zh": [
        "灯塔的历史",
        "城市养蜂",
        "一座失去河流的小镇",
        "自动驾驶汽车的伦理",
        "成年人学习外语",
        "医院的夜班",
        "深海探索",
        "新学校的第一天",
        "桥梁为什么会倒塌",
        "小村庄里的象棋比赛",
        "公共图书馆的未来",
        "在阳台上种番茄",
        "一封迟到五十年的信",
        "潮汐的原理",
        "印刷术的发明",
        "学会画画的机器人",
        "远程办公与孤独",
        "帝王蝶的迁徙",
        "家庭面包店的最后一周",
        "气候变化与沿海城市",
        "睡眠的科学",
        "山地救援队",
        "冬天的街头小吃",
        "一位被遗忘的发明家",
    ],
}
_GENRES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("essay", "Write an essay about {topic}"),
        ("story", "Write a short story about {topic}"),
        ("report", "Write an informative report on {topic}"),
        ("blog", "Write a blog post about {topic}"),
        ("speech", "Write a speech about {topic}"),
        ("letter", "Write a letter to a friend about {topic}"),
        ("review", "Write a critical review of a book about {topic}"),
        ("guide", "Write a practical guide to {topic}"),
    ],
    "zh": [
        ("essay", "写一篇关于{topic}的议论文"),
        ("story", "写一个关于{topic}的短篇故事"),
        ("report", "写一篇关于{topic}的科普报告"),
        ("blog", "写一篇关于{topic}的博客文章"),
        ("speech", "写一篇关于{topic}的演讲稿"),
        ("letter", "给朋友写一封信，谈谈{topic}"),
        ("review", "写一篇关于{topic}的书评"),
        ("guide", "写一份关于{topic}的实用指南"),
    ],
}
_LENGTH_PHRASES: dict[str, list[str]] = {
    "en": ["{genre_prompt} in about {n} words.", "{genre_prompt}. It should be {n} words long.",
           "{genre_prompt}, roughly {n} words.", "{genre_prompt} ({n} words)."],
    "zh": ["{genre_prompt}，字数约{n}字。", "{genre_prompt}，{n}字左右。", "{genre_prompt}，要求{n}字。"],
}
DEFAULT_LENGTHS = (50, 100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000)
DEMO_LENGTHS = (50, 80, 120, 200, 300, 400, 500, 700, 1000, 1200, 1500, 2000)


def _split_of(language: str, topic: str, genre: str, heldout_fraction: float) -> str:
    digest = hashlib.sha1(f"{language}|{topic}|{genre}".encode()).digest()
    return "heldout" if digest[0] / 256 < heldout_fraction else "train"


def writing_tasks(
    split: Literal["train", "heldout", "all"] = "train",
    n: int | None = None,
    seed: int = 0,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    languages: Sequence[Language] = ("en", "zh"),
    heldout_fraction: float = 0.2,
) -> list[dict[str, Any]]:
    """Writing prompts with stated lengths: ``{id, prompt, length, type, language}`` rows.

    Each (language, topic, genre) pair is assigned to one split by a hash, so the splits never share
    a prompt whatever ``n`` or ``seed`` is. Rows are shuffled by ``seed`` and cut to ``n``; lengths
    cycle through ``lengths`` so every target appears.
    """
    if split not in ("train", "heldout", "all"):
        raise ValueError(f"split must be train, heldout or all, got {split!r}")
    rng = random.Random(seed)
    pairs = [
        (lang, topic, genre, template)
        for lang in languages
        for topic in _TOPICS[lang]
        for genre, template in _GENRES[lang]
        if split == "all" or _split_of(lang, topic, genre, heldout_fraction) == split
    ]
    rng.shuffle(pairs)
    if n is not None:
        pairs = pairs[:n]
    rows = []
    for k, (lang, topic, genre, template) in enumerate(pairs):
        length = lengths[k % len(lengths)]
        phrase = rng.choice(_LENGTH_PHRASES[lang])
        prompt = phrase.format(genre_prompt=template.format(topic=topic), n=length)
        digest = hashlib.sha1(f"{lang}|{topic}|{genre}|{length}".encode()).hexdigest()[:10]
        rows.append(
            {"id": f"{split}-{lang}-{digest}", "prompt": prompt, "length": length, "type": genre, "language": lang}
        )
    return rows


def with_length(task: str, n: int, language: Language, rng: random.Random) -> str:
    """``task`` (a request without a length, e.g. "Write an essay about tides.") restated with a
    length of ``n`` words in one of the phrasings the built-in tasks use."""
    base = task.strip().rstrip(".。!！")
    return rng.choice(_LENGTH_PHRASES[language]).format(genre_prompt=base, n=n)


def task_prompts(split: Literal["train", "heldout", "all"] = "train", n: int | None = None, seed: int = 0,
                 languages: Sequence[Language] = ("en",), heldout_fraction: float = 0.2) -> list[dict[str, Any]]:
    """The built-in writing tasks without a stated length: ``{id, prompt, type, language}`` (the same
    topic × genre split as ``writing_tasks``)."""
    if split not in ("train", "heldout", "all"):
        raise ValueError(f"split must be train, heldout or all, got {split!r}")
    rng = random.Random(seed)
    pairs = [(lang, topic, genre, template) for lang in languages for topic in _TOPICS[lang]
             for genre, template in _GENRES[lang]
             if split == "all" or _split_of(lang, topic, genre, heldout_fraction) == split]
    rng.shuffle(pairs)
    rows = []
    for lang, topic, genre, template in pairs[:n] if n is not None else pairs:
        digest = hashlib.sha1(f"{lang}|{topic}|{genre}".encode()).hexdigest()[:10]
        rows.append(
            {
                "id": f"task-{lang}-{digest}",
                "prompt": template.format(topic=topic) + ("." if lang == "en" else "。"),
                "type": genre,
                "language": lang,
            }
        )
    return rows


def length_grid(split: Literal["train", "heldout", "all"] = "heldout", lengths: Sequence[int] = (100,),
                seed: int = 0, languages: Sequence[Language] = ("en",)) -> list[dict[str, Any]]:
    """Every task of ``split`` at every length of ``lengths``: ``{id, prompt, length, type, language}``
    rows in target-major rounds (each round holds every task once, targets rotated), so any prefix
    of the list is balanced over targets. The phrasing of each request is drawn by ``seed``."""
    rng = random.Random(seed)
    tasks = task_prompts(split, seed=seed, languages=languages)
    rows = []
    for shift in range(len(lengths)):
        for k, task in enumerate(tasks):
            n = lengths[(k + shift) % len(lengths)]
            rows.append({"id": f"{task['id']}-{n}", "prompt": with_length(task["prompt"], n, task["language"], rng),
                         "length": n, "type": task["type"], "language": task["language"]})
    return rows


def demo_prompts(n: int = 24, seed: int = 0) -> list[dict[str, Any]]:
    """The demo's held-out prompts: half English, half Chinese, targets from 50 to 2,000 words."""
    half = n // 2
    rows = []
    for lang, count in (("en", half), ("zh", n - half)):
        rows += writing_tasks("heldout", n=count, seed=seed, lengths=DEMO_LENGTHS, languages=(lang,))
    return rows
