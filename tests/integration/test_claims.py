"""Attachments, outcomes and claims on both databases.

The review app's two-family run (``R-OCT``, phase1: H1 with ASB and worklessness, H2
with education and worklessness) is written; accepting H1 freezes it; later runs observe
its outcomes from small extracts; claims are prepared, refused a second time (also after
a merge), and their evidence packs regenerate byte for byte after three more months.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.unit.review.review_data import OCTOBER, frames, run_record
from tfident.errors import ClaimRefused
from tfident.outcomes import ProgrammePeriod, load_outcomes_config
from tfident.store import metadata, write_run
from tfident.store.attachments import read_attached_families, record_outcomes
from tfident.store.audit import AuditOrigin
from tfident.store.claims import (
    add_claim,
    attachment_postcodes,
    audit_sample,
    claim_history,
    claim_samples,
    evidence_pack,
    pack_sections,
    period_summary,
    prepare_claims,
    purge_claims,
    read_claim,
    set_status,
    sha256,
)
from tfident.store.retention import apply_retention
from tfident.store.review import DecisionInput, add_decision

PERIOD = ProgrammePeriod(
    id="TFX",
    ruleset_id="phase1",
    valid_from=date(2026, 1, 1),
    valid_to=date(2027, 12, 31),
    rates={"tf1_results": 4000, "tf1_ce": 3000},
)
MONTHS = [date(2026, 11, 30), date(2026, 12, 31), date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]


def families(engine: Engine) -> list[Any]:
    """The attached families, read on a connection that is closed again."""
    with engine.connect() as connection:
        return read_attached_families(connection)


def decide(engine: Engine, household_id: str, decision: str, run_id: str = "R-OCT", **values: Any) -> None:
    """Record a decision."""
    add_decision(
        engine, DecisionInput(household_id=household_id, run_id=run_id, decision=decision, username="c1", **values)
    )


def extracts(asb_dates: list[date]) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """An ``asb`` extract of Bob Smith's (P2) interventions and the record index placing them."""
    ids = [f"X{i}" for i in range(1, len(asb_dates) + 1)]
    asb = pl.DataFrame(
        {"record_id": ids, "intervention_date": asb_dates},
        schema={"record_id": pl.String, "intervention_date": pl.Date},
    )
    index = pl.DataFrame(
        {"source": ["asb"] * len(ids), "record_id": ids, "person_id": ["P2"] * len(ids)},
        schema={"source": pl.String, "record_id": pl.String, "person_id": pl.String},
    )
    return {"asb": asb}, index


def publish(engine: Engine, run_id: str, as_of: date, events: pl.DataFrame | None = None) -> None:
    """Write a month's run (the same families) and record the attached families' outcomes."""
    data = frames()
    if events is not None:
        data["identity_events"] = events
    write_run(engine, run_record(run_id, as_of), data)
    # ASB: one intervention before attachment (2026-05-01), none since: down 100 %
    record_outcomes(engine, run_id, as_of, *extracts([date(2026, 5, 1)]), load_outcomes_config())


@pytest.fixture
def attached(engine: Engine) -> Engine:
    """October written, H1 accepted on it."""
    write_run(engine, run_record("R-OCT", OCTOBER), frames())
    decide(engine, "H1", "accept", lead_agency="Early Help", worker="J Bloggs")
    return engine


def test_accepting_freezes_the_family_and_its_entry_evidence(attached: Engine) -> None:
    """It copies the members and every criteria evidence row of the run, and the closure is recorded on it."""
    (family,) = families(attached)
    assert family.ruleset_id == "phase1"
    assert family.attached_on == OCTOBER
    assert [m.person_id for m in family.members] == ["P1", "P2"]
    assert sorted((n.need, n.source, n.record_id) for n in family.needs) == [
        ("crime_asb", "asb", "X1"),
        ("work", "benefits", "B1"),
    ]
    with attached.connect() as connection:
        hashes = dict(connection.execute(sa.text("SELECT source, source_file_sha256 FROM entry_needs")).all())
    assert hashes["asb"] is None or len(hashes["asb"]) == 64
    decide(attached, "H1", "closed", closure_reason="outcomes_achieved")
    (family,) = families(attached)
    assert family.closed_on == OCTOBER


