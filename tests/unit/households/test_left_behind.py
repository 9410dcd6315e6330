"""Adults whose agencies never recorded the family's move (docs/households.md, "Adults left behind
and rare surnames": ``left_behind``, cause A of "Measured on eight seeds").
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.unit.households._homes import D, placed, row
from tfident.households import REVIEW_REASONS, HouseholdsConfig
from tfident.review.web import REVIEW_REASON_LABELS

# The son's school records left OLD for NEW in May 2026. His mother went with him: the health visitor
# saw her at OLD in 2025, and the domestic abuse service recorded her at NEW in July. His father's
# health record of 2025 and his police record of August 2026 both give OLD: the police hold no record
# of the son or the mother at NEW, and have not heard of the move.
KID = [
    row("KID", "attendance", date(2025, 12, 19), "OLD"),
    row("KID", "school_census", date(2026, 5, 21), "NEW"),
    row("KID", "attendance", D, "NEW"),
]
MUM = [row("MUM", "health", date(2025, 6, 2), "OLD"), row("MUM", "domestic_abuse", date(2026, 7, 10), "NEW")]
DAD = [row("DAD", "health", date(2025, 6, 2), "OLD"), row("DAD", "asb", date(2026, 8, 3), "OLD")]
FAMILY = [*KID, *MUM, *DAD]
# The same story in another family, in every case: the rule places its father with his son whatever
# it does for the family above (each family is read on its own).
CONTROL = [
    row("C_KID", "attendance", date(2025, 12, 19), "C_OLD"),
    row("C_KID", "school_census", date(2026, 5, 21), "C_NEW"),
    row("C_MUM", "health", date(2025, 6, 2), "C_OLD"),
    row("C_MUM", "domestic_abuse", date(2026, 7, 10), "C_NEW"),
    row("C_DAD", "health", date(2025, 6, 2), "C_OLD"),
    row("C_DAD", "asb", date(2026, 8, 3), "C_OLD"),
]


@pytest.mark.parametrize(
    ("rows", "config", "dad"),
    [
        # A: the father, seen at OLD before his son left, is seen there since only by a source that
        # holds no record of the son or the mother at NEW
        (FAMILY, {}, "NEW"),
        # off: the rule before (his record since the move keeps him at OLD)
        (FAMILY, {"left_behind": False}, "OLD"),
        # the police recorded the mother at NEW in July: their record of him at OLD in August is from
        # a system that heard of the move, and says he stayed
        ([*FAMILY, row("MUM", "asb", date(2026, 7, 1), "NEW")], {}, "OLD"),
        # a sister, seen at OLD before the move, is still placed there: the family split
        ([*FAMILY, row("SIS_KID", "attendance", date(2025, 12, 19), "OLD")], {}, "OLD"),
        # ... also when she has a record elsewhere (at THIRD, in 2024, before she came to OLD)
        (
            [
                *FAMILY,
                row("SIS_KID", "attendance", date(2024, 3, 1), "THIRD"),
                row("SIS_KID", "attendance", date(2025, 12, 19), "OLD"),
            ],
            {},
            "OLD",
        ),
        # a child of another surname, first seen at OLD since the move and nowhere else, is still
        # placed there: OLD is not left to a child alone
        ([*FAMILY, row("SIS_KID", "attendance", D, "OLD", surname="JONES")], {}, "OLD"),
        # a girl at NEW since 2025, seen nowhere else, was there before the son came: he may have
        # moved in with another family, not the father's
        ([*FAMILY, row("GIRL_KID", "attendance", date(2025, 7, 22), "NEW")], {}, "OLD"),
        # a man first seen anywhere at NEW in September, after the son came: he came with them or
        # since, and the father still goes
        ([*FAMILY, row("LODGER", "health", date(2026, 9, 9), "NEW")], {}, "NEW"),
        # someone only an open record (a live claim) places at NEW says nothing of who was there first
        ([*FAMILY, row("AUNT", "benefits", D, "NEW", date(2020, 1, 6))], {}, "NEW"),
        # the son came to NEW from THIRD, not from his father's home
        ([*[{**r, "where": "THIRD"} if r["where"] == "OLD" else r for r in KID], *MUM, *DAD], {}, "OLD"),
        # every record of the father is at OLD and after the move: he shares the son's surname, so
        # he is a father whose agencies have written nothing since but the old address
        ([*KID, *MUM, DAD[1]], {}, "NEW"),
        # ... unless his surname is no one's at NEW: he may have moved in since the family left
        ([*KID, *MUM, {**DAD[1], "surname": "JONES"}], {}, "OLD"),
        # only a live claim at OLD (opened years ago), of the family's surname: the same
        ([*KID, *MUM, row("DAD", "benefits", D, "OLD", date(2019, 3, 1))], {}, "NEW"),
        ([*KID, *MUM, row("DAD", "benefits", D, "OLD", date(2019, 3, 1), surname="JONES")], {}, "OLD"),
        # a record of his at THIRD in 2024: not every record of his is at OLD, and none there is from
        # before the move (he may have come to OLD since)
        ([*KID, *MUM, DAD[1], row("DAD", "health", date(2024, 3, 1), "THIRD")], {}, "OLD"),
        # ... nor when the record at THIRD is from after the move (June; OLD is his newest, in August)
        ([*KID, *MUM, DAD[1], row("DAD", "health", date(2026, 6, 1), "THIRD")], {}, "OLD"),
        # only with the family moving together
        (FAMILY, {"moved_alone": "split"}, "OLD"),
    ],
)
def test_an_adult_whose_agencies_never_heard_of_the_move_goes_with_the_children(
    rows: list[dict[str, Any]], config: dict[str, Any], dad: str
) -> None:
    where, flags = placed([*rows, *CONTROL], **config)
    assert where["DAD"] == dad
    assert where["KID"] == where["MUM"] == "NEW"
    assert (flags.get("NEW") == "left_behind") is (dad == "NEW")
    on = config.get("left_behind", True) and config.get("moved_alone", "move_together") == "move_together"
    assert where["C_DAD"] == ("C_NEW" if on else "C_OLD")
    assert (flags.get("C_NEW") == "left_behind") is on


def test_a_child_of_the_family_whose_every_record_lags_goes_too() -> None:
    # the sister's only record, an exclusion of October, still gives OLD: of the family's surname and
    # seen nowhere else, she is one of the family its agencies have not updated
    sister = row("SIS_KID", "exclusions", date(2026, 10, 5), "OLD")
    where, flags = placed([*FAMILY, sister])
    assert where["DAD"] == where["SIS_KID"] == where["KID"] == "NEW"
    assert flags["NEW"] == "left_behind"
    # the exclusions feed recorded the son at NEW since the move: its record of her at OLD says she
    # stayed, and the family is split (nobody is moved)
    where, flags = placed([*FAMILY, sister, row("KID", "exclusions", date(2026, 9, 1), "NEW")])
    assert where["DAD"] == where["SIS_KID"] == "OLD"
    assert "NEW" not in flags


def test_children_alone_at_the_new_home_keep_the_lone_children_flag() -> None:
    where, flags = placed([*KID, *DAD])
    assert where["DAD"] == where["KID"] == "NEW"
    assert flags["NEW"] == "lone_children"


def test_both_adults_of_the_home_go_or_neither() -> None:
    grandma = [row("GRAN", "health", date(2025, 1, 9), "OLD"), row("GRAN", "health", date(2026, 9, 30), "OLD")]
    where, _ = placed([*FAMILY, *grandma])
    assert where["DAD"] == where["GRAN"] == "NEW"
    # the domestic abuse service saw the mother at NEW in July and the grandmother at OLD in
    # September: she stayed, and so the father is not taken either (which adult went is not known)
    where, flags = placed([*FAMILY, *grandma, row("GRAN", "domestic_abuse", date(2026, 9, 30), "OLD")])
    assert where["DAD"] == where["GRAN"] == "OLD"
    assert "NEW" not in flags


def test_on_by_default_with_a_flag_the_review_app_explains() -> None:
    assert HouseholdsConfig().left_behind is True
    assert "left_behind" in REVIEW_REASONS
    assert "left_behind" in REVIEW_REASON_LABELS
