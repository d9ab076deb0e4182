"""The report in a real browser: headless Chromium loads it without errors and every figure renders."""

import shutil
from importlib import resources
from pathlib import Path

import pytest

from sop_eval.pipeline import run

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def _chromium() -> str:
    """Path of the system's Chromium; the test is skipped where none is installed (CI installs Debian's)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no Chromium on this machine: install it (Debian: apt-get install chromium) "
                    "to run the browser check")
    return found


def test_report_loads_and_figures_render(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    browser_path = _chromium()
    fixtures = Path(str(resources.files("sop_eval").joinpath("fixtures")))
    out = tmp_path / "out"
    run(fixtures / "contracts" / "demo.toml", out, risk_draws=2000)
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("request", lambda req: requests.append(req.url))
            page.goto((out / "report.html").as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => ({name: i.dataset.figure, ok: i.complete && i.naturalWidth > 0,"
                " w: i.getBoundingClientRect().width}))"
            )
            headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert len(images) >= 4
    assert all(img["ok"] and img["w"] > 100 for img in images), images
    assert "Methods and conventions" in headings and "Payments" in headings


def test_each_section_screenshots_and_no_table_overflows(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    browser_path = _chromium()
    fixtures = Path(str(resources.files("sop_eval").joinpath("fixtures")))
    out = tmp_path / "out"
    run(fixtures / "contracts" / "demo.toml", out, risk_draws=2000)
    shots = tmp_path / "shots"
    shots.mkdir()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.goto((out / "report.html").as_uri(), wait_until="load")
            sections = page.query_selector_all("main > section")
            for k, section in enumerate(sections):
                section.screenshot(path=str(shots / f"section_{k + 1}.png"))
            overflow = page.evaluate(
                "Array.from(document.querySelectorAll('table.data')).map(t => ({caption: "
                "t.closest('div').previousElementSibling ? t.closest('div').previousElementSibling.textContent : '',"
                " table: t.scrollWidth, box: t.closest('div').clientWidth, page: document.querySelector('main')"
                ".clientWidth}))"
            )
            page.emulate_media(media="print")
            printed = page.evaluate(
                "Array.from(document.querySelectorAll('table.data')).map(t => t.scrollWidth <= "
                "document.querySelector('main').clientWidth + 1)"
            )
            first = page.evaluate("document.querySelector('main > section').dataset.section")
        finally:
            browser.close()
    assert len(sections) >= 6 and first == "Payment certificate"
    pictures = sorted(shots.glob("*.png"))
    assert len(pictures) == len(sections) and all(p.stat().st_size > 1000 for p in pictures)
    too_wide = [o for o in overflow if o["table"] > o["page"] + 1]
    assert too_wide == [], too_wide
    assert all(printed)
