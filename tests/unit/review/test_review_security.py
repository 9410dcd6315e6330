"""The review app refuses what it should: no session, wrong role, missing CSRF, lock-out, hostile input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.unit.review.conftest import sign_in
from tests.unit.review.review_data import XSS
from tests.unit.review.test_review_claims import CLAIM_ROUTES
from tfident.review.routes import router
from tfident.store.tables import metadata

GET_PAGES = {
    "/runs": {"coordinator", "analyst", "auditor"},
    "/runs/R-OCT": {"coordinator", "analyst", "auditor"},
    "/runs/R-OCT/candidates": {"coordinator", "auditor"},
    "/families/H1": {"coordinator", "auditor"},
    "/families/H1/print?run=R-OCT": {"coordinator", "auditor"},
    "/pairs?run=R-OCT&left=asb:X1&right=benefits:B1": {"coordinator"},
    "/audit": {"auditor"},
    "/audit/family?household=H1": {"auditor"},
    "/users": {"admin"},
    "/users/analyst": {"admin"},
    "/account": {"coordinator", "analyst", "auditor", "admin"},
    "/logout": {"coordinator", "analyst", "auditor", "admin"},
}
POSTS = {
    "/families/H1/decisions": ({"decision": "defer", "run_id": "R-OCT"}, {"coordinator"}),
    "/families/H1/override": ({"run_id": "R-OCT", "override_reason": "consented again"}, {"coordinator"}),
    "/families/H1/links": (
        {"run_id": "R-OCT", "record_key_l": "asb:X1", "record_key_r": "benefits:B1", "kind": "cannot_link"},
        {"coordinator"},
    ),
    "/runs/R-OCT/export": ({"scope": "accepted", "format": "csv"}, {"coordinator"}),
    "/pairs": (
        {"run_id": "R-OCT", "record_key_l": "asb:X1", "record_key_r": "benefits:B1", "kind": "must_link"},
        {"coordinator"},
    ),
    "/users": ({"username": "newbie", "role": "analyst", "password": "a long enough password"}, {"admin"}),
    "/users/analyst/role": ({"role": "analyst"}, {"admin"}),
    "/users/analyst/disable": ({}, {"admin"}),
    "/users/analyst/enable": ({}, {"admin"}),
    "/users/analyst/password": ({"password": "a new and long enough phrase"}, {"admin"}),
    "/users/analyst/sessions": ({}, {"admin"}),
    "/users/analyst/areas": ({}, {"admin"}),
}
OWN_ACCOUNT_POSTS = {"/account/totp"}
"""Posts every signed-in user may make about their own account (tested in test_review_accounts.py)."""
ROLES = ("coordinator", "analyst", "auditor", "admin")


def _concrete(path: str) -> str:
    for name, value in (
        ("{run_id}", "R-OCT"),
        ("{household_id}", "H1"),
        ("{username}", "analyst"),
        ("{claim_id}", "1"),
        ("{claim}", "1"),
        ("{fmt}", "html"),
    ):
        path = path.replace(name, value)
    return path


def test_it_refuses_every_route_without_a_session(client: TestClient) -> None:
    """It sends every GET to /login and refuses every other method, for every route but /login."""
    checked = 0
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.path in ("/login", "/login/code", "/"):
            continue
        for method in route.methods:
            response = client.request(method, _concrete(route.path), data={})
            if method == "GET":
                assert response.status_code == 303, route.path
                assert response.headers["location"].startswith("/login"), route.path
            else:
                assert response.status_code in (401, 403), (method, route.path)
            checked += 1
    assert checked >= 10
    assert client.get("/").headers["location"] == "/login"


def test_every_route_is_covered_by_the_role_matrix() -> None:
    """It has a role expectation for every route, so a new route cannot slip past the matrix."""
    known = {path.split("?")[0] for path in GET_PAGES} | set(POSTS) | OWN_ACCOUNT_POSTS
    known |= {"/login", "/login/code", "/", "/logout"} | CLAIM_ROUTES  # claims: test_review_claims.py
    for route in router.routes:
        if isinstance(route, APIRoute):
            assert _concrete(route.path) in known, route.path


@pytest.mark.parametrize("role", ROLES)
def test_it_allows_each_role_only_its_pages(client: TestClient, role: str) -> None:
    """It serves each page to the roles that may see it and refuses (403) the others."""
    token = sign_in(client, role)
    for path, roles in GET_PAGES.items():
        response = client.get(path)
        assert response.status_code == (200 if role in roles else 403), (role, path)
    for path, (data, roles) in POSTS.items():
        response = client.post(path, data={**data, "csrf_token": token})
        if role in roles:
            assert response.status_code in (200, 303), (role, path, response.text[:300])
        else:
            assert response.status_code == 403, (role, path)


def test_an_auditor_cannot_change_anything(client: TestClient, engine: Engine) -> None:
    """It refuses an auditor's decision, link ruling and export, and stores nothing."""
    token = sign_in(client, "auditor")
    for path, (data, _) in POSTS.items():
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
    with engine.connect() as connection:
        for table in ("decisions", "link_constraints"):
            assert connection.execute(sa.select(sa.func.count()).select_from(metadata.tables[table])).scalar() == 0
        denied = connection.execute(
            sa.select(sa.func.count())
            .select_from(metadata.tables["audit_log"])
            .where(metadata.tables["audit_log"].c.action == "access.denied")
        ).scalar()
    assert denied == len(POSTS)


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["missing", "blank", "wrong"])
def test_it_rejects_posts_without_the_right_csrf_token(client: TestClient, engine: Engine, token: str | None) -> None:
    """It answers 403 to a POST whose CSRF token is missing or wrong, and stores nothing."""
    sign_in(client, "coordinator")
    data = {"decision": "accept", "run_id": "R-OCT", "lead_agency": "EH", "worker": "W"}
    if token is not None:
        data["csrf_token"] = token
    assert client.post("/families/H1/decisions", data=data).status_code == 403
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(metadata.tables["decisions"])).scalar() == 0