def test_the_run_retention_keeps_attachments(attached: Engine) -> None:
    """It purges the run's personal data but keeps the frozen family for the claims retention period."""
    apply_retention(attached, 1, today=date(2027, 6, 1), user="admin")
    with attached.connect() as connection:
        assert connection.execute(sa.text("SELECT status FROM runs")).scalar() == "purged"
        assert connection.execute(sa.text("SELECT count(*) FROM criteria_evidence")).scalar() == 0
        assert connection.execute(sa.text("SELECT count(*) FROM entry_needs")).scalar() == 2
        assert connection.execute(sa.text("SELECT count(*) FROM attachment_members")).scalar() == 2


def test_later_runs_observe_outcomes_and_a_claim_is_prepared_once(attached: Engine) -> None:
    """It observes ASB down 100 % (offending not applicable), proposes a TF1 results claim, and refuses a second."""
    publish(attached, "R-NOV", MONTHS[0])
    with attached.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT need, measure, met, reason FROM outcome_observations ORDER BY need, measure")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("continuous_employment", "continuous_employment", False, "not_achieved"),
        ("crime_asb", "tf1_asb", True, "achieved"),
        ("crime_asb", "tf1_offending_minors", None, "not_applicable"),
    ]
    (proposal,) = prepare_claims(attached, PERIOD, "c1")
    assert (proposal.household_id, proposal.route, proposal.amount, proposal.refused) == (
        "H1",
        "tf1_results",
        4000,
        None,
    )
    assert proposal.claim_id is not None
    (again,) = prepare_claims(attached, PERIOD, "c1")
    assert again.claim_id is None
    assert again.refused is not None
    assert "already has a claim" in again.refused
    with pytest.raises(ClaimRefused):
        add_claim(attached, "TFX", 1, "tf1_ce", 3000, "R-NOV", MONTHS[0], "c1")
    assert (prepare_claims(attached, PERIOD, "c1", dry_run=True)[0].claim_id) is None


def test_a_double_claim_after_a_merge_is_refused_by_the_database(attached: Engine) -> None:
    """H2, attached separately, merges with the claimed H1: its claim fails on the lineage key."""
    decide(attached, "H2", "accept", lead_agency="School", worker="A Teacher")
    publish(attached, "R-NOV", MONTHS[0])
    add_claim(attached, "TFX", 1, "tf1_results", 4000, "R-NOV", MONTHS[0], "c1")
    merge = pl.DataFrame({"kind": ["household_merge"], "old_ids": ["H1;H2"], "new_ids": ["H1"]})
    publish(attached, "R-DEC", MONTHS[1], merge)
    with pytest.raises(ClaimRefused, match="merged with or split from"):
        add_claim(attached, "TFX", 2, "tf1_results", 4000, "R-DEC", MONTHS[1], "c1")
    with attached.connect() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(
            metadata.tables["claim_families"].insert().values(period="TFX", household_id="H1", claim_id=1)
        )
    # in another period the same family can be claimed
    add_claim(attached, "TFY", 2, "tf1_results", 4000, "R-DEC", MONTHS[1], "c1")


def test_the_evidence_pack_is_byte_identical_three_months_later(attached: Engine) -> None:
    """It rebuilds the HTML page and the workbook with the stored SHA-256 after three more monthly runs."""
    publish(attached, "R-NOV", MONTHS[0])
    (proposal,) = prepare_claims(attached, PERIOD, "c1")
    assert proposal.claim_id is not None
    claim = read_claim(attached, proposal.claim_id)
    page, workbook = evidence_pack(attached, proposal.claim_id)
    assert sha256(page) == claim["pack_html_sha256"]
    assert sha256(workbook) == claim["pack_xlsx_sha256"]
    assert b"tf1_asb" in page
    assert workbook[:2] == b"PK"
    for run_id, as_of in (("R-DEC", MONTHS[1]), ("R-JAN", MONTHS[2]), ("R-FEB", MONTHS[3])):
        publish(attached, run_id, as_of)
    decide(attached, "H1", "closed", run_id="R-FEB", closure_reason="outcomes_achieved")
    set_status(attached, proposal.claim_id, "audited", "auditor1", role="auditor")
    assert evidence_pack(attached, proposal.claim_id) == (page, workbook)


