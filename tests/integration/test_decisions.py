"""Decisions on both databases: attached, closed and opted-out families never come back as new.

Two months' runs share the stable household ids H1, H2, H3 (the review app's test data);
a decision made on the October run follows its family to November. Also: closing needs an
attached family, and migration 0005 upgrades a database at 0004 keeping its decisions.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from tests.unit.review.review_data import NOVEMBER, OCTOBER, frames, run_record
from tfident.store import current_revision, head_revision, make_engine, metadata, upgrade, write_run
from tfident.store.engine import migrate
from tfident.store.review import (
    STATUS_NEW,
    STATUS_OPEN,
    CandidateQuery,
    DecisionInput,
    DecisionRefused,
    add_decision,
    current_status,
    decision_history,
    query_candidates,
)
from tfident.store.tables import DECISIONS

decisions = metadata.tables["decisions"]


@pytest.fixture
def months(engine: Engine) -> Engine:
    """A database with the October run (R-OCT) written; November is written by the tests."""
    write_run(engine, run_record("R-OCT", OCTOBER), frames())
    return engine


def decide(engine: Engine, household_id: str, decision: str, **values: Any) -> None:
    """Record a decision made on the October run."""
    add_decision(
        engine, DecisionInput(household_id=household_id, run_id="R-OCT", decision=decision, username="c1", **values)
    )


def statuses(engine: Engine, run_id: str, status: str = "") -> dict[str, str]:
    """``household_id -> status`` of the run's candidates under a status filter."""
    rows = query_candidates(engine, run_id, CandidateQuery(status=status, page_size=0)).rows
    return {row["household_id"]: row["status"] for row in rows}


def test_an_attached_family_is_not_proposed_as_new_next_month(months: Engine) -> None:
    """Accepted in October, the family shows as attached in November and is on no list of new families."""
    decide(months, "H1", "accept", lead_agency="Early Help", worker="J Bloggs")
    write_run(months, run_record("R-NOV", NOVEMBER), frames())
    assert statuses(months, "R-NOV") == {"H1": "accept", "H2": STATUS_NEW, "H3": STATUS_NEW}
    assert set(statuses(months, "R-NOV", STATUS_NEW)) == {"H2", "H3"}
    assert set(statuses(months, "R-NOV", STATUS_OPEN)) == {"H2", "H3"}
    carried = query_candidates(months, "R-NOV", CandidateQuery(status="accept")).rows
    assert [(row["household_id"], row["carried_over"], row["worker"]) for row in carried] == [("H1", True, "J Bloggs")]


def test_a_closed_family_stays_closed(months: Engine) -> None:
    """Attached then closed in October, the family is closed in November, with the reason, and never new."""
    decide(months, "H1", "accept", lead_agency="Early Help", worker="J Bloggs")
    decide(months, "H1", "closed", closure_reason="outcomes_achieved")
    write_run(months, run_record("R-NOV", NOVEMBER), frames())
    assert statuses(months, "R-NOV")["H1"] == "closed"
    assert "H1" not in statuses(months, "R-NOV", STATUS_NEW)
    assert "H1" not in statuses(months, "R-NOV", STATUS_OPEN)
    (row,) = query_candidates(months, "R-NOV", CandidateQuery(status="closed")).rows
    assert row["household_id"] == "H1"
    assert row["closure_reason"] == "outcomes_achieved"
    assert row["carried_over"]
    assert [d["decision"] for d in decision_history(months, "H1")] == ["closed", "accept"]
    assert current_status(months, "H1") == "closed"


@pytest.mark.parametrize("before", [None, "defer", "accept"], ids=["new", "deferred", "attached"])
def test_an_opted_out_family_stays_opted_out(months: Engine, before: str | None) -> None:
    """A new, deferred or attached family can opt out; next month it is opted out and never new."""
    if before is not None:
        decide(months, "H2", before, lead_agency="Early Help", worker="W")
    decide(months, "H2", "opted_out", note="declined consent at the first visit")
    write_run(months, run_record("R-NOV", NOVEMBER), frames())
    assert statuses(months, "R-NOV")["H2"] == "opted_out"
    assert "H2" not in statuses(months, "R-NOV", STATUS_NEW)
    assert "H2" not in statuses(months, "R-NOV", STATUS_OPEN)
    assert set(statuses(months, "R-NOV", "opted_out")) == {"H2"}


def test_rejected_deferred_and_known_families_stay_on_the_list_to_consider(months: Engine) -> None:
    """Only attached, closed and opted-out families leave the default list; the others stay, not as new."""
    decide(months, "H1", "reject", reason="moved out of the area")
    decide(months, "H2", "defer")
    decide(months, "H3", "known")
    write_run(months, run_record("R-NOV", NOVEMBER), frames())
    assert statuses(months, "R-NOV", STATUS_OPEN) == {"H1": "reject", "H2": "defer", "H3": "known"}
    assert statuses(months, "R-NOV", STATUS_NEW) == {}


