"""A child left alone at the old home goes to the adults who were seen there with them and have moved
(docs/households.md, "Children left at the old home": ``children_follow``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.households._homes import D, keyed, placed, row
from tfident.households import REVIEW_REASONS, HouseholdsConfig, children_follow
from tfident.review.web import REVIEW_REASON_LABELS

# The mother was seen at OLD in January 2026 and at NEW since May; every record of her son, from his
# school, still gives OLD. Nobody else is placed at OLD: he is a child alone there.
KID = [row("KID", "attendance", date(2025, 12, 19), "OLD"), row("KID", "attendance", D, "OLD")]
MUM = [row("MUM", "health", date(2026, 1, 5), "OLD"), row("MUM", "asb", date(2026, 5, 21), "NEW")]
FAMILY = [*KID, *MUM]
# The same story in another family, in every case: its son follows whatever happens above.
CONTROL = [
    row("C_KID", "attendance", date(2025, 12, 19), "C_OLD"),
    row("C_KID", "attendance", D, "C_OLD"),
    row("C_MUM", "health", date(2026, 1, 5), "C_OLD"),
    row("C_MUM", "asb", date(2026, 5, 21), "C_NEW"),
]


@pytest.mark.parametrize(
    ("rows", "config", "kid"),
    [
        # the mother, seen at OLD while he was, is placed at NEW: he goes with her
        (FAMILY, {}, "NEW"),
        # off: the rule before (his own records place him)
        (FAMILY, {"children_follow": False}, "OLD"),
        # nor with moved_alone: split (each placed where their own records say)
        (FAMILY, {"moved_alone": "split"}, "OLD"),
        # an adult is placed at OLD (a man seen there in September): he is not alone
        ([*FAMILY, row("LODGER", "health", date(2026, 9, 9), "OLD")], {}, "OLD"),
        # nor when someone of unknown age is
        ([*FAMILY, {**row("LODGER", "health", date(2026, 9, 9), "OLD"), "dob": None}], {}, "OLD"),
        # his father too was seen at OLD with him and is placed at NEW: he goes
        (
            [*FAMILY, row("DAD", "health", date(2026, 2, 5), "OLD"), row("DAD", "asb", date(2026, 6, 1), "NEW")],
            {},
            "NEW",
        ),
        # ... placed at THIRD instead: which of them he lives with is not known
        (
            [*FAMILY, row("DAD", "health", date(2026, 2, 5), "OLD"), row("DAD", "asb", date(2026, 6, 1), "THIRD")],
            {},
            "OLD",
        ),
        # she was last seen at OLD before his first record there: she lived there, and his first
        # record is only when his school's extract first wrote OLD (he goes)
        ([*KID, row("MUM", "health", date(2025, 3, 2), "OLD"), MUM[1]], {}, "NEW"),
        # a record of his gives THIRD as well: his own records do not all say he stayed
        ([*FAMILY, row("KID", "exclusions", date(2025, 9, 1), "THIRD")], {}, "OLD"),
        # his sister, seen at OLD with him, is placed at THIRD (her school moved her there): only the
        # adults seen with him say where he went
        (
            [
                *FAMILY,
                row("SIS_KID", "attendance", date(2026, 1, 9), "OLD"),
                row("SIS_KID", "school_census", date(2026, 5, 21), "THIRD"),
            ],
            {},
            "NEW",
        ),
        # his brother's records are all at OLD too: both go
        ([*FAMILY, row("BRO_KID", "attendance", D, "OLD")], {}, "NEW"),
    ],
)
def test_a_child_alone_at_the_old_home_follows_the_adults_seen_there_with_them(
    rows: list[dict[str, Any]], config: dict[str, Any], kid: str
) -> None:
    where, flags = placed([*rows, *CONTROL], **config)
    assert where["KID"] == kid
    assert where["MUM"] == "NEW"
    assert (flags.get("NEW") == "children_followed") is (kid == "NEW")
    on = config.get("children_follow", True) and config.get("moved_alone") != "split"
    assert where["C_KID"] == ("C_NEW" if on else "C_OLD")
    assert (flags.get("C_NEW") == "children_followed") is on


@pytest.mark.parametrize(
    ("old", "new", "kid"),
    [
        # both in the area
        ("U:10", "U:20", "U:20"),
        # the family moved into the area; the son's school still gives the address outside it: he follows
        ("A:OLD", "U:20", "U:20"),
        # the adults' records moved out of the area: he is not taken out of it on their records
        ("U:10", "A:NEW", "U:10"),
    ],
)
def test_out_of_the_area(old: str, new: str, kid: str) -> None:
    status = {"A:OLD": "out_of_area", "A:NEW": "out_of_area"}
    records = keyed(
        [
            ("KID", old, date(2025, 12, 19), status.get(old)),
            ("KID", None, date(2026, 4, 2), None),  # a record with no address does not count against him
            ("KID", old, D, status.get(old)),
            ("MUM", old, date(2026, 1, 5), status.get(old)),
            ("MUM", new, date(2026, 5, 21), status.get(new)),
        ]
    )
    address = pl.DataFrame({"person_id": ["KID", "MUM"], "address_key": [old, new]})
    roles = pl.DataFrame({"person_id": ["KID", "MUM"], "role": ["child", "adult"]})
    moved, flags = children_follow(records, address, roles)
    assert dict(moved.iter_rows())["KID"] == kid
    assert (flags == {new: "children_followed"}) is (kid == new)


@pytest.mark.parametrize(
    ("mum_at_old", "kid"),
    [
        # seen at OLD between his first and last records there: with him
        (date(2026, 1, 5), "U:20"),
        # seen there before his first record there: she lived there when his school first wrote it
        (date(2025, 3, 2), "U:20"),
        # on the day of his last record there
        (date(2026, 4, 2), "U:20"),
        # first seen there after his last record there (April; his record of D gives no address):
        # she came after him, so is no sign that he lived with her
        (date(2026, 7, 1), "U:10"),
    ],
)
def test_the_adult_must_have_been_seen_there_by_the_childs_last_record_there(mum_at_old: date, kid: str) -> None:
    records = keyed(
        [
            ("KID", "U:10", date(2025, 12, 19), None),
            ("KID", "U:10", date(2026, 4, 2), None),
            ("KID", None, D, None),
            ("MUM", "U:10", mum_at_old, None),
            ("MUM", "U:20", date(2026, 9, 21), None),
        ]
    )
    address = pl.DataFrame({"person_id": ["KID", "MUM"], "address_key": ["U:10", "U:20"]})
    roles = pl.DataFrame({"person_id": ["KID", "MUM"], "role": ["child", "adult"]})
    moved, _ = children_follow(records, address, roles)
    assert dict(moved.iter_rows())["KID"] == kid


def test_on_by_default_with_a_flag_the_review_app_explains() -> None:
    assert HouseholdsConfig().children_follow is True
    assert "children_followed" in REVIEW_REASONS
    assert "children_followed" in REVIEW_REASON_LABELS


def test_a_child_an_earlier_rule_moved_is_not_read_again() -> None:
    # his sister's school moved her from OLD to NEW in September, after every record of his (all at
    # OLD): the moved-alone rule takes him to NEW with her. A man seen at NEW in January, while he was
    # at OLD, is placed at THIRD since: he is no adult of the boy's home, and the boy stays with her.
    rows = [
        row("KID", "attendance", date(2025, 7, 22), "OLD"),
        row("KID", "attendance", date(2026, 4, 2), "OLD"),
        row("SIS_KID", "attendance", date(2026, 4, 2), "OLD"),
        row("SIS_KID", "school_census", date(2026, 9, 1), "NEW"),
        row("LODGER", "health", date(2026, 1, 5), "NEW", surname="JONES"),
        row("LODGER", "health", date(2026, 6, 1), "THIRD", surname="JONES"),
    ]
    where, flags = placed([*rows, *CONTROL])
    assert where["KID"] == where["SIS_KID"] == "NEW"
    assert where["LODGER"] == "THIRD"
    assert flags.get("NEW") == "moved_together"
