"""The two AgentWrite requests, in English and Chinese: ask for a plan, write one section."""

from __future__ import annotations

__all__ = ["plan_messages", "point_messages", "section_messages", "summary_messages", "continuation_note",
           "PLAN_PREFIX", "EXAMPLE_POINTS"]

# Small models do not follow a format from its description alone; one worked example on an unrelated
# topic, and (where the backend can) starting the answer with the first line's prefix, make them.
_EXAMPLE_PLAN = {
    "en": ("Example (a different task: a 1,500-word essay about bees):\n"
           "Paragraph 1 - Main Point: Why bees matter to farms and wild plants - Word Count: 300 words\n"
           "Paragraph 2 - Main Point: How a hive is organised: the queen, workers and drones - Word Count: 400 words\n"
           "Paragraph 3 - Main Point: A year in the life of a colony, season by season - Word Count: 400 words\n"
           "Paragraph 4 - Main Point: The threats bees face today and what can be done - Word Count: 400 words\n\n"),
    "zh": ("示例（另一个任务：一篇1500字的关于蜜蜂的文章）：\n"
           "段落 1 - 主要内容：蜜蜂对农田和野生植物的重要性 - 字数：300字\n"
           "段落 2 - 主要内容：蜂巢的分工：蜂王、工蜂和雄蜂 - 字数：400字\n"
           "段落 3 - 主要内容：蜂群一年四季的生活 - 字数：400字\n"
           "段落 4 - 主要内容：蜜蜂今天面临的威胁以及应对办法 - 字数：400字\n\n"),
}
EXAMPLE_POINTS = {
    "en": [
        "Why bees matter to farms and wild plants",
        "How a hive is organised: the queen, workers and drones",
        "A year in the life of a colony, season by season",
        "The threats bees face today and what can be done",
    ],
    "zh": [
        "蜜蜂对农田和野生植物的重要性",
        "蜂巢的分工：蜂王、工蜂和雄蜂",
        "蜂群一年四季的生活",
        "蜜蜂今天面临的威胁以及应对办法",
    ],
}
PLAN_PREFIX = {"en": "Paragraph 1 - Main Point:", "zh": "段落 1 - 主要内容："}

_PLAN = {
    "en": (
        "Break the writing task below into sections for a long piece of writing. Give one line per section, "
        "exactly in this form, and nothing else:\n"
        "Paragraph 1 - Main Point: [what this section covers, in one or two sentences] - Word Count: [number] words\n"
        "Each section should be between {lo} and {hi} words, and the word counts must add up to {total} words.\n\n"
        "{example}Writing task:\n{instruction}"
    ),
    "zh": (
        "请把下面的写作任务拆分成若干段落来完成一篇长文。每段一行，严格按下面的格式输出，不要输出其他内容：\n"
        "段落 1 - 主要内容：[这一段写什么，一两句话] - 字数：[数字]字\n"
        "每段字数在{lo}到{hi}字之间，所有段落的字数加起来必须等于{total}字。\n\n"
        "{example}写作任务：\n{instruction}"
    ),
}

_SECTION = {
    "en": ("You are writing a long text one section at a time.\n\n"
           "Writing task:\n{instruction}\n\n"
           "Plan:\n{plan}\n\n"
           "{context_label}\n{context}\n\n"
           "Now write {step}. Write about {words} words for this section only. Do not repeat earlier text, do not "
           "restate the plan, and {ending}"),
    "zh": ("你正在分段写一篇长文，每次只写一段。\n\n"
           "写作任务：\n{instruction}\n\n"
           "写作计划：\n{plan}\n\n"
           "{context_label}\n{context}\n\n"
           "现在请写{step}。这一段写约{words}字，只写这一段。不要重复前文，不要复述计划，{ending}"),
}

_LABELS = {
    "en": {"full": "Text written so far:", "digest": "Summary of the earlier sections, then the latest text:",
           "none": "Text written so far: (nothing yet: this is the first section)",
           "ending_mid": "do not end with a conclusion or summary: the text continues after this section.",
           "ending_last": "since this is the last section, bring the whole text to a natural close.",
           "latest": "[latest text]"},
    "zh": {"full": "已经写好的内容：", "digest": "前面各段的摘要，以及最近写的内容：",
           "none": "已经写好的内容：（还没有，这是第一段）",
           "ending_mid": "不要写总结或结尾，后面还有内容。", "ending_last": "这是最后一段，请自然地收尾全文。",
           "latest": "【最近的内容】"},
}


