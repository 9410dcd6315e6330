"""A flat no record of the person names, from the people of their surname in the block
(``flat_from_surname``; docs/households.md, "A flat the text leaves out, from the people of the
person's surname").
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.households import REVIEW_REASONS, HouseholdsConfig, assign_households
from tfident.review.web import REVIEW_REASON_LABELS

D = date(2026, 10, 31)
ADULT, CHILD = date(1985, 1, 1), date(2014, 1, 1)
# 23 Victoria Way is a block of three flats (UPRNs 1, 2, 3); 7 Park Road a house (UPRN 9)
GAZETTEER = pl.DataFrame(
    {
        "uprn": [1, 2, 3, 9],
        "address_line_1": [
            "Flat 1, 23 Victoria Way",
            "Flat 2, 23 Victoria Way",
            "Flat 3, 23 Victoria Way",
            "7 Park Road",
        ],
        "town": ["Tenford"] * 4,
        "postcode": ["TF6 5BB", "TF6 5BB", "TF6 5BB", "TF1 2AA"],
    }
)
BLOCK = "block"


def rec(
    person: str, surname: str, dob: date, where: int | str, rid: str, postcode: str | None = "TF6 5BB"
) -> dict[str, Any]:
    """One record of ``person``: at flat ``where`` of the block (its UPRN, the text naming it), or
    ``BLOCK`` (the block written without its flat: no UPRN).
    """
    if where == BLOCK:
        line, uprn = "23 Victoria Way, Tenford", None
    else:
        line, uprn = f"Flat {where}, 23 Victoria Way, Tenford", where
    return {
        "person": person,
        "surname": surname,
        "dob": dob,
        "line": line,
        "uprn": uprn,
        "id": rid,
        "postcode": postcode,
    }


# the control in every case: Mrs Jones's only record names the block without its flat; her son's
# school records name flat 1, and nobody else called Jones lives in the block: flat 1
JONES = [rec("MRS JONES", "JONES", ADULT, BLOCK, "j1"), rec("JONES BOY", "JONES", CHILD, 1, "j2")]
# the subject: Mr Smith's benefit claim names the block without its flat; his daughter's records name flat 2
SMITH = [rec("MR SMITH", "SMITH", ADULT, BLOCK, "s1"), rec("SMITH GIRL", "SMITH", CHILD, 2, "s2")]


def assigned(
    rows: list[dict[str, Any]], config: dict[str, Any], gazetteer: pl.DataFrame = GAZETTEER
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``assign_households`` of ``rows`` (each a benefit record) under ``HouseholdsConfig(**config)``."""
    records = pl.DataFrame(
        {
            "record_key": [f"benefits:{r.get('id', i)}" for i, r in enumerate(rows)],
            "source": ["benefits"] * len(rows),
            "date_of_birth": [r["dob"] for r in rows],
            "evidence_date": [date(2026, 6, 1)] * len(rows),
            "address": [r["line"] for r in rows],
            "postcode_std": [r["postcode"] for r in rows],
            "uprn_matched": [r["uprn"] for r in rows],
            "address_match": ["exact" if r["uprn"] else None for r in rows],
            "surname_std": [r["surname"] for r in rows],
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))
    return assign_households(records, index, D, gazetteer=gazetteer, config=HouseholdsConfig(**config))


def placed(rows: list[dict[str, Any]], config: dict[str, Any]) -> tuple[dict[str, int | None], dict[str, str | None]]:
    """``(person -> UPRN, person -> review reason of their household)``."""
    residents, households = assigned(rows, config)
    reason = dict(zip(households["household_id"], households["review_reason"], strict=True))
    return (
        dict(zip(residents["person_id"], residents["uprn"], strict=True)),
        {p: reason.get(h) for p, h in zip(residents["person_id"], residents["household_id"], strict=True)},
    )


ON = {"flat_from_surname": True}


