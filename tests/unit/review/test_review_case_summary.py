"""Issue 14 items 1-3: the waterfall equals ``tfident explain``, thresholds come from the run's config, the
family page is a case summary with a print view, and the list shows what changed month on month.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.unit.review.conftest import sign_in
from tests.unit.review.review_data import WATERFALL, stored_weights, write_busy_november
from tfident.link import load_linkage_config
from tfident.link.comparisons import COMPARISONS
from tfident.link.explanation import Explanation, WaterfallStep, from_stored
from tfident.review import charts
from tfident.review.app import Settings, create_app
from tfident.review.changes import compare_with_previous
from tfident.review.exports import HEADERS, HEADERS_WITHOUT_MEMBERS
from tfident.review.thresholds import LinkThresholds, link_thresholds
from tfident.review.weights import parse_weights
from tfident.store import review as store

STEP = re.compile(r'class="tf-step" data-field="([^"]+)" data-weight="([-0-9.]+)"')
TOTAL = re.compile(r'class="tf-total" data-total="([-0-9.]+)"')


def chart_numbers(svg: str) -> tuple[list[tuple[str, float]], float]:
    """The bars (field, weight) and the total bar of a waterfall chart."""
    total = TOTAL.search(svg)
    assert total is not None
    return [(name, float(weight)) for name, weight in STEP.findall(svg)], float(total.group(1))


@pytest.fixture
def busy(engine: Engine) -> Engine:
    """October, and a busy November whose config sets linkage.thresholds.match 0.97."""
    write_busy_november(engine, json.dumps({"linkage": {"thresholds": {"match": 0.97, "uncertain": 0.5}}}))
    return engine


# ---------------------------------------------------------------------------- waterfall


def test_the_waterfall_is_the_one_tfident_explain_prints() -> None:
    """It draws the prior and each comparison's stored weight, the bars summing to the stored total."""
    steps = tuple(WaterfallStep(name, "level", weight) for name, weight in zip(COMPARISONS, range(-4, 5), strict=True))
    total = -9.25 + sum(s.weight for s in steps)
    levels = tuple(2 for _ in COMPARISONS)
    stored = Explanation("a:1", "b:2", "m1", -9.25, steps, total, 0.2, levels=levels).as_dict()
    parsed = parse_weights(json.dumps(stored))
    assert parsed is not None
    explained = from_stored(
        {"record_key_l": "a:1", "record_key_r": "b:2", "match_weights_json": stored}, load_linkage_config()
    )
    assert explained is not None
    expected = [("prior", explained.prior), *((s.field, s.weight) for s in explained.steps)]
    assert [(bar.field, bar.weight) for bar in parsed.bars] == expected
    assert parsed.total == explained.total
    assert parsed.consistent
    bars, total = chart_numbers(charts.waterfall(parsed, "t"))
    assert [name for name, _ in bars] == [name for name, _ in expected]
    assert [weight for _, weight in bars] == pytest.approx([weight for _, weight in expected])
    assert total == pytest.approx(explained.total)


def test_the_total_and_probability_are_not_bars() -> None:
    """It draws a link of total weight 5.51 with total +5.51, not the old "total +12.00"."""
    parsed = parse_weights(stored_weights())
    assert parsed is not None
    svg = str(charts.waterfall(parsed, "t"))
    bars, total = chart_numbers(svg)
    assert [name for name, _ in bars] == list(WATERFALL)
    assert sum(weight for _, weight in bars) == pytest.approx(total, abs=1e-6)
    assert total == pytest.approx(5.51)
    assert "+5.51" in svg
    assert "+12.00" not in svg
    assert "probability" not in svg


