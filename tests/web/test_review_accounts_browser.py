"""Accounts, sessions and the investigator's audit in a real browser (issue 14, items 4 and 6).

Sign-out and an admin's revocation end a session that a copied cookie cannot revive; a
decision typed when the session timed out survives signing in again; the admin's account
page, the second-factor pages and the audit views are axe-core clean.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.unit.review.review_data import PASSWORD, build_database
from tests.web.conftest import serving
from tests.web.test_review_accessibility import assert_accessible
from tfident.review import totp
from tfident.review.app import Settings

pytestmark = pytest.mark.web


@pytest.fixture
def browser(chromium_path: Path) -> Iterator[Browser]:
    """Debian's chromium, headless."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, server: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the form."""
    page.goto(f"{server}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_a_copied_cookie_dies_with_sign_out_and_revocation(server: str, browser: Browser) -> None:
    """It refuses a session cookie copied into another browser once the owner signs out, or an admin ends it."""
    owner = browser.new_context()
    page = owner.new_page()
    sign_in(page, server, "coordinator")
    thief = browser.new_context()
    thief.add_cookies(owner.cookies())
    stolen = thief.new_page()
    stolen.goto(f"{server}/runs")
    expect(stolen.get_by_role("heading", name="Monthly runs")).to_be_visible()

    page.goto(f"{server}/logout")
    page.get_by_role("button", name="Sign out").click()
    stolen.goto(f"{server}/runs")
    expect(stolen.get_by_role("heading", name="Sign in")).to_be_visible()

    sign_in(page, server, "coordinator")
    thief.clear_cookies()
    thief.add_cookies(owner.cookies())
    stolen.goto(f"{server}/runs")
    expect(stolen.get_by_role("heading", name="Monthly runs")).to_be_visible()

    admin = browser.new_context().new_page()
    sign_in(admin, server, "admin")
    admin.get_by_role("link", name="coordinator").click()
    admin.get_by_role("button", name="End every session of coordinator").click()
    expect(admin.get_by_role("alert")).to_contain_text("of coordinator ended")
    for tab in (page, stolen):
        tab.goto(f"{server}/runs")
        expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()


def test_an_admin_manages_an_account_and_the_pages_are_accessible(server: str, browser: Browser) -> None:
    """It lets an admin disable, enable, reset and change the role of an account, on axe-clean pages."""
    checked: dict[str, int] = {}
    page = browser.new_context(bypass_csp=True).new_page()
    sign_in(page, server, "admin")
    page.goto(f"{server}/users/analyst")
    assert_accessible(page, "account", checked)
    page.get_by_role("button", name="Disable analyst").click()
    expect(page.get_by_role("alert")).to_contain_text("disabled")
    page.get_by_role("button", name="Enable analyst").click()
    page.get_by_label("New password").fill("aaaaaaaaaaaa")
    page.get_by_role("button", name="Set new password").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("different characters")
    assert_accessible(page, "account with errors", checked)
    page.get_by_label("New password").fill("violet harbour tram staple")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("alert")).to_contain_text("New password set")
    page.get_by_label("Role").select_option("auditor")
    page.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("alert")).to_contain_text("analyst is now auditor")
    page.goto(f"{server}/users")
    assert_accessible(page, "users", checked)

    other = browser.new_context(bypass_csp=True).new_page()
    sign_in(other, server, "analyst", "violet harbour tram staple")
    expect(other.get_by_role("link", name="Audit log")).to_be_visible()  # now an auditor
    other.goto(f"{server}/audit?page=99999999999999999999")
    expect(other.get_by_role("heading", name="Audit log")).to_be_visible()
    assert_accessible(other, "audit", checked)
    other.get_by_label("Who saw a family: household id").fill("H1")
    other.get_by_role("button", name="Show who saw it").click()
    expect(other.get_by_role("heading", level=1)).to_contain_text("Who saw family H1")
    assert_accessible(other, "who saw a family", checked)
    assert len(checked) == 5


