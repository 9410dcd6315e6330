"""Claim pages (issue 15, item 4): coordinators prepare, auditors sign off, analysts only look; every step audited.

The data are the claims tests' (``tests/integration/test_claims.py``): H1 (at TF1 1AA) accepted on
the October run, November's run observing its ASB down 100 %, so period TFX proposes one
``tf1_results`` claim of £4,000.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tests.integration.test_claims import MONTHS, PERIOD, decide, publish
from tests.unit.review.conftest import sign_in
from tests.unit.review.review_data import password_hash
from tests.unit.review.test_review_areas import AREAS
from tfident.review.app import Settings, create_app
from tfident.store import review as review_store
from tfident.store.claims import claim_run, list_claims, prepare_claims, read_claim
from tfident.store.tables import metadata

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

audit_log = metadata.tables["audit_log"]

CLAIM_ROUTES = {
    "/claims",
    "/claims/prepare",
    "/claims/sample",
    "/claims/1",
    "/claims/1/status",
    "/claims/1/sign-off",
    "/claims/1/pack.html",
}
"""The claim routes, concrete (``test_review_security`` counts them covered by the matrix below)."""

GET_PAGES = {
    "/claims?period=TFX": {"coordinator", "analyst", "auditor"},
    "/claims/1": {"coordinator", "analyst", "auditor"},
    "/claims/prepare?period=TFX": {"coordinator"},
    "/claims/sample?period=TFX": {"auditor"},
    "/claims/1/pack.html": {"coordinator", "auditor"},
    "/claims/1/pack.xlsx": {"coordinator", "auditor"},
}


@pytest.fixture
def outcomes(engine: Engine) -> Engine:
    """The review database with H1 accepted in October (by the coordinator) and November's outcomes."""
    decide(engine, "H1", "accept", lead_agency="Early Help", worker="J Bloggs")
    publish(engine, "R-NOV", MONTHS[0])
    return engine


@pytest.fixture
def claim_app(outcomes: Engine) -> FastAPI:
    """The app with period TFX and the areas North (H1), South and East; ``south`` is a coordinator of South."""
    review_store.add_user(outcomes, "south", "coordinator", password_hash())
    review_store.update_user(outcomes, "south", areas="South")
    review_store.update_user(outcomes, "coordinator", areas="North")
    settings = Settings(secret_key="test-secret-" + "x" * 32, areas=AREAS, periods=(PERIOD,))
    return create_app(outcomes, settings)