@pytest.mark.parametrize(
    ("stored", "consistent"),
    [({"prior": -1.0, "a": 2.0, "total": 1.0}, True), ({"prior": -1.0, "a": 2.0, "total": 4.0}, False)],
    ids=["adds-up", "stored-total-off"],
)
def test_a_stored_total_that_does_not_add_up_is_reported(stored: dict[str, float], consistent: bool) -> None:
    """It keeps the stored total and says when the bars do not sum to it."""
    parsed = parse_weights(stored)
    assert parsed is not None
    assert parsed.total == stored["total"]
    assert parsed.consistent is consistent


@pytest.mark.parametrize(
    "stored",
    [None, "", "not json", "[]", "{}", '{"levels": {}}', '{"identical": true, "probability": 0.995}'],
    ids=repr,
)
def test_no_waterfall_without_weights(stored: object) -> None:
    """It finds no waterfall in a link stored without weights."""
    assert parse_weights(stored) is None


def test_the_family_page_shows_the_stored_waterfall(
    client: TestClient, busy: Engine, signed_in: Callable[[str], str]
) -> None:
    """It shows bars summing to the total in the table, which equals the stored link weight."""
    signed_in("coordinator")
    html = client.get("/families/H1?run=R-NOV&open=links").text
    first = html.index('data-link="asb:X1|benefits:B1"')
    card = html[first : html.index("</form>", first)]
    bars, total = chart_numbers(card)
    assert sum(weight for _, weight in bars) == pytest.approx(total, abs=0.005)
    assert total == pytest.approx(json.loads(stored_weights())["total"])
    assert "<strong>+5.51</strong>" in card
    assert "+12.00" not in html


# ---------------------------------------------------------------------------- thresholds


def test_the_review_threshold_is_the_configured_match_threshold() -> None:
    """It flags links below the stored linkage.thresholds.match, as the linkage keeps them for review."""
    config = {"linkage": {"thresholds": {"match": 0.9, "uncertain": 0.4}}}
    assert link_thresholds(config) == LinkThresholds(match=0.9, review=0.9, from_config=True)
    explicit = {"linkage": {"thresholds": {"match": 0.9}, "review_threshold": 0.99}}
    assert link_thresholds(explicit).review == 0.99


def test_the_pages_show_the_runs_configured_threshold(
    client: TestClient, busy: Engine, signed_in: Callable[[str], str]
) -> None:
    """It shows and applies 0.97 for November (its config) and 0.95 for October (no thresholds stored)."""
    signed_in("coordinator")
    november = client.get("/families/H1?run=R-NOV").text
    assert "below 0.97 are flagged" in november
    assert "below 0.97: check" in november
    assert "0.95" not in november.split('id="link-confidence"')[1].split("</dd>")[0]
    assert "review below 0.97" in client.get("/runs/R-NOV").text
    assert "below 0.95 are flagged" in client.get("/families/H1?run=R-OCT").text


# ---------------------------------------------------------------------- case summary


class Controls(HTMLParser):
    """Labels (with their hidden text) and button names of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self.buttons: list[str] = []
        self._open: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("label", "button"):
            self._open, self._text = [tag], []

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == self._open[0]:
            name = " ".join("".join(self._text).split())
            (self.labels if tag == "label" else self.buttons).append(name)
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)


def test_repeated_controls_have_unique_names(client: TestClient, busy: Engine, signed_in: Callable[[str], str]) -> None:
    """It names each link's reason box and buttons after the records, so no two controls share a name."""
    signed_in("coordinator")
    html = client.get("/families/H1?run=R-NOV&open=links").text
    controls = Controls()
    controls.feed(html)
    assert controls.labels.count("Reason (optional)") == 0
    assert len([label for label in controls.labels if label.startswith("Reason (optional)")]) == 20  # one page
    duplicates = {name: n for name, n in Counter(controls.labels + controls.buttons).items() if n > 1}
    assert duplicates == {}
    assert "Not the same person: asb:X1 and benefits:B1" in controls.buttons


