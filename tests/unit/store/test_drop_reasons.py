"""Why a family dropped off the candidate list, worked out from both runs' tables (pure part)."""

from __future__ import annotations

import polars as pl
import pytest

from tfident.store.diff import DROP_REASONS, REASON_COLUMNS, DropContext, diff_runs, drop_reasons


def context(**overrides: object) -> DropContext:
    """H1 (P1, P2) stays whole and keeps its criteria unless a case says otherwise."""
    values: dict[str, object] = {
        "members_a": {"H1": ["P1", "P2"]},
        "household_b": {"P1": "H1", "P2": "H1"},
        "households_b": {"H1"},
        "criteria_b": {"H1": {"crime_asb", "education"}},
        "events_b": [],
        "decisions": {},
    }
    values.update(overrides)
    return DropContext(**values)  # type: ignore[arg-type]


def reasons(ctx: DropContext, criteria_met: str = "crime_asb;education") -> tuple[str, str]:
    """(reasons, why) of H1 dropped with ``criteria_met`` in run A."""
    dropped = pl.DataFrame({"household_id": ["H1"], "criteria_met": [criteria_met]})
    frame = drop_reasons(dropped, ctx)
    assert frame.columns == list(REASON_COLUMNS)
    return frame.row(0)[1], frame.row(0)[2]


@pytest.mark.parametrize(
    ("case", "ctx", "kinds", "why"),
    [
        (
            "a criterion no longer met",
            context(criteria_b={"H1": {"crime_asb"}}),
            "criteria_not_met",
            "no longer meets education",
        ),
        (
            "a member moved out, taking a criterion",
            context(household_b={"P1": "H1", "P2": "H7"}, criteria_b={"H1": {"education"}}),
            "member_moved_out;criteria_not_met",
            "1 member(s) moved out: P2 now in H7; no longer meets crime_asb",
        ),
        (
            "merged into another household",
            context(
                household_b={"P1": "H9", "P2": "H9"},
                households_b=set(),
                events_b=[("household_merge", ["H1", "H9"], ["H9"])],
            ),
            "merged",
            "merged into H9",
        ),
        (
            "split",
            context(
                household_b={"P1": "H1", "P2": "H5"},
                events_b=[("household_split", ["H1"], ["H1", "H5"])],
                criteria_b={"H1": {"education"}},
            ),
            "split;criteria_not_met",
            "split: members now also in H5; no longer meets crime_asb",
        ),
        (
            "no longer in any household",
            context(household_b={"P1": None}, households_b=set(), criteria_b={}),
            "no_household",
            "no member of it is in any household in run B",
        ),
        (
            "settled, and its criteria lapsed",
            context(criteria_b={"H1": {"crime_asb"}}, decisions={"H1": "accept"}),
            "criteria_not_met;settled",
            "no longer meets education; settled: latest decision accept",
        ),
        (
            "opted out while still meeting the criteria",
            context(decisions={"H1": "opted_out"}),
            "settled",
            "settled: latest decision opted_out",
        ),
        ("nothing explains it", context(decisions={"H1": "reject"}), "unexplained", None),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else "",
)
def test_it_says_why_a_family_dropped(case: str, ctx: DropContext, kinds: str, why: str | None) -> None:
    """It names every reason that applies, the most telling first, with ids and criteria only."""
    found_kinds, found_why = reasons(ctx)
    assert found_kinds == kinds, case
    assert all(kind in DROP_REASONS for kind in found_kinds.split(";"))
    if why is not None:
        assert found_why == why


def test_diff_runs_carries_the_reasons_on_dropped_families() -> None:
    """It joins the reasons onto the dropped families, and leaves them null without any."""
    a = pl.DataFrame({"household_id": ["H1", "H2"], "rank": [1, 2], "criteria_met": ["work", "work"]})
    b = pl.DataFrame({"household_id": ["H2"], "rank": [1], "criteria_met": ["work"]})
    plain = diff_runs(a, b)
    assert plain.dropped.select("household_id", "reasons", "why").rows() == [("H1", None, None)]
    why = pl.DataFrame({"household_id": ["H1"], "reasons": ["no_household"], "why": ["gone"]})
    assert diff_runs(a, b, why).as_dict()["dropped"][0]["reasons"] == "no_household"