@pytest.fixture
def web(claim_app: FastAPI) -> Iterator[TestClient]:
    """A client of the claims app that does not follow redirects."""
    with TestClient(claim_app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def drafted(outcomes: Engine) -> int:
    """H1's draft claim, prepared by ``c1`` (through the command line, say)."""
    (proposal,) = prepare_claims(outcomes, PERIOD, "c1")
    assert proposal.claim_id == 1
    return proposal.claim_id


def audit_rows(engine: Engine, action: str) -> list[dict[str, Any]]:
    """The audit rows of an action, oldest first."""
    with engine.connect() as connection:
        statement = sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
        return [dict(r) for r in connection.execute(statement).mappings()]


def post(client: TestClient, path: str, token: str, **data: str) -> Any:
    """POST a form with the session's CSRF token."""
    return client.post(path, data={**data, "csrf_token": token})


@pytest.mark.usefixtures("drafted")
@pytest.mark.parametrize("role", ["coordinator", "analyst", "auditor", "admin"])
def test_each_role_sees_only_its_claim_pages(web: TestClient, role: str) -> None:
    """It serves each claim page to the roles that may see it and refuses (403) the others."""
    sign_in(web, role)
    for path, roles in GET_PAGES.items():
        assert web.get(path).status_code == (200 if role in roles else 403), (role, path)


def test_a_coordinator_previews_then_prepares_the_period_and_each_step_is_audited(
    web: TestClient, outcomes: Engine
) -> None:
    """The preview records nothing; the confirmed form (with its CSRF token) records the draft, audited."""
    token = sign_in(web, "coordinator")
    preview = web.get("/claims/prepare?period=TFX")
    assert preview.status_code == 200
    assert "H1" in preview.text
    assert "tf1_results" in preview.text
    assert "£4,000" in preview.text
    assert "Prepare 1 draft claim" in preview.text
    assert list_claims(outcomes, "TFX") == []
    assert post(web, "/claims/prepare", "wrong", period="TFX", run_id="R-NOV").status_code == 403
    assert list_claims(outcomes, "TFX") == []
    response = post(web, "/claims/prepare", token, period="TFX", run_id="R-NOV")
    assert response.status_code == 303
    assert response.headers["location"] == "/claims?period=TFX"
    (claim,) = list_claims(outcomes, "TFX")
    assert (claim["household_id"], claim["status"], claim["prepared_by"]) == ("H1", "draft", "coordinator")
    (prepared,) = audit_rows(outcomes, "claim.prepared")
    assert (prepared["username"], prepared["role"], prepared["object_id"]) == ("coordinator", "coordinator", "1")
    assert prepared["session_id"]
    assert prepared["client_address"]
    assert audit_rows(outcomes, "claims.preview")[0]["detail_json"]["proposals"] == 1
    assert audit_rows(outcomes, "claims.prepare")[0]["detail_json"]["prepared"] == 1
    listing = web.get("/claims?period=TFX")
    assert "Claim 1" in listing.text
    assert "£4,000" in listing.text
    assert "1 draft claim(s) prepared" in listing.text
    again = web.get("/claims/prepare?period=TFX")
    assert "nothing new to claim" in again.text


def test_a_preview_of_an_older_run_is_not_confirmed(web: TestClient, outcomes: Engine) -> None:
    """It refuses to prepare from a run other than the period's latest (published since the preview)."""
    token = sign_in(web, "coordinator")
    response = post(web, "/claims/prepare", token, period="TFX", run_id="R-OCT")
    assert response.status_code == 409
    assert "A newer run was published" in response.text
    assert list_claims(outcomes, "TFX") == []


def test_a_coordinator_cannot_sign_off_and_an_auditor_cannot_prepare(
    web: TestClient, outcomes: Engine, drafted: int
) -> None:
    """The sign-off is the auditor's, the preparation the coordinator's: both refused (403) and audited."""
    token = sign_in(web, "coordinator")
    assert post(web, f"/claims/{drafted}/sign-off", token, status="audited").status_code == 403
    assert "Save the audit outcome" not in web.get(f"/claims/{drafted}").text
    token = sign_in(web, "auditor")
    assert post(web, "/claims/prepare", token, period="TFX", run_id="R-NOV").status_code == 403
    assert post(web, f"/claims/{drafted}/status", token, status="withdrawn", reason="x").status_code == 403
    assert read_claim(outcomes, drafted)["status"] == "draft"
    denied = {r["detail_json"]["permission"] for r in audit_rows(outcomes, "access.denied")}
    assert denied == {"claims.audit", "claims.prepare"}


def test_an_analyst_sees_the_claim_but_not_its_evidence(web: TestClient, outcomes: Engine, drafted: int) -> None:
    """The analyst gets the claim, its status history and checksums, not the members or the packs."""
    sign_in(web, "analyst")
    page = web.get(f"/claims/{drafted}")
    assert page.status_code == 200
    assert read_claim(outcomes, drafted)["pack_html_sha256"] in page.text
    assert "Entry evidence" not in page.text
    assert 'href="/claims/1/pack.html"' not in page.text
    assert "Save the audit outcome" not in page.text
    assert "Move the claim on" not in page.text
    assert "family page, as attached" not in page.text


def test_the_claim_links_to_the_family_page_of_the_run_it_was_attached_on(
    web: TestClient, outcomes: Engine, drafted: int
) -> None:
    """A coordinator follows the claim to the family as it was when accepted (the run it was attached on)."""
    sign_in(web, "coordinator")
    page = web.get(f"/claims/{drafted}")
    claim = read_claim(outcomes, drafted)
    link = f'href="/families/{claim["household_id"]}?run=R-OCT"'
    assert link in page.text
    family = web.get(f"/families/{claim['household_id']}?run=R-OCT")
    assert family.status_code == 200


def test_an_auditor_signs_off_then_the_coordinator_moves_the_claim_on(
    web: TestClient, outcomes: Engine, drafted: int
) -> None:
    """Sign-off, submitted and paid, each audited with who and from where; a step out of order is refused."""
    token = sign_in(web, "auditor")
    page = web.get(f"/claims/{drafted}")
    assert "Does the evidence support the claim?" in page.text
    assert "Entry evidence" in page.text
    response = post(web, f"/claims/{drafted}/sign-off", token, status="audited")
    assert response.status_code == 303
    claim = read_claim(outcomes, drafted)
    assert (claim["status"], claim["audited_by"]) == ("audited", "auditor")
    (signed,) = audit_rows(outcomes, "claim.audited")
    assert (signed["role"], signed["detail_json"]) == ("auditor", {"from": "draft", "to": "audited"})
    assert signed["session_id"]
    assert post(web, f"/claims/{drafted}/sign-off", token, status="audited").status_code == 400
    token = sign_in(web, "coordinator")
    for status in ("submitted", "paid"):
        assert post(web, f"/claims/{drafted}/status", token, status=status).status_code == 303, status
    refused = post(web, f"/claims/{drafted}/status", token, status="withdrawn", reason="too late")
    assert refused.status_code == 409
    assert "can become nothing" in refused.text
    assert read_claim(outcomes, drafted)["status"] == "paid"
    history = web.get(f"/claims/{drafted}").text
    for step in ("Prepared as a draft", "Signed off by internal audit", "Submitted", "Paid"):
        assert step in history, step
    assert len(audit_rows(outcomes, "claim.refused")) == 1
    assert "£4,000" in web.get("/claims?period=TFX").text


def test_an_auditor_rejects_a_draft_only_with_a_reason(web: TestClient, outcomes: Engine, drafted: int) -> None:
    """Without a reason the form comes back with an error summary; with one the claim is withdrawn."""
    token = sign_in(web, "auditor")
    response = post(web, f"/claims/{drafted}/sign-off", token, status="withdrawn")
    assert response.status_code == 400
    assert "govuk-error-summary" in response.text
    assert 'href="#reason"' in response.text
    assert read_claim(outcomes, drafted)["status"] == "draft"
    response = post(web, f"/claims/{drafted}/sign-off", token, status="withdrawn", reason="no ASB baseline extract")
    assert response.status_code == 303
    assert read_claim(outcomes, drafted)["status"] == "withdrawn"
    (row,) = audit_rows(outcomes, "claim.withdrawn")
    assert row["detail_json"] == {"from": "draft", "to": "withdrawn", "reason": "no ASB baseline extract"}
    assert row["role"] == "auditor"


def test_an_auditor_cannot_sign_off_a_claim_they_prepared(web: TestClient, outcomes: Engine) -> None:
    """The store refuses it (separation of duties): the page says so and the claim stays a draft."""
    run = claim_run(outcomes, PERIOD)
    assert run is not None
    (proposal,) = prepare_claims(outcomes, PERIOD, "auditor", run_id=run[0])
    token = sign_in(web, "auditor")
    assert "You prepared this claim" in web.get(f"/claims/{proposal.claim_id}").text
    response = post(web, f"/claims/{proposal.claim_id}/sign-off", token, status="audited")
    assert response.status_code == 409
    assert "separation of duties" in response.text
    assert read_claim(outcomes, proposal.claim_id or 0)["status"] == "draft"


@pytest.mark.parametrize("role", ["coordinator", "auditor"])
def test_the_packs_download_with_the_stored_sha256_and_are_audited(
    web: TestClient, outcomes: Engine, drafted: int, role: str
) -> None:
    """Both files' SHA-256 match the claim's, shown on its page; each download is an audit row."""
    sign_in(web, role)
    claim = read_claim(outcomes, drafted)
    page = web.get(f"/claims/{drafted}").text
    for fmt in ("html", "xlsx"):
        response = web.get(f"/claims/{drafted}/pack.{fmt}")
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == claim[f"pack_{fmt}_sha256"]
        assert claim[f"pack_{fmt}_sha256"] in page
    assert "attachment" in web.get(f"/claims/{drafted}/pack.xlsx").headers["content-disposition"]
    rows = audit_rows(outcomes, "claim.pack_download")
    assert [r["detail_json"]["format"] for r in rows] == ["html", "xlsx", "xlsx"]
    assert all(r["detail_json"]["matches_stored"] for r in rows)
    assert web.get(f"/claims/{drafted}/pack.pdf").status_code == 404


@pytest.mark.usefixtures("drafted")
def test_an_auditor_draws_the_internal_audit_sample(web: TestClient, outcomes: Engine) -> None:
    """A bad seed is an error by its field; a good draw lists the claims, recorded and audited."""
    token = sign_in(web, "auditor")
    bad = post(web, "/claims/sample", token, period="TFX", seed="-3", percent="200")
    assert bad.status_code == 400
    assert 'href="#seed"' in bad.text
    assert 'href="#percent"' in bad.text
    response = post(web, "/claims/sample", token, period="TFX", seed="7", percent="10")
    assert response.status_code == 200
    assert 'href="/claims/1"' in response.text
    (row,) = audit_rows(outcomes, "claim.sampled")
    assert row["detail_json"] == {"seed": 7, "percent": 10.0, "claims": [1]}
    assert (row["role"], row["object_id"]) == ("auditor", "TFX")
    assert "seed 7 by auditor" in web.get("/claims/1").text
    log_page = web.get("/audit?action=claim.sampled").text
    assert "claim.sampled" in log_page
    assert "TFX" in log_page


def test_a_coordinator_outside_the_family_area_neither_sees_nor_prepares_its_claim(
    web: TestClient, outcomes: Engine
) -> None:
    """South's coordinator gets no proposal, prepares nothing and gets a 404 (audited) for North's claim."""
    token = sign_in(web, "south")
    assert "H1" not in web.get("/claims/prepare?period=TFX").text
    post(web, "/claims/prepare", token, period="TFX", run_id="R-NOV")
    assert list_claims(outcomes, "TFX") == []
    token = sign_in(web, "coordinator")  # North
    assert post(web, "/claims/prepare", token, period="TFX", run_id="R-NOV").status_code == 303
    assert len(list_claims(outcomes, "TFX")) == 1
    token = sign_in(web, "south")
    assert "Claim 1" not in web.get("/claims?period=TFX").text
    assert web.get("/claims/1").status_code == 404
    assert web.get("/claims/1/pack.html").status_code == 404
    assert post(web, "/claims/1/status", token, status="withdrawn", reason="x").status_code == 404
    (row, *_) = audit_rows(outcomes, "claim.out_of_area")
    assert (row["username"], row["object_id"]) == ("south", "1")
    assert read_claim(outcomes, 1)["status"] == "draft"


def test_an_unknown_period_or_claim_is_404(web: TestClient) -> None:
    """It answers 404 for a period not configured and a claim that does not exist."""
    sign_in(web, "auditor")
    assert web.get("/claims?period=NOPE").status_code == 404
    assert web.get("/claims/99").status_code == 404


@pytest.mark.parametrize("path", ["/claims/abc", "/claims/-1", "/claims/1e3/pack.html", "/claims/" + "9" * 40])
def test_an_address_that_is_no_claim_number_is_404(web: TestClient, outcomes: Engine, path: str) -> None:
    """It answers a page, not a validation error, and audits it as a claim not found."""
    sign_in(web, "coordinator")
    response = web.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert audit_rows(outcomes, "not_found")


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_no_claim_form_is_accepted_from_an_analyst_or_an_admin(
    web: TestClient, outcomes: Engine, drafted: int, role: str
) -> None:
    """Every claim POST is refused (403) and changes nothing."""
    token = sign_in(web, role)
    for path, data in (
        ("/claims/prepare", {"period": "TFX", "run_id": "R-NOV"}),
        (f"/claims/{drafted}/status", {"status": "withdrawn", "reason": "x"}),
        (f"/claims/{drafted}/sign-off", {"status": "audited"}),
        ("/claims/sample", {"period": "TFX", "seed": "1", "percent": "10"}),
    ):
        assert post(web, path, token, **data).status_code == 403, path
    assert read_claim(outcomes, drafted)["status"] == "draft"
    assert len(list_claims(outcomes, "TFX")) == 1
    assert len(audit_rows(outcomes, "access.denied")) == 4
