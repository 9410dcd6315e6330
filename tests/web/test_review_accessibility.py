"""Automated accessibility checks of the review app's pages with axe-core, in a real browser.

axe-core (``tests/web/vendor/axe.min.js``, MPL-2.0, a test asset only) is injected into each
page with Playwright and run against WCAG 2.x A/AA rules and best practices; the test fails on
any violation of impact *serious* or *critical*, naming the rule and the elements. The app's
content security policy allows only its own scripts, so the browser context bypasses CSP to
let the injected checker run (the app itself is not changed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.unit.review.review_data import PASSWORD

pytestmark = pytest.mark.web

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page and return its violations."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        TAGS,
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """A readable list of violations: rule, impact, help and the first few elements."""
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    return "\n".join(lines)


def assert_accessible(page: Page, name: str, checked: dict[str, int]) -> None:
    """Fail on serious or critical axe violations of the current page."""
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"accessibility violations on the {name} page:\n{describe(blocking)}"
    checked[name] = len(violations)


def sign_in(page: Page, server: str, username: str) -> None:
    """Sign in through the form."""
    page.goto(f"{server}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_the_pages_have_no_serious_accessibility_violations(server: str, chromium_path: Path) -> None:
    """It finds no serious or critical axe-core violations on sign-in, runs, list, family, pair and audit pages."""
    assert AXE.exists(), f"{AXE} is missing: see tests/web/vendor/README.md"
    checked: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(bypass_csp=True)
            page = context.new_page()

            page.goto(f"{server}/login")
            assert_accessible(page, "sign-in", checked)
            page.get_by_label("Username").fill("coordinator")
            page.get_by_label("Password").fill("wrong password")
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator(".govuk-error-summary")).to_be_visible()
            assert_accessible(page, "sign-in error", checked)

            sign_in(page, server, "coordinator")
            page.goto(f"{server}/runs")
            assert_accessible(page, "runs", checked)
            page.goto(f"{server}/runs/R-OCT")
            assert_accessible(page, "run", checked)
            page.goto(f"{server}/runs/R-OCT/candidates")
            assert_accessible(page, "candidate list", checked)
            page.goto(f"{server}/runs/R-OCT/candidates?criterion=work&sort=score&dir=asc")
            assert_accessible(page, "filtered candidate list", checked)
            page.goto(f"{server}/families/H1?run=R-OCT")
            assert_accessible(page, "family", checked)
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert_accessible(page, "family with every section open", checked)
            page.get_by_role("button", name="Save decision").click()
            expect(page.locator(".govuk-error-summary")).to_be_visible()
            assert_accessible(page, "family with errors", checked)
            page.goto(f"{server}/families/H1/print?run=R-OCT")
            assert_accessible(page, "family print view", checked)
            page.goto(f"{server}/families/H3?run=R-OCT")
            page.get_by_label("Accept: attach to the programme").check()
            page.get_by_label("Lead agency").fill("Early Help")
            page.get_by_label("Lead worker").fill("J Bloggs")
            page.get_by_role("button", name="Save decision").click()
            expect(page.get_by_label("Outcomes achieved")).to_be_visible()
            assert_accessible(page, "attached family with closure reasons", checked)
            page.goto(f"{server}/families/H1?run=R-OCT&open=links")
            page.get_by_role("link", name="Compare the two records side by side").first.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("same person")
            assert_accessible(page, "record pair", checked)
            page.goto(f"{server}/families/NOPE")
            assert_accessible(page, "not found", checked)
            page.goto(f"{server}/logout")
            assert_accessible(page, "sign-out", checked)
            page.get_by_role("button", name="Sign out").click()

            sign_in(page, server, "auditor")
            page.goto(f"{server}/audit")
            assert_accessible(page, "audit", checked)

            sign_in(page, server, "admin")
            page.goto(f"{server}/users")
            assert_accessible(page, "users", checked)
        finally:
            browser.close()
    assert len(checked) == 16, checked
