"""Which decision follows a family through a merge or a split (tfident.store.carry), as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from tfident.identity import IDENTITY_EVENTS_SCHEMA
from tfident.store.carry import choose, lineage
from tfident.store.tables import DECISIONS, SETTLED_DECISIONS

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def row(decision_id: int, decision: str, household_id: str = "HX", day: int = 0) -> dict[str, Any]:
    return {"id": decision_id, "decision": decision, "household_id": household_id, "created_at": T0 + timedelta(day)}


def events(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=IDENTITY_EVENTS_SCHEMA, orient="row")


def test_lineage_reads_merges_and_splits_but_not_moves() -> None:
    """A merge gives the kept id its other parents; a split gives each new part the old id."""
    found = lineage(
        events(
            ("household_merge", "H1;H2", "H2"),
            ("household_split", "H3", "H3;H9"),
            ("household_moved", "H4", "H4"),
            ("person_merge", "P1;P2", "P1"),
        )
    )
    assert found == {"H2": {"H1": "household_merge"}, "H9": {"H3": "household_split"}}
    assert lineage(None) == {}
    assert lineage(pl.DataFrame(schema=IDENTITY_EVENTS_SCHEMA)) == {}


def test_a_settled_parent_wins_over_an_unsettled_family() -> None:
    """An attached family that moved in with a rejected one keeps the merged family attached."""
    chosen = choose(row(5, "reject", "H2", day=9), [row(1, "accept", "H1", day=1)])
    assert chosen is not None
    assert chosen["decision"] == "accept"


def test_a_family_with_its_own_settled_decision_keeps_it() -> None:
    """Nothing is copied onto a family that is itself attached, closed or opted out."""
    assert choose(row(5, "closed", "H2"), [row(6, "accept", "H1", day=3)]) is None


def test_a_new_part_of_a_split_takes_its_parents_latest_decision() -> None:
    """A part without decisions inherits its parent's latest one, settled or not."""
    chosen = choose(None, [row(3, "defer", "H3", day=2)])
    assert chosen is not None
    assert chosen["id"] == 3
    assert choose(None, []) is None
    assert choose(row(1, "defer"), [row(2, "reject", "H1", day=5)]) is None  # its own unsettled decision stands


@given(
    current=st.none() | st.sampled_from(DECISIONS),
    parents=st.lists(st.tuples(st.sampled_from(DECISIONS), st.integers(0, 30)), max_size=5),
)
def test_a_settled_family_is_never_left_unsettled_by_the_carry(current: str | None, parents: list[Any]) -> None:
    """After the carry, the family is settled whenever it or any parent was; a copy is always a parent's latest."""
    inherited = [row(i + 10, decision, f"P{i}", day) for i, (decision, day) in enumerate(parents)]
    own = row(1, current, "HX", 0) if current is not None else None
    chosen = choose(own, inherited)
    after = (chosen or own or {}).get("decision")
    if current in SETTLED_DECISIONS or any(decision in SETTLED_DECISIONS for decision, _ in parents):
        assert after in SETTLED_DECISIONS
    if chosen is not None:
        assert chosen in inherited
        same_kind = [
            r for r in inherited if (r["decision"] in SETTLED_DECISIONS) == (chosen["decision"] in SETTLED_DECISIONS)
        ]
        assert chosen == max(same_kind, key=lambda r: (r["created_at"], r["id"]))
    if own is not None and chosen is None:
        assert after == current


def test_a_copied_decision_gives_way_to_its_parents_newer_decision() -> None:
    """A household whose status was copied from a parent takes the parent's later decision, once."""
    copy = {**row(7, "accept", "H2", day=2), "carried_from": "H1"}
    newer = row(9, "closed", "H1", day=5)
    assert choose(copy, [newer]) == newer
    copied_again = {**row(10, "closed", "H2", day=6), "carried_from": "H1"}
    assert choose(copied_again, [newer]) is None  # the copy is newer than its source: nothing to do
    assert choose(copy, [row(3, "accept", "H1", day=1)]) is None  # the source it was copied from
