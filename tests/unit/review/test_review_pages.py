"""The review app's pages and actions: lists, family page, decisions carried over, link rulings, exports, audit."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tests.unit.review.review_data import write_november
from tfident.cli import app as cli_app
from tfident.review.exports import HEADERS, SHEET_NAME
from tfident.store.review import get_user
from tfident.store.tables import metadata

audit = metadata.tables["audit_log"]


def audit_actions(engine: Engine) -> list[str]:
    """Every audit action, oldest first."""
    with engine.connect() as connection:
        return list(connection.execute(sa.select(audit.c.action).order_by(audit.c.id)).scalars())


def accept(client: TestClient, token: str, household_id: str = "H1", run_id: str = "R-OCT") -> None:
    """Accept a family as a coordinator."""
    response = client.post(
        f"/families/{household_id}/decisions",
        data={
            "csrf_token": token,
            "run_id": run_id,
            "decision": "accept",
            "lead_agency": "Early Help",
            "worker": "J Bloggs",
        },
    )
    assert response.status_code == 303, response.text


def test_runs_page_lists_runs_with_counts(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It lists each run with its date, rule set, model and counts; the run page shows quality and charts."""
    signed_in("analyst")
    html = client.get("/runs").text
    assert "R-OCT" in html
    assert "2026-10-31" in html
    assert "TF1_2012" in html
    assert "deterministic-1" in html
    run = client.get("/runs/R-OCT").text
    assert "Quality of each source" in run
    assert run.count("<svg") == 3
    assert "crime_asb + work" in run


