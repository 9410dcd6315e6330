"""The record-pair page, link thresholds from a run's stored config, and the candidate list's paging."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import unescape

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.unit.review.review_data import OCTOBER, XSS, frames, run_record
from tfident.review.thresholds import LinkThresholds, link_thresholds
from tfident.store import RunRecord, write_run
from tfident.store import review as store
from tfident.store.tables import metadata

audit = metadata.tables["audit_log"]
PAIR = "/pairs?run=R-OCT&left=asb:X1&right=benefits:B1"


def test_the_family_page_links_each_link_to_its_pair_page(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It links every pair of records on the family page to the record-pair page."""
    signed_in("coordinator")
    html = client.get("/families/H1").text
    urls = [unescape(url) for url in re.findall(r'href="(/pairs\?[^"]+)"', html)]
    assert urls == [
        "/pairs?run=R-OCT&left=asb%3AX1&right=benefits%3AB1&household=H1",
        "/pairs?run=R-OCT&left=attendance%3AA1&right=school_census%3AS1&household=H1",
    ]
    assert client.get(urls[0]).status_code == 200


def test_an_auditor_sees_no_pair_links(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It does not offer the pair page (a coordinator's tool) to an auditor."""
    signed_in("auditor")
    assert "/pairs?" not in client.get("/families/H1").text


def test_the_pair_page_shows_both_records_weights_and_the_form(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """It shows the two records side by side, which fields agree, the waterfall, and audits the view."""
    signed_in("coordinator")
    html = client.get(PAIR).text
    table = html.split('id="pair"')[1].split("</table>")[0]
    assert "asb:X1" in table
    assert "benefits:B1" in table
    assert "Robert" in table
    assert "Bob" in table
    assert "9 Old Road" in table
    assert "1 High St" in table
    surname_row = table.split(">Surname<")[1].split("</tr>")[0]
    assert "Same" in surname_row
    assert "Different" in table.split(">Forename<")[1].split("</tr>")[0]
    assert "0.810" in html
    assert "Uncertain: check" in html
    assert 'aria-label="Match weights for asb:X1 and benefits:B1"' in html
    assert "surname" in html.split('class="govuk-table weights"')[1]
    assert 'name="csrf_token"' in html
    assert 'action="/pairs"' in html
    with engine.connect() as connection:
        row = connection.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(1)).mappings().one()
    assert (row["action"], row["object_type"], row["object_id"]) == ("pair.view", "household", "H1")
    assert row["detail_json"] == {"run_id": "R-OCT", "record_key_l": "asb:X1", "record_key_r": "benefits:B1"}


def test_a_link_without_weights_says_so(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It explains that a rule-made link has no field-by-field weights."""
    signed_in("coordinator")
    html = client.get("/pairs?run=R-OCT&left=school_census:S1&right=attendance:A1").text
    assert "does not report weights" in html
    assert "name_dob" in html


def test_the_pair_page_escapes_a_hostile_surname(client: TestClient, signed_in: Callable[[str], str]) -> None:
    """It renders a surname of <script>alert(1)</script> escaped."""
    signed_in("coordinator")
    html = client.get("/pairs?run=R-OCT&left=benefits:B2&right=school_census:S2").text
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("kind", ["cannot_link", "must_link"])
def test_a_ruling_on_the_pair_page_is_stored_and_audited(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str], kind: str
) -> None:
    """It stores the ruling (sorted pair, reason, who), audits it, and shows it on the pair and family pages."""
    token = signed_in("coordinator")
    response = client.post(
        "/pairs",
        data={
            "csrf_token": token,
            "run_id": "R-OCT",
            "household_id": "H1",
            "record_key_l": "benefits:B1",
            "record_key_r": "asb:X1",
            "kind": kind,
            "reason": "father and son",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/pairs?run=R-OCT&left=benefits%3AB1&right=asb%3AX1&household=H1"
    with engine.connect() as connection:
        ruling = connection.execute(sa.select(metadata.tables["link_constraints"])).mappings().one()
        entry = connection.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(1)).mappings().one()
    assert (ruling["record_key_l"], ruling["record_key_r"], ruling["kind"]) == ("asb:X1", "benefits:B1", kind)
    assert ruling["username"] == "coordinator"
    assert ruling["reason"] == "father and son"
    assert entry["action"] == f"link.{kind}"
    assert entry["object_id"] == "H1"
    label = "Not the same person" if kind == "cannot_link" else "Confirmed the same person"
    page = client.get(response.headers["location"])
    assert f"{label}, by coordinator" in page.text
    assert f"{label}, by coordinator" in client.get("/families/H1").text


@pytest.mark.parametrize(
    "params",
    [
        {"run": "R-OCT", "left": "benefits:B9", "right": "asb:X1"},  # not a stored link
        {"run": "R-OCT", "left": "asb:X1", "right": "asb:X1"},  # a record with itself
        {"run": "R-OCT", "left": "asb:X1", "right": "benefits:B1", "household": "H2"},  # another family
        {"run": "R-MISSING", "left": "asb:X1", "right": "benefits:B1"},
        {"run": "R-OCT", "left": "' OR 1=1 --", "right": "benefits:B1"},
        {},
    ],
    ids=["not-linked", "same-record", "other-family", "unknown-run", "sql", "empty"],
)
def test_a_pair_that_is_not_a_families_link_is_404_and_audited(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str], params: dict[str, str]
) -> None:
    """It answers 404 for a pair that is not a stored link of a candidate family of the run, and records it."""
    signed_in("coordinator")
    assert client.get("/pairs", params=params).status_code == 404
    with engine.connect() as connection:
        assert connection.execute(sa.select(audit.c.action).order_by(audit.c.id.desc()).limit(1)).scalar() == (
            "not_found"
        )


def test_a_ruling_on_a_pair_outside_the_family_is_refused(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """It refuses a ruling posted for records that are not a link of a candidate family, or of an unknown kind."""
    token = signed_in("coordinator")
    base = {"csrf_token": token, "run_id": "R-OCT", "record_key_l": "benefits:B9", "record_key_r": "asb:X1"}
    assert client.post("/pairs", data={**base, "kind": "cannot_link"}).status_code == 404
    assert client.post("/pairs", data={**base, "record_key_l": "benefits:B1", "kind": "maybe"}).status_code == 400
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(metadata.tables["link_constraints"])).scalar()
            == 0
        )


def test_a_pair_of_a_person_living_elsewhere_is_not_shown(engine: Engine) -> None:
    """It shows a pair only when a record belongs to a candidate family of the run."""
    assert store.read_pair(engine, "R-OCT", "asb:X1", "benefits:B1") is not None
    assert store.read_pair(engine, "R-OCT", "benefits:B9", "asb:X1") is None


# ------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, LinkThresholds()),
        ("", LinkThresholds()),
        ("not json", LinkThresholds()),
        ("[1, 2]", LinkThresholds()),
        ("{}", LinkThresholds()),
        ('{"linkage": "deterministic"}', LinkThresholds()),
        ('{"linkage": {"method": "deterministic"}}', LinkThresholds()),
        ('{"linkage": {"match_threshold": 0.7}}', LinkThresholds(match=0.7, review=0.95, from_config=True)),
        ('{"linkage": {"review_threshold": 0.9}}', LinkThresholds(match=0.5, review=0.9, from_config=True)),
        (
            '{"linkage": {"match_threshold": 0.6, "review_threshold": 0.85}}',
            LinkThresholds(match=0.6, review=0.85, from_config=True),
        ),
        (
            '{"linkage": {"splink": {"match_threshold": 0.4, "review": 0.8}}}',
            LinkThresholds(match=0.4, review=0.8, from_config=True),
        ),
        ('{"linkage": {"match_threshold": "high", "review_threshold": 1.5}}', LinkThresholds()),
        ('{"linkage": {"match_threshold": true, "review_threshold": null}}', LinkThresholds()),
        ('{"linkage": {"match_threshold": NaN}}', LinkThresholds()),
        ({"linkage": {"match_threshold": 1}}, LinkThresholds(match=1.0, review=0.95, from_config=True)),
    ],
)
def test_link_thresholds_are_read_defensively(config: object, expected: LinkThresholds) -> None:
    """It reads thresholds from the linkage section and falls back to 0.5 / 0.95 for anything else."""
    assert link_thresholds(config) == expected  # type: ignore[arg-type]


def test_pages_use_the_thresholds_of_the_runs_config(
    client: TestClient, engine: Engine, signed_in: Callable[[str], str]
) -> None:
    """It flags links and marks the charts with the thresholds stored with the run."""
    config = json.dumps({"linkage": {"method": "splink", "match_threshold": 0.55, "review_threshold": 0.8}})
    record = RunRecord(**{**run_record("R-OCT2", OCTOBER).__dict__, "config_json": config})
    write_run(engine, record, frames())
    signed_in("coordinator")
    family = client.get("/families/H1?run=R-OCT2").text
    assert "probability of 0.55 or more" in family
    assert "below 0.8 are flagged" in family
    assert family.count("Uncertain: check") == 0  # 0.81 is not below 0.8
    assert "Uncertain: check" in client.get("/families/H2?run=R-OCT2").text  # 0.6
    run = client.get("/runs/R-OCT2").text
    assert "match 0.55" in run
    assert "review below 0.8" in run
    assert "of which 1 below 0.8" in run
    default = client.get("/runs/R-OCT").text
    assert "match 0.5" in default
    assert "review below 0.95" in default
    assert "of which 2 below 0.95" in default
    assert "Uncertain: check" in client.get("/families/H1?run=R-OCT").text


# ------------------------------------------------------------------- list queries


def test_the_list_pages_and_counts_in_sql(engine: Engine) -> None:
    """It returns one page of rows with the total of all matches, also past the last page and when searching."""
    first = store.query_candidates(engine, "R-OCT", store.CandidateQuery(page_size=2))
    assert [row["household_id"] for row in first.rows] == ["H1", "H2"]
    assert first.total == 3
    second = store.query_candidates(engine, "R-OCT", store.CandidateQuery(page_size=2, page=2))
    assert [row["household_id"] for row in second.rows] == ["H3"]
    assert second.total == 3
    beyond = store.query_candidates(engine, "R-OCT", store.CandidateQuery(page_size=2, page=9, search="smith"))
    assert beyond.rows == []
    assert beyond.total == 1
    searched = store.query_candidates(engine, "R-OCT", store.CandidateQuery(page_size=1, search="tf2"))
    assert [row["household_id"] for row in searched.rows] == ["H2"]
    assert searched.total == 2
    assert "total_rows" not in searched.rows[0]
    assert first.criteria == ["crime_asb", "education", "work"]
    assert first.areas == ["TF1", "TF2"]


def test_the_latest_decision_counts_on_the_list(engine: Engine) -> None:
    """It shows each family's newest decision and filters on it."""
    for decision in ("reject", "accept"):
        store.add_decision(
            engine,
            store.DecisionInput(
                household_id="H2", run_id="R-OCT", decision=decision, username="cora", reason="r", lead_agency="EH"
            ),
        )
    page = store.query_candidates(engine, "R-OCT", store.CandidateQuery(sort="score", descending=False))
    assert [(row["household_id"], row["status"]) for row in page.rows] == [
        ("H3", "new"),
        ("H2", "accept"),
        ("H1", "new"),
    ]
    accepted = store.query_candidates(engine, "R-OCT", store.CandidateQuery(status="accept"))
    assert [row["household_id"] for row in accepted.rows] == ["H2"]
    assert accepted.total == 1
    assert store.query_candidates(engine, "R-OCT", store.CandidateQuery(status="reject")).total == 0
    assert store.query_candidates(engine, "R-OCT", store.CandidateQuery(status="new")).total == 2