@pytest.mark.parametrize("before", [None, "reject", "defer", "known", "opted_out"])
def test_closing_a_family_that_is_not_attached_is_refused(months: Engine, before: str | None) -> None:
    """Only an attached family can be closed; a refused closure stores nothing."""
    if before is not None:
        decide(months, "H3", before, reason="r")
    with pytest.raises(DecisionRefused, match="only a family attached to the programme can be closed"):
        decide(months, "H3", "closed", closure_reason="moved_away")
    assert len(decision_history(months, "H3")) == (0 if before is None else 1)


def test_a_closed_family_cannot_be_closed_again(months: Engine) -> None:
    """Closing is for attached families: a closed one is refused too."""
    decide(months, "H1", "accept", lead_agency="A", worker="W")
    decide(months, "H1", "closed", closure_reason="stepped_down")
    with pytest.raises(DecisionRefused, match="status is closed"):
        decide(months, "H1", "closed", closure_reason="stepped_down")


@pytest.mark.parametrize("before", ["reject", "known", "closed"])
def test_opting_out_is_refused_unless_new_deferred_or_attached(months: Engine, before: str) -> None:
    """A rejected, already known or closed family cannot opt out."""
    if before == "closed":
        decide(months, "H1", "accept", lead_agency="A", worker="W")
        decide(months, "H1", "closed", closure_reason="moved_away")
    else:
        decide(months, "H1", before, reason="r")
    with pytest.raises(DecisionRefused, match="can opt out only while new, deferred or attached"):
        decide(months, "H1", "opted_out")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "closure reason None is not one of"),
        ({"closure_reason": "bored"}, "closure reason 'bored' is not one of"),
        ({"closure_reason": "other"}, "needs the reason written down"),
    ],
    ids=["no-reason", "unknown-reason", "other-without-text"],
)
def test_a_closure_needs_a_known_reason(months: Engine, values: dict[str, str], message: str) -> None:
    """It refuses a closure without a reason from the list, or 'other' without saying what."""
    decide(months, "H1", "accept", lead_agency="A", worker="W")
    with pytest.raises(DecisionRefused, match=message):
        decide(months, "H1", "closed", **values)
    decide(months, "H1", "closed", closure_reason="other", reason="family asked to end the work")
    assert decision_history(months, "H1")[0]["reason"] == "family asked to end the work"


def test_a_closure_reason_goes_only_with_a_closure(months: Engine) -> None:
    """A closure reason on another decision is refused."""
    with pytest.raises(DecisionRefused, match="only recorded when a family is closed"):
        decide(months, "H1", "reject", reason="r", closure_reason="moved_away")


def test_the_database_refuses_unknown_decisions_and_closure_reasons(months: Engine) -> None:
    """The CHECK constraints back the application's validation."""
    row = {"household_id": "H1", "username": "c1", "created_at": datetime.now(UTC)}
    for bad in ({"decision": "maybe"}, {"decision": "closed", "closure_reason": "bored"}):
        with pytest.raises(sa.exc.IntegrityError), months.begin() as connection:
            connection.execute(decisions.insert().values(**row, **bad))
    with months.begin() as connection:
        for decision in DECISIONS:
            connection.execute(decisions.insert().values(**row, decision=decision))


# ---------------------------------------------------------------------------- migration 0005


def _upgrade_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine, revision)
    finally:
        engine.dispose()


LATER_COLUMNS = {"closure_reason", "carried_from"}  # added by 0005 and 0007

OLD_ROWS = [
    {"household_id": "H1", "run_id": "R-OCT", "decision": "accept", "lead_agency": "Early Help", "worker": "W"},
    {"household_id": "H2", "run_id": "R-OCT", "decision": "reject", "reason": "moved away"},
    {"household_id": "H3", "run_id": "R-OCT", "decision": "defer", "note": "ask school"},
    {"household_id": "H3", "run_id": None, "decision": "known"},
]


def _write_old_decisions(engine: Engine, with_run: bool = True) -> list[dict[str, Any]]:
    """Write October's run and decisions as revision 0004 stores them; return them as read back."""
    if with_run:
        write_run(engine, run_record("R-OCT", OCTOBER), frames())
    old_columns = [column for column in decisions.c if column.name not in LATER_COLUMNS]
    old_table = sa.table("decisions", *[sa.column(column.name) for column in old_columns])
    with engine.begin() as connection:
        for row in OLD_ROWS:
            connection.execute(
                old_table.insert().values(**row, username="c1", created_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
            )
    return _old_rows(engine)


def _old_rows(engine: Engine) -> list[dict[str, Any]]:
    old_columns = [column for column in decisions.c if column.name not in LATER_COLUMNS]
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sa.select(*old_columns).order_by(decisions.c.id)).mappings()]