def test_candidate_list_filters_searches_and_sorts(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It filters by criterion and area, searches by name and postcode, and sorts."""
    signed_in("coordinator")

    def families(**params: str) -> list[str]:
        html = client.get("/runs/R-OCT/candidates", params=params).text
        return re.findall(r'href="/families/([^?"]+)\?', html)

    assert families() == ["H1", "H2", "H3"]
    assert families(criterion="education") == ["H2"]
    assert families(area="TF2") == ["H2", "H3"]
    assert families(q="o'brien") == ["H3"]
    assert families(q="Anne") == ["H1"]
    assert families(q="tf11aa") == ["H1"]
    assert families(sort="score", dir="asc") == ["H3", "H2", "H1"]
    assert families(status="new") == ["H1", "H2", "H3"]
    assert families(status="accept") == []
    assert client.get("/runs/latest/candidates").status_code == 200


def test_a_search_is_audited_with_the_search_text(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """It records a search with its terms, filters and result count, for an investigator (issue 14, item 6)."""
    signed_in("coordinator")
    client.get("/runs/R-OCT/candidates", params={"q": "Smith", "criterion": "work"})
    with engine.connect() as connection:
        row = connection.execute(sa.select(audit).where(audit.c.action == "candidates.search")).mappings().one()
    assert row["detail_json"]["search"] == "Smith"
    assert row["detail_json"]["criterion"] == "work"
    assert row["detail_json"]["results"] == 1
    assert row["client_address"] == "testclient"
    assert row["session_id"]


def test_family_page_shows_members_links_weights_and_evidence(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """It shows members (ages, roles), linked records, probability, rule, weights and evidence; it audits the view."""
    signed_in("coordinator")
    html = client.get("/families/H1").text
    assert "Ann Smith" in html
    assert "Bob Smith" in html
    assert "Smith (child, 14)" in html
    assert "Smith (adult, 46)" in html
    assert "0.995" in html
    assert "name_dob" in html
    assert "Uncertain: check" in html  # the 0.81 link
    assert "Match weights, field by field" in html
    assert "<svg" in html
    assert "crime_asb.asb_intervention" in html
    assert "CBO" in html
    assert "2026-05-01" in html
    assert "9 Old Road" in html  # address history
    assert audit_actions(engine)[-1] == "family.view"


def test_a_decision_is_stored_and_carried_over_to_the_next_run(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """It stores an acceptance with who and when, and shows it on the next month's list and family page."""
    token = signed_in("coordinator")
    accept(client, token)
    write_november(engine)
    listing = client.get("/runs/R-NOV/candidates", params={"status": "all"}).text
    row = listing.split('href="/families/H1?')[1].split("</tr>")[0]
    assert "Accepted (attached)" in row
    assert "decided in an earlier run" in row
    assert re.findall(
        r'href="/families/([^?"]+)\?', client.get("/runs/latest/candidates", params={"status": "new"}).text
    ) == [
        "H2",
        "H3",
    ]
    family = client.get("/families/H1").text  # the latest run by default
    assert "R-NOV" in family
    assert "Accepted (attached)" in family
    assert "an earlier run" in family
    with engine.connect() as connection:
        decision = connection.execute(sa.select(metadata.tables["decisions"])).mappings().one()
    assert decision["username"] == "coordinator"
    assert decision["worker"] == "J Bloggs"
    assert decision["run_id"] == "R-OCT"


def test_the_default_list_leaves_out_attached_closed_and_opted_out_families(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """Families attached, closed or opted out in an earlier run are not on next month's list unless asked for."""
    token = signed_in("coordinator")
    accept(client, token, "H1")
    decide(client, token, "H2", decision="opted_out")
    write_november(engine)

    def families(**params: str) -> list[str]:
        html = client.get("/runs/R-NOV/candidates", params=params).text
        return re.findall(r'href="/families/([^?"]+)\?', html)

    default = client.get("/runs/R-NOV/candidates").text
    assert "1 family" in default
    assert "are not shown" in default
    assert families() == ["H3"]
    assert families(status="open") == ["H3"]
    assert families(status="new") == ["H3"]
    assert families(status="all") == ["H1", "H2", "H3"]
    assert families(status="opted_out") == ["H2"]
    assert "Opted out" in client.get("/runs/R-NOV/candidates", params={"status": "all"}).text
    decide(client, token, "H1", decision="closed", closure_reason="moved_away", run_id="R-NOV")
    closed = client.get("/runs/R-NOV/candidates", params={"status": "closed"}).text
    assert re.findall(r'href="/families/([^?"]+)\?', closed) == ["H1"]
    assert "Closed" in closed
    assert "Moved away" in closed
    assert families() == ["H3"]


def decide(client: TestClient, token: str, household_id: str, run_id: str = "R-OCT", **data: str) -> Any:
    """Post the decision form for a family."""
    return client.post(f"/families/{household_id}/decisions", data={"csrf_token": token, "run_id": run_id, **data})


def test_an_attached_family_is_closed_with_a_reason_and_audited(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """The family page offers closing once the family is attached; the closure is stored, shown and audited."""
    token = signed_in("coordinator")
    page = client.get("/families/H1").text
    assert 'value="closed"' not in page
    assert 'value="opted_out"' in page
    accept(client, token, "H1")
    page = client.get("/families/H1").text
    assert 'value="closed"' in page
    assert 'name="closure_reason"' in page
    assert "Outcomes achieved" in page
    response = decide(client, token, "H1", decision="closed", closure_reason="outcomes_achieved", note="done")
    assert response.status_code == 303, response.text
    page = client.get("/families/H1").text
    status = page.split('id="status">')[1].split("</dd>")[0]
    assert "Closed" in status
    assert "Outcomes achieved" in status
    with engine.connect() as connection:
        rows = connection.execute(sa.select(metadata.tables["decisions"]).order_by(sa.text("id"))).mappings().all()
        audited = (
            connection.execute(sa.select(audit).where(audit.c.action == "decision").order_by(audit.c.id))
            .mappings()
            .all()
        )
    assert [(r["decision"], r["closure_reason"], r["username"]) for r in rows] == [
        ("accept", None, "coordinator"),
        ("closed", "outcomes_achieved", "coordinator"),
    ]
    assert rows[1]["created_at"] is not None
    assert [a["detail_json"] for a in audited] == [
        {"run_id": "R-OCT", "decision": "accept"},
        {"run_id": "R-OCT", "decision": "closed", "closure_reason": "outcomes_achieved"},
    ]
    assert [a["object_id"] for a in audited] == ["H1", "H1"]


@pytest.mark.parametrize(
    ("before", "data", "message"),
    [
        (
            None,
            {"decision": "closed", "closure_reason": "moved_away"},
            "Only a family attached to the programme can be closed",
        ),
        ("defer", {"decision": "closed", "closure_reason": "moved_away"}, "this family is deferred"),
        ("accept", {"decision": "closed"}, "Choose why the family"),
        ("accept", {"decision": "closed", "closure_reason": "other"}, "Enter the reason for closing"),
        ("reject", {"decision": "opted_out"}, "Only a new, deferred or attached family can opt out"),
    ],
    ids=["close-new", "close-deferred", "close-without-reason", "close-other-without-text", "opt-out-rejected"],
)
def test_a_closure_or_opt_out_that_does_not_fit_is_refused(
    client: TestClient,
    engine: Engine,
    signed_in: Callable[[str], str],
    before: str | None,
    data: dict[str, str],
    message: str,
) -> None:
    """It re-shows the family page with the reason and stores nothing."""
    token = signed_in("coordinator")
    if before is not None:
        prior = decide(client, token, "H2", decision=before, lead_agency="EH", worker="W", reason="r")
        assert prior.status_code == 303, prior.text
    response = decide(client, token, "H2", **data)
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert message in response.text
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(metadata.tables["decisions"])).scalar()
    assert count == (0 if before is None else 1)


def test_the_panel_export_of_new_families_leaves_out_settled_ones(
    client: TestClient, signed_in: Callable[[str], str]
) -> None:
    """The "All new families" export holds only families with no decision: not attached, closed or opted-out ones."""
    token = signed_in("coordinator")
    accept(client, token, "H1")
    decide(client, token, "H3", decision="opted_out")
    response = client.post("/runs/R-OCT/export", data={"csrf_token": token, "scope": "new", "format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS
    assert [(row[1], row[10]) for row in rows[1:]] == [("H2", "New")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"decision": "accept", "worker": "W"}, "Enter the lead agency"),
        ({"decision": "reject"}, "Enter the reason"),
        ({"decision": "maybe"}, "Choose a decision"),
    ],
    ids=["accept-without-agency", "reject-without-reason", "unknown"],
)
def test_an_incomplete_decision_is_refused_with_a_message(
    client: TestClient, signed_in: Callable[[str], str], data: dict[str, str], message: str
) -> None:
    """It re-shows the family page with an error summary and stores nothing."""
    token = signed_in("coordinator")
    response = client.post("/families/H1/decisions", data={**data, "csrf_token": token, "run_id": "R-OCT"})
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert message in response.text


def test_a_link_can_be_rejected(client: TestClient, engine: Engine, signed_in: Callable[[str], str]) -> None:
    """It stores a cannot_link ruling for a pair of the family's records and shows it."""
    token = signed_in("coordinator")
    response = client.post(
        "/families/H1/links",
        data={
            "csrf_token": token,
            "run_id": "R-OCT",
            "record_key_l": "benefits:B1",
            "record_key_r": "asb:X1",
            "kind": "cannot_link",
        },
    )
    assert response.status_code == 303
    with engine.connect() as connection:
        ruling = connection.execute(sa.select(metadata.tables["link_constraints"])).mappings().one()
    assert (ruling["record_key_l"], ruling["record_key_r"], ruling["kind"]) == ("asb:X1", "benefits:B1", "cannot_link")
    assert "Not the same person, by coordinator" in client.get("/families/H1").text


def test_a_link_ruling_must_be_about_the_family(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """It refuses a ruling on records that are not the family's."""
    token = signed_in("coordinator")
    response = client.post(
        "/families/H1/links",
        data={
            "csrf_token": token,
            "run_id": "R-OCT",
            "record_key_l": "benefits:B9",
            "record_key_r": "asb:X1",
            "kind": "cannot_link",
        },
    )
    assert response.status_code == 400


def test_xlsx_export_of_selected_families(client: TestClient, engine: Engine, signed_in: Callable[[str], str]) -> None:
    """It exports the selected families as one sheet with the fixed header, and audits the row count."""
    token = signed_in("coordinator")
    accept(client, token, "H3")
    response = client.post(
        "/runs/R-OCT/export",
        data={"csrf_token": token, "scope": "selected", "format": "xlsx", "household_id": ["H3", "H1"]},
    )
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [SHEET_NAME]
    sheet = workbook[SHEET_NAME]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADERS
    assert [(row[0], row[1], row[10]) for row in rows[1:]] == [(1, "H1", "New"), (3, "H3", "Accepted (attached)")]
    assert rows[2][11] == "Early Help"
    assert not workbook._external_links
    with engine.connect() as connection:
        row = connection.execute(sa.select(audit).where(audit.c.action == "export.xlsx")).mappings().one()
    assert row["detail_json"]["rows"] == 2
    assert row["username"] == "coordinator"


def test_csv_export_of_accepted_families(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It exports all accepted families as CSV with the fixed header."""
    token = signed_in("coordinator")
    accept(client, token, "H2")
    response = client.post("/runs/R-OCT/export", data={"csrf_token": token, "scope": "accepted", "format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS
    assert [row[1] for row in rows[1:]] == ["H2"]


def test_csv_export_neutralises_formulas() -> None:
    """It prefixes cells that a spreadsheet would run as formulas."""
    from tfident.review.exports import families_csv

    text = families_csv([{"rank": 1, "household_id": "=HYPERLINK(1)", "note": "@SUM(A1)"}]).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text
    assert "'@SUM(A1)" in text


def test_auditor_sees_and_filters_the_audit_log(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It shows the audit log to an auditor, filtered by action."""
    signed_in("auditor")
    client.get("/families/H1")
    html = client.get("/audit", params={"action": "family.view"}).text
    table = html.split('id="audit"')[1]
    assert "family.view" in table
    assert "login" not in table.split("</thead>")[1]


def test_admin_adds_a_user(client: TestClient, engine: Engine, signed_in: Callable[[str], str]) -> None:
    """It lets an admin add an account, refusing a short password."""
    token = signed_in("admin")
    short = client.post("/users", data={"csrf_token": token, "username": "x", "role": "analyst", "password": "short"})
    assert short.status_code == 400
    added = client.post(
        "/users",
        data={"csrf_token": token, "username": "newbie", "role": "auditor", "password": "a long enough password"},
    )
    assert added.status_code == 303
    account = get_user(engine, "newbie")
    assert account is not None
    assert account.role == "auditor"
    assert account.password_hash.startswith("$argon2")


def test_cli_users_add_reads_the_password_from_stdin(tmp_path: object) -> None:
    """It adds an account from the command line, with the password on standard input."""
    url = f"sqlite:///{tmp_path}/cli.db"
    result = CliRunner().invoke(
        cli_app, ["users", "add", "cora", "--role", "coordinator", "--db", url], input="a long enough password\n"
    )
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(
        cli_app, ["users", "add", "cora", "--role", "coordinator", "--db", url], input="a long enough password\n"
    )
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert CliRunner().invoke(cli_app, ["serve", "--help"]).exit_code == 0


def test_a_decision_from_a_page_loaded_before_another_decision_is_refused(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """Two coordinators open the family page; the second to submit is told, and nothing of theirs is stored."""
    token = signed_in("coordinator")
    page = client.get("/families/H2").text
    seen = re.search(r'name="seen_decision" value="(\d+)"', page)
    assert seen is not None
    assert seen.group(1) == "0"
    first = decide(client, token, "H2", decision="defer", seen_decision="0")
    assert first.status_code == 303, first.text
    second = decide(client, token, "H2", decision="reject", reason="no concerns", seen_decision="0")
    assert second.status_code == 409
    assert "recorded another decision about this family" in second.text
    fresh = re.search(r'name="seen_decision" value="(\d+)"', second.text)
    assert fresh is not None
    assert fresh.group(1) != "0"
    assert decide(client, token, "H2", decision="reject", reason="x", seen_decision=fresh.group(1)).status_code == 303
    for bad in ("1 OR 1=1", "\u00b2", "9" * 5000):  # not a number, a Unicode digit, too long for an id
        assert decide(client, token, "H2", decision="defer", seen_decision=bad).status_code == 400
    with engine.connect() as connection:
        stored = connection.execute(sa.select(metadata.tables["decisions"].c.decision).order_by(sa.text("id")))
        assert list(stored.scalars()) == ["defer", "reject"]


def test_a_carried_decision_is_marked_in_the_history(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """A decision copied through a merge shows who it came from in the family's decision history."""
    with engine.begin() as connection:
        connection.execute(
            metadata.tables["decisions"]
            .insert()
            .values(
                household_id="H3",
                run_id="R-OCT",
                decision="defer",
                username="tfident",
                note="Carried over from household H9: its members came to live in this household.",
                carried_from="H9",
                created_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )
    signed_in("coordinator")
    history = client.get("/families/H3").text.split('id="history"')[1]
    assert "Carried over</strong>" in history
    assert "Carried over from household H9" in history
