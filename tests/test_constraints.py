import pytest

from lengthwise import LengthConstraint, parse_length
from lengthwise.constraints import parse_number


def C(kind, lo, hi, target, unit="words", multiplier=1, language="en"):
    return (kind, lo, hi, target, unit, multiplier, language)


def typed(c: LengthConstraint):
    return (c.kind, c.lo, c.hi, c.target, c.unit, c.multiplier, c.language)


CASES = [
    # English: exact, about, at least, at most, ranges
    ("Write a 500-word essay on rivers.", C("exact", 500, 500, 500)),
    ("Write exactly 300 words.", C("exact", 300, 300, 300)),
    ("Write a story of 1,200 words.", C("exact", 1200, 1200, 1200)),
    ("Write about 2,000 words on tides.", C("about", 2000, 2000, 2000)),
    ("Approximately 800 words, please.", C("about", 800, 800, 800)),
    ("around 3k words", C("about", 3000, 3000, 3000)),
    ("Write at least 800 words.", C("min", 800, None, 800)),
    ("no fewer than 1000 words", C("min", 1000, None, 1000)),
    ("It must be 600 words or more.", C("min", 600, None, 600)),
    ("A 1000+ word article", C("min", 1000, None, 1000)),
    ("Write no more than 300 words.", C("max", None, 300, 300)),
    ("Keep it under 150 words.", C("max", None, 150, 150)),
    ("250 words max.", C("max", None, 250, 250)),
    ("between 500 and 800 words", C("range", 500, 800, 650)),
    ("Write 1,000-1,500 words.", C("range", 1000, 1500, 1250)),
    ("from 300 to 400 words", C("range", 300, 400, 350)),
    # English number words and units
    ("Write a thousand words about cats.", C("exact", 1000, 1000, 1000)),
    ("two thousand five hundred words", C("exact", 2500, 2500, 2500)),
    ("Write about five hundred words.", C("about", 500, 500, 500)),
    ("Write a 3-page report.", C("exact", 3, 3, 3, unit="pages")),
    ("under 280 characters", C("max", None, 280, 280, unit="characters")),
    ("Summarise in 200 tokens.", C("exact", 200, 200, 200, unit="tokens")),
    # English unit before the number
    ("Word count: 800", C("exact", 800, 800, 800)),
    ("Word limit of 500.", C("max", None, 500, 500)),
    ("Length: about 1,200 words.", C("about", 1200, 1200, 1200)),
    # English multipliers
    ("Write two parts of 1000 words each.", C("exact", 2000, 2000, 2000, multiplier=2)),
    ("Write 3 sections, each about 500 words.", C("about", 1500, 1500, 1500, multiplier=3)),
    ("Write five short stories of at least 400 words each.", C("min", 2000, None, 2000, multiplier=5)),
    # Chinese: exact, about, min, max, ranges
    ("写一篇800字的作文", C("exact", 800, 800, 800, unit="characters", language="zh")),
    ("写一篇两千字左右的文章", C("about", 2000, 2000, 2000, unit="characters", language="zh")),
    ("约一万字的小说", C("about", 10000, 10000, 10000, unit="characters", language="zh")),
    ("写一篇不少于三千字的文章", C("min", 3000, None, 3000, unit="characters", language="zh")),
    ("两千字以上", C("min", 2000, None, 2000, unit="characters", language="zh")),
    ("不超过500字", C("max", None, 500, 500, unit="characters", language="zh")),
    ("控制在800字以内", C("max", None, 800, 800, unit="characters", language="zh")),
    ("2000-3000字", C("range", 2000, 3000, 2500, unit="characters", language="zh")),
    ("两千到三千字", C("range", 2000, 3000, 2500, unit="characters", language="zh")),
    # Chinese numerals
    ("写三千五百字", C("exact", 3500, 3500, 3500, unit="characters", language="zh")),
    ("一千二字的散文", C("exact", 1200, 1200, 1200, unit="characters", language="zh")),
    ("1.5万字的报告", C("exact", 15000, 15000, 15000, unit="characters", language="zh")),
    ("3千字", C("exact", 3000, 3000, 3000, unit="characters", language="zh")),
    # Chinese units 词 / 页
    ("不超过500词", C("max", None, 500, 500, unit="words", language="zh")),
    ("写5页的报告", C("exact", 5, 5, 5, unit="pages", language="zh")),
    # Chinese unit before number
    ("字数：2000", C("exact", 2000, 2000, 2000, unit="characters", language="zh")),
    ("字数不少于3000", C("min", 3000, None, 3000, unit="characters", language="zh")),
    ("字数在2000到3000之间", C("range", 2000, 3000, 2500, unit="characters", language="zh")),
    ("篇幅约五千字", C("about", 5000, 5000, 5000, unit="characters", language="zh")),
    # Chinese multipliers
    ("分为三部分，每部分500字", C("exact", 1500, 1500, 1500, unit="characters", multiplier=3, language="zh")),
    ("写三篇文章，每篇不少于800字", C("min", 2400, None, 2400, unit="characters", multiplier=3, language="zh")),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_parse_length(text, expected):
    c = parse_length(text)
    assert c is not None, text
    assert typed(c) == expected


@pytest.mark.parametrize(
    "text",
    ["Write a poem about rain.", "写一首关于秋天的诗", "In 2024, write a story about 3 cats.", "", None,
     "Write 0 words", "Describe the 1990s in detail."],
)
def test_no_stated_length_is_none_never_a_guess(text):
    assert parse_length(text) is None


def test_target_range_follows_lwz_convention():
    assert parse_length("2000 words").target_range() == pytest.approx((1800, 2200))
    assert parse_length("at most 2000 words").target_range() == pytest.approx((1800, 2000))
    assert parse_length("at least 2000 words").target_range() == pytest.approx((2000, 2200))
    assert parse_length("1800-2500 words").target_range() == (1800, 2500)


def test_required_words_converts_pages_and_refuses_english_characters():
    assert parse_length("a 3-page report").required_words() == 1500
    assert parse_length("写一篇800字的作文").required_words() == 800
    assert parse_length("under 280 characters").required_words() is None


@pytest.mark.parametrize(
    "s, value",
    [("2,000", 2000), ("1,234,567", 1234567), ("3k", 3000), ("2.5K", 2500), ("1.5万", 15000), ("两千", 2000),
     ("三千五百", 3500), ("一万", 10000), ("一万五", 15000), ("一千二", 1200), ("十", 10), ("二十五", 25),
     ("五百零五", 505), ("twenty-five", 25), ("a thousand", 1000), ("fifteen hundred", 1500)],
)
def test_parse_number(s, value):
    assert parse_number(s) == value


# Cases a real prompt set contains (each in English and Chinese).
REAL_CASES = [
    # negated maxima
    ("文章不要超过500字", C("max", None, 500, 500, "characters", language="zh")),
    ("字数不得超过800字", C("max", None, 800, 800, "characters", language="zh")),
    ("不能多于300字", C("max", None, 300, 300, "characters", language="zh")),
    ("不能少于300字", C("min", 300, None, 300, "characters", language="zh")),
    ("The essay must not exceed 500 words.", C("max", None, 500, 500)),
    ("It shouldn't be longer than 300 words.", C("max", None, 300, 300)),
    # English number words
    ("Write a five-hundred-word essay.", C("exact", 500, 500, 500)),
    ("Write twelve hundred words on tides.", C("exact", 1200, 1200, 1200)),
    ("Write two thousand words.", C("exact", 2000, 2000, 2000)),
    ("写一篇两千字的文章", C("exact", 2000, 2000, 2000, "characters", language="zh")),
    # per-item multipliers
    ("写五篇文章，每篇400字左右", C("about", 2000, 2000, 2000, "characters", 5, "zh")),
    ("Write five posts of about 400 words each.", C("about", 2000, 2000, 2000, "words", 5)),
    # totals
    ("写一部共五幕（10000字）的剧本", C("exact", 10000, 10000, 10000, "characters", language="zh")),
    ("分为五个部分，每部分都要详细，共10000字", C("exact", 10000, 10000, 10000, "characters", language="zh")),
    ("Write five parts, each detailed, 5000 words in total.", C("exact", 5000, 5000, 5000)),
    # pages
    ("Write no more than 2 pages.", C("max", None, 2, 2, "pages")),
    ("写一篇不超过3页的报告", C("max", None, 3, 3, "pages", language="zh")),
]


@pytest.mark.parametrize("text, expected", REAL_CASES)
def test_parse_length_real_prompt_cases(text, expected):
    assert typed(parse_length(text)) == expected


def test_pages_convert_to_words_at_the_documented_rate():
    from lengthwise.constraints import WORDS_PER_PAGE

    c = parse_length("Write no more than 2 pages.").in_words()
    assert (c.kind, c.hi, c.unit) == ("max", 2 * WORDS_PER_PAGE, "words")
    assert parse_length("under 280 characters").in_words() is None
