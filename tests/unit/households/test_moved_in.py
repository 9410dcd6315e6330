"""An adult still placed outside the area goes to the children of the home they left, at the address in
the area their own records give (docs/households.md, "Adults still placed outside the area": ``moved_in``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.unit.households._homes import D, keyed
from tfident.households import REVIEW_REASONS, HouseholdsConfig, assign_households, moved_in
from tfident.review.web import REVIEW_REASON_LABELS

OUT = "out_of_area"
# The family lived at A:AWAY, outside the area. The son's school has had him at U:20 since April 2026;
# his father's police record of February is at U:20 too, but his later one (May) still gives A:AWAY.
KID = [("KID", "A:AWAY", date(2025, 7, 22), OUT), ("KID", "U:20", date(2026, 4, 2), None), ("KID", "U:20", D, None)]
DAD = [("DAD", "U:20", date(2026, 2, 6), None), ("DAD", "A:AWAY", date(2026, 5, 24), OUT)]


def _run(
    rows: list[tuple[str, str | None, date, str | None]],
    where: dict[str, str],
    opened: frozenset[int] = frozenset(),
) -> tuple[dict[str, str], dict[str, str]]:
    records = keyed(rows).with_columns(pl.Series("_open", [i in opened for i in range(len(rows))]))
    address = pl.DataFrame({"person_id": list(where), "address_key": list(where.values())})
    roles = pl.DataFrame({"person_id": list(where), "role": ["child" if p.endswith("KID") else "adult" for p in where]})
    moved, flags = moved_in(records, address, roles)
    return dict(moved.iter_rows()), flags


@pytest.mark.parametrize(
    ("rows", "where", "opened", "dad"),
    [
        # the son came to U:20 from A:AWAY, where his father is placed; the father's own record gives U:20
        ([*KID, *DAD], {"KID": "U:20", "DAD": "A:AWAY"}, frozenset(), "U:20"),
        # the father's only record at U:20 is an open one (a live claim): it dates nothing
        ([*KID, *DAD], {"KID": "U:20", "DAD": "A:AWAY"}, frozenset({3}), "A:AWAY"),
        # an adult is placed at U:20: the son is not alone there
        (
            [*KID, *DAD, ("MUM", "U:20", date(2026, 9, 1), None)],
            {"KID": "U:20", "DAD": "A:AWAY", "MUM": "U:20"},
            frozenset(),
            "A:AWAY",
        ),
        # the father is placed in the area (U:10): the rule is for adults placed outside it
        (
            [*KID[1:], ("KID", "U:10", date(2025, 7, 22), None), DAD[0], ("DAD", "U:10", date(2026, 5, 24), None)],
            {"KID": "U:20", "DAD": "U:10"},
            frozenset(),
            "U:10",
        ),
        # the son was at U:20 first and at A:AWAY since: the family moved out of the area, not in
        (
            [("KID", "U:20", date(2025, 7, 22), None), ("KID", "A:AWAY", date(2026, 4, 2), OUT), KID[2], *DAD],
            {"KID": "U:20", "DAD": "A:AWAY"},
            frozenset(),
            "A:AWAY",
        ),
        # ... on the same day: which came first is not known
        (
            [("KID", "U:20", date(2025, 7, 22), None), KID[0], KID[2], *DAD],
            {"KID": "U:20", "DAD": "A:AWAY"},
            frozenset(),
            "A:AWAY",
        ),
        # the son was never recorded at A:AWAY: nothing ties the father's home to him
        (
            [("KID", "A:ELSEWHERE", date(2025, 7, 22), OUT), *KID[1:], *DAD],
            {"KID": "U:20", "DAD": "A:AWAY"},
            frozenset(),
            "A:AWAY",
        ),
        # the son and his father's record are at another address outside the area: nobody is brought in
        (
            [
                ("KID", "A:AWAY", date(2025, 7, 22), OUT),
                ("KID", "A:NEW", date(2026, 4, 2), OUT),
                ("KID", "A:NEW", D, OUT),
                ("DAD", "A:NEW", date(2026, 2, 6), OUT),
                DAD[1],
            ],
            {"KID": "A:NEW", "DAD": "A:AWAY"},
            frozenset(),
            "A:AWAY",
        ),
        # the son's record at A:AWAY is an open one
        ([*KID, *DAD], {"KID": "U:20", "DAD": "A:AWAY"}, frozenset({0}), "A:AWAY"),
        # the father's records give two such addresses (his daughter came from A:AWAY to U:30): he stays
        (
            [
                *KID,
                *DAD,
                ("SIS_KID", "A:AWAY", date(2025, 7, 22), OUT),
                ("SIS_KID", "U:30", date(2026, 4, 2), None),
                ("DAD", "U:30", date(2026, 3, 1), None),
            ],
            {"KID": "U:20", "DAD": "A:AWAY", "SIS_KID": "U:30"},
            frozenset(),
            "A:AWAY",
        ),
        # ... his daughter with him at U:20: both came from A:AWAY, one address
        (
            [*KID, *DAD, ("SIS_KID", "A:AWAY", date(2025, 7, 22), OUT), ("SIS_KID", "U:20", date(2026, 4, 2), None)],
            {"KID": "U:20", "DAD": "A:AWAY", "SIS_KID": "U:20"},
            frozenset(),
            "U:20",
        ),
    ],
)
def test_an_adult_placed_outside_the_area_goes_to_the_children_at_the_address_their_records_give(
    rows: list[tuple[str, str | None, date, str | None]], where: dict[str, str], opened: frozenset[int], dad: str
) -> None:
    placed, flags = _run(rows, where, opened)
    assert placed["DAD"] == dad
    assert placed["KID"] == where["KID"]
    assert flags == ({dad: "moved_in"} if dad != where["DAD"] else {})


# The same family as addresses: A:AWAY is 28 Grange Avenue, Wrekinford (TF10, another council's
# outward code); U:20 is in the gazetteer.
GAZETTEER = pl.DataFrame(
    {"uprn": [20], "address_line_1": ["20 Some Street"], "town": ["Tenford"], "postcode": ["TF2 2BB"]}
)


def _record(person: str, source: str, evidence: date, away: bool, dob: date) -> dict[str, Any]:
    line, postcode, uprn = (
        ("28 Grange Avenue, Wrekinford", "TF10 8DE", None) if away else ("20 Some Street", "TF2 2BB", 20)
    )
    return {"person": person, "source": source, "evidence": evidence, "line": line, "postcode": postcode,
            "uprn": uprn, "dob": dob}  # fmt: skip


FAMILY = [
    _record("KID", "attendance", date(2025, 7, 22), True, date(2014, 1, 1)),
    _record("KID", "attendance", date(2026, 4, 2), False, date(2014, 1, 1)),
    _record("KID", "attendance", D, False, date(2014, 1, 1)),
    _record("DAD", "asb", date(2026, 2, 6), False, date(1985, 1, 1)),
    _record("DAD", "asb", date(2026, 5, 24), True, date(1985, 1, 1)),
]


def _placed(**config: Any) -> tuple[dict[str, str], dict[str, str | None]]:
    records = pl.DataFrame(
        {
            "record_key": [f"{r['source']}:{i}" for i, r in enumerate(FAMILY)],
            "source": [r["source"] for r in FAMILY],
            "date_of_birth": [r["dob"] for r in FAMILY],
            "evidence_date": [r["evidence"] for r in FAMILY],
            "address": [r["line"] for r in FAMILY],
            "postcode_std": [r["postcode"] for r in FAMILY],
            "uprn_matched": [r["uprn"] for r in FAMILY],
            "address_match": ["exact" if r["uprn"] else None for r in FAMILY],
        },
        schema_overrides={"uprn_matched": pl.Int64, "address_match": pl.String},
    )
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in FAMILY]))
    residents, households = assign_households(records, index, D, gazetteer=GAZETTEER, config=HouseholdsConfig(**config))
    where = dict(zip(residents["person_id"], residents["household_id"], strict=True))
    return where, dict(zip(households["household_id"], households["review_reason"], strict=True))


@pytest.mark.parametrize(
    ("config", "flag"),
    [
        ({"former_homes": False}, "moved_in"),
        ({"former_homes": False, "moved_in": False}, None),
        ({"former_homes": False, "moved_alone": "split"}, None),
        # former_homes places him first: his son had left AWAY before his February record at 20
        ({}, "former_home"),
        ({"moved_in": False}, "former_home"),
        ({"moved_alone": "split"}, None),
    ],
)
def test_on_by_default_in_the_pipeline(config: dict[str, Any], flag: str | None) -> None:
    where, reasons = _placed(**config)
    assert (where["DAD"] == where["KID"]) is (flag is not None)
    assert reasons[where["KID"]] == flag


def test_the_flag_is_a_review_reason_the_app_explains() -> None:
    assert HouseholdsConfig().moved_in is True
    assert "moved_in" in REVIEW_REASONS
    assert "moved_in" in REVIEW_REASON_LABELS