def test_the_summary_says_why_by_member_before_the_form(
    client: TestClient, busy: Engine, signed_in: Callable[[str], str]
) -> None:
    """It puts criteria with their members and evidence, and link confidence, before the decision form and details."""
    signed_in("coordinator")
    html = client.get("/families/H1?run=R-NOV").text
    why, form, details = html.index('id="criteria"'), html.index('id="decide"'), html.index('id="records"')
    assert why < form < details
    summary = html[html.index('id="why"') : form]
    assert "crime_asb" in summary
    assert "Smith (adult, 46)</strong>: crime_asb.asb_intervention (CBO)" in summary
    assert "52 links between records" in summary
    assert "Carried over" in summary
    assert html.count("data-link=") == 20  # links are paged
    page_three = client.get("/families/H1?run=R-NOV&links_page=3").text
    assert page_three.count("data-link=") == 12
    assert '<details class="govuk-details" id="links" open>' in page_three


def test_the_print_view_is_a_summary_and_is_audited(
    client: TestClient, busy: Engine, signed_in: Callable[[str], str]
) -> None:
    """It prints the case summary and decisions without forms or record tables, and audits the print."""
    signed_in("coordinator")
    html = client.get("/families/H1/print?run=R-NOV").text
    assert "Why this family is on the list" in html
    assert "OFFICIAL-SENSITIVE" in html
    assert "<form" not in html
    assert "govuk-summary-card" not in html
    rows, _ = store.read_audit(busy, store.AuditQuery(action="family.print"))
    assert rows[0]["object_id"] == "H1"
    assert rows[0]["detail_json"] == {"run_id": "R-NOV"}


# ----------------------------------------------------------------------- month on month


def test_changes_since_the_previous_run(busy: Engine) -> None:
    """It marks H1 carried over, H4 new, H2 re-ranked from 2, and H3 dropped because its criteria are not met."""
    months = compare_with_previous(busy, "R-NOV")
    assert months.previous_run_id == "R-OCT"
    assert {h: c.kind for h, c in months.changes.items()} == {"H1": "carried", "H4": "new", "H2": "reranked"}
    assert months.changes["H2"].label == "Re-ranked: was 2"
    assert [(row["household_id"], row["reasons"]) for row in months.dropped] == [("H3", "criteria_not_met")]
    assert all(c.kind == "new" for c in compare_with_previous(busy, "R-OCT").changes.values())


def test_the_list_marks_and_filters_changes(client: TestClient, busy: Engine, signed_in: Callable[[str], str]) -> None:
    """It tags each row with its change, filters on it, and lists dropped families with why."""
    signed_in("coordinator")
    listing = client.get("/runs/R-NOV/candidates").text
    assert "1 new, 1 carried over, 1 re-ranked" in listing
    assert "1 dropped" in listing
    row = listing.split('data-household="H2"')[1].split("</tr>")[0]
    assert "Re-ranked: was 2" in row
    new = client.get("/runs/R-NOV/candidates", params={"change": "new"}).text
    assert re.findall(r'data-household="([^"]+)"', new) == ["H4"]
    dropped = client.get("/runs/R-NOV/candidates", params={"change": "dropped"}).text
    assert 'id="dropped"' in dropped
    assert "H3" in dropped
    assert "no longer meets crime_asb, work" in dropped
    assert 'href="/families/H3?run=R-OCT"' in dropped
    education = client.get("/runs/R-NOV/candidates", params={"change": "dropped", "criterion": "education"}).text
    assert "No family dropped off the list." in education
    assert "H3" not in education.split('id="dropped"')[1]