@pytest.mark.parametrize(
    ("rows", "config", "mr_smith", "jones"),
    [
        # applies: the one flat of the block with a Smith (a child whose records name it)
        (SMITH + JONES, ON, 2, 1),
        # a record with no postcode names the block by house number and street
        ([{**SMITH[0], "postcode": None}, SMITH[1], *JONES], ON, 2, 1),
        # two flats of the block have a Smith: which one is unknown, he stays at the block's address
        ([*SMITH, rec("OTHER SMITH", "SMITH", CHILD, 3, "o1"), *JONES], ON, None, 1),
        # no flat has a Smith (his daughter's records give another surname): he stays
        ([SMITH[0], {**SMITH[1], "surname": "TAYLOR"}, *JONES], ON, None, 1),
        # his own records name a flat (two of them: which the flat-less one means is unknown): his
        # own records decide, not his surname, and he stays at the block's address
        ([*SMITH, rec("MR SMITH", "SMITH", ADULT, 1, "s3"), rec("MR SMITH", "SMITH", ADULT, 3, "s4"), *JONES],
         ON, None, 1),
        # only an adult of his surname lives in flat 2: a surname half the people here share is no
        # tie, he stays
        ([SMITH[0], {**SMITH[1], "dob": ADULT}, *JONES], ON, None, 1),
        # unless the council allows adults there too
        ([SMITH[0], {**SMITH[1], "dob": ADULT}, *JONES], {**ON, "flat_from_surname_roles": ["adult", "child"]}, 2, 1),
        # the rule off: everyone whose records name no flat stays at the block's address
        (SMITH + JONES, {"flat_from_surname": False}, None, None),
    ],
    ids=["applies", "no postcode", "two flats with the surname", "no flat with the surname",
         "own flat records", "only an adult of the surname", "adults allowed", "rule off"],
)  # fmt: skip
def test_a_person_whose_records_name_no_flat_takes_the_one_flat_of_the_block_with_their_surname(
    rows: list[dict[str, Any]], config: dict[str, Any], mr_smith: int | None, jones: int | None
) -> None:
    uprn, reason = placed(rows, config)
    assert uprn["MR SMITH"] == mr_smith
    assert uprn["MRS JONES"] == jones
    assert uprn["SMITH GIRL"] == 2  # their own records place them
    assert uprn["JONES BOY"] == 1
    for person, flat in (("MR SMITH", mr_smith), ("MRS JONES", jones)):
        # a household completed this way is flagged for review; one left at the block's address is not
        assert reason[person] == ("flat_from_surname" if flat is not None else None)


# 246 neighbours at 7 Park Road, each of another surname: with the four people above, 250 people
NEIGHBOURS = [rec(f"N{i}", f"NAME{i}", ADULT, 9, f"n{i}", "TF1 2AA") for i in range(246)]
ADULT_SMITH = [SMITH[0], {**SMITH[1], "dob": ADULT}]  # only an adult of his surname lives in flat 2


@pytest.mark.parametrize(
    ("rows", "config", "mr_smith"),
    [
        # 2 Smiths of 250 people (0.8%): fewer than 1% share the surname, so a namesake in the same
        # block by chance is unlikely; the adult in flat 2 counts
        ([*ADULT_SMITH, *JONES, *NEIGHBOURS], ON, 2),
        # 3 more Smiths among the neighbours: 5 of 250 (2%), no longer rare; he stays
        (
            [
                *ADULT_SMITH,
                *JONES,
                *NEIGHBOURS[3:],
                *(rec(f"S{i}", "SMITH", ADULT, 9, f"x{i}", "TF1 2AA") for i in range(3)),
            ],
            ON,
            None,
        ),
        # the same with a threshold of 3%
        (
            [
                *ADULT_SMITH,
                *JONES,
                *NEIGHBOURS[3:],
                *(rec(f"S{i}", "SMITH", ADULT, 9, f"x{i}", "TF1 2AA") for i in range(3)),
            ],
            {**ON, "flat_from_surname_rare": 0.03},
            2,
        ),
        # off: only flat_from_surname_roles (a child) count, the rule before
        ([*ADULT_SMITH, *JONES, *NEIGHBOURS], {**ON, "flat_from_surname_rare": None}, None),
    ],
    ids=["rare", "not rare", "threshold 3%", "off"],
)
def test_an_adult_of_a_rare_surname_counts(
    rows: list[dict[str, Any]], config: dict[str, Any], mr_smith: int | None
) -> None:
    uprn, reason = placed(rows, config)
    assert uprn["MR SMITH"] == mr_smith
    assert reason["MR SMITH"] == ("flat_from_surname" if mr_smith is not None else None)
    assert uprn["MRS JONES"] == 1


