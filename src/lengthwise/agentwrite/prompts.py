"""The two AgentWrite requests, in English and Chinese: ask for a plan, write one section."""

from __future__ import annotations

__all__ = ["plan_messages", "section_messages", "summary_messages", "continuation_note"]

_PLAN = {
    "en": ("Break the writing task below into sections for a long piece of writing. Give one line per section, "
           "exactly in this form, and nothing else:\n"
           "Paragraph 1 - Main Point: [what this section covers, in one or two sentences] - Word Count: [number] words\n"
           "Each section should be between {lo} and {hi} words, and the word counts must add up to {total} words.\n\n"
           "Writing task:\n{instruction}"),
    "zh": ("请把下面的写作任务拆分成若干段落来完成一篇长文。每段一行，严格按下面的格式输出，不要输出其他内容：\n"
           "段落 1 - 主要内容：[这一段写什么，一两句话] - 字数：[数字]字\n"
           "每段字数在{lo}到{hi}字之间，所有段落的字数加起来必须等于{total}字。\n\n"
           "写作任务：\n{instruction}"),
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


def plan_messages(instruction: str, total: int, lo: int, hi: int, language: str = "en") -> list[dict[str, str]]:
    return [{"role": "user", "content": _PLAN[language].format(instruction=instruction, total=total, lo=lo, hi=hi)}]


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
    ask = "用一两句话概括下面这段文字：\n\n" if language == "zh" else "Summarise this passage in one or two sentences:\n\n"
    return [{"role": "user", "content": ask + section}]


def latest_label(language: str) -> str:
    return _LABELS[language]["latest"]