def test_statuses_follow_their_order_and_are_audited(attached: Engine) -> None:
    """It moves draft -> audited -> submitted -> paid, refuses a step out of order, and audits each step."""
    publish(attached, "R-NOV", MONTHS[0])
    (proposal,) = prepare_claims(attached, PERIOD, "c1")
    claim_id = proposal.claim_id
    assert claim_id is not None
    with pytest.raises(ClaimRefused, match="can become audited, withdrawn"):
        set_status(attached, claim_id, "paid", "c1")
    for status in ("audited", "submitted", "paid"):
        set_status(attached, claim_id, status, "auditor1")
    assert read_claim(attached, claim_id)["audited_by"] == "auditor1"
    with attached.connect() as connection:
        actions = (
            connection.execute(sa.text("SELECT action FROM audit_log WHERE object_type = 'claim' ORDER BY id"))
            .scalars()
            .all()
        )
    assert actions == ["claim.prepared", "claim.audited", "claim.submitted", "claim.paid"]
    summary = period_summary(attached, PERIOD)
    assert summary["families_attached"] == 1
    assert summary["outcomes_met"] == 1
    assert summary["claims_by_status"] == {"paid": 1}
    assert summary["amount_paid"] == 4000


def test_the_audit_sample_is_reproducible(attached: Engine) -> None:
    """It draws the same claims for the same seed and records the draw."""
    for household in ("H2", "H3"):
        decide(attached, household, "accept", lead_agency="School", worker="A Teacher")
    publish(attached, "R-NOV", MONTHS[0])
    for attachment_id in (1, 2, 3):
        add_claim(attached, "TFX", attachment_id, "tf1_results", 4000, "R-NOV", MONTHS[0], "c1")
    first = audit_sample(attached, "TFX", 50, seed=7, username="auditor1")
    assert len(first) == 2
    assert audit_sample(attached, "TFX", 50, seed=7, username="auditor1") == first
    with attached.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM claim_checks WHERE sample_seed = 7")).scalar() == 4


def test_the_claims_retention_purges_only_old_attachments(attached: Engine) -> None:
    """It keeps an attachment while its claim is within the claims period and deletes it, claims and all, after."""
    publish(attached, "R-NOV", MONTHS[0])
    prepare_claims(attached, PERIOD, "c1")
    assert purge_claims(attached, 84, today=date(2033, 11, 30)) == []
    assert purge_claims(attached, 84, today=date(2033, 12, 1), dry_run=True) == [1]
    assert families(attached)
    assert purge_claims(attached, 84, today=date(2033, 12, 1)) == [1]
    with attached.connect() as connection:
        for table in ("attachments", "entry_needs", "outcome_observations", "claims", "claim_families"):
            assert connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0, table


def test_a_double_claim_after_a_split_is_refused_by_the_database(attached: Engine) -> None:
    """H1, claimed, splits into H1 and H9: a claim for an attachment of H9 fails on the lineage key."""
    publish(attached, "R-NOV", MONTHS[0])
    add_claim(attached, "TFX", 1, "tf1_results", 4000, "R-NOV", MONTHS[0], "c1")
    split = pl.DataFrame({"kind": ["household_split"], "old_ids": ["H1"], "new_ids": ["H1;H9"]})
    publish(attached, "R-DEC", MONTHS[1], split)
    with attached.begin() as connection:  # an attachment of the split-off part (its own members)
        connection.execute(
            sa.text(
                "INSERT INTO attachments (household_id, decision_id, run_id, ruleset_id, ruleset_version, "
                "attached_on, attached_at, username) VALUES ('H9', 0, 'R-DEC', 'phase1', 'TF1_2012', "
                "'2026-12-31', '2026-12-31 09:00:00', 'c1')"
            )
        )
    with pytest.raises(ClaimRefused, match="merged with or split from"):
        add_claim(attached, "TFX", 2, "tf1_results", 4000, "R-DEC", MONTHS[1], "c1")


