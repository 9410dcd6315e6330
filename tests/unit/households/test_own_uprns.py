"""A record with no UPRN whose address is that of one of the person's own UPRNs takes it (``own_uprns``,
docs/households.md "A record's address"): the person's records say which address the text means.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.households import HouseholdsConfig, address_keys, assign_households

D = date(2026, 10, 31)

# 4 Queens Street in two outward codes (1, 2); a block with two flats (11, 12); a house (20).
GAZETTEER = pl.DataFrame(
    {
        "uprn": [1, 2, 11, 12, 20],
        "address_line_1": ["4 Queens Street", "4 Queens Street", "Flat 1", "Flat 2", "3 Mill Lane"],
        "address_line_2": ["Hollinsdale", "Northfield", "7 Park Road", "7 Park Road", None],
        "town": ["Tenford"] * 5,
        "postcode": ["TF7 9AT", "TF2 4BB", "TF1 2BB", "TF1 2BB", "TF2 3CC"],
    }
)


def keys(rows: list[tuple[str, int | None, str, str | None]], **options: Any) -> list[tuple[str | None, str | None]]:
    """``(address_key, address_status)`` of each of ``rows`` (person, UPRN, address text, postcode)."""
    records = pl.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "uprn_matched": [r[1] for r in rows],
            "address": [r[2] for r in rows],
            "postcode_std": [r[3] for r in rows],
        },
        schema_overrides={"uprn_matched": pl.Int64, "postcode_std": pl.String},
    )
    out = address_keys(records, GAZETTEER, **options)
    return list(out.select("address_key", "address_status").iter_rows())


QUEENS = ("P", None, "4 Queens St, Tenford", None)  # no postcode: four gazetteer streets could be meant


@pytest.mark.parametrize(
    ("rows", "expected", "options"),
    [
        # no postcode: flat, house number and street match one of the person's UPRNs
        ([QUEENS, ("P", 1, "4 Queens Street, Hollinsdale, Tenford", "TF7 9AT")], "U:1", {}),
        # the person's records at both 4 Queens Streets: the text cannot choose, nor can they
        (
            [
                QUEENS,
                ("P", 1, "4 Queens Street, Hollinsdale, Tenford", "TF7 9AT"),
                ("P", 2, "4 Queens Street, Northfield, Tenford", "TF2 4BB"),
            ],
            "ambiguous",
            {},
        ),
        # another person's UPRN is no evidence of what this person's text means
        ([QUEENS, ("Q", 1, "4 Queens Street, Hollinsdale, Tenford", "TF7 9AT")], "ambiguous", {}),
        # a UPRN of the person's at another address is no evidence either
        ([QUEENS, ("P", 20, "3 Mill Lane, Tenford", "TF2 3CC")], "ambiguous", {}),
        # with a postcode: the outward code must agree too
        (
            [("P", None, "4 Queens St, Tenford", "TF7 9AT"), ("P", 1, "4 Queens Street, Hollinsdale", "TF7 9AT")],
            "U:1",
            {},
        ),
        (
            [("P", None, "4 Queens St, Tenford", "TF2 4XX"), ("P", 1, "4 Queens Street, Hollinsdale", "TF7 9AT")],
            "not_in_gazetteer",
            {},
        ),
        # a flat: the flat must be the same
        ([("P", None, "Flat 2, 7 Park Rd, Tenford", None), ("P", 12, "Flat 2, 7 Park Road", "TF1 2BB")], "U:12", {}),
        (
            [("P", None, "Flat 1, 7 Park Rd, Tenford", None), ("P", 12, "Flat 2, 7 Park Road", "TF1 2BB")],
            "not_in_gazetteer",
            {},
        ),
        # outside the area: never taken in
        (
            [("P", None, "4 Queens Street, Wrekinford", None), ("P", 1, "4 Queens Street", "TF7 9AT")],
            "out_of_area",
            {},
        ),
        # off: the rule before
        ([QUEENS, ("P", 1, "4 Queens Street, Hollinsdale, Tenford", "TF7 9AT")], "ambiguous", {"own_uprns": False}),
    ],
    ids=[
        "no postcode",
        "two of the person's",
        "another person's",
        "another address",
        "same outward",
        "other outward",
        "same flat",
        "other flat",
        "out of area",
        "off",
    ],
)
def test_a_record_takes_the_persons_own_uprn(
    rows: list[tuple[str, int | None, str, str | None]], expected: str, options: dict[str, Any]
) -> None:
    key, status = keys(rows, **options)[0]
    if expected.startswith("U:"):
        assert (key, status) == (expected, None)
    else:
        assert key is not None
        assert key.startswith("A:")
        assert status == expected


def test_the_rule_keeps_a_boy_with_his_family() -> None:
    # messy, held-out seed 124: a school wrote the boy's address twice in 2025 with no postcode; first
    # seen after his UPRN, the text was taken for his newest home and parted him from his family
    rows = [
        ("MUM", 1, "4 Queens Street, Hollinsdale", "TF7 9AT", date(1985, 1, 1), date(2025, 12, 25)),
        ("BOY", 1, "4 Queens Street, Hollinsdale", "TF7 9AT", date(2013, 1, 1), date(2025, 5, 21)),
        ("BOY", None, "4 Queens St", None, date(2013, 1, 1), date(2025, 7, 22)),
        ("BOY", None, "4 Queens St", None, date(2013, 1, 1), date(2025, 10, 23)),
        ("BOY", 1, "4 Queens Street, Hollinsdale", "TF7 9AT", date(2013, 1, 1), date(2026, 10, 1)),
    ]
    records = pl.DataFrame(
        {
            "record_key": [f"attendance:{i}" for i in range(len(rows))],
            "source": ["attendance"] * len(rows),
            "date_of_birth": [r[4] for r in rows],
            "evidence_date": [r[5] for r in rows],
            "address": [f"{r[2]}, Tenford" for r in rows],
            "postcode_std": [r[3] for r in rows],
            "uprn_matched": [r[1] for r in rows],
            "address_match": ["exact" if r[1] is not None else None for r in rows],
        },
        schema_overrides={"uprn_matched": pl.Int64, "postcode_std": pl.String},
    )
    index = records.select("record_key", pl.Series("person_id", [r[0] for r in rows]))

    def homes(on: bool, rejoin: bool = True) -> dict[str, int | None]:
        config = HouseholdsConfig(own_uprns=on, children_rejoin=rejoin)
        residents, _ = assign_households(records, index, D, gazetteer=GAZETTEER, config=config)
        return dict(residents.select("person_id", "uprn").iter_rows())

    assert homes(True) == {"MUM": 1, "BOY": 1}
    assert homes(True, rejoin=False) == {"MUM": 1, "BOY": 1}
    assert homes(False, rejoin=False) == {"MUM": 1, "BOY": None}  # the rule before: at the text, apart
    # alone at the text, he goes back to his mother: his school still had him at her home after she was
    # first seen there (children_rejoin)
    assert homes(False) == {"MUM": 1, "BOY": 1}
