"""report.html in a real headless Chromium (Debian's `chromium` driven by Playwright, as tests/serving/test_browser.py
finds it; nothing is downloaded): the page loads from file:// with nothing fetched, every section and plot shows,
and a screenshot is taken. Skips, saying why, when Chromium or Playwright is missing."""

from __future__ import annotations

from pathlib import Path

from xling.report import ReportConfig, run_report


def test_report_page_in_chromium(browser, tiny_encoder, report_data, tmp_path):
    config = ReportConfig(model=str(tiny_encoder), data=str(report_data), output=str(tmp_path / "out"),
                          tasks=["tatoeba", "ntrex"], languages=["all"])  # fmt: skip
    outcome = run_report(config)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(Path(outcome.html_path).resolve().as_uri())
    assert page.title().startswith("xling report")
    for section in ("#summary", "#task-tatoeba", "#task-ntrex", "#training-data", "#details"):
        assert page.is_visible(section), section
    assert page.locator("#summary tr").count() == 3  # the header and the two tasks
    boxes = page.locator("svg").evaluate_all("items => items.map(svg => svg.getBoundingClientRect().width)")
    assert len(boxes) == 3 and all(width > 300 for width in boxes), boxes  # the bars twice and the scatter
    assert all(url.startswith("file:") for url in requests), requests  # self-contained
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    page.close()
