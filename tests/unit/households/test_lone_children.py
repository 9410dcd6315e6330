"""Children whose adults' records all still give the home they left (docs/households.md,
"Children placed alone": ``lone_children``, cause A of "Measured on eight seeds").
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.unit.households._homes import D, row
from tests.unit.households._homes import placed as _placed
from tfident.households import HouseholdsConfig


def placed(rows: list[dict[str, Any]], **config: Any) -> tuple[dict[str, str], dict[str, str]]:
    """:func:`tests.unit.households._homes.placed` with ``lone_children`` on unless told (it is off by
    default) and ``left_behind`` off (the wider rule, tested in test_left_behind.py), and
    ``children_rejoin`` off (the rule after it, tested in test_children_rejoin.py).
    """
    return _placed(rows, **{"lone_children": True, "left_behind": False, "children_rejoin": False, **config})


# The son's school records left OLD for NEW in May 2026 (the school census, then attendance). His
# mother was seen at OLD by the health visitor in 2025 and by the police in August 2026: a police
# system that holds no record of the son, and never heard of the move.
KID = [
    row("KID", "attendance", date(2025, 12, 19), "OLD"),
    row("KID", "school_census", date(2026, 5, 21), "NEW"),
    row("KID", "attendance", D, "NEW"),
]
MUM = [row("MUM", "health", date(2025, 6, 2), "OLD"), row("MUM", "asb", date(2026, 8, 3), "OLD")]
# The same story in another family, in every case: the rule places its mother with her son whatever
# it does for the family above (each family is read on its own).
CONTROL = [
    row("C_MUM", "health", date(2025, 6, 2), "C_OLD"),
    row("C_MUM", "benefits", date(2026, 9, 1), "C_OLD"),
    row("C_KID", "attendance", date(2025, 12, 19), "C_OLD"),
    row("C_KID", "school_census", date(2026, 5, 21), "C_NEW"),
]


@pytest.mark.parametrize(
    ("rows", "config", "mum"),
    [
        # A: the children at NEW have no adult; their mother, seen at OLD before they left, is seen
        # there since only by a source that has no record of them at NEW
        ([*KID, *MUM], {}, "NEW"),
        # the police recorded the son at NEW in July: their record of his mother at OLD in August
        # is from a system that heard of the move, and says she stayed
        ([*KID, *MUM, row("KID", "asb", date(2026, 7, 1), "NEW")], {}, "OLD"),
        # the police's record of the son is at OLD, before the move: they have not heard of it
        ([*KID, *MUM, row("KID", "asb", date(2026, 3, 1), "OLD")], {}, "NEW"),
        # a sister, seen at OLD before the move, is still placed there: the family split
        ([*KID, *MUM, row("SIS_KID", "attendance", date(2025, 12, 19), "OLD")], {}, "OLD"),
        # a girl at NEW since 2025, before the son came: the children there have an adult the
        # records do not show, and the son may be with them
        ([*KID, *MUM, row("GIRL_KID", "attendance", date(2025, 7, 22), "NEW")], {}, "OLD"),
        # an adult is placed at NEW: the son is not alone
        ([*KID, *MUM, row("DAD", "health", date(2026, 9, 9), "NEW")], {}, "OLD"),
        # the son came to NEW from THIRD, not from his mother's home
        ([*[{**r, "where": "THIRD"} if r["where"] == "OLD" else r for r in KID], *MUM], {}, "OLD"),
        # the mother's first record at OLD is after the son left: not shown to have lived with him
        ([*KID, row("MUM", "asb", date(2026, 8, 3), "OLD")], {}, "OLD"),
        # a live claim (dated D) is not a sighting: it says where DWP writes now, not since when
        ([*KID, row("MUM", "benefits", D, "OLD"), row("MUM", "asb", date(2026, 8, 3), "OLD")], {}, "OLD"),
        # off (the default): the rule before
        ([*KID, *MUM], {"lone_children": False}, "OLD"),
    ],
)
def test_children_placed_alone_take_the_adults_of_the_home_they_left(
    rows: list[dict[str, Any]], config: dict[str, Any], mum: str
) -> None:
    where, flags = placed([*rows, *CONTROL], **config)
    assert where["MUM"] == mum
    assert where["KID"] == "NEW"
    assert (flags.get("NEW") == "lone_children") is (mum == "NEW")
    on = config.get("lone_children", True)  # placed() turns it on unless told
    assert where["C_MUM"] == ("C_NEW" if on else "C_OLD")
    assert (flags.get("C_NEW") == "lone_children") is on


def test_someone_who_came_to_the_old_home_since_stays_there() -> None:
    # a lodger first seen at OLD after the son left came since: the mother goes, the lodger stays
    lodger = row("LODGER", "health", date(2026, 9, 20), "OLD")
    where, flags = placed([*KID, *MUM, lodger])
    assert where["MUM"] == where["KID"] == "NEW"
    assert where["LODGER"] == "OLD"
    assert flags["NEW"] == "lone_children"


def test_both_adults_of_the_home_go_or_neither() -> None:
    dad = [row("DAD", "health", date(2025, 3, 3), "OLD"), row("DAD", "benefits", date(2026, 9, 30), "OLD")]
    where, _ = placed([*KID, *MUM, *dad])
    assert where["MUM"] == where["DAD"] == "NEW"
    # the police saw the son at NEW in July and the father at OLD in September: the father stayed,
    # and so the mother is not taken either (which adult went with the son is not known)
    where, flags = placed([*KID, *MUM, *dad, row("KID", "asb", date(2026, 7, 1), "NEW"), {**dad[1], "source": "asb"}])
    assert where["MUM"] == where["DAD"] == "OLD"
    assert "NEW" not in flags


def test_the_moved_alone_rule_comes_first_and_keeps_its_flag() -> None:
    # the mother has no record since the son moved: the moved-alone rule takes her along
    where, flags = placed([*KID, MUM[0]])
    assert where["MUM"] == "NEW"
    assert flags["NEW"] == "moved_together"


def test_off_by_default_and_only_when_the_family_moves_together() -> None:
    assert HouseholdsConfig().lone_children is False
    for config in ({"moved_alone": "split"}, {"mover_roles": ("adult",)}):
        where, flags = placed([*KID, *MUM], **config)
        assert where["MUM"] == "OLD"
        assert "NEW" not in flags