def test_a_second_factor_is_set_up_and_asked_for(server: str, browser: Browser) -> None:
    """It lets a coordinator turn on two-step sign-in and then asks for the code, on axe-clean pages."""
    checked: dict[str, int] = {}
    page = browser.new_context(bypass_csp=True).new_page()
    sign_in(page, server, "coordinator")
    page.get_by_role("link", name="Your account").click()
    assert_accessible(page, "your account", checked)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(totp.code_at(secret, time.time()))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("alert")).to_contain_text("Two-step sign-in is on")

    fresh = browser.new_context(bypass_csp=True).new_page()
    fresh.goto(f"{server}/login")
    fresh.get_by_label("Username").fill("coordinator")
    fresh.get_by_label("Password").fill(PASSWORD)
    fresh.get_by_role("button", name="Sign in").click()
    expect(fresh.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    assert_accessible(fresh, "sign-in code", checked)
    fresh.get_by_label("Code from your authenticator app").fill(
        "000000" if totp.code_at(secret, time.time()) != "000000" else "111111"
    )
    fresh.get_by_role("button", name="Continue").click()
    expect(fresh.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(fresh, "sign-in code with error", checked)
    fresh.get_by_label("Code from your authenticator app").fill(totp.code_at(secret, time.time()))
    fresh.get_by_role("button", name="Continue").click()
    expect(fresh.get_by_role("heading", name="Monthly runs")).to_be_visible()


def test_a_decision_typed_before_a_timeout_survives_signing_in(tmp_path: Path, browser: Browser) -> None:
    """It keeps the reason a coordinator typed when the session timed out, and fills it in after signing in."""
    settings = Settings(secret_key="web-test-" + "x" * 32, session_timeout=timedelta(seconds=2))
    with serving(build_database(f"sqlite:///{tmp_path / 'timeout.db'}"), settings) as server:
        page = browser.new_context().new_page()
        sign_in(page, server, "coordinator")
        page.goto(f"{server}/families/H1?run=R-OCT")
        page.get_by_label("Reject").check()
        page.get_by_label("Reason", exact=True).fill("Moved to Wakefield in September")
        time.sleep(2.5)  # the session times out while the coordinator types
        page.get_by_role("button", name="Save decision").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("the decision you typed is kept")
        page.get_by_label("Username").fill("coordinator")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Family at")
        expect(page.get_by_label("Reason", exact=True)).to_have_value("Moved to Wakefield in September")
        expect(page.get_by_label("Reject")).to_be_checked()
        page.get_by_role("button", name="Save decision").click()
        expect(page.get_by_role("alert")).to_contain_text("Decision saved: Rejected")


def test_a_coordinator_with_an_area_sees_only_its_families(tmp_path: Path, browser: Browser) -> None:
    """It shows an area's coordinator only that area's families; another family is "Page not found"; the
    admin's areas form is axe-clean.
    """
    from tests.unit.review.test_review_areas import AREAS

    settings = Settings(secret_key="web-test-" + "x" * 32, areas=AREAS)
    with serving(build_database(f"sqlite:///{tmp_path / 'areas.db'}"), settings) as server:
        checked: dict[str, int] = {}
        admin = browser.new_context(bypass_csp=True).new_page()
        sign_in(admin, server, "admin")
        admin.goto(f"{server}/users/coordinator")
        assert_accessible(admin, "account with areas", checked)
        admin.get_by_label("North").check()
        admin.get_by_role("button", name="Save areas").click()
        expect(admin.get_by_role("alert")).to_contain_text("coordinator works in North")

        page = browser.new_context(bypass_csp=True).new_page()
        sign_in(page, server, "coordinator")
        page.goto(f"{server}/runs/R-OCT/candidates?status=all")
        expect(page.locator("#result-count")).to_contain_text("1 family")
        expect(page.get_by_role("link", name="Smith")).to_be_visible()
        page.goto(f"{server}/families/H2?run=R-OCT")
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        assert_accessible(page, "family outside the areas", checked)
