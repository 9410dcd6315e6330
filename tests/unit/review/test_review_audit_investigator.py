"""An audit an investigator can use: client address, session and search terms in every row, "who saw
this family", and paging that cannot fail (issue 14, item 6).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tests.unit.review.conftest import csrf_of, sign_in
from tfident.store import review as store
from tfident.store.tables import metadata

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

audit = metadata.tables["audit_log"]
sessions = metadata.tables["sessions"]


def _rows(engine: Engine, action: str) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(audit).where(audit.c.action == action)).mappings()]


def test_rows_name_the_client_address_and_session(app: FastAPI, engine: Engine) -> None:
    """It writes the request's address and the server-side session's id into each audit row of a session."""
    with TestClient(app, follow_redirects=False, client=("192.0.2.44", 4000)) as client:
        sign_in(client, "coordinator")
        client.get("/families/H1?run=R-OCT")
    with engine.connect() as connection:
        session_id = connection.execute(
            sa.select(sessions.c.id).where(sessions.c.username == "coordinator")
        ).scalar_one()
    for action in ("login", "family.view"):
        (row,) = _rows(engine, action)
        assert row["client_address"] == "192.0.2.44"
        assert row["session_id"] == session_id


def test_a_failed_sign_in_names_the_address_and_the_name_typed(client: TestClient, engine: Engine) -> None:
    """It records the address of a failed sign-in and the name typed (for an investigator, not the page)."""
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": "mallory", "password": "x" * 12, "csrf_token": token})
    (row,) = _rows(engine, "login.failed")
    assert row["client_address"] == "testclient"
    assert row["detail_json"] == {"typed_username": "mallory"}


@pytest.mark.parametrize(
    "page", ["0", "-1", "-99999999999999999999", "abc", "1.5", "99999999", "9" * 40, "9" * 5000, ""]
)
def test_audit_paging_cannot_fail(client: TestClient, signed_in: Callable[[str], str], page: str) -> None:
    """It answers any page number (negative, huge, not a number) with a page of the log, never an error."""
    signed_in("auditor")
    response = client.get("/audit", params={"page": page})
    assert response.status_code == 200
    assert "entries" in response.text


def test_the_store_clamps_a_page_past_the_end(engine: Engine) -> None:
    """It returns the last page's rows for a page past the end, and the first for a page below 1."""
    for i in range(5):
        store.write_audit(engine, f"u{i}", None, "test.row")
    last, total = store.read_audit(engine, store.AuditQuery(action="test.row", page=10**12, page_size=2))
    assert total == 5
    assert [r["username"] for r in last] == ["u0"]
    first, _ = store.read_audit(engine, store.AuditQuery(action="test.row", page=-3, page_size=2))
    assert [r["username"] for r in first] == ["u4", "u3"]


def test_the_audit_filters_by_address_and_session(app: FastAPI, engine: Engine) -> None:
    """It narrows the log to one client address or one session."""
    with TestClient(app, follow_redirects=False, client=("192.0.2.7", 4000)) as other:
        sign_in(other, "coordinator")
        other.get("/families/H1?run=R-OCT")
    with TestClient(app, follow_redirects=False, client=("192.0.2.8", 4000)) as auditor:
        sign_in(auditor, "auditor")
        page = auditor.get("/audit", params={"client_address": "192.0.2.7"})
        assert page.status_code == 200
        assert "192.0.2.7" in page.text
        assert "family.view" in page.text
        assert "192.0.2.8" not in page.text.split('id="audit"')[1]  # the auditor's own rows: another address


def test_who_saw_a_family(app: FastAPI, engine: Engine, signed_in: Callable[[str], str], client: TestClient) -> None:
    """It lists every view, print, search result export and decision of one family for an auditor, and no other's."""
    with TestClient(app, follow_redirects=False, client=("192.0.2.9", 4000)) as coordinator:
        token = sign_in(coordinator, "coordinator")
        coordinator.get("/families/H1?run=R-OCT")
        coordinator.get("/families/H1/print?run=R-OCT")
        coordinator.get("/families/H3?run=R-OCT")
        coordinator.post(
            "/runs/R-OCT/export", data={"scope": "selected", "format": "csv", "household_id": "H1", "csrf_token": token}
        )
        coordinator.post("/families/H1/decisions", data={"run_id": "R-OCT", "csrf_token": token})  # form error
    signed_in("auditor")
    family_page = client.get("/families/H1?run=R-OCT")
    assert "Who saw this family" in family_page.text
    page = client.get("/audit/family", params={"household": "H1"})
    assert page.status_code == 200
    for action in ("family.view", "family.print", "export.csv"):
        assert action in page.text
    assert "192.0.2.9" in page.text
    assert "coordinator" in page.text
    rows = store.family_access(engine, "H1")
    assert all(r["object_id"] == "H1" or "H1" in (r["detail_json"] or {}).get("household_ids", []) for r in rows)
    assert [r for r in rows if (r["detail_json"] or {}).get("after") == "form_error"]  # the re-shown page is a view
    assert not [r for r in rows if r["object_id"] == "H3"]
    assert client.get("/audit/family", params={"household": "NOPE"}).status_code == 200
