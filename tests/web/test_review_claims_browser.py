"""Claims in a real browser: a coordinator prepares a period's claims, an auditor signs one off and downloads
its evidence pack, whose SHA-256 is the stored one; the claim pages have no serious accessibility violations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy.engine import Engine

from tests.integration.test_claims import MONTHS, PERIOD, decide, publish
from tests.unit.review.review_data import build_database
from tests.web.conftest import serving
from tests.web.test_review_accessibility import assert_accessible, sign_in
from tfident.review.app import Settings
from tfident.store.claims import read_claim

pytestmark = pytest.mark.web


@pytest.fixture
def claims_server(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """The app with period TFX, H1 accepted in October and November's outcomes; its URL and database."""
    engine = build_database(f"sqlite:///{tmp_path / 'claims.db'}")
    decide(engine, "H1", "accept", lead_agency="Early Help", worker="J Bloggs")
    publish(engine, "R-NOV", MONTHS[0])
    settings = Settings(secret_key="web-test-" + "x" * 32, periods=(PERIOD,))
    with serving(engine, settings) as url:
        yield url, engine


def sign_out(page: Page) -> None:
    """Sign out through the header link and the confirmation button."""
    page.get_by_role("link", name="Sign out").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_coordinator_prepares_and_an_auditor_signs_off_and_downloads_the_pack(
    claims_server: tuple[str, Engine], chromium_path: Path, artifacts: Path, tmp_path: Path
) -> None:
    """Prepare (preview, confirm), sign off, download both pack files; the SHA-256 are the stored ones."""
    server, engine = claims_server
    checked: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(bypass_csp=True, accept_downloads=True)  # bypass: axe is injected
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            sign_in(page, server, "coordinator")
            page.get_by_role("link", name="Claims", exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Claims in period TFX")
            expect(page.locator("#no-claims")).to_be_visible()
            assert_accessible(page, "claims", checked)
            page.get_by_role("link", name="Prepare claims for TFX").click()
            expect(page.locator("#proposals")).to_contain_text("tf1_results")
            expect(page.locator("#proposals")).to_contain_text("£4,000")
            assert_accessible(page, "prepare claims", checked)
            page.screenshot(path=str(artifacts / "claims-prepare.png"), full_page=True)
            page.get_by_role("button", name="Prepare 1 draft claim").click()
            expect(page.get_by_role("alert")).to_contain_text("1 draft claim(s) prepared for period TFX")
            expect(page.locator("#claims")).to_contain_text("Draft")
            expect(page.locator("#amount-claimed")).to_contain_text("£4,000")
            page.get_by_role("link", name="Claim 1").click()
            expect(page.locator("#awaiting-audit")).to_be_visible()
            expect(page.locator("#sign-off")).to_have_count(0)  # a coordinator cannot sign off
            sign_out(page)

            sign_in(page, server, "auditor")
            page.goto(f"{server}/claims/1")
            assert_accessible(page, "claim", checked)
            page.get_by_role("button", name="Save the audit outcome").click()  # nothing chosen
            expect(page.locator(".govuk-error-summary")).to_contain_text("Choose whether the claim is signed off")
            assert_accessible(page, "claim error", checked)
            page.get_by_label("Sign off: the evidence supports the claim").check()
            page.get_by_role("button", name="Save the audit outcome").click()
            expect(page.get_by_role("alert")).to_contain_text("Claim 1: signed off by internal audit")
            expect(page.locator("#signed-off")).to_contain_text("auditor")
            expect(page.locator("#history")).to_contain_text("Signed off by internal audit")
            page.screenshot(path=str(artifacts / "claim.png"), full_page=True)

            claim = read_claim(engine, 1)
            assert (claim["status"], claim["prepared_by"], claim["audited_by"]) == ("audited", "coordinator", "auditor")
            expect(page.locator("#sha256-xlsx")).to_have_text(claim["pack_xlsx_sha256"])
            with page.expect_download() as download_info:
                page.locator("#pack-xlsx").click()
            workbook = tmp_path / "pack.xlsx"
            download_info.value.save_as(workbook)
            assert hashlib.sha256(workbook.read_bytes()).hexdigest() == claim["pack_xlsx_sha256"]
            printable = page.request.get(f"{server}/claims/1/pack.html")
            assert hashlib.sha256(printable.body()).hexdigest() == claim["pack_html_sha256"]
            page.locator("#pack-html").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Evidence pack: claim 1")

            page.goto(f"{server}/claims/sample?period=TFX")
            page.get_by_label("Seed").fill("7")
            page.get_by_role("button", name="Draw the sample").click()
            expect(page.locator("#sampled")).to_contain_text("Claim 1")
            assert_accessible(page, "audit sample", checked)

            page.goto(f"{server}/audit?action=claim.audited")
            expect(page.locator("#audit")).to_contain_text("claim.audited")
            page.goto(f"{server}/audit?action=claim.pack_download")
            expect(page.locator("#audit tbody tr")).to_have_count(3)  # the workbook, the page fetched, the page opened
            assert errors == []
        finally:
            browser.close()
    assert set(checked) == {"claims", "prepare claims", "claim", "claim error", "audit sample"}
