"""A record at the home the family had left does not take a member back there
(docs/households.md, "A record at the home the family left": ``former_homes``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.households._homes import D, keyed, placed, row
from tfident.households import REVIEW_REASONS, HouseholdsConfig, former_homes
from tfident.review.web import REVIEW_REASON_LABELS

# The children's school saw them at OLD until July 2025 and at NEW since December 2025: the family moved.
KIDS = [
    row("A_KID", "attendance", date(2025, 7, 22), "OLD"),
    row("A_KID", "attendance", date(2025, 12, 19), "NEW"),
    row("A_KID", "attendance", D, "NEW"),
    row("B_KID", "attendance", date(2025, 7, 22), "OLD"),
    row("B_KID", "school_census", date(2026, 5, 21), "NEW"),
]
# Their mother: a youth offending record at NEW in May 2026, then a health record still giving OLD in
# August (the practice never heard of the move). First evidenced latest, OLD alone would place her.
MUM = [row("MUM", "youth_offending", date(2026, 5, 24), "NEW"), row("MUM", "health", date(2026, 8, 1), "OLD")]
# The same story in another family, in every case: its mother goes to C_NEW whatever happens above.
CONTROL = [
    row("C_KID", "attendance", date(2025, 7, 22), "C_OLD"),
    row("C_KID", "attendance", date(2025, 12, 19), "C_NEW"),
    row("C_MUM", "youth_offending", date(2026, 5, 24), "C_NEW"),
    row("C_MUM", "health", date(2026, 8, 1), "C_OLD"),
]


@pytest.mark.parametrize(
    ("rows", "config", "mum"),
    [
        # the family had left OLD before she was seen with it at NEW: she lives at NEW
        ([*KIDS, *MUM], {}, "NEW"),
        # off: the rule before (the address first evidenced latest)
        ([*KIDS, *MUM], {"former_homes": False}, "OLD"),
        # her live claim (dated D) gives NEW as well: the same
        ([*KIDS, *MUM, row("MUM", "benefits", D, "NEW")], {}, "NEW"),
        # ... and a live claim, not a health record, gives OLD: an open record does not date a move back
        ([*KIDS, MUM[0], row("MUM", "benefits", D, "OLD")], {}, "NEW"),
        # the child was still recorded at OLD in June 2026 and came to NEW in July, after her May record
        # there: she was at NEW before the family left OLD, and her August record there is the latest word
        (
            [
                row("A_KID", "attendance", date(2026, 6, 10), "OLD"),
                row("A_KID", "attendance", date(2026, 7, 10), "NEW"),
                *MUM,
            ],
            {},
            "OLD",
        ),
        # their father was still seen at OLD in June 2026 and came to NEW in July: the family had not all
        # left OLD by her May record at NEW
        (
            [
                *KIDS,
                *MUM,
                row("DAD", "health", date(2025, 5, 1), "OLD"),
                row("DAD", "health", date(2026, 6, 10), "OLD"),
                row("DAD", "asb", date(2026, 7, 10), "NEW"),
            ],
            {},
            "OLD",
        ),
        # the child's only record at NEW is an open social care episode (dated D): it dates no move
        (
            [row("A_KID", "attendance", date(2025, 7, 22), "OLD"), row("A_KID", "social_care", D, "NEW"), *MUM],
            {},
            "OLD",
        ),
        # a school still gave the child OLD after the child's first record at NEW: no move of theirs is shown
        (
            [
                row("A_KID", "attendance", date(2025, 7, 22), "OLD"),
                row("A_KID", "attendance", date(2025, 12, 19), "NEW"),
                row("A_KID", "school_census", date(2026, 1, 10), "OLD"),
                row("A_KID", "attendance", D, "NEW"),
                *MUM,
            ],
            {},
            "OLD",
        ),
        # a child of the home, seen at OLD before the family left, is still placed there (a school that has
        # not heard of the move): she goes all the same (a condition that the children had all left cost 10
        # right placements and no wrong one on 32 batches; docs/households.md)
        (
            [
                *KIDS,
                *MUM,
                row("SIS_KID", "school_census", date(2025, 5, 21), "OLD"),
                row("SIS_KID", "school_census", date(2026, 10, 1), "OLD"),
            ],
            {},
            "NEW",
        ),
        # a record of hers at THIRD in June, after her first at NEW: where she lives is not known
        ([*KIDS, *MUM, row("MUM", "asb", date(2026, 6, 1), "THIRD")], {}, "OLD"),
        # ... in April, before her first at NEW: a home she had left
        ([*KIDS, *MUM, row("MUM", "asb", date(2026, 4, 1), "THIRD")], {}, "NEW"),
        # somebody else moved from OLD to THIRD, where she was seen in June, after NEW: she goes to THIRD
        (
            [
                *KIDS,
                *MUM,
                row("MUM", "asb", date(2026, 6, 1), "THIRD"),
                row("X", "health", date(2025, 5, 1), "OLD"),
                row("X", "health", date(2025, 11, 1), "THIRD"),
            ],
            {},
            "THIRD",
        ),
    ],
)
def test_a_record_at_the_home_the_family_left_does_not_take_a_member_back(
    rows: list[dict[str, Any]], config: dict[str, Any], mum: str
) -> None:
    where, flags = placed([*rows, *CONTROL], **config)
    assert where["MUM"] == mum
    assert (flags.get("NEW") == "former_home") is (mum == "NEW")
    on = config.get("former_homes", True)
    assert where["C_MUM"] == ("C_NEW" if on else "C_OLD")
    assert (flags.get("C_NEW") == "former_home") is on


@pytest.mark.parametrize(
    ("new_status", "mum"),
    [
        # in the area
        (None, "A:NEW"),
        # the family moved out of the area: her record in it keeps her here
        ("out_of_area", "U:10"),
    ],
)
def test_not_out_of_the_area(new_status: str | None, mum: str) -> None:
    records = keyed(
        [
            ("KID", "U:10", date(2025, 7, 22), None),
            ("KID", "A:NEW", date(2025, 12, 19), new_status),
            ("MUM", "A:NEW", date(2026, 5, 24), new_status),
            ("MUM", "U:10", date(2026, 8, 1), None),
        ]
    )
    address = pl.DataFrame({"person_id": ["KID", "MUM"], "address_key": ["A:NEW", "U:10"]})
    moved, flags = former_homes(records, address)
    assert dict(moved.iter_rows())["MUM"] == mum
    assert (flags == {"A:NEW": "former_home"}) is (mum == "A:NEW")


def test_on_by_default_with_a_flag_the_review_app_explains() -> None:
    assert HouseholdsConfig().former_homes is True
    assert "former_home" in REVIEW_REASONS
    assert "former_home" in REVIEW_REASON_LABELS