def test_a_person_in_two_claimed_families_is_refused_by_the_database(attached: Engine) -> None:
    """H3, attached with Bob Smith (P2) also frozen in H1's attachment, cannot be claimed once H1 is."""
    decide(attached, "H3", "accept", lead_agency="YOS", worker="K Officer")
    with attached.begin() as connection:
        connection.execute(sa.text("INSERT INTO attachment_members (attachment_id, person_id) VALUES (2, 'P2')"))
    publish(attached, "R-NOV", MONTHS[0])
    add_claim(attached, "TFX", 1, "tf1_results", 4000, "R-NOV", MONTHS[0], "c1")
    with pytest.raises(ClaimRefused, match="one of its members"):
        add_claim(attached, "TFX", 2, "tf1_results", 4000, "R-NOV", MONTHS[0], "c1")


def test_a_withdrawn_claim_releases_its_family_for_the_period(attached: Engine) -> None:
    """Withdrawn, the claim keeps its pack byte for byte, and the family is claimed again; a rejection holds."""
    publish(attached, "R-NOV", MONTHS[0])
    (first,) = prepare_claims(attached, PERIOD, "c1")
    assert first.claim_id is not None
    pack = evidence_pack(attached, first.claim_id)
    set_status(attached, first.claim_id, "withdrawn", "c1", role="coordinator")
    assert evidence_pack(attached, first.claim_id) == pack
    assert read_claim(attached, first.claim_id)["lineage"] == "H1"
    publish(attached, "R-DEC", MONTHS[1])
    (second,) = prepare_claims(attached, PERIOD, "c1")
    assert second.refused is None
    assert second.claim_id not in (None, first.claim_id)
    assert second.claim_id is not None
    with attached.connect() as connection:
        holders = connection.execute(sa.text("SELECT DISTINCT claim_id FROM claim_families")).scalars().all()
        assert holders == [second.claim_id]
        assert connection.execute(sa.text("SELECT DISTINCT claim_id FROM claim_persons")).scalars().all() == [
            second.claim_id
        ]
    # the database itself holds one open claim per attachment and period
    with attached.begin() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(
            sa.text(
                "INSERT INTO claims (period, attachment_id, household_id, route, status, amount, run_id, as_of, "
                "prepared_by, prepared_at, status_changed_at, pack_html_sha256, pack_xlsx_sha256, lineage) "
                "VALUES ('TFX', 1, 'H1', 'tf1_results', 'draft', 4000, 'R-DEC', '2026-12-31', 'c1', "
                "'2027-01-02 09:00:00', '2027-01-02 09:00:00', '', '', 'H1')"
            )
        )
    for status in ("audited", "submitted", "rejected"):
        set_status(attached, second.claim_id, status, "auditor1")
    (third,) = prepare_claims(attached, PERIOD, "c1")
    assert third.claim_id is None
    assert third.refused is not None
    assert "already has a claim" in third.refused


def test_migration_0011_keeps_each_claims_lineage_and_pack(attached: Engine) -> None:
    """Down to 0010 and up again, a claim's lineage is refilled and its pack unchanged; a re-claim bars the way down."""
    from tfident.store import current_revision, upgrade
    from tfident.store.engine import migrate

    publish(attached, "R-NOV", MONTHS[0])
    (proposal,) = prepare_claims(attached, PERIOD, "c1")
    assert proposal.claim_id is not None
    pack = evidence_pack(attached, proposal.claim_id)
    migrate(attached, "0010", downgrade=True)
    assert current_revision(attached) == "0010"
    upgrade(attached.url.render_as_string(hide_password=False))
    assert read_claim(attached, proposal.claim_id)["lineage"] == "H1"
    assert evidence_pack(attached, proposal.claim_id) == pack
    set_status(attached, proposal.claim_id, "withdrawn", "c1")
    (again,) = prepare_claims(attached, PERIOD, "c1")
    assert again.claim_id is not None
    with pytest.raises(RuntimeError, match="withdrawn claim and a later one"):
        migrate(attached, "0010", downgrade=True)


