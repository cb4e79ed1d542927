"""The static HTML report: rendering, escaping, highlighting, and a real headless Chromium reading it."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import check_report, image_widths, open_page
from lengthwise.evaluation.plots import plot_required_vs_produced
from lengthwise.evaluation.report import Figure, Report, Sample, Table, by_target_table, highlight


def test_highlight_escapes_text_and_marks_spans():
    text = "<b>a</b> repeated repeated & done"
    out = highlight(text, [(9, 17, "repetition"), (18, 26, "repetition"), (10, 12, "keyword")])
    assert "&lt;b&gt;a&lt;/b&gt;" in out
    assert out.count("<mark") == 2  # the overlapping keyword span is dropped, not nested
    assert '<mark class="repetition" title="repetition">repeated</mark>' in out
    assert out.endswith("&amp; done")


def test_highlight_clamps_spans_outside_the_text():
    assert (
        highlight("abc", [(-5, 1, "x"), (2, 99, "y")])
        == '<mark class="x" title="x">a</mark>b<mark class="y" title="y">c</mark>'
    )


def test_by_target_table_aligns_systems_per_required_length():
    before = [{"required": 40, "words": 80, "S_l": 66.7}, {"required": 80, "words": 80, "S_l": 100.0}]
    after = [{"required": 40, "words": 40, "S_l": 100.0}]
    table = by_target_table("t", {"before": before, "after": after})
    assert table.headers == ["required", "n", "before: words", "before: S_l", "after: words", "after: S_l"]
    assert table.rows[0] == [40, 1, "80", "66.7", "40", "100.0"]
    assert table.rows[1] == [80, 1, "80", "100.0", "–", "–"]


def test_missing_figure_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        Report("t", figures=[Figure("f", "nope.png")]).write(tmp_path)


def _report(tmp_path: Path) -> Path:
    plot_required_vs_produced({"a": ([100, 200], [90, 400])}, tmp_path / "rvp.png")
    text = "First line. " + "Same again. " * 3 + "<script>alert(1)</script>"
    samples = [Sample(id=f"s{k}", system="sys", prompt=f"Prompt {k} in about 100 words.", response=text,
                      scores={"S_l": 90.0 - k, "words": 12}, flags=["repetition"] if k == 1 else [],
                      spans=[(12, 24, "repetition")]) for k in range(3)]
    report = Report("Test report", subtitle="sub", headline=[("mean S_l", "88.0")],
                    tables=[Table("by target", ["required", "S_l"], [[100, "90.0"]])],
                    figures=[Figure("Required vs produced", "rvp.png", "caption")], samples=samples, notes=["n"])
    return report.write(tmp_path)


def test_report_renders_in_headless_chromium(tmp_path):
    path = _report(tmp_path)
    page_html = path.read_text()
    assert "<script>alert(1)</script>" not in page_html  # responses are escaped
    seen = check_report(path, tmp_path / "shot.png")
    assert (tmp_path / "shot.png").stat().st_size > 5000
    assert seen["images"] and all(width > 0 for _, width in seen["images"]), seen["images"]
    assert seen["sample_opened"]
    assert "Prompt 0 in about 100 words." in seen["sample_text"]


def test_report_sample_filter_and_deep_link(tmp_path):
    path = _report(tmp_path)
    with open_page(path) as page:
        page.fill("#sample-filter", "repetition")
        visible = page.eval_on_selector_all(".sample-row", "rs => rs.filter(r => r.style.display !== 'none').length")
        assert visible == 1
    url_path = path.parent / "report.html"
    from playwright.sync_api import sync_playwright

    from browser import chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url_path.resolve().as_uri() + "#sample-2")
        assert page.locator("#sample-2").is_visible()
        assert page.locator(".sample-row.active").get_attribute("data-index") == "2"
        browser.close()


def test_broken_image_is_detected(tmp_path):
    """The check itself can fail: an unreadable PNG has natural width 0."""
    path = _report(tmp_path)
    (tmp_path / "rvp.png").write_bytes(b"not a png")
    with open_page(path) as page:
        assert [w for _, w in image_widths(page)] == [0]


def test_required_lengths_print_as_whole_numbers_and_numbers_align_right(tmp_path):
    before = [{"required": 20.0, "words": 31, "S_l": 66.7}]
    table = by_target_table("t", {"before": before})
    assert table.rows[0][0] == 20 and isinstance(table.rows[0][0], int)  # not "20.0"
    Report("t", tables=[Table("by target", ["required", "name", "S_l"], [[20, "rivers", "66.7"], [40, "x", "–"]])]
           ).write(tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert '<td class="num">20</td>' in html and '<td class="num">66.7</td>' in html
    assert '<td class="num">–</td>' in html and "<td>rivers</td>" in html  # text stays left-aligned


def test_report_files_get_the_same_mode_as_other_outputs(tmp_path):
    import os

    path = _report(tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
