"""The review app's month-on-month reads on both databases: changes since the previous run, the panel
export's members, and the audited override that lifts an opted-out family's suppression.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.unit.review.review_data import OCTOBER, frames, run_record, write_busy_november
from tfident.review.changes import compare_with_previous
from tfident.store import review as store
from tfident.store import write_run


def test_changes_members_and_overrides(engine: Engine) -> None:
    """It marks carried-over, new, re-ranked and dropped families, names members with roles, and finds
    an override only when written after the family's latest decision.
    """
    write_run(engine, run_record("R-OCT", OCTOBER), frames())
    write_busy_november(engine)
    months = compare_with_previous(engine, "R-NOV")
    assert {h: c.kind for h, c in months.changes.items()} == {"H1": "carried", "H4": "new", "H2": "reranked"}
    assert [(row["household_id"], row["reasons"]) for row in months.dropped] == [("H3", "criteria_not_met")]

    members = store.household_members(engine, "R-NOV", ["H4", "H1", "H1"])
    assert [(m["name"], m["role"]) for m in members["H4"]] == [("Nia Jones", "adult")]
    assert [m["role"] for m in members["H1"]] == ["adult", "child"]  # oldest first
    assert all(m["name"].endswith("Smith") for m in members["H1"])

    store.write_audit(engine, "cora", "coordinator", store.OPT_OUT_OVERRIDE, "household", "H2", {"reason": "early"})
    store.add_decision(engine, store.DecisionInput("H2", "R-NOV", "opted_out", "cora"))
    assert store.opt_out_override(engine, "H2") is None  # written before the opt-out: does not count
    store.write_audit(engine, "cora", "coordinator", store.OPT_OUT_OVERRIDE, "household", "H2", {"reason": "consent"})
    found = store.opt_out_override(engine, "H2")
    assert found is not None
    assert found["detail_json"] == {"reason": "consent"}
    assert store.opt_out_override(engine, "H1") is None
