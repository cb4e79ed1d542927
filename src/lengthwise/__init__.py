"""lengthwise: control how long language models write.

The stable public API::

    count_words(text, counter="longbench") -> int
    parse_length(text) -> LengthConstraint | None
    length_score(required, produced) -> float   # LongBench-Write S_l, 0-100
"""

from lengthwise.constraints import LengthConstraint, parse_length
from lengthwise.rewards.length import length_score
from lengthwise.text import count_words, extract_answer

__version__ = "0.1.0"

__all__ = ["count_words", "parse_length", "LengthConstraint", "length_score", "extract_answer", "__version__"]
