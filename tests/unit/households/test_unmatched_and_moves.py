"""No family lost by its address: households at addresses with no single UPRN, and families
one member's records show moving alone (docs/households.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.households import HouseholdsConfig, assign_households, household_id_for, household_id_for_address
from tfident.standardise import match_addresses, standardise_persons

D = date(2026, 10, 31)

GAZETTEER = pl.DataFrame(
    {
        "uprn": [10, 11, 12, 20],
        "address_line_1": ["14 High Street", "Flat 1", "Flat 2", "3 Mill Lane"],
        "address_line_2": [None, "7 Park Road", "7 Park Road", None],
        "town": ["Tenford"] * 4,
        "postcode": ["TF1 1AA", "TF1 2BB", "TF1 2BB", "TF2 3CC"],
    }
)


def matched(rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Standardised, address-matched person records (school census layout) and their person index."""
    census = pl.DataFrame(
        {
            "record_id": [r["id"] for r in rows],
            "forename": ["A"] * len(rows),
            "surname": ["B"] * len(rows),
            "date_of_birth": [r.get("dob", date(2012, 1, 1)) for r in rows],
            "address_line_1": [r["line"] for r in rows],
            "town": [r.get("town", "Tenford") for r in rows],
            "postcode": [r.get("postcode") for r in rows],
            "census_date": [r.get("evidence", date(2026, 10, 1)) for r in rows],
        }
    )
    records = match_addresses(standardise_persons({"school_census": census}, D), GAZETTEER)
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))
    return records, index


def test_addresses_without_a_single_uprn_form_households_flagged_with_the_reason() -> None:
    records, index = matched(
        [
            {"person": "P1", "id": "1", "line": "14 High Street", "postcode": "TF1 1AA"},  # matched
            {"person": "P2", "id": "2", "line": "1 New Build Way", "postcode": "TF1 9ZZ"},
            {"person": "P3", "id": "3", "line": "1, NEW BUILD WAY", "postcode": "tf19zz"},  # same, other style
            {"person": "P4", "id": "4", "line": "7 Park Road", "postcode": "TF1 2BB"},  # which flat?
            {"person": "P5", "id": "5", "line": "9 Cotton Walk", "town": "Wrekinford", "postcode": "TF10 3RL"},
            {"person": "P6", "id": "6", "line": "9 Cotton Walk", "town": "Wrekinford", "postcode": None},
        ]
    )
    assert records.filter(pl.col("uprn_matched").is_null()).height == 5
    residents, households = assign_households(records, index, D, gazetteer=GAZETTEER)
    assert residents["household_id"].null_count() == 0  # nobody lost
    by_person = dict(zip(residents["person_id"], residents["household_id"], strict=True))
    assert by_person["P1"] == household_id_for(10)
    assert by_person["P2"] == by_person["P3"] == household_id_for_address("A:TF1|1 NEW BUILD WAY")
    status = dict(zip(households["household_id"], households["address_status"], strict=True))
    assert status[by_person["P1"]] is None
    assert status[by_person["P2"]] == "not_in_gazetteer"
    assert status[by_person["P4"]] == "ambiguous"
    assert status[by_person["P5"]] == "out_of_area"
    assert status[by_person["P6"]] == "out_of_area"  # no postcode, a town the gazetteer lacks
    row = households.filter(pl.col("household_id") == by_person["P2"]).row(0, named=True)
    assert row["uprn"] is None
    assert row["n_members"] == 2
    assert row["postcode"] == "TF1 9ZZ"
    assert row["address"] in {"1 New Build Way, Tenford", "1, NEW BUILD WAY, Tenford"}


def test_household_ids_at_unmatched_addresses_do_not_depend_on_row_order() -> None:
    rows = [
        {"person": f"P{i % 5}", "id": str(i), "line": f"{i % 3 + 1} New Build Way", "postcode": "TF1 9ZZ"}
        for i in range(20)
    ]
    records, index = matched(rows)
    first = assign_households(records, index, D, gazetteer=GAZETTEER)
    second = assign_households(records.reverse(), index.reverse(), D, gazetteer=GAZETTEER)
    assert first[0].equals(second[0])
    assert first[1].equals(second[1])


