"""An address the gazetteer holds twice (two UPRNs, one home): records carrying either UPRN and records
with only its text are one household at the address's text key, flagged ``ambiguous``
(``duplicate_uprns_as_text``, docs/households.md "A record's address").
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.households import HouseholdsConfig, _gazetteer_index, assign_households

D = date(2026, 10, 31)

# 10 Ash Place twice (UPRNs 1 and 2); Flat 3, 5 Oak Road twice (3 and 4); a block with distinct flats
# (Flat 1 and Flat 2, 7 Park Road: 11 and 12); a plain house (20).
GAZETTEER = pl.DataFrame(
    {
        "uprn": [1, 2, 3, 4, 11, 12, 20],
        "address_line_1": ["10 Ash Place", "10 Ash Place", "Flat 3", "Flat 3", "Flat 1", "Flat 2", "3 Mill Lane"],
        "address_line_2": [None, None, "5 Oak Road", "5 Oak Road", "7 Park Road", "7 Park Road", None],
        "town": ["Tenford"] * 7,
        "postcode": ["TF8 1AA", "TF8 1AA", "TF1 5CC", "TF1 5CC", "TF1 2BB", "TF1 2BB", "TF2 3CC"],
    }
)

ASH, OAK = "A:TF8|10 ASH PLACE", "A:TF1|FLAT 3 5 OAK ROAD"

MUM, KID = date(1985, 1, 1), date(2012, 1, 1)


def row(person: str, uprn: int | None, line: str, postcode: str, dob: date = MUM) -> dict[str, Any]:
    return {"person": person, "uprn": uprn, "line": line, "postcode": postcode, "dob": dob}


def placed(rows: list[dict[str, Any]], **config: Any) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """``(key of each person's household, status of each household)``: the household's UPRN (``U:``) or
    its text (its address, ``A:``) stands in for its id.
    """
    records = pl.DataFrame(
        {
            "record_key": [f"asb:{i}" for i in range(len(rows))],
            "source": ["asb"] * len(rows),
            "date_of_birth": [r["dob"] for r in rows],
            "evidence_date": [date(2026, 9, 1)] * len(rows),
            "address": [f"{r['line']}, Tenford" for r in rows],
            "postcode_std": [r["postcode"] for r in rows],
            "uprn_matched": [r["uprn"] for r in rows],
            "address_match": ["exact" if r["uprn"] is not None else None for r in rows],
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))
    residents, households = assign_households(records, index, D, gazetteer=GAZETTEER, config=HouseholdsConfig(**config))
    names = {
        h: (f"U:{u}" if u is not None else f"A:{a}")
        for h, u, a in households.select("household_id", "uprn", "address").iter_rows()
    }
    status = {names[h]: s for h, s in households.select("household_id", "address_status").iter_rows()}
    return {p: names[h] for p, h in residents.select("person_id", "household_id").iter_rows()}, status


ASH_FAMILY = [
    row("MUM", 1, "10 Ash Place", "TF8 1AA"),  # an agency's own UPRN, one of the two
    row("MUM", None, "10 Ash Place", "TF8 1AA"),  # a benefit claim: the text only, no single UPRN
    row("KID", 2, "10 Ash Place", "TF8 1AA", KID),  # the other UPRN
    row("SIB", None, "10 ASH PL", "TF8 1AA", KID),  # only the text, another way of writing it
]
OAK_FAMILY = [
    row("DAD", 3, "Flat 3, 5 Oak Road", "TF1 5CC"),
    row("SON", 4, "Flat 3, 5 Oak Road", "TF1 5CC", KID),
    row("GRAN", None, "Flat 3, 5 Oak Road", "TF1 5CC"),
]
BLOCK = [
    row("F1", 11, "Flat 1, 7 Park Road", "TF1 2BB"),
    row("F2", 12, "Flat 2, 7 Park Road", "TF1 2BB"),
    row("F2K", 12, "Flat 2, 7 Park Road", "TF1 2BB", KID),
]
HOUSE = [row("H", 20, "3 Mill Lane", "TF2 3CC")]


@pytest.mark.parametrize(
    ("on", "rows", "where", "status"),
    [
        (True, ASH_FAMILY, {"MUM": "A", "KID": "A", "SIB": "A"}, "ambiguous"),
        (True, OAK_FAMILY, {"DAD": "A", "SON": "A", "GRAN": "A"}, "ambiguous"),
        (True, BLOCK, {"F1": "U:11", "F2": "U:12", "F2K": "U:12"}, None),
        (True, HOUSE, {"H": "U:20"}, None),
        # off: each UPRN its own address, the text alone at the text key (the rule before)
        (False, ASH_FAMILY, {"MUM": "U:1", "KID": "U:2", "SIB": "A"}, None),
        (False, OAK_FAMILY, {"DAD": "U:3", "SON": "U:4", "GRAN": "A"}, None),
        (False, BLOCK, {"F1": "U:11", "F2": "U:12", "F2K": "U:12"}, None),
    ],
    ids=["house twice", "flat twice", "block", "house", "off: house twice", "off: flat twice", "off: block"],
)
def test_an_address_the_gazetteer_holds_twice_is_one_household(
    on: bool, rows: list[dict[str, Any]], where: dict[str, str], status: str | None
) -> None:
    home, statuses = placed(rows, duplicate_uprns_as_text=on)
    assert {p: home[p] if home[p].startswith("U:") else "A" for p in where} == where
    if on and status is not None:
        (key,) = set(home.values())  # one household, at the address's text
        assert statuses[key] == status
    for key in home.values():
        if key.startswith("U:"):
            assert statuses[key] is None


def test_the_key_is_the_text_key_an_unmatched_record_gets() -> None:
    *_, duplicates, _ = _gazetteer_index(GAZETTEER)
    assert duplicates == {1: ASH, 2: ASH, 3: OAK, 4: OAK}
    home, statuses = placed([*ASH_FAMILY, *OAK_FAMILY, *BLOCK])
    ash = {home[p] for p in ("MUM", "KID", "SIB")}
    oak = {home[p] for p in ("DAD", "SON", "GRAN")}
    assert len(ash) == len(oak) == 1
    assert ash != oak
    assert statuses[ash.pop()] == statuses[oak.pop()] == "ambiguous"
    assert {home["F1"], home["F2"]} == {"U:11", "U:12"}


def test_a_flatless_record_takes_the_flat_the_gazetteer_holds_twice() -> None:
    # the son's school names the flat (one of its two UPRNs); the father's claim drops the flat
    home, statuses = placed(
        [
            row("SON", 3, "Flat 3, 5 Oak Road", "TF1 5CC", KID),
            row("SON", None, "5 Oak Road", "TF1 5CC", KID),
            row("DAD", 4, "Flat 3, 5 Oak Road", "TF1 5CC"),
        ]
    )
    assert home["SON"] == home["DAD"]
    assert statuses[home["SON"]] == "ambiguous"
