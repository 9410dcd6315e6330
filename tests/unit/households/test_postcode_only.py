"""A person whose records give only a postcode joins the one address there tied to them: someone
recorded with them at an incident, or of their rare surname (docs/households.md, "Postcode only":
``postcode_only``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.households import REVIEW_REASONS, HouseholdsConfig, assign_households, postcode_only
from tfident.review.web import REVIEW_REASON_LABELS

D = date(2026, 10, 31)
ADULT, CHILD = date(1990, 1, 1), date(2014, 1, 1)
# home -> (UPRN, postcode). A, B and SECOND share a postcode; FAR is in another; C_HOME is the control's.
HOMES = {"A": (10, "TF1 1AA"), "B": (20, "TF1 1AA"), "SECOND": (30, "TF1 1AA"), "FAR": (40, "TF2 2BB")}
HOMES["C_HOME"] = (50, "TF3 3CC")
GAZETTEER = pl.DataFrame(
    {
        "uprn": [u for u, _ in HOMES.values()],
        "address_line_1": [f"{u} Some Street" for u, _ in HOMES.values()],
        "town": ["Tenford"] * len(HOMES),
        "postcode": [p for _, p in HOMES.values()],
    }
)


def at(
    person: str, where: str, surname: str = "SMITH", source: str = "attendance", when: date = date(2026, 9, 1)
) -> dict[str, Any]:
    """A record of ``person`` (a child when the name ends ``KID``) at home ``where`` on ``when``."""
    uprn, postcode = HOMES[where]
    dob = CHILD if person.endswith("KID") else ADULT
    return {"person": person, "source": source, "dob": dob, "address": f"{uprn} Some Street",
            "postcode": postcode, "uprn": uprn, "surname": surname, "when": when}  # fmt: skip


def keyed_postcode(
    person: str, postcode: str | None, surname: str = "SMITH", source: str = "benefits", when: date = D
) -> dict[str, Any]:
    """A record of ``person`` (a benefit claim unless ``source`` says) keyed with the postcode and no
    address lines.
    """
    return {"person": person, "source": source, "dob": ADULT, "address": None, "postcode": postcode,
            "uprn": None, "surname": surname, "when": when}  # fmt: skip


INCIDENT = date(2026, 5, 5)
FAMILY = [at("MUM", "A"), at("SON_KID", "A"), at("NEIGHBOUR", "B", "JONES")]
DAD = keyed_postcode("DAD", "TF1 1AA")
# the police recorded the father (no address lines) and the mother (at A) at one domestic abuse incident
MUM_DA = at("MUM", "A", source="domestic_abuse", when=INCIDENT)
DAD_DA = keyed_postcode("DAD", "TF1 1AA", "BROWN", "domestic_abuse", INCIDENT)
# another family in every case, tied by an incident: its father joins them whatever happens above
CONTROL = [
    at("C_MUM", "C_HOME", "PATEL", "domestic_abuse", INCIDENT),
    keyed_postcode("C_DAD", "TF3 3CC", "PATEL", "domestic_abuse", INCIDENT),
]
ANY = {"postcode_only_rare": None}  # every surname ties (this world's surnames are all common)


def placed(rows: list[dict[str, Any]], **config: Any) -> tuple[dict[str, str | None], dict[str, str]]:
    """``(person -> home or None, home -> review reason)`` under ``HouseholdsConfig(**config)``."""
    records = pl.DataFrame(
        {
            "record_key": [f"{r['source']}:{i}" for i, r in enumerate(rows)],
            "source": [r["source"] for r in rows],
            "date_of_birth": [r["dob"] for r in rows],
            "evidence_date": [r["when"] for r in rows],
            "address": [r["address"] for r in rows],
            "postcode": [r["postcode"] for r in rows],
            "uprn_matched": [r["uprn"] for r in rows],
            "address_match": ["exact" if r["uprn"] else None for r in rows],
            "surname_std": [r["surname"] for r in rows],
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))
    residents, households = assign_households(records, index, D, gazetteer=GAZETTEER, config=HouseholdsConfig(**config))
    name = {str(uprn): home for home, (uprn, _) in HOMES.items()}
    home = {h: name[str(u)] for h, u in zip(households["household_id"], households["uprn"], strict=True)}
    flags = {home[h]: r for h, r in zip(households["household_id"], households["review_reason"], strict=True) if r}
    people = zip(residents["person_id"], residents["household_id"], strict=True)
    where = {p: home[h] if h else None for p, h in people}
    return where, flags


@pytest.mark.parametrize(
    ("rows", "config", "dad"),
    [
        # by surname: his claim gives the postcode only; the Smiths at A are the one household of his
        # surname there
        ([*FAMILY, DAD], ANY, "A"),
        # off: the rule before (no address, no household)
        ([*FAMILY, DAD], {**ANY, "postcode_only": False}, None),
        # Smith is common here (3 of the 6 people): with the default share (1%) it ties nobody
        ([*FAMILY, DAD], {}, None),
        ([*FAMILY, DAD], {"postcode_only_rare": 0.5}, None),
        ([*FAMILY, DAD], {"postcode_only_rare": 0.51}, "A"),
        # of another surname than anyone in the postcode: nowhere to go
        ([*FAMILY, keyed_postcode("DAD", "TF1 1AA", "BROWN")], ANY, None),
        # ... the neighbour's surname: he joins the neighbour's household
        ([*FAMILY, keyed_postcode("DAD", "TF1 1AA", "JONES")], ANY, "B"),
        # a Smith lives at FAR, in another postcode: the postcode decides
        ([*FAMILY, at("GRAN", "FAR"), keyed_postcode("DAD", "TF2 2BB")], ANY, "FAR"),
        ([*FAMILY, at("GRAN", "FAR"), DAD], ANY, "A"),
        # two Smith households in his postcode: which one is not known
        ([*FAMILY, at("OTHER", "SECOND"), DAD], ANY, None),
        # ... nor when his two claims give two postcodes, each with Smiths
        ([*FAMILY, at("GRAN", "FAR"), DAD, keyed_postcode("DAD", "TF2 2BB")], ANY, None),
        # his claims name him Smith and (a former surname) Jones: two households match
        ([*FAMILY, DAD, keyed_postcode("DAD", "TF1 1AA", "JONES")], ANY, None),
        # no postcode, or only an outward code: nothing to place him by
        ([*FAMILY, keyed_postcode("DAD", None)], ANY, None),
        ([*FAMILY, keyed_postcode("DAD", "TF1")], ANY, None),
        # a record of his gives an address (B): his own records place him, the rule is not for him
        ([*FAMILY, DAD, at("DAD", "B", source="asb")], ANY, "B"),
        # by an incident: recorded with the mother at one domestic abuse incident (same date, same
        # postcode), whatever his surname and however common
        ([*FAMILY, MUM_DA, DAD_DA], {}, "A"),
        ([*FAMILY, MUM_DA, DAD_DA], {"postcode_only_incidents": []}, None),
        # another day, or her record of that day at another postcode: not one incident
        ([*FAMILY, MUM_DA, {**DAD_DA, "when": date(2026, 5, 6)}], {}, None),
        ([*FAMILY, at("MUM", "FAR", source="domestic_abuse", when=INCIDENT), DAD_DA], {}, None),
        # recorded with his sister at that incident, at A; her records since place her at FAR (she
        # moved): the incident ties him to no address she is placed at
        (
            [
                *FAMILY,
                at("AUNT", "A", "BROWN", "domestic_abuse", INCIDENT),
                at("AUNT", "FAR", "BROWN", "health", date(2026, 9, 1)),
                DAD_DA,
            ],
            {},
            None,
        ),
        # the same date in another source (an ASB intervention) is no incident at one home
        ([*FAMILY, {**MUM_DA, "source": "asb"}, {**DAD_DA, "source": "asb"}], {}, None),
        # tied to A by the incident and to B by the neighbour's surname: which one is not known
        ([*FAMILY, MUM_DA, {**DAD_DA, "surname": "JONES"}], ANY, None),
    ],
)
def test_a_person_with_only_a_postcode_joins_the_one_household_tied_to_them(
    rows: list[dict[str, Any]], config: dict[str, Any], dad: str | None
) -> None:
    where, flags = placed([*rows, *CONTROL], **config)
    assert where["DAD"] == dad
    assert where["MUM"] == where["SON_KID"] == "A"
    joined = dad is not None and not any(r["person"] == "DAD" and r["uprn"] for r in rows)
    assert (flags.get(dad or "") == "postcode_only") is joined
    on = config.get("postcode_only", True) and config.get("postcode_only_incidents") != []
    assert where["C_DAD"] == ("C_HOME" if on else None)
    assert (flags.get("C_HOME") == "postcode_only") is on


def test_an_earlier_rules_flag_is_kept() -> None:
    # the son's records moved from FAR to A in September; his mother was last seen at FAR before
    # that: the moved-alone rule takes her to A and flags it. The father joins them; A keeps that flag.
    rows = [
        at("SON_KID", "FAR", when=date(2025, 12, 19)),
        at("SON_KID", "A", when=date(2026, 9, 1)),
        at("MUM", "FAR", source="health", when=date(2025, 6, 2)),
        DAD,
    ]
    where, flags = placed([*rows, *CONTROL], **ANY)
    assert where["SON_KID"] == where["MUM"] == where["DAD"] == "A"
    assert flags["A"] == "moved_together"


def test_the_rule_on_its_own_frames() -> None:
    records = pl.DataFrame(
        {
            "person_id": ["MUM", "DAD"],
            "source": ["asb", "benefits"],
            "evidence_date": [date(2026, 9, 1), D],
            "address_key": ["U:10", None],
            "postcode_std": ["TF1 1AA", "TF1 1AA"],
            "surname_std": ["SMITH", "SMITH"],
        }
    )
    address = pl.DataFrame({"person_id": ["MUM"], "address_key": ["U:10"]})
    moved, flags = postcode_only(records, address, rare_below=None)
    assert dict(moved.iter_rows()) == {"MUM": "U:10", "DAD": "U:10"}
    assert flags == {"U:10": "postcode_only"}
    # without surnames (and no incident) nothing is placed
    same, none = postcode_only(records.drop("surname_std"), address, rare_below=None)
    assert same.equals(address)
    assert none == {}
    # nor by a postcode_std that is no UK postcode (a harness's zip code: one for a whole town)
    zipped = records.with_columns(pl.lit("00000").alias("postcode_std"))
    same, none = postcode_only(zipped, address, rare_below=None)
    assert same.equals(address)
    assert none == {}


def test_on_by_default_with_a_flag_the_review_app_explains() -> None:
    config = HouseholdsConfig()
    assert config.postcode_only is True
    assert config.postcode_only_rare == 0.01
    assert config.postcode_only_incidents == ("domestic_abuse",)
    assert "postcode_only" in REVIEW_REASONS
    assert "postcode_only" in REVIEW_REASON_LABELS


def test_an_incident_source_must_be_a_person_source() -> None:
    with pytest.raises(ValueError, match="'gazetteer' is not a person source"):
        HouseholdsConfig(postcode_only_incidents=("gazetteer",))
