"""Decisions follow families through merges and splits, and two coordinators cannot both decide at once.

On both databases. October's run (R-OCT) has decisions; November's run is published with
identity events: the attached household H7 merged into H2 (H2 kept its id), and H3 split,
some of its members now living in H5 (see tfident.store.carry for the rules).
"""

from __future__ import annotations

import threading
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.unit.review.review_data import NOVEMBER, OCTOBER, frames, run_record
from tfident.identity import IDENTITY_EVENTS_SCHEMA
from tfident.store import current_revision, make_engine, write_run
from tfident.store.carry import CARRY_USER, DECISION_CARRIED
from tfident.store.engine import migrate
from tfident.store.review import (
    STATUS_NEW,
    STATUS_OPEN,
    CandidateQuery,
    DecisionInput,
    DecisionRefused,
    add_decision,
    decision_history,
    latest_decision_id,
    query_candidates,
)
from tfident.store.tables import metadata

decisions = metadata.tables["decisions"]
audit = metadata.tables["audit_log"]

EVENTS = pl.DataFrame(
    [("household_merge", "H2;H7", "H2"), ("household_split", "H3", "H3;H5"), ("household_moved", "H1", "H1")],
    schema=IDENTITY_EVENTS_SCHEMA,
    orient="row",
)


@pytest.fixture
def months(engine: Engine) -> Engine:
    """October's run with decisions on H7 (attached), H2 (rejected) and H3 (deferred)."""
    write_run(engine, run_record("R-OCT", OCTOBER), frames())
    decide(engine, "H7", "accept", lead_agency="Early Help", worker="J Bloggs")
    decide(engine, "H2", "reject", reason="no current concerns")
    decide(engine, "H3", "defer")
    return engine


def decide(engine: Engine, household_id: str, decision: str, run_id: str = "R-OCT", **values: Any) -> None:
    add_decision(
        engine, DecisionInput(household_id=household_id, run_id=run_id, decision=decision, username="c1", **values)
    )


def publish_november(engine: Engine, run_id: str = "R-NOV") -> None:
    write_run(engine, run_record(run_id, NOVEMBER), {**frames(), "identity_events": EVENTS})


def statuses(engine: Engine, run_id: str, status: str = "") -> dict[str, str]:
    rows = query_candidates(engine, run_id, CandidateQuery(status=status, page_size=0)).rows
    return {row["household_id"]: row["status"] for row in rows}


def count_decisions(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one())


def test_an_attached_family_that_merged_keeps_the_merged_family_attached(months: Engine) -> None:
    """H7 was attached and moved in with H2 (rejected): November's H2 is attached, not on the list to consider."""
    publish_november(months)
    assert statuses(months, "R-NOV") == {"H1": STATUS_NEW, "H2": "accept", "H3": "defer"}
    assert "H2" not in statuses(months, "R-NOV", STATUS_OPEN)
    latest = decision_history(months, "H2")[0]
    assert (latest["decision"], latest["carried_from"], latest["username"], latest["run_id"]) == (
        "accept",
        "H7",
        CARRY_USER,
        "R-NOV",
    )
    assert (latest["lead_agency"], latest["worker"]) == ("Early Help", "J Bloggs")
    assert "Carried over from household H7" in latest["note"]


def test_the_part_of_a_split_family_living_apart_keeps_the_familys_decision(months: Engine) -> None:
    """H3 was deferred; the members now in H5 are deferred too, and H3 keeps its own decision."""
    publish_november(months)
    (h5,) = decision_history(months, "H5")
    assert (h5["decision"], h5["carried_from"]) == ("defer", "H3")
    assert [d["carried_from"] for d in decision_history(months, "H3")] == [None]


def test_publishing_audits_each_carried_decision_and_copies_nothing_twice(months: Engine) -> None:
    """Each copy has an audit row; the run's publish row counts them; a re-run of the month copies nothing more."""
    publish_november(months)
    before = count_decisions(months)
    publish_november(months, "R-NOV-2")  # the same month run again: supersedes R-NOV
    assert count_decisions(months) == before == 5
    with months.connect() as connection:
        carried = connection.execute(
            sa.select(audit.c.object_type, audit.c.object_id, audit.c.detail_json)
            .where(audit.c.action == DECISION_CARRIED)
            .order_by(audit.c.id)
        ).all()
        published = connection.execute(
            sa.select(audit.c.detail_json).where(audit.c.action == "run.published").order_by(audit.c.id)
        ).scalars()
        counts = [detail["decisions_carried"] for detail in published]
    assert [(kind, household) for kind, household, _ in carried] == [("household", "H2"), ("household", "H5")]
    assert carried[0][2] == {"run_id": "R-NOV", "from": "H7", "event": "household_merge", "decision": "accept"}
    assert counts == [0, 2, 0]