def frame(rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A matched-persons frame: the columns households reads (UPRNs given)."""
    records = pl.DataFrame(
        {
            "record_key": [f"{r['source']}:{r['id']}" for r in rows],
            "source": [r["source"] for r in rows],
            "date_of_birth": [r["dob"] for r in rows],
            "evidence_date": [r["evidence"] for r in rows],
            "address": [r.get("line", f"{r['uprn']} Some Street") for r in rows],
            "postcode_std": [r.get("postcode", "TF1 1AA") for r in rows],
            "uprn_matched": [r["uprn"] for r in rows],
            "address_match": ["exact"] * len(rows),
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    return records, records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))


MUM, CHILD = date(1985, 1, 1), date(2010, 1, 1)
OLD, NEW = 10, 20
# The youth offending team recorded the child at the new address last week; the mother has an
# open claim (dated D, address never updated) and an ASB record from before the move.
MOVED_ALONE = [
    {"person": "MUM", "source": "benefits", "id": "1", "uprn": OLD, "evidence": D, "dob": MUM},
    {"person": "MUM", "source": "asb", "id": "2", "uprn": OLD, "evidence": date(2026, 3, 1), "dob": MUM},
    {"person": "KID", "source": "school_census", "id": "3", "uprn": OLD, "evidence": date(2026, 5, 21), "dob": CHILD},
    {
        "person": "KID",
        "source": "youth_offending",
        "id": "4",
        "uprn": NEW,
        "evidence": date(2026, 10, 24),
        "dob": CHILD,
    },
]


def placed(rows: list[dict[str, Any]], **config: Any) -> tuple[dict[str, int | None], dict[int | None, str | None]]:
    """``(person -> UPRN, UPRN -> review reason)``, with ``children_rejoin`` off unless told: these
    tables are the moved-alone rule's, and it would send a child left alone back to the adults
    (test_children_rejoin.py).
    """
    records, index = frame(rows)
    config = {"children_rejoin": False, **config}
    residents, households = assign_households(records, index, D, config=HouseholdsConfig(**config))
    return (
        dict(zip(residents["person_id"], residents["uprn"], strict=True)),
        dict(zip(households["uprn"], households["review_reason"], strict=True)),
    )


@pytest.mark.parametrize(
    ("mode", "where", "flags"),
    [
        ("move_together", {"MUM": NEW, "KID": NEW}, {NEW: "moved_together"}),
        ("keep_together", {"MUM": OLD, "KID": OLD}, {OLD: "kept_together"}),
        ("split", {"MUM": OLD, "KID": NEW}, {OLD: None, NEW: "moved_alone"}),
    ],
)
def test_a_member_who_moved_alone_by_the_records(mode: str, where: dict[str, int], flags: dict[int, str]) -> None:
    assert placed(MOVED_ALONE, moved_alone=mode) == (where, flags)


def test_a_member_seen_at_the_old_address_since_the_move_stays() -> None:
    seen = {"person": "MUM", "source": "health", "id": "5", "uprn": OLD, "evidence": date(2026, 10, 27), "dob": MUM}
    # the moved-alone rule alone: her health record since the move keeps her at the old address
    assert placed([*MOVED_ALONE, seen], left_behind=False) == ({"MUM": OLD, "KID": NEW}, {OLD: None, NEW: None})
    # left_behind (the default): health holds no record of the child at the new address, so it has
    # not heard of the move; she was seen at the old address before the child left and goes with him
    # (flagged lone_children: the child was alone there)
    assert placed([*MOVED_ALONE, seen]) == ({"MUM": NEW, "KID": NEW}, {NEW: "lone_children"})
    # health saw the child at the new address since the move: its record of her at the old one
    # says she stayed
    kid_seen = {
        "person": "KID",
        "source": "health",
        "id": "6",
        "uprn": NEW,
        "evidence": date(2026, 10, 1),
        "dob": CHILD,
    }
    assert placed([*MOVED_ALONE, seen, kid_seen]) == ({"MUM": OLD, "KID": NEW}, {OLD: None, NEW: None})


def test_someone_known_at_the_old_address_only_by_an_open_claim_is_not_moved() -> None:
    # a new tenant whose claim (dated D) is all that shows them at the old address
    rows = [
        {"person": "NEW_TENANT", "source": "benefits", "id": "1", "uprn": OLD, "evidence": D, "dob": MUM},
        *MOVED_ALONE[2:],
    ]
    assert placed(rows) == ({"NEW_TENANT": OLD, "KID": NEW}, {OLD: None, NEW: None})


def test_only_the_configured_roles_carry_the_family() -> None:
    assert placed(MOVED_ALONE, mover_roles=("adult",)) == ({"MUM": OLD, "KID": NEW}, {OLD: None, NEW: None})


def test_a_misspelt_households_config_key_is_an_error(tmp_path: Any) -> None:
    from tfident.errors import ConfigError
    from tfident.households import load_households_config

    path = tmp_path / "households.yaml"
    path.write_text("moved_alone: move_together\nmover_role: [child]\n")
    with pytest.raises(ConfigError, match="mover_role"):
        load_households_config(path)
    assert load_households_config().moved_alone == "move_together"


def test_a_record_without_its_flat_takes_the_flat_of_the_persons_other_records() -> None:
    # the school holds Flat 2, 7 Park Road; last month's police record dropped the flat
    # (7 Park Road: two gazetteer flats fit). The person's own records name one flat: that one.
    records, index = matched(
        [
            {"person": "P1", "id": "1", "line": "Flat 2, 7 Park Road", "postcode": "TF1 2BB",
             "evidence": date(2026, 5, 1)},
            {"person": "P1", "id": "2", "line": "7 Park Road", "postcode": "TF1 2BB", "evidence": date(2026, 10, 1)},
            # another person whose only record has no flat stays at the building, flagged
            {"person": "P2", "id": "3", "line": "7 Park Road", "postcode": "TF1 2BB"},
            # a person whose records name both flats: which one the text means is unknown
            {"person": "P3", "id": "4", "line": "Flat 1, 7 Park Road", "postcode": "TF1 2BB",
             "evidence": date(2026, 1, 1)},
            {"person": "P3", "id": "5", "line": "Flat 2, 7 Park Road", "postcode": "TF1 2BB",
             "evidence": date(2026, 2, 1)},
            {"person": "P3", "id": "6", "line": "7 Park Road", "postcode": "TF1 2BB", "evidence": date(2026, 10, 1)},
            # no postcode on the flat-less record: the building is named by number and street
            {"person": "P4", "id": "7", "line": "Flat 1, 7 Park Road", "postcode": "TF1 2BB",
             "evidence": date(2026, 5, 1)},
            {"person": "P4", "id": "8", "line": "7 Park Road", "postcode": None, "evidence": date(2026, 10, 1)},
        ]
    )  # fmt: skip
    residents, households = assign_households(records, index, D, gazetteer=GAZETTEER)
    by_person = dict(zip(residents["person_id"], residents["household_id"], strict=True))
    status = dict(zip(households["household_id"], households["address_status"], strict=True))
    assert by_person["P1"] == household_id_for(12)
    assert status[by_person["P1"]] is None
    assert status[by_person["P2"]] == "ambiguous"
    assert status[by_person["P3"]] == "ambiguous"  # the latest record, and no single flat to give it
    assert by_person["P4"] == household_id_for(11)


SIB = date(2012, 1, 1)
# The family moved before 1 October: the school census shows the child at the new address;
# the school's attendance feed lags and still gives the old address for both children.
LAGGED = [
    {"person": "MUM", "source": "asb", "id": "1", "uprn": OLD, "evidence": date(2026, 3, 1), "dob": MUM},
    {"person": "KID", "source": "attendance", "id": "2", "uprn": OLD, "evidence": date(2026, 4, 2), "dob": CHILD},
    {"person": "KID", "source": "school_census", "id": "3", "uprn": NEW, "evidence": date(2026, 10, 1), "dob": CHILD},
    {"person": "KID", "source": "attendance", "id": "4", "uprn": OLD, "evidence": D, "dob": CHILD},
    {"person": "SIB", "source": "attendance", "id": "5", "uprn": OLD, "evidence": D, "dob": SIB},
]
# the sibling seen at the old address since the move by an agency that does not lag for them
SIB_SEEN = {"person": "SIB", "source": "health", "id": "6", "uprn": OLD, "evidence": date(2026, 10, 20), "dob": SIB}
# the sibling at the old address before the move too (someone first seen after it is not shown to
# have lived there with the family: first_seen_after_move, tests/unit/households/test_lagging_rules.py)
SIB_BEFORE = {"person": "SIB", "source": "health", "id": "7", "uprn": OLD, "evidence": date(2026, 2, 1), "dob": SIB}


@pytest.mark.parametrize(
    ("rows", "lagging", "where", "flags"),
    [
        # the lagging feed neither keeps the old address the child's nor shows the others stayed
        (LAGGED, True, {"MUM": NEW, "KID": NEW, "SIB": NEW}, {NEW: "moved_together"}),
        # the rule as before: the lagging record after the move stops it (and the sibling, still
        # placed at the old address and seen nowhere else, keeps the mother there under left_behind)
        (LAGGED, False, {"MUM": OLD, "KID": NEW, "SIB": OLD}, {OLD: None, NEW: None}),
        # another agency saw the sibling at the old address since the move: she stays
        ([*LAGGED, SIB_BEFORE, SIB_SEEN], True, {"MUM": OLD, "KID": NEW, "SIB": OLD}, {OLD: None, NEW: None}),
        # the feed does not lag for the child (no record of it at the old address since the
        # move), so its record of the sibling there since is a sighting: she stays
        (
            [*(r for r in LAGGED if r["id"] != "4"), SIB_BEFORE],
            True,
            {"MUM": OLD, "KID": NEW, "SIB": OLD},
            {OLD: None, NEW: None},
        ),
    ],
)
def test_an_agency_that_lags_the_move_does_not_keep_the_family_apart(
    rows: list[dict[str, Any]], lagging: bool, where: dict[str, int], flags: dict[int, str | None]
) -> None:
    assert placed(rows, lagging_sources=lagging) == (where, flags)


# Months after a move: the agencies' records a family leaves behind, and the family that moves in.
AWAY = {"line": "5 Far Road", "postcode": "TF10 3RL", "uprn": None}  # outside the area, no UPRN
LEAVERS = [
    # the housing benefit claim at the old address ended when the family left; the agency's live
    # claim is at the new address (dated D, no UPRN)
    {"person": "DAD", "source": "benefits", "id": "1", "uprn": OLD, "evidence": date(2026, 6, 30), "dob": MUM},
    {"person": "DAD", "source": "benefits", "id": "2", "evidence": D, "dob": MUM, **AWAY},
    {"person": "KID", "source": "school_census", "id": "3", "uprn": OLD, "evidence": date(2026, 5, 21), "dob": CHILD},
]


def homes(rows: list[dict[str, Any]], **config: Any) -> dict[str, str]:
    records, index = frame(rows)
    residents, _ = assign_households(records, index, D, config=HouseholdsConfig(**config))
    return dict(zip(residents["person_id"], residents["household_id"], strict=True))


def test_a_live_claim_the_same_agency_moved_on_to_places_the_family_at_its_address() -> None:
    """An address only open records show is vouched for by the same agency's ended record elsewhere:
    the family left, and the child (no record since) goes with them.
    """
    where = homes(LEAVERS)
    assert where["DAD"] == where["KID"] != household_id_for(OLD)
    # a police record at the old address instead of the ended claim: the live claim may have been
    # opened years ago, so the old address stays the dad's
    police = {**LEAVERS[0], "source": "asb"}
    assert homes([police, *LEAVERS[1:]])["DAD"] == household_id_for(OLD)


@pytest.mark.parametrize(("months", "away"), [(6, True), (12, False), (None, False)])
def test_an_undated_address_counts_once_every_dated_one_is_old(months: int | None, away: bool) -> None:
    """No ended claim, but the dad's last record at the old address is ten months old (``undated_after_months``)."""
    rows = [
        {"person": "DAD", "source": "asb", "id": "1", "uprn": OLD, "evidence": date(2025, 12, 20), "dob": MUM},
        {"person": "DAD", "source": "benefits", "id": "2", "evidence": D, "dob": MUM, **AWAY},
    ]
    assert (homes(rows, undated_after_months=months)["DAD"] != household_id_for(OLD)) is away


def test_the_family_that_moved_in_is_not_moved_with_the_family_that_left() -> None:
    """The leavers' child goes with them; the family that moved into their old home since (seen
    elsewhere before, first seen there after the leavers' last record) stays there.
    """
    newcomers = [
        {"person": "MUM2", "source": "asb", "id": "4", "uprn": 30, "evidence": date(2026, 2, 1), "dob": MUM},
        {"person": "MUM2", "source": "asb", "id": "5", "uprn": OLD, "evidence": date(2026, 9, 1), "dob": MUM},
        {"person": "KID2", "source": "attendance", "id": "6", "uprn": 30, "evidence": date(2026, 1, 15), "dob": CHILD},
        {"person": "KID2", "source": "attendance", "id": "7", "uprn": OLD, "evidence": date(2026, 10, 1), "dob": CHILD},
    ]  # fmt: skip
    where = homes([*LEAVERS, *newcomers])
    assert where["DAD"] == where["KID"] != household_id_for(OLD)
    assert where["MUM2"] == where["KID2"] == household_id_for(OLD)


def test_a_family_is_not_moved_into_a_home_another_family_lives_in() -> None:
    """The child's record at the new address is all that moves the family; someone of another
    family was seen living there before that record and since: the mother stays where she was.
    """
    occupant = [
        {"person": "LODGER", "source": "asb", "id": "7", "uprn": NEW, "evidence": date(2026, 1, 10), "dob": MUM},
        {"person": "LODGER", "source": "health", "id": "8", "uprn": NEW, "evidence": date(2026, 10, 28), "dob": MUM},
    ]
    assert placed([*MOVED_ALONE, *occupant])[0] == {"MUM": OLD, "KID": NEW, "LODGER": NEW}
    # seen there only before the move: a former occupant, the family moves in
    assert placed([*MOVED_ALONE, occupant[0]])[0] == {"MUM": NEW, "KID": NEW, "LODGER": NEW}