def test_the_preparer_cannot_sign_off_their_own_claim(attached: Engine) -> None:
    """Separation of duties, in the store: ``c1`` prepared the claim, so ``c1`` cannot mark it audited."""
    publish(attached, "R-NOV", MONTHS[0])
    (proposal,) = prepare_claims(attached, PERIOD, "c1")
    claim_id = proposal.claim_id
    assert claim_id is not None
    with pytest.raises(ClaimRefused, match="separation of duties"):
        set_status(attached, claim_id, "audited", "c1", role="auditor")
    assert read_claim(attached, claim_id)["status"] == "draft"
    set_status(attached, claim_id, "withdrawn", "c1", reason="duplicate of a paper claim")  # withdrawing is allowed
    assert [h["action"] for h in claim_history(attached, claim_id)] == ["claim.prepared", "claim.withdrawn"]
    assert claim_history(attached, claim_id)[-1]["detail_json"]["reason"] == "duplicate of a paper claim"


def test_a_review_app_step_is_audited_with_its_origin(attached: Engine) -> None:
    """Preparing, signing off and sampling on a request's behalf keep its role, client address and session."""
    publish(attached, "R-NOV", MONTHS[0])
    origin = AuditOrigin(role="coordinator", client_address="10.0.0.7", session_id="s" * 32)
    (proposal,) = prepare_claims(attached, PERIOD, "c1", origin=origin)
    assert proposal.claim_id is not None
    set_status(attached, proposal.claim_id, "audited", "a1", origin=AuditOrigin("auditor", "10.0.0.8", "t" * 32))
    assert audit_sample(attached, "TFX", 10, seed=3, username="a1", origin=AuditOrigin("auditor")) == [1]
    assert audit_sample(attached, "TFY", 10, seed=3, username="a1") == []  # an empty draw, audited too
    with attached.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT action, role, client_address, session_id FROM audit_log WHERE action LIKE 'claim.%' ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("claim.prepared", "coordinator", "10.0.0.7", "s" * 32),
        ("claim.audited", "auditor", "10.0.0.8", "t" * 32),
        ("claim.sampled", "auditor", None, None),
        ("claim.sampled", None, None, None),
    ]
    assert [s["sample_seed"] for s in claim_samples(attached, proposal.claim_id)] == [3]


def test_prepare_is_limited_to_the_attachments_given(attached: Engine) -> None:
    """The review app passes the attachments of a coordinator's areas: others are neither proposed nor claimed."""
    publish(attached, "R-NOV", MONTHS[0])
    assert prepare_claims(attached, PERIOD, "c1", attachment_ids=set()) == []
    (proposal,) = prepare_claims(attached, PERIOD, "c1", attachment_ids={1})
    assert proposal.claim_id == 1
    assert attachment_postcodes(attached, [1, 7]) == {1: "TF1 1AA", 7: None}
    titles = [title for title, _, _ in pack_sections(attached, 1)]
    assert titles == ["Claim", "Attachment", "Members", "Entry evidence", "Outcomes", "Family lineage", "Decisions"]


def test_claim_members_of_a_run_are_read_for_scoring(attached: Engine) -> None:
    """It lists the frozen members of each claim prepared on the run, and of every attachment made by then."""
    from tfident.store.claims import claim_members_of_run

    publish(attached, "R-NOV", MONTHS[0])
    assert claim_members_of_run(attached, "R-NOV") == ([], [(1, "P1"), (1, "P2")])
    (proposal,) = prepare_claims(attached, PERIOD, "c1")
    claimed, attachments_then = claim_members_of_run(attached, "R-NOV")
    assert claimed == [(proposal.claim_id, "P1"), (proposal.claim_id, "P2")]
    assert attachments_then == [(1, "P1"), (1, "P2")]
    set_status(attached, proposal.claim_id or 0, "withdrawn", "c1")
    assert claim_members_of_run(attached, "R-NOV")[0] == []
