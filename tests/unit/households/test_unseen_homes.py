"""Nobody is left in a household at whose address no record of any member is
(docs/households.md, "A household no record places there": ``unseen_homes``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.households._homes import D, keyed, placed, row
from tfident.households import HouseholdsConfig, unseen_homes

# Lagged seed 156, TH000609: the family moved from OLD to NEW, and nearly every agency still writes OLD.
# Their mother's claim and GP give OLD; she is not of the children's surname.
MUM = [
    row("MUM", "benefits", date(2026, 6, 21), "OLD", surname="JONES"),
    row("MUM", "health", date(2026, 7, 6), "OLD", surname="JONES"),
    row("MUM", "benefits", D, "OLD", surname="JONES"),
]
# The children's school records: each term's feed and date.
TERMS = [
    ("attendance", date(2025, 7, 22)),
    ("attendance", date(2025, 12, 19)),
    ("attendance", date(2026, 4, 2)),
    ("school_census", date(2026, 5, 21)),
    ("attendance", date(2026, 7, 22)),
    ("school_census", date(2026, 10, 1)),
    ("attendance", D),
]


def school(child: str, new_from: set[str]) -> list[dict[str, Any]]:
    """``child``'s school records: at NEW from the census of May 2026 on in the sources ``new_from``,
    at OLD otherwise.
    """
    return [
        row(child, source, when, "NEW" if source in new_from and when >= date(2026, 5, 21) else "OLD")
        for source, when in TERMS
    ]


# Isla's census gives NEW from May; her attendance feed still gives OLD.
ISLA = school("ISLA_KID", {"school_census"})
# Lily's youth offending record gives NEW in September; her schools still give OLD.
LILY = [*school("LILY_KID", set()), row("LILY_KID", "youth_offending", date(2026, 9, 21), "NEW")]
# Benjamin: every record gives OLD.
BEN = school("BEN_KID", set())


@pytest.mark.parametrize(("on", "ben"), [(True, "OLD"), (False, "NEW")])
def test_a_child_taken_along_with_children_who_went_back_is_not_left_where_nothing_places_him(
    on: bool, ben: str
) -> None:
    """The moved-alone rule takes Benjamin with his sisters to NEW; ``children_rejoin`` takes the sisters
    back to OLD, their mother's home. Off, Benjamin stays at NEW alone, where no record of his is.
    """
    where, flags = placed([*MUM, *LILY, *ISLA, *BEN], unseen_homes=on)
    assert (where["MUM"], where["LILY_KID"], where["ISLA_KID"]) == ("OLD", "OLD", "OLD")
    assert where["BEN_KID"] == ben
    assert flags.get("OLD") == "children_rejoined"


def test_on_by_default() -> None:
    assert HouseholdsConfig().unseen_homes is True


OWN = pl.DataFrame(
    {"person_id": ["X", "Y", "Z", "W", "V"], "address_key": ["U:1", "U:1", "U:3", "U:4", None]},
    schema={"person_id": pl.String, "address_key": pl.String},
)


@pytest.mark.parametrize(
    ("now", "records", "expected"),
    [
        # X was placed at U:2, where no record of anyone there is: back to U:1
        ({"X": "U:2"}, [("X", "U:1")], {"X": "U:1"}),
        # ... an address with no UPRN alike
        ({"X": "A:TF1|2 HIGH STREET"}, [("X", "U:1")], {"X": "U:1"}),
        # Y was placed at U:3 with Z, whose record is there: Y stays
        ({"Y": "U:3", "Z": "U:3"}, [("Y", "U:1"), ("Z", "U:3")], {"Y": "U:3", "Z": "U:3"}),
        # X and Y both placed at U:2, neither seen there: both go back to their own
        ({"X": "U:2", "Y": "U:2"}, [("X", "U:1"), ("Y", "U:1")], {"X": "U:1", "Y": "U:1"}),
        # a record at U:2 of someone placed elsewhere does not vouch for the people placed at U:2
        ({"X": "U:2", "W": "U:4"}, [("X", "U:1"), ("W", "U:2"), ("W", "U:4")], {"X": "U:1", "W": "U:4"}),
        # a person placed nowhere stays nowhere
        ({"V": None}, [("V", None)], {"V": None}),
    ],
)
def test_the_people_of_an_address_no_record_of_theirs_gives_go_back_to_their_own(
    now: dict[str, str | None], records: list[tuple[str, str | None]], expected: dict[str, str | None]
) -> None:
    address = pl.DataFrame(
        {"person_id": list(now), "address_key": list(now.values())},
        schema={"person_id": pl.String, "address_key": pl.String},
    )
    seen = keyed([(person, key, date(2026, 1, 1), None) for person, key in records])
    got = unseen_homes(seen, address, OWN)
    assert dict(got.iter_rows()) == expected


def test_an_open_record_vouches_for_its_address() -> None:
    """A live claim gives the address DWP writes to: the people placed there with its claimant stay."""
    address = pl.DataFrame({"person_id": ["Y", "Z"], "address_key": ["U:3", "U:3"]})
    seen = keyed([("Y", "U:1", date(2026, 1, 1), None), ("Z", "U:3", D, None)]).with_columns(
        (pl.col("person_id") == "Z").alias("_open")
    )
    assert dict(unseen_homes(seen, address, OWN).iter_rows()) == {"Y": "U:3", "Z": "U:3"}