def export_rows(client: TestClient, token: str, **form: str) -> list[list[str]]:
    """The CSV export's rows (header first) for the form fields given."""
    response = client.post("/runs/R-NOV/export", data={"csrf_token": token, "format": "csv", **form})
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_exports_honour_the_filters_and_list_members(
    client: TestClient, busy: Engine, signed_in: Callable[[str], str]
) -> None:
    """It exports only the families the filters show, each with its members' names and roles."""
    token = signed_in("coordinator")
    assert [row[1] for row in export_rows(client, token, scope="new")[1:]] == ["H1", "H4", "H2"]
    new_this_month = export_rows(client, token, scope="new", change="new")
    assert new_this_month[0] == list(HEADERS)
    assert [row[1] for row in new_this_month[1:]] == ["H4"]
    assert new_this_month[1][-1] == "Nia Jones (adult)"
    assert [row[1] for row in export_rows(client, token, scope="new", criterion="education")[1:]] == ["H2"]
    assert [row[1] for row in export_rows(client, token, scope="shown", area="TF1")[1:]] == ["H1", "H4"]
    assert export_rows(client, token, scope="new", change="dropped")[1:] == []
    members = export_rows(client, token, scope="selected", household_id="H1")[1][-1]
    assert members.count("Smith") == 2
    assert "(adult)" in members
    assert "(child)" in members


def test_members_can_be_left_out_of_the_export(busy: Engine) -> None:
    """It leaves the members column out when the app is set not to export names."""
    app = create_app(busy, Settings(secret_key="s" * 40, export_members=False))
    with TestClient(app, follow_redirects=False) as client:
        token = sign_in(client, "coordinator")
        rows = export_rows(client, token, scope="new")
    assert rows[0] == list(HEADERS_WITHOUT_MEMBERS)
    assert "Smith" not in str(rows)


# -------------------------------------------------------------------------- opted out


def test_an_opted_out_family_is_a_stub_until_an_audited_override(
    client: TestClient, busy: Engine, signed_in: Callable[[str], str]
) -> None:
    """It shows that the family opted out and nothing else, refuses decisions, and lifts that only by an
    override with a reason, written to the audit log.
    """
    token = signed_in("coordinator")
    store.add_decision(busy, store.DecisionInput("H2", "R-OCT", "opted_out", "cora"))
    page = client.get("/families/H2?run=R-NOV").text
    assert "A family that opted out" in page
    assert "Low Road" not in page
    assert "alert(1)" not in page
    assert "Accept: attach" not in page
    listing = client.get("/runs/R-NOV/candidates", params={"status": "all"}).text
    row = listing.split('data-household="H2"')[1].split("</tr>")[0]
    assert "A family that opted out" in row
    assert "Low Road" not in row
    assert "education" not in row
    printed = client.get("/families/H2/print?run=R-NOV").text
    assert "A family that opted out" in printed
    assert "Low Road" not in printed
    assert [row[1] for row in export_rows(client, token, scope="shown", status="all")[1:]] == ["H1", "H4"]

    accept = {"csrf_token": token, "run_id": "R-NOV", "decision": "accept", "lead_agency": "EH", "worker": "JB"}
    refused = client.post("/families/H2/decisions", data=accept)
    assert refused.status_code == 409
    assert store.current_status(busy, "H2") == "opted_out"

    blank = client.post("/families/H2/override", data={"csrf_token": token, "run_id": "R-NOV"})
    assert blank.status_code == 400
    assert "Enter why" in blank.text
    assert store.opt_out_override(busy, "H2") is None
    done = client.post(
        "/families/H2/override", data={"csrf_token": token, "run_id": "R-NOV", "override_reason": "consent given"}
    )
    assert done.status_code == 303
    rows, _ = store.read_audit(busy, store.AuditQuery(action=store.OPT_OUT_OVERRIDE))
    assert rows[0]["object_id"] == "H2"
    assert rows[0]["username"] == "coordinator"
    assert rows[0]["detail_json"]["reason"] == "consent given"
    full = client.get("/families/H2?run=R-NOV").text
    assert "Low Road" in full
    assert "Accept: attach" in full
    assert 'id="override-note"' in full
    assert client.post("/families/H2/decisions", data={**accept, "seen_decision": ""}).status_code == 303
    assert store.current_status(busy, "H2") == "accept"
