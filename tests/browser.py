"""Open a report in a real headless Chromium (Debian's ``chromium``, driven by Playwright)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


def chromium_path() -> str:
    path = os.environ.get("LENGTHWISE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        import pytest

        # One line, not a stack: `make test` runs scripts/ensure-chromium.sh first, which installs it.
        pytest.fail("chromium not found: run `make setup` (scripts/ensure-chromium.sh) or set LENGTHWISE_CHROMIUM",
                    pytrace=False)
    return path


@contextlib.contextmanager
def open_page(html_path: Path, width: int = 1280, height: int = 900):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(Path(html_path).resolve().as_uri())
            page.wait_for_load_state("load")
            yield page
        finally:
            browser.close()


def image_widths(page) -> list[tuple[str, int]]:
    """``(src, naturalWidth)`` of every ``<img>``; 0 means the image did not load."""
    return page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")


def check_report(html_path: Path, screenshot: Path) -> dict:
    """Screenshot the report, check every image loaded, open the first sample; return what was seen."""
    with open_page(html_path) as page:
        page.screenshot(path=str(screenshot), full_page=True)
        widths = image_widths(page)
        seen = {"images": widths, "sample_opened": False, "sample_text": ""}
        rows = page.locator(".sample-row")
        if rows.count():
            rows.nth(0).click()
            detail = page.locator(".sample-detail.open")
            seen["sample_opened"] = detail.count() == 1 and detail.first.is_visible()
            seen["sample_text"] = detail.first.inner_text() if detail.count() else ""
        return seen