def test_migration_0005_upgrades_a_database_at_0004_keeping_its_decisions(store_url: str) -> None:
    """`tfident db upgrade` takes a database with decisions from 0004 to head; every row is kept."""
    # the run is written at head (the writer writes today's columns) and taken down to 0004
    upgrade(store_url)
    engine = make_engine(store_url)
    write_run(engine, run_record("R-OCT", OCTOBER), frames())
    migrate(engine, "0004", downgrade=True)
    engine.dispose()
    engine = make_engine(store_url)
    try:
        assert current_revision(engine) == "0004"
        before = _write_old_decisions(engine, with_run=False)
        assert len(before) == len(OLD_ROWS)
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:  # 0004 knows no closures
            connection.execute(
                sa.text(
                    "INSERT INTO decisions (household_id, decision, username, created_at) "
                    "VALUES ('H1', 'closed', 'c1', :at)"
                ),
                {"at": datetime(2026, 11, 2, tzinfo=UTC)},
            )

        assert upgrade(store_url) == head_revision()

        assert _old_rows(engine) == before
        with engine.connect() as connection:
            assert connection.execute(sa.select(decisions.c.closure_reason).distinct()).scalars().all() == [None]
            assert connection.execute(sa.select(sa.func.count()).select_from(metadata.tables["runs"])).scalar() == 1
        index_names = {index["name"] for index in sa.inspect(engine).get_indexes("decisions")}
        assert "ix_decisions_household_id_created_at" in index_names
        assert current_status(engine, "H1") == "accept"
        decide(engine, "H1", "closed", closure_reason="outcomes_achieved")
        assert current_status(engine, "H1") == "closed"
        with engine.begin() as connection:  # the run's foreign key survived the rebuild
            connection.execute(metadata.tables["runs"].delete().where(metadata.tables["runs"].c.run_id == "R-OCT"))
            assert set(connection.execute(sa.select(decisions.c.run_id)).scalars()) == {None}
    finally:
        engine.dispose()


def test_migration_0005_downgrades_only_without_closures_or_opt_outs(store_url: str) -> None:
    """Downgrading refuses while a closure exists; without one it restores 0004 and its CHECK."""
    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        before = _write_old_decisions(engine)
        decide(engine, "H1", "closed", closure_reason="moved_away")
        with pytest.raises(RuntimeError, match="cannot downgrade below revision 0005"):
            migrate(engine, "0004", downgrade=True)
        assert current_revision(engine) == head_revision()  # the refusal rolled every step back
        with engine.begin() as connection:
            connection.execute(decisions.delete().where(decisions.c.decision == "closed"))
        migrate(engine, "0004", downgrade=True)
        assert current_revision(engine) == "0004"
        assert "closure_reason" not in {column["name"] for column in sa.inspect(engine).get_columns("decisions")}
        assert _old_rows(engine) == before
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO decisions (household_id, decision, username, created_at) "
                    "VALUES ('H1', 'opted_out', 'c1', :at)"
                ),
                {"at": datetime(2026, 11, 2, tzinfo=UTC)},
            )
    finally:
        engine.dispose()


# ------------------------------------------------------------ migrated schema = declared schema


def _checks(engine: Engine) -> dict[str, set[tuple[str, str]]]:
    """Every table's named CHECK constraints, their text with whitespace and casts normalised."""
    inspector = sa.inspect(engine)
    found: dict[str, set[tuple[str, str]]] = {}
    for table in metadata.tables:
        found[table] = {
            (check["name"], re.sub(r"\s+", " ", check["sqltext"]).strip())
            for check in inspector.get_check_constraints(table)
        }
    return found


@pytest.fixture
def declared_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend, for ``metadata.create_all``."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'declared.db'}"
        return
    base = os.environ["TFIDENT_TEST_POSTGRES_URL"]
    schema = f"tfident_declared_{secrets.token_hex(6)}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_migrations_and_create_all_give_the_same_check_constraints(engine: Engine, declared_url: str) -> None:
    """Alembic's comparison skips CHECK constraints: they are compared here, table by table."""
    declared = make_engine(declared_url)
    try:
        metadata.create_all(declared)
        migrated_checks, declared_checks = _checks(engine), _checks(declared)
    finally:
        declared.dispose()
    assert migrated_checks == declared_checks
    assert {name for name, _ in migrated_checks["decisions"]} == {
        "ck_decisions_decision",
        "ck_decisions_closure_reason",
    }
    assert "'opted_out'" in dict(migrated_checks["decisions"])["ck_decisions_decision"]