def plan_messages(instruction: str, total: int, lo: int, hi: int, language: str = "en", example: bool = True,
                  prefill: bool = False) -> list[dict[str, str]]:
    """The plan request; ``example`` adds a worked plan for another task, ``prefill`` starts the
    answer with the first line's prefix (only for backends that continue an assistant turn)."""
    content = _PLAN[language].format(instruction=instruction, total=total, lo=lo, hi=hi,
                                     example=_EXAMPLE_PLAN[language] if example else "")
    messages = [{"role": "user", "content": content}]
    if prefill:
        messages.append({"role": "assistant", "content": PLAN_PREFIX[language]})
    return messages


_POINT = {
    "en": ("Writing task:\n{instruction}\n\n"
           "This text will have {n} sections. {so_far}\n\n"
           "In one short sentence, give the main point of section {k}: a new aspect of the task that the sections "
           "so far do not cover. Reply with that sentence only."),
    "zh": ("写作任务：\n{instruction}\n\n"
           "这篇文章一共分{n}段。{so_far}\n\n"
           "请用一句简短的话写出第{k}段的主要内容：要写任务中前面各段没有写过的新方面。只回复这一句话。"),
}
_SO_FAR = {
    "en": ("The sections so far:\n{points}", "This is the first section."),
    "zh": ("前面各段的主要内容：\n{points}", "这是第一段。"),
}


_OUTLINE = {
    "en": "Writing task:\n{instruction}\n\nList the {n} sections of this text, one short title per line, each about a "
          "different topic.",
    "zh": "写作任务：\n{instruction}\n\n列出这篇文章的{n}个段落，每行一个简短的标题，每段写不同的内容。",
}


def point_messages(instruction: str, points: list[str], n: int, language: str = "en",
                   prefill: bool = False) -> list[dict[str, str]]:
    """The incremental planner's request: the main point of the next section, given the points so far (a short,
    easy answer a small model gives reliably, unlike a whole plan in a format). With ``prefill`` (backends that
    continue an assistant turn) the answer is the outline so far and the next number, so the model only
    continues a list: SmolLM2-135M answers the question form with chatter, the list form with a title."""
    if prefill:
        listed = "".join(f"{k + 1}. {p}\n" for k, p in enumerate(points))
        return [{"role": "user", "content": _OUTLINE[language].format(instruction=instruction, n=n)},
                {"role": "assistant", "content": f"{listed}{len(points) + 1}."}]
    listed, first = _SO_FAR[language]
    so_far = listed.format(points="\n".join(f"{k + 1}. {p}" for k, p in enumerate(points))) if points else first
    content = _POINT[language].format(instruction=instruction, n=n, so_far=so_far, k=len(points) + 1)
    return [{"role": "user", "content": content}]


def section_messages(instruction: str, plan: str, context: str, step: str, words: int, last: bool,
                     digest: bool, language: str = "en") -> list[dict[str, str]]:
    labels = _LABELS[language]
    label = labels["digest"] if digest else (labels["full"] if context else labels["none"])
    content = _SECTION[language].format(
        instruction=instruction, plan=plan, context_label=label, context=context, step=step, words=words,
        ending=labels["ending_last"] if last else labels["ending_mid"])
    return [{"role": "user", "content": content}]


def step_name(index: int, main_point: str, language: str = "en") -> str:
    return f"段落 {index + 1}（{main_point}）" if language == "zh" else f"paragraph {index + 1} ({main_point})"


def continuation_note(index: int, main_point: str, written: int, target: int, language: str = "en") -> str:
    """The step description for continuing a section that came back too short."""
    if language == "zh":
        return f"段落 {index + 1}（{main_point}）的后续部分：这一段已写{written}字，接着上文最后一句继续写"
    return (f"the rest of paragraph {index + 1} ({main_point}): it has {written} of its {target} words so far; "
            "continue from its last sentence")


def summary_messages(section: str, language: str = "en") -> list[dict[str, str]]:
    ask = (
        "用一两句话概括下面这段文字：\n\n"
        if language == "zh"
        else "Summarise this passage in one or two sentences:\n\n"
    )
    return [{"role": "user", "content": ask + section}]


def latest_label(language: str) -> str:
    return _LABELS[language]["latest"]