def test_login_needs_a_csrf_token(client: TestClient) -> None:
    """It refuses a sign-in form posted without the login page's token."""
    client.get("/login")
    response = client.post("/login", data={"username": "coordinator", "password": "x", "csrf_token": "forged"})
    assert response.status_code == 403


def test_a_session_times_out(app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """It sends a user back to sign in once the session has been idle longer than the timeout."""
    from tfident.review import web

    sign_in(client, "coordinator")
    assert client.get("/runs").status_code == 200
    later = web._now() + app.state.settings.session_timeout * 2
    monkeypatch.setattr(web, "_now", lambda: later)
    assert client.get("/runs").status_code == 303


def test_the_session_cookie_is_httponly_and_samesite(client: TestClient) -> None:
    """It sets the session cookie HttpOnly and SameSite=Lax."""
    response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_a_hostile_surname_is_rendered_escaped(client: TestClient) -> None:
    """It escapes a surname of <script>alert(1)</script> on the list and the family page."""
    sign_in(client, "coordinator")
    for path in ("/runs/R-OCT/candidates", "/families/H2"):
        html = client.get(path).text
        assert XSS not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "params",
    [
        {"q": "'; DROP TABLE candidates; --"},
        {"q": "%"},
        {"q": "_"},
        {"q": '" OR 1=1 --'},
        {"criterion": "work' OR '1'='1"},
        {"area": "TF2%"},
        {"status": "accept' --"},
        {"sort": "rank; DROP TABLE users"},
        {"page": "-1 OR 1=1"},
    ],
    ids=["drop", "percent", "underscore", "or-true", "criterion", "area", "status", "sort", "page"],
)
def test_sql_metacharacters_in_filters_are_harmless(client: TestClient, engine: Engine, params: dict[str, str]) -> None:
    """It treats search and filter text as data: no error, no extra rows, nothing dropped."""
    sign_in(client, "coordinator")
    response = client.get("/runs/R-OCT/candidates", params=params)
    assert response.status_code == 200
    if "q" in params or "criterion" in params or "area" in params:
        assert "0 families" in response.text
    assert set(sa.inspect(engine).get_table_names()) >= {"candidates", "users"}


def test_a_family_of_another_run_or_an_unknown_one_is_404_and_audited(client: TestClient, engine: Engine) -> None:
    """It answers 404 for an unknown household or run and records the attempt."""
    sign_in(client, "coordinator")
    assert client.get("/families/NOPE").status_code == 404
    assert client.get("/families/H1?run=R-MISSING").status_code == 404
    assert client.get("/runs/R-MISSING/candidates").status_code == 404
    with engine.connect() as connection:
        audit = metadata.tables["audit_log"]
        rows = connection.execute(sa.select(audit.c.object_id).where(audit.c.action == "not_found")).scalars().all()
    assert rows == ["NOPE", "H1", "R-MISSING"]


def test_an_analyst_cannot_open_a_family(client: TestClient, engine: Engine) -> None:
    """It refuses personal detail pages to an analyst and records the refusal."""
    sign_in(client, "analyst")
    assert client.get("/families/H1").status_code == 403
    assert client.get("/runs/R-OCT").status_code == 200


def test_security_headers(client: TestClient) -> None:
    """It sends a strict content security policy and forbids framing and caching of pages."""
    headers = client.get("/login").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"


def test_signing_out_ends_the_session(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It ends the session on sign-out, after which pages need signing in again."""
    token = signed_in("coordinator")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/runs").status_code == 303