def test_a_coordinator_can_decide_again_on_a_carried_decision(months: Engine) -> None:
    """A carried attachment is a decision like any other: the family can be closed."""
    publish_november(months)
    decide(months, "H2", "closed", run_id="R-NOV", closure_reason="moved_away")
    assert statuses(months, "R-NOV")["H2"] == "closed"


def test_a_decision_on_a_stale_page_is_refused(months: Engine) -> None:
    """A coordinator who saw no decision cannot overwrite one recorded since; with the fresh id they can."""
    seen = latest_decision_id(months, "H1")
    assert seen == 0
    decide(months, "H1", "defer", seen_decision_id=seen)
    with pytest.raises(DecisionRefused, match="c1 recorded another decision about this family"):
        decide(months, "H1", "reject", reason="r", seen_decision_id=seen)
    decide(months, "H1", "reject", reason="r", seen_decision_id=latest_decision_id(months, "H1"))
    assert [d["decision"] for d in decision_history(months, "H1")] == ["reject", "defer"]


def test_two_coordinators_deciding_at_once_cannot_both_win(months: Engine) -> None:
    """Both saw the family with no decision and submit together: one decision is stored, the other refused."""
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(decision: str) -> None:
        start.wait()
        try:
            decide(months, "H1", decision, lead_agency="A", worker="W", reason="r", seen_decision_id=0)
            outcomes.append("saved")
        except DecisionRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit, args=(decision,)) for decision in ("accept", "reject")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused", "saved"]
    assert len(decision_history(months, "H1")) == 1


def test_migration_0007_adds_carried_from_keeping_every_decision(store_url: str) -> None:
    """A database at 0006 with decisions goes to head and back; its decisions are kept."""
    engine = make_engine(store_url)
    try:
        # the run is written at head (the writer writes today's columns) and taken down to 0006
        migrate(engine)
        write_run(engine, run_record("R-OCT", OCTOBER), frames())
        migrate(engine, "0006", downgrade=True)
        columns = [column for column in decisions.c if column.name != "carried_from"]
        with engine.begin() as connection:
            connection.execute(
                sa.table("decisions", *[sa.column(c.name) for c in columns])
                .insert()
                .values(household_id="H1", run_id="R-OCT", decision="defer", username="c1", created_at=OCTOBER)
            )

        def rows() -> list[dict[str, Any]]:
            with engine.connect() as connection:
                return [dict(row) for row in connection.execute(sa.select(*columns)).mappings()]

        before = rows()
        migrate(engine)
        assert rows() == before
        assert [d["carried_from"] for d in decision_history(engine, "H1")] == [None]
        migrate(engine, "0006", downgrade=True)
        assert current_revision(engine) == "0006"
        assert "carried_from" not in {c["name"] for c in sa.inspect(engine).get_columns("decisions")}
        assert rows() == before
    finally:
        engine.dispose()


def test_a_decision_on_last_months_run_follows_the_family_into_this_months_households(months: Engine) -> None:
    """Decided on October's run after November was published, the decision reaches the households it became."""
    publish_november(months)
    decide(months, "H3", "accept", lead_agency="Early Help", worker="W")  # on R-OCT; H3 split into H3 and H5
    (h5, h5_before) = decision_history(months, "H5")
    assert (h5["decision"], h5["carried_from"], h5["run_id"], h5_before["decision"]) == (
        "accept",
        "H3",
        "R-NOV",
        "defer",
    )
    decide(months, "H7", "closed", closure_reason="outcomes_achieved")  # H7 merged into H2, which took its accept
    h2 = decision_history(months, "H2")[0]
    assert (h2["decision"], h2["closure_reason"], h2["carried_from"]) == ("closed", "outcomes_achieved", "H7")
    before = count_decisions(months)
    decide(months, "H1", "defer")  # H1 only moved: nothing to carry
    assert count_decisions(months) == before + 1
    decide(months, "H2", "defer", run_id="R-NOV")  # a decision on the latest run carries nowhere
    assert count_decisions(months) == before + 2
