"""The review app in a real browser: sign in, filter, open a family, rule on a link, accept, export, close, sign out."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.unit.review.review_data import PASSWORD
from tfident.review.exports import HEADERS, SHEET_NAME

pytestmark = pytest.mark.web


def test_a_coordinator_reviews_and_exports_a_family(
    server: str, chromium_path: Path, artifacts: Path, tmp_path: Path
) -> None:
    """It takes a coordinator from sign-in to an exported panel list, with screenshots of the pages."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            page.goto(f"{server}/runs/R-OCT/candidates")
            expect(page).to_have_url(f"{server}/login?next=%2Fruns%2FR-OCT%2Fcandidates")
            page.get_by_label("Username").fill("coordinator")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{server}/runs/R-OCT/candidates")  # next= is honoured (issue 14)

            page.get_by_role("link", name="Candidate families").first.click()
            expect(page.locator("#result-count")).to_contain_text("3 families")
            page.get_by_label("Criterion met").select_option("education")
            page.get_by_role("button", name="Apply filters").click()
            expect(page.locator("#result-count")).to_contain_text("1 family")
            page.get_by_role("link", name="Clear filters").click()
            expect(page.locator("#result-count")).to_contain_text("3 families")
            page.screenshot(path=str(artifacts / "candidates.png"), full_page=True)

            page.get_by_role("link", name="Smith").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("1 High Street")
            page.locator("#links > summary").click()
            card = page.locator("[data-link='asb:X1|benefits:B1']")
            card.get_by_text("Match weights, field by field").click()
            expect(card.locator("svg[aria-label^='Match weights']")).to_be_visible()
            expect(card.locator("table.weights")).to_contain_text("surname")
            page.screenshot(path=str(artifacts / "family.png"), full_page=True)

            card.get_by_label("Reason (optional)").fill("different people: father and son")
            card.get_by_role("button", name="Not the same person").click()
            expect(page.get_by_role("alert")).to_contain_text("keep these records apart")
            expect(page.locator("[data-link='asb:X1|benefits:B1'] .ruling")).to_contain_text("Not the same person")

            page.get_by_label("Accept: attach to the programme").check()
            page.get_by_label("Lead agency").fill("Early Help")
            page.get_by_label("Lead worker").fill("J Bloggs")
            page.get_by_role("button", name="Save decision").click()
            expect(page.locator("#status")).to_contain_text("Accepted (attached)")

            page.get_by_role("link", name="Candidate families").first.click()
            expect(page.locator("#result-count")).to_contain_text("2 families")  # attached: not shown by default
            page.get_by_label("Status").select_option("all")
            page.get_by_role("button", name="Apply filters").click()
            expect(page.locator("#result-count")).to_contain_text("3 families")
            page.get_by_label("Select family ranked 1").check()
            with page.expect_download() as download_info:
                page.get_by_role("button", name="Export selected (XLSX)").click()
            path = tmp_path / "panel.xlsx"
            download_info.value.save_as(path)
            rows = list(openpyxl.load_workbook(path)[SHEET_NAME].iter_rows(values_only=True))
            assert rows[0] == HEADERS
            assert [(row[1], row[10], row[11], row[12]) for row in rows[1:]] == [
                ("H1", "Accepted (attached)", "Early Help", "J Bloggs")
            ]

            page.get_by_role("link", name="Smith").click()
            page.get_by_label("Close: the family's work with the programme has ended").check()
            page.get_by_label("Outcomes achieved").check()
            page.get_by_role("button", name="Save decision").click()
            expect(page.locator("#status")).to_contain_text("Closed")
            expect(page.locator("#status")).to_contain_text("Outcomes achieved")

            page.get_by_role("link", name="Sign out").click()
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.goto(f"{server}/runs")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            assert errors == []
        finally:
            browser.close()
