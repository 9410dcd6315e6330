"""Children placed where no adult is go back to the home they left (docs/households.md, "Children
alone: back to the home they left": ``children_rejoin``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.households._homes import D, keyed, placed, row
from tfident.households import REVIEW_REASONS, HouseholdsConfig, children_rejoin
from tfident.review.web import REVIEW_REASON_LABELS

# The son's school records left OLD for NEW in May 2026; his sister's and his mother's agencies still
# give OLD (the health visitor saw the mother there in 2025; her claim, opened in 2019, is live). The
# sister is still placed at OLD, so the left-behind rule reads a split family and moves nobody: the
# son is left at NEW with no adult.
KID = [
    row("KID", "attendance", date(2025, 12, 19), "OLD"),
    row("KID", "school_census", date(2026, 5, 21), "NEW"),
    row("KID", "attendance", D, "NEW"),
]
SIS = [row("SIS_KID", "attendance", date(2025, 12, 19), "OLD"), row("SIS_KID", "attendance", D, "OLD")]
MUM = [row("MUM", "health", date(2025, 6, 2), "OLD"), row("MUM", "benefits", D, "OLD", date(2019, 3, 1))]
FAMILY = [*KID, *SIS, *MUM]
# his school census of October, which still gave OLD
LATE = row("KID", "school_census", date(2026, 10, 1), "OLD")
# a boy of another family: at THIRD in 2025, at OLD since September 2026
NEWCOMER = [
    row("BOY_KID", "attendance", date(2025, 7, 22), "THIRD", surname="JONES"),
    row("BOY_KID", "attendance", date(2026, 9, 1), "OLD", surname="JONES"),
    row("BOY_KID", "attendance", D, "OLD", surname="JONES"),
]
GRAN = [row("GRAN", "health", date(2025, 1, 9), "THIRD"), row("GRAN", "health", date(2026, 9, 30), "THIRD")]
# The same story in another family, in every case: its son goes back whatever happens above.
CONTROL = [
    row("C_KID", "attendance", date(2025, 12, 19), "C_OLD"),
    row("C_KID", "school_census", date(2026, 5, 21), "C_NEW"),
    row("C_SIS_KID", "attendance", D, "C_OLD"),
    row("C_SIS_KID", "attendance", date(2025, 12, 19), "C_OLD"),
    row("C_MUM", "health", date(2025, 6, 2), "C_OLD"),
]


def _unknown_age(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "dob": None}


@pytest.mark.parametrize(
    ("rows", "config", "kid"),
    [
        # the mother was seen at OLD before the son's first record at NEW: he goes back to her
        (FAMILY, {}, "OLD"),
        # off: the rule before (his own newest records place him)
        (FAMILY, {"children_rejoin": False}, "NEW"),
        # nor with moved_alone: split (each placed where their own records say)
        (FAMILY, {"moved_alone": "split"}, "NEW"),
        # an adult is placed at NEW (a man first seen there in September): the son is not alone
        ([*FAMILY, row("LODGER", "health", date(2026, 9, 9), "NEW")], {}, "NEW"),
        # nor when someone of unknown age is (no record of theirs gives a date of birth)
        ([*FAMILY, _unknown_age(row("LODGER", "health", date(2026, 9, 9), "NEW"))], {}, "NEW"),
        # the mother's first record at OLD is from after the son came to NEW, and she has one
        # elsewhere: she may have moved in since he left
        (
            [*KID, *SIS, row("MUM", "health", date(2024, 3, 1), "THIRD"), row("MUM", "asb", date(2026, 8, 3), "OLD")],
            {},
            "NEW",
        ),
        # every record of hers is at OLD, all from after he came, and she shares his surname: a parent
        # whose agencies have written nothing since but the old address
        ([*KID, *SIS, row("MUM", "asb", date(2026, 8, 3), "OLD")], {}, "OLD"),
        # ... of another surname she may have moved in since
        ([*KID, *SIS, row("MUM", "asb", date(2026, 8, 3), "OLD", surname="JONES")], {}, "NEW"),
        # ... unless his own agencies still recorded him at OLD after she was first seen there (his
        # school census of October): they had the two of them at OLD together
        ([*KID, LATE, *SIS, row("MUM", "asb", date(2026, 8, 3), "OLD", surname="JONES")], {}, "OLD"),
        # ... on the day of his last record there: the same
        ([*KID, LATE, *SIS, row("MUM", "asb", date(2026, 10, 1), "OLD", surname="JONES")], {}, "OLD"),
        # ... not when someone placed at OLD came there from elsewhere after he left (a boy of another
        # family, at THIRD until his school recorded him at OLD in September): a family moved in
        ([*KID, LATE, *SIS, row("MUM", "asb", date(2026, 8, 3), "OLD", surname="JONES"), *NEWCOMER], {}, "NEW"),
        # ... nor one whose record elsewhere is from the day he was first seen at OLD, not before it
        (
            [
                *KID,
                LATE,
                *SIS,
                row("MUM", "asb", date(2026, 8, 3), "OLD", surname="JONES"),
                row("BOY_KID", "exclusions", date(2026, 9, 1), "THIRD", surname="JONES"),
                *NEWCOMER[1:],
            ],
            {},
            "OLD",
        ),
        # ... a boy who came to OLD from THIRD before the son left is no newcomer
        (
            [
                *KID,
                LATE,
                *SIS,
                row("MUM", "asb", date(2026, 8, 3), "OLD", surname="JONES"),
                row("BOY_KID", "attendance", date(2025, 7, 22), "THIRD", surname="JONES"),
                row("BOY_KID", "attendance", date(2026, 4, 2), "OLD", surname="JONES"),
                row("BOY_KID", "attendance", D, "OLD", surname="JONES"),
            ],
            {},
            "OLD",
        ),
        # ... first seen there after it: she may have moved in since
        ([*KID, LATE, *SIS, row("MUM", "asb", date(2026, 10, 2), "OLD", surname="JONES")], {}, "NEW"),
        # ... with a record elsewhere as well: she may have moved in since
        (
            [
                *KID,
                LATE,
                *SIS,
                row("MUM", "health", date(2024, 3, 1), "THIRD", surname="JONES"),
                row("MUM", "asb", date(2026, 8, 3), "OLD", surname="JONES"),
            ],
            {},
            "NEW",
        ),
        # ... only a live claim at OLD: it dates nothing
        ([*KID, LATE, *SIS, row("MUM", "benefits", D, "OLD", date(2019, 3, 1), surname="JONES")], {}, "NEW"),
        # only a live claim at OLD, of his surname: the same as every record there
        ([*KID, *SIS, MUM[1]], {}, "OLD"),
        ([*KID, *SIS, row("MUM", "benefits", D, "OLD", date(2019, 3, 1), surname="JONES")], {}, "NEW"),
        # nobody but his sister at OLD: no adult to go back to
        ([*KID, *SIS], {}, "NEW"),
        # he was at THIRD in 2024 and at OLD last before NEW: OLD is the home he left
        ([row("KID", "attendance", date(2024, 3, 1), "THIRD"), *FAMILY], {}, "OLD"),
        # he was last at THIRD before NEW (OLD in 2024): no adult at THIRD, so he stays
        (
            [
                *[{**r, "evidence": date(2024, 3, 1)} if r["where"] == "OLD" else r for r in KID],
                row("KID", "attendance", date(2025, 12, 19), "THIRD"),
                *SIS,
                *MUM,
            ],
            {},
            "NEW",
        ),
        # last seen at OLD and at THIRD on the same day (his grandmother lives at THIRD, seen there in
        # 2025 and since): which home he left is not known
        (
            [
                row("KID", "exclusions", date(2025, 12, 19), "THIRD"),
                *GRAN,
                *FAMILY,
            ],
            {},
            "NEW",
        ),
        # a record at THIRD first dated the day he was first at NEW is not a home he left before it
        ([row("KID", "exclusions", date(2026, 5, 21), "THIRD"), *FAMILY], {}, "OLD"),
        # his only record at NEW is an open one (a live episode says where the agency writes): he
        # has no first record there to read a move from
        ([KID[0], row("KID", "social_care", D, "NEW", date(2026, 1, 5)), *SIS, *MUM], {}, "NEW"),
    ],
)
def test_a_child_alone_goes_back_to_the_adults_of_the_home_they_left(
    rows: list[dict[str, Any]], config: dict[str, Any], kid: str
) -> None:
    where, flags = placed([*rows, *CONTROL], **config)
    assert where["KID"] == kid
    assert where["SIS_KID"] == "OLD"
    assert (flags.get("OLD") == "children_rejoined") is (kid == "OLD")
    on = config.get("children_rejoin", True) and config.get("moved_alone") != "split"
    assert where["C_KID"] == ("C_OLD" if on else "C_NEW")
    assert (flags.get("C_OLD") == "children_rejoined") is on


def test_the_earlier_rules_come_first() -> None:
    # with no sister staying at OLD, the moved-alone rule takes the mother to NEW (she has no dated
    # record since the move) and the son is not alone there
    where, flags = placed([*KID, *MUM])
    assert where["KID"] == where["MUM"] == "NEW"
    assert flags == {"NEW": "moved_together"}


@pytest.mark.parametrize("status", [None, "out_of_area"])
def test_a_child_is_not_taken_out_of_the_area(status: str | None) -> None:
    # the son's records moved into the area (NEW); his mother's are all at OLD. Outside the area,
    # the family moved in and her agencies lag: he stays where his records place him.
    old = "U:10" if status is None else "A:OLD STREET"
    records = keyed(
        [
            ("KID", old, date(2025, 12, 19), status),
            ("KID", "U:20", date(2026, 5, 21), None),
            ("MUM", old, date(2025, 6, 2), status),
        ]
    )
    address = pl.DataFrame({"person_id": ["KID", "MUM"], "address_key": ["U:20", old]})
    roles = pl.DataFrame({"person_id": ["KID", "MUM"], "role": ["child", "adult"]})
    moved, flags = children_rejoin(records, address, roles)
    expected = old if status is None else "U:20"
    assert dict(moved.iter_rows())["KID"] == expected
    assert (flags == {old: "children_rejoined"}) is (status is None)


def test_on_by_default_with_a_flag_the_review_app_explains() -> None:
    assert HouseholdsConfig().children_rejoin is True
    assert "children_rejoined" in REVIEW_REASONS
    assert "children_rejoined" in REVIEW_REASON_LABELS
