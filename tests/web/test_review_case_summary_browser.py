"""The family page as a case summary, its print view and the month-on-month list, in Debian's chromium at 1280
and 375 px: the decision form on the first screen, no sideways scrolling, a print of one or two pages, the
waterfall summing to the stored weight, and axe-core clean. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.unit.review.review_data import stored_weights
from tests.web.test_review_accessibility import assert_accessible, sign_in

pytestmark = pytest.mark.web

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
PAGES = {
    "list": "/runs/R-NOV/candidates?status=all",
    "family": "/families/H1?run=R-NOV",
    "print": "/families/H1/print?run=R-NOV",
}


def open_all_details(page: Page) -> None:
    """Open every collapsed section, so the widest content is laid out."""
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")


def scroll_width(page: Page) -> int:
    """How wide the document is laid out (more than the viewport: the page scrolls sideways)."""
    return int(page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"))


def pdf_pages(page: Page) -> int:
    """How many A4 pages the browser prints the page on."""
    pdf = page.pdf(format="A4", print_background=False)
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def new_page(browser: Browser, viewport: dict[str, int]) -> Page:
    return browser.new_context(viewport=viewport, bypass_csp=True).new_page()  # type: ignore[arg-type]


def test_the_case_summary_fits_the_first_screen_and_phones(
    busy_server: str, chromium_path: Path, artifacts: Path
) -> None:
    """It puts the decision form on the first screen of a 52-link family, never scrolls sideways at 375 px,
    prints on at most two pages, and draws a waterfall whose bars sum to the stored weight.
    """
    checked: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=["--no-sandbox"])
        try:
            page = new_page(browser, DESKTOP)
            sign_in(page, busy_server, "coordinator")
            page.goto(busy_server + PAGES["family"])
            expect(page.locator("#link-confidence")).to_contain_text("52 links")
            top = page.evaluate(
                "document.querySelector('form[action$=\"/decisions\"]').getBoundingClientRect().top + window.scrollY"
            )
            assert top < 1500, f"the decision form starts {top} px down the page"
            assert page.get_by_role("button", name="Save decision").is_visible()
            assert_accessible(page, "busy family", checked)

            page.locator("#links > summary").click()
            card = page.locator("[data-link='asb:X1|benefits:B1']")
            card.get_by_text("Match weights, field by field").click()
            weights = [
                float(w) for w in card.locator("rect.tf-step").evaluate_all("els => els.map(e => e.dataset.weight)")
            ]
            total = float(card.locator("rect.tf-total").get_attribute("data-total") or "nan")
            assert sum(weights) == pytest.approx(total, abs=0.005)
            assert total == pytest.approx(json.loads(stored_weights())["total"])  # the stored link weight, 5.51
            expect(card.locator(".tf-total-weight")).to_have_text("+5.51")
            expect(page.locator("#links")).to_contain_text("pairs below 0.97 are flagged")  # November's config
            open_all_details(page)
            assert_accessible(page, "busy family, every section open", checked)

            for width, viewport in (("1280", DESKTOP), ("375", PHONE)):
                page = new_page(browser, viewport)
                sign_in(page, busy_server, "coordinator")
                for name, path in PAGES.items():
                    page.goto(busy_server + path)
                    page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
                    open_all_details(page)  # the widest content laid out too
                    if width == "375":
                        assert scroll_width(page) <= 375, f"the {name} page is {scroll_width(page)} px wide at 375 px"
                if width == "375":
                    for path in (
                        "/runs/R-NOV",
                        "/runs/R-NOV/candidates?change=dropped",
                        "/pairs?run=R-NOV&left=asb:X1&right=benefits:B1",
                    ):
                        page.goto(busy_server + path)
                        assert scroll_width(page) <= 375, f"{path} is {scroll_width(page)} px wide at 375 px"

            page.goto(busy_server + PAGES["print"])
            assert_accessible(page, "print view", checked)
            pages = pdf_pages(page)
            assert 1 <= pages <= 2, f"the print view prints on {pages} pages"
            page.goto(busy_server + PAGES["family"])
            assert pdf_pages(page) <= 2  # printing the family page itself: details and forms are left out
        finally:
            browser.close()
    assert len(checked) == 3


def test_the_list_shows_what_changed_and_opted_out_families_stay_hidden(
    busy_server: str, chromium_path: Path, tmp_path: Path
) -> None:
    """It marks new, carried-over and re-ranked families, lists dropped ones with why, and shows an
    opted-out family as a stub until an override with a reason (which the audit log shows).
    """
    checked: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport=DESKTOP, bypass_csp=True, accept_downloads=True)  # type: ignore[arg-type]
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            sign_in(page, busy_server, "coordinator")
            page.goto(f"{busy_server}/runs/R-NOV/candidates")
            expect(page.locator("#month-on-month")).to_contain_text("1 new, 1 carried over, 1 re-ranked")
            expect(page.locator("tr[data-household='H4'] .tf-change")).to_have_text("New this month")
            expect(page.locator("tr[data-household='H2'] .tf-change")).to_have_text("Re-ranked: was 2")
            expect(page.locator("tr[data-household='H1'] .tf-change")).to_contain_text("Carried over")
            page.get_by_label("Since last month").select_option("new")
            page.get_by_role("button", name="Apply filters").click()
            expect(page.locator("#result-count")).to_contain_text("1 family")
            with page.expect_download() as download_info:
                page.get_by_role("button", name="Export the 1 family shown (CSV)").click()
            path = tmp_path / "new.csv"
            download_info.value.save_as(path)
            rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
            assert [(row[1], row[-1]) for row in rows[1:]] == [("H4", "Nia Jones (adult)")]
            page.get_by_label("Since last month").select_option("dropped")
            page.get_by_role("button", name="Apply filters").click()
            expect(page.locator("#dropped")).to_contain_text("no longer meets crime_asb, work")
            assert_accessible(page, "dropped families", checked)

            page.goto(f"{busy_server}/families/H2?run=R-NOV")
            page.get_by_label("Opted out: the family declined consent").check()
            page.get_by_role("button", name="Save decision").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("A family that opted out")
            expect(page.locator("main")).not_to_contain_text("Low Road")
            assert page.get_by_label("Accept: attach to the programme").count() == 0
            assert_accessible(page, "opted-out stub", checked)
            page.goto(f"{busy_server}/runs/R-NOV/candidates?status=all")
            expect(page.locator("tr[data-household='H2']")).to_contain_text("A family that opted out")
            expect(page.locator("tr[data-household='H2']")).not_to_contain_text("Low Road")

            page.goto(f"{busy_server}/families/H2?run=R-NOV")
            page.get_by_role("button", name="Override the opt-out").click()
            expect(page.locator(".govuk-error-summary")).to_contain_text("Enter why")
            page.get_by_label("Why must this family be shown again?").fill("the family gave consent on 2 December")
            page.get_by_role("button", name="Override the opt-out").click()
            expect(page.locator("#override-note")).to_contain_text("the family gave consent on 2 December")
            page.get_by_label("Accept: attach to the programme").check()
            page.get_by_label("Lead agency").fill("Early Help")
            page.get_by_label("Lead worker").fill("J Bloggs")
            page.get_by_role("button", name="Save decision").click()
            expect(page.locator("#status")).to_contain_text("Accepted (attached)")
            assert errors == []

            sign_in(page, busy_server, "auditor")
            page.goto(f"{busy_server}/audit?action=family.opt_out_override")
            expect(page.locator("main")).to_contain_text("H2")
        finally:
            browser.close()
    assert len(checked) == 2
