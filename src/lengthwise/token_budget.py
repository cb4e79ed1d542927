"""Token budgets from a tokenizer's measured tokens per counted word (docs/reference.md §1).

A length request is in counted words (English words, or 字 for Chinese under the LongBench-Write
counter); generation is budgeted in tokens. Tokenizers differ several-fold, above all on Chinese
(SmolLM2's spends ~1.1 tokens per simple English word and ~2 per 字; Qwen's ~0.7 per 字), so a
fixed factor either cuts answers short or wastes the budget. ``TokenRate.measure`` tokenizes a
reference passage in each language once and divides by its counted words. Shared by ``generate``
and AgentWrite. Pure module: the tokenizer is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from lengthwise.text import count_words

__all__ = ["TokenRate", "DEFAULT_RATE", "auto_max_new_tokens", "token_rate_of"]

Language = Literal["en", "zh"]

# Plain expository prose of the kind length requests ask for; long enough that the ratio is stable.
_REFERENCE = {
    "en": (
        "Rivers shape the land they cross. Over thousands of years, running water cuts valleys, carries sand "
        "and silt toward the sea, and builds wide plains where it slows down. People have always settled "
        "beside rivers, because they bring fresh water, fertile soil and an easy way to travel. Early cities "
        "grew along the Nile, the Tigris and the Yellow River, and farmers learned to read the seasons of "
        "flood and drought. Today rivers still supply drinking water, power and transport, but dams, "
        "pollution and a changing climate put them under pressure. Scientists measure how much water a "
        "river carries, how its bed moves after a storm and which fish return each spring. Their work helps "
        "towns plan for floods, protect wetlands and share water fairly between farms, factories and homes. "
        "A healthy river is more than a channel of water: it is a living system that connects mountains, "
        "forests, fields and the coast, and it repays the care that communities give it."
    ),
    "zh": (
        "河流塑造了它们流经的土地。千百年来，流水切开山谷，把泥沙带向大海，并在水流变缓的地方形成广阔的平原。"
        "人们总是沿河而居，因为河流带来淡水、肥沃的土壤和便利的交通。早期的城市在尼罗河、底格里斯河和黄河沿岸兴起，"
        "农民学会了观察洪水和干旱的季节变化。今天，河流仍然为人们提供饮用水、电力和航运，但水坝、污染和气候变化"
        "给它们带来了压力。科学家测量河流的流量，研究暴雨之后河床如何移动，记录每年春天有哪些鱼类回游。他们的工作"
        "帮助城镇防范洪水，保护湿地，并在农田、工厂和家庭之间公平地分配水资源。一条健康的河流不只是一条水道，"
        "它是一个连接高山、森林、田野和海岸的生命系统，也会回报人们对它的爱护。"
    ),
}


@dataclass(frozen=True)
class TokenRate:
    """Tokens per counted word, by language, and where the figures come from."""

    en: float
    zh: float
    source: str = "default"

    def per_word(self, language: Language) -> float:
        return self.zh if language == "zh" else self.en

    @classmethod
    def measure(cls, tokenizer: Any, counter: str = "longbench", source: str | None = None) -> TokenRate:
        """Tokenize the reference passages with ``tokenizer`` (anything with a HF-style ``__call__``
        returning ``input_ids``, or ``encode``) and divide by their counted words."""
        rates = {}
        for language, text in _REFERENCE.items():
            if hasattr(tokenizer, "encode"):
                ids = tokenizer.encode(text, add_special_tokens=False)
            else:
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            rates[language] = len(ids) / count_words(text, counter)
        name = source or getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__
        return cls(en=round(rates["en"], 4), zh=round(rates["zh"], 4), source=f"measured:{name}")


# For servers whose tokenizer we cannot see: generous enough that common tokenizers fit (SmolLM2 and
# Llama ~1.1-1.4 per English word; up to ~2 per 字 for tokenizers without many CJK merges).
DEFAULT_RATE = TokenRate(en=1.4, zh=2.0, source="default")


def token_rate_of(generator: Any, counter: str = "longbench") -> TokenRate:
    """The measured rate of a generator's tokenizer (local backends, or a server given one), else
    ``DEFAULT_RATE``. Cached on the generator: measuring takes a few milliseconds, once."""
    cached = getattr(generator, "_lengthwise_token_rate", None)
    if isinstance(cached, TokenRate):
        return cached
    # local backends hold their tokenizer; a server client may be given the served model's
    tokenizer = getattr(generator, "tokenizer", None) or getattr(generator, "prefill_tokenizer", None)
    rate = TokenRate.measure(tokenizer, counter) if tokenizer is not None else DEFAULT_RATE
    try:
        generator._lengthwise_token_rate = rate
    except AttributeError:  # a generator that takes no attributes measures again next time
        pass
    return rate


def auto_max_new_tokens(required: float | None, cap: int, rate: TokenRate = DEFAULT_RATE,
                        language: Language = "en", default: int = 1024, overshoot: float = 1.5,
                        slack: int = 64) -> int:
    """Token budget for a request of ``required`` counted words: room to overshoot the target by
    ``overshoot`` (S_l measures the overshoot), plus ``slack``, never above ``cap``.

    >>> auto_max_new_tokens(1000, cap=4096, rate=TokenRate(en=1.35, zh=2.0))
    2089
    >>> auto_max_new_tokens(1000, cap=8192, rate=TokenRate(en=1.35, zh=2.0), language="zh")
    3064
    >>> auto_max_new_tokens(None, cap=512)
    512
    """
    if required is None:
        return min(default, cap)
    return max(32, min(cap, math.ceil(required * rate.per_word(language) * overshoot) + slack))