def test_the_flag_has_a_label_and_the_config_is_validated() -> None:
    assert "flat_from_surname" in REVIEW_REASONS
    assert "flat_from_surname" in REVIEW_REASON_LABELS
    assert HouseholdsConfig().flat_from_surname is True
    assert HouseholdsConfig().flat_from_surname_roles == ("child",)
    with pytest.raises(ValueError, match="flat_from_surname_roles"):
        HouseholdsConfig(flat_from_surname_roles=("grandparent",))  # type: ignore[arg-type]
    assert HouseholdsConfig().flat_from_surname_rare == 0.01
    with pytest.raises(ValueError, match="flat_from_surname_rare"):
        HouseholdsConfig(flat_from_surname_rare=0)


# 4 Shelley Way is a house in TF1 (UPRN 11) and another in TF9 (UPRN 12): two streets of one name
HOUSES = pl.DataFrame(
    {
        "uprn": [11, 12, 13],
        "address_line_1": ["4 Shelley Way", "4 Shelley Way", "6 Shelley Way"],
        "town": ["Tenford"] * 3,
        "postcode": ["TF1 7AG", "TF9 1ZZ", "TF1 7AG"],
    }
)


def house(person: str, surname: str, dob: date, uprn: int | None, postcode: str | None) -> dict[str, Any]:
    """A record of ``person`` at 4 Shelley Way (6 Shelley Way for UPRN 13); ``uprn`` None: no UPRN."""
    line = "6 Shelley Way, Tenford" if uprn == 13 else "4 Shelley Way, Tenford"
    return {"person": person, "surname": surname, "dob": dob, "line": line, "uprn": uprn, "postcode": postcode}


# Joanne's one record gives 4 Shelley Way with no postcode; her daughter's give the house in TF1
JOANNE = house("JOANNE", "SMITH", ADULT, None, None)
GRACE = house("GRACE", "SMITH", CHILD, 11, "TF1 7AG")


@pytest.mark.parametrize(
    ("rows", "config", "joanne"),
    [
        # the one of the two houses where a child of her surname lives
        ([JOANNE, GRACE], {}, 11),
        # off: she stays at the text address, ambiguous
        ([JOANNE, GRACE], {"flat_from_surname": False}, None),
        # a child of her surname in each house: which one is unknown
        ([JOANNE, GRACE, house("TOM", "SMITH", CHILD, 12, "TF9 1ZZ")], {}, None),
        # the child of her surname lives at 6 Shelley Way: another house number
        ([JOANNE, {**GRACE, "uprn": 13, "line": "6 Shelley Way, Tenford"}], {}, None),
        # her record gives the postcode TF9 1ZZ (unmatched): one address, not the two houses; the child
        # of her surname in TF1 does not take her there
        ([{**JOANNE, "postcode": "TF9 1ZZ"}, GRACE], {}, None),
        # only an adult of her (common) surname lives at 11: no tie
        ([JOANNE, {**GRACE, "dob": ADULT}, house("X", "SMITH", ADULT, 13, "TF1 7AG")], {}, None),
    ],
    ids=["applies", "rule off", "a child in each", "another number", "postcode given", "only an adult"],
)
def test_a_house_number_and_street_found_in_two_places_takes_the_one_with_a_child_of_the_surname(
    rows: list[dict[str, Any]], config: dict[str, Any], joanne: int | None
) -> None:
    residents, households = assigned(rows, config, HOUSES)
    uprn = dict(zip(residents["person_id"], residents["uprn"], strict=True))
    reason = dict(zip(households["household_id"], households["review_reason"], strict=True))
    status = dict(zip(households["household_id"], households["address_status"], strict=True))
    home = dict(zip(residents["person_id"], residents["household_id"], strict=True))
    assert uprn["JOANNE"] == joanne
    completed = joanne is not None and rows[0]["postcode"] is None
    assert (reason[home["JOANNE"]] == "flat_from_surname") is completed
    if joanne is None:
        assert status[home["JOANNE"]] == ("ambiguous" if rows[0]["postcode"] is None else "not_in_gazetteer")
