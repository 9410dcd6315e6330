"""Agencies that lag a move, on the other side of it: the occupant a school feed has not seen
leave, and the family that moved in from outside the area (docs/households.md, "Agencies that
lag a move").
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.households import SCHOOL_SOURCES, HouseholdsConfig, assign_households

D = date(2026, 10, 31)
MUM, CHILD, TEEN = date(1985, 1, 1), date(2014, 1, 1), date(2008, 9, 22)
OLD, NEW = 10, 20
# the gazetteer knows the council's outward codes TF1 and TF2; TF10 is another council's
GAZETTEER = pl.DataFrame(
    {
        "uprn": [OLD, NEW],
        "address_line_1": ["10 Some Street", "20 Some Street"],
        "town": ["Tenford", "Tenford"],
        "postcode": ["TF1 1AA", "TF2 2BB"],
    }
)
AWAY = {"uprn": None, "line": "28 Grange Avenue, Wrekinford", "postcode": "TF10 8DE"}  # outside the area


def row(person: str, source: str, rid: int, evidence: date, dob: date, where: int | dict[str, Any]) -> dict[str, Any]:
    place = where if isinstance(where, dict) else {"uprn": where}
    return {"person": person, "source": source, "id": str(rid), "evidence": evidence, "dob": dob, **place}


def placed(rows: list[dict[str, Any]], **config: Any) -> tuple[dict[str, str], dict[str, str]]:
    """``(person -> household id, household id -> review reason)`` under ``config``, with
    ``children_rejoin`` and ``children_follow`` off unless told: these tables are the moved-alone
    rule's, and they would place a child left alone with the adults (test_children_rejoin.py,
    test_children_follow.py).
    """
    config = {"children_rejoin": False, "children_follow": False, **config}
    records = pl.DataFrame(
        {
            "record_key": [f"{r['source']}:{r['id']}" for r in rows],
            "source": [r["source"] for r in rows],
            "date_of_birth": [r["dob"] for r in rows],
            "evidence_date": [r["evidence"] for r in rows],
            "address": [r.get("line", f"{r['uprn']} Some Street") for r in rows],
            "postcode_std": [r.get("postcode", "TF1 1AA" if r["uprn"] == OLD else "TF2 2BB") for r in rows],
            "uprn_matched": [r["uprn"] for r in rows],
            "address_match": ["exact"] * len(rows),
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))
    residents, households = assign_households(records, index, D, gazetteer=GAZETTEER, config=HouseholdsConfig(**config))
    flags = {h: r for h, r in zip(households["household_id"], households["review_reason"], strict=True) if r}
    return dict(zip(residents["person_id"], residents["household_id"], strict=True)), flags


def together(where: dict[str, str], *people: str) -> bool:
    return len({where[p] for p in people}) == 1


# The family moved from OLD to NEW in September. The child's school census of 1 October has the new
# address; the school's attendance feed lags (the old one on 31 October). The dad has nothing since
# the move. A young woman of another family was at NEW before the move: her school's attendance
# feed still gives NEW on 31 October, though her family has left it.
FAMILY = [
    row("DAD", "asb", 1, date(2026, 3, 1), MUM, OLD),
    row("KID", "school_census", 2, date(2026, 5, 21), CHILD, OLD),
    row("KID", "school_census", 3, date(2026, 10, 1), CHILD, NEW),
    row("KID", "attendance", 4, D, CHILD, OLD),
]
OCCUPANT = [row("ZAINAB", "attendance", 5, date(2026, 4, 2), TEEN, NEW), row("ZAINAB", "attendance", 6, D, TEEN, NEW)]
SEEN_BY_HEALTH = row("ZAINAB", "health", 7, date(2026, 10, 20), TEEN, NEW)


@pytest.mark.parametrize(
    ("rows", "config", "moved"),
    [
        # the attendance feed lags this move (it still has the child at OLD): its record of the
        # occupant at NEW since is no sign she still lives there; the dad goes with the child
        (FAMILY + OCCUPANT, {}, True),
        # the rule before: any record of her at NEW since the move keeps the family out
        (FAMILY + OCCUPANT, {"lagging_occupants": False}, False),
        # a source that does not lag the move (the health visitor) saw her there since: she lives
        # there, and the dad is not moved into her home on the child's records
        ([*FAMILY, *OCCUPANT, SEEN_BY_HEALTH], {}, False),
        # the feed does not lag for the child (no attendance record at OLD since the move): its
        # record of her at NEW since is a sighting
        (FAMILY[:3] + OCCUPANT, {}, False),
        # without lagging_sources no source lags, whatever lagging_occupants says
        (FAMILY + OCCUPANT, {"lagging_sources": False}, False),
        # nobody else at NEW: the family moves either way
        (FAMILY, {"lagging_occupants": False}, True),
    ],
)
def test_an_occupant_seen_since_only_by_a_feed_that_lags_the_move_does_not_keep_the_family_out(
    rows: list[dict[str, Any]], config: dict[str, Any], moved: bool
) -> None:
    where, flags = placed(rows, **config)
    assert together(where, "DAD", "KID") is moved
    assert (flags.get(where["KID"]) == "moved_together") is moved
    if any(r["person"] == "ZAINAB" for r in rows):
        assert together(where, "ZAINAB", "KID")  # she stays at NEW (her own records say so)


# A family that moved in from outside the area (AWAY, another council's outward code) in September.
# The school census of 1 October and the attendance feed give one twin the new address in the
# area and still give her brother the old one outside it; their mother has nothing since.
ARRIVAL = [
    row("MUM", "domestic_abuse", 1, date(2026, 5, 2), MUM, AWAY),
    row("GRACE", "attendance", 2, date(2026, 7, 22), CHILD, AWAY),
    row("GRACE", "school_census", 3, date(2026, 10, 1), CHILD, NEW),
    row("GRACE", "attendance", 4, D, CHILD, NEW),
    row("OLIVER", "attendance", 5, date(2026, 7, 22), CHILD, AWAY),
    row("OLIVER", "school_census", 6, date(2026, 10, 1), CHILD, AWAY),
    row("OLIVER", "attendance", 7, D, CHILD, AWAY),
]
OLIVER_SEEN = row("OLIVER", "health", 8, date(2026, 10, 20), CHILD, AWAY)


def in_area(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same records with the old address in the area (OLD, a gazetteer UPRN)."""
    return [{k: v for k, v in r.items() if k not in AWAY} | {"uprn": OLD} if "line" in r else r for r in rows]


@pytest.mark.parametrize(
    ("rows", "config", "moved"),
    [
        # the school feeds have heard of the move for Grace: their records of Oliver at the old
        # address outside the area since are what they have not updated, and the family moves
        (ARRIVAL, {}, True),
        # off: Oliver's school records since the move keep him and his mother outside the area
        (ARRIVAL, {"arrival_sources": ()}, False),
        # only the census is such a source: the attendance feed's record of Oliver at AWAY on 31
        # October is a sighting
        (ARRIVAL, {"arrival_sources": ("school_census",)}, False),
        # another agency saw Oliver outside the area since the move: he lives there
        ([*ARRIVAL, OLIVER_SEEN], {}, False),
        # a move within the area: the rule is for arrivals only, Oliver's records keep him at OLD
        (in_area(ARRIVAL), {}, False),
        (ARRIVAL, {"lagging_sources": False}, False),
    ],
)
def test_a_school_feed_that_has_one_child_at_the_new_address_lags_for_the_siblings_of_an_arrival(
    rows: list[dict[str, Any]], config: dict[str, Any], moved: bool
) -> None:
    where, flags = placed(rows, **config)
    assert together(where, "MUM", "GRACE", "OLIVER") is moved
    assert (flags.get(where["GRACE"]) == "moved_together") is moved
    assert together(where, "MUM", "OLIVER")  # the mother goes where her son is placed


def test_the_arrival_sources_default_to_the_sources_schools_send() -> None:
    assert HouseholdsConfig().arrival_sources == SCHOOL_SOURCES == ("school_census", "attendance", "exclusions")


def block(flat: int | None, postcode: str | None = "TF1 7DB") -> dict[str, Any]:
    """An address in 12 High Drive, a new-build block the gazetteer lacks (TF1 is the council's)."""
    text = f"Flat {flat}, 12 High Drive, Tenford" if flat else "12 High Drive, Tenford"
    return {"uprn": None, "line": text, "postcode": postcode}


@pytest.mark.parametrize(
    ("rows", "with_a"),
    [
        # the school census names flat 10; the attendance feed dropped the flat: flat 10
        ([row("KID", "school_census", 2, date(2026, 5, 21), CHILD, block(10)),
          row("KID", "attendance", 3, D, CHILD, block(None))], True),
        # no postcode on the flat-less record: the building by house number and street
        ([row("KID", "school_census", 2, date(2026, 5, 21), CHILD, block(10)),
          row("KID", "attendance", 3, D, CHILD, block(None, postcode=None))], True),
        # the child's records name two flats there: which one the text means is unknown
        ([row("KID", "school_census", 2, date(2026, 1, 21), CHILD, block(11)),
          row("KID", "school_census", 4, date(2026, 5, 21), CHILD, block(10)),
          row("KID", "attendance", 3, D, CHILD, block(None))], False),
        # none of the child's records names a flat: the building's address
        ([row("KID", "attendance", 3, D, CHILD, block(None))], False),
    ],
)  # fmt: skip
def test_a_record_without_its_flat_in_a_block_the_gazetteer_lacks_takes_the_persons_flat(
    rows: list[dict[str, Any]], with_a: bool
) -> None:
    neighbour = row("A", "health", 1, D, MUM, block(10))  # lives in flat 10
    other = row("B", "health", 5, D, MUM, block(None))  # known only as 12 High Drive
    where, _ = placed([neighbour, other, *rows])
    assert together(where, "A", "KID") is with_a
    assert together(where, "B", "KID") is not with_a


# A family left OLD for NEW over the winter: the daughter's records move (last at OLD in December,
# at NEW from April); her mother was last seen at OLD in October 2025. Another family moved into OLD
# in September 2026 (first seen elsewhere, then at OLD). A man known at OLD only by an open benefit
# claim (dated D: the claim's address now, not when he came) might be of either family.
ELSEWHERE = {"uprn": None, "line": "27 Kings Gardens, Tenford", "postcode": "TF1 7AU"}  # not in the gazetteer
LEAVERS_AND_ARRIVALS = [
    row("SARAH", "asb", 1, date(2025, 10, 11), MUM, OLD),
    row("CHLOE", "social_care", 2, date(2025, 9, 17), CHILD, OLD),
    row("CHLOE", "attendance", 3, date(2025, 12, 19), CHILD, OLD),
    row("CHLOE", "attendance", 4, date(2026, 4, 2), CHILD, NEW),
    row("CHLOE", "school_census", 5, date(2026, 10, 1), CHILD, NEW),
]
ARRIVED = [
    row("KELLY", "health", 6, date(2025, 9, 15), MUM, ELSEWHERE),
    row("KELLY", "asb", 7, date(2026, 9, 27), MUM, OLD),
    row("ISLA", "attendance", 8, date(2025, 7, 22), CHILD, ELSEWHERE),
    row("ISLA", "school_census", 9, date(2026, 10, 1), CHILD, OLD),
]
CLAIM_ONLY = row("MICHAEL", "benefits", 10, D, MUM, OLD)  # an open claim at OLD, nothing else
# an ended claim elsewhere before
CLAIM_AND_PAST = [row("MICHAEL", "benefits", 11, date(2025, 7, 31), MUM, ELSEWHERE), CLAIM_ONLY]
# seen living elsewhere in March 2026, after the leavers' last record at OLD (December 2025)
SEEN_ELSEWHERE_SINCE = [row("MICHAEL", "asb", 13, date(2026, 3, 1), MUM, ELSEWHERE), CLAIM_ONLY]
SEEN_AT_OLD = row("MICHAEL", "asb", 12, date(2025, 11, 2), MUM, OLD)  # seen at OLD while the leavers were there


@pytest.mark.parametrize(
    ("rows", "config", "goes"),
    [
        # a family moved in since: the man only his claim places at OLD stays, with the arrivals
        ([*LEAVERS_AND_ARRIVALS, *ARRIVED, CLAIM_ONLY], {}, False),
        ([*LEAVERS_AND_ARRIVALS, *ARRIVED, *CLAIM_AND_PAST], {}, False),
        # the rule before: he went with the leavers
        ([*LEAVERS_AND_ARRIVALS, *ARRIVED, CLAIM_ONLY], {"undated_with_newcomers": False}, True),
        # nobody moved in since: the others at OLD (him too) go with the family, as before
        ([*LEAVERS_AND_ARRIVALS, CLAIM_ONLY], {}, True),
        ([*LEAVERS_AND_ARRIVALS, *CLAIM_AND_PAST], {}, True),
        # nobody else came, but he was seen living elsewhere after the leavers' last record at OLD:
        # he came since (undated_arrivals)
        ([*LEAVERS_AND_ARRIVALS, *SEEN_ELSEWHERE_SINCE], {}, False),
        ([*LEAVERS_AND_ARRIVALS, *SEEN_ELSEWHERE_SINCE], {"undated_arrivals": False}, True),
        # seen at OLD on a dated record while the leavers were there: one of them, he goes
        ([*LEAVERS_AND_ARRIVALS, *ARRIVED, CLAIM_ONLY, SEEN_AT_OLD], {}, True),
    ],
)
def test_someone_only_an_open_claim_places_at_the_old_home_does_not_leave_with_the_family_once_another_moved_in(
    rows: list[dict[str, Any]], config: dict[str, Any], goes: bool
) -> None:
    where, flags = placed(rows, **config)
    assert together(where, "SARAH", "CHLOE")  # the mother goes with her daughter either way
    assert flags.get(where["CHLOE"]) == "moved_together"
    assert together(where, "MICHAEL", "CHLOE") is goes
    if any(r["person"] == "KELLY" for r in rows):
        assert together(where, "KELLY", "ISLA")
        assert not together(where, "KELLY", "CHLOE")
        assert together(where, "MICHAEL", "KELLY") is not goes


# A family left OLD for NEW in May: the boy's census of May has NEW, but the census of October still
# has OLD (the feed lags); his mother was last seen at OLD in April and has an open claim there.
# Another family's boy came to OLD from elsewhere: the school census of October has him there.
LEFT_IN_MAY = [
    row("BOY", "attendance", 1, date(2026, 4, 2), CHILD, OLD),
    row("BOY", "school_census", 2, date(2026, 5, 21), CHILD, NEW),
    row("BOY", "school_census", 3, date(2026, 10, 1), CHILD, OLD),  # lags
    row("BOY", "attendance", 4, D, CHILD, NEW),
    row("MOTHER", "asb", 5, date(2026, 4, 8), MUM, OLD),
    row("MOTHER", "benefits", 6, D, MUM, OLD),  # open claim
]
CAME_IN_OCTOBER = [
    row("CONNOR", "attendance", 7, date(2026, 4, 2), TEEN, ELSEWHERE),
    row("CONNOR", "school_census", 8, date(2026, 10, 1), TEEN, OLD),
    row("CONNOR", "attendance", 9, D, TEEN, OLD),
]


@pytest.mark.parametrize(
    ("rows", "config", "moved"),
    [
        # the boy's last record at OLD from a feed that does not lag is April's: Connor, first seen
        # there in October, came since; he neither keeps the mother at OLD nor goes with her
        ([*LEFT_IN_MAY, *CAME_IN_OCTOBER], {}, True),
        # the rule before: the lagging census dates the boy at OLD in October, Connor is one of
        # "the others" and his records since keep the family apart
        ([*LEFT_IN_MAY, *CAME_IN_OCTOBER], {"lagging_newcomers": False}, False),
        # without lagging_sources nothing lags (the boy's October census at OLD: he has not moved)
        ([*LEFT_IN_MAY, *CAME_IN_OCTOBER], {"lagging_sources": False}, False),
        # nobody came: the mother goes with the boy either way
        (LEFT_IN_MAY, {}, True),
        (LEFT_IN_MAY, {"lagging_newcomers": False}, True),
    ],
)
def test_a_feed_that_lags_the_move_does_not_date_when_the_movers_left_for_a_family_that_came_since(
    rows: list[dict[str, Any]], config: dict[str, Any], moved: bool
) -> None:
    # the moved-alone rules on their own: left_behind, which places some of these adults with the
    # children whatever they decide, is tested in test_left_behind.py
    where, flags = placed(rows, **{"left_behind": False, **config})
    assert together(where, "MOTHER", "BOY") is moved
    assert (flags.get(where["BOY"]) == "moved_together") is moved
    if any(r["person"] == "CONNOR" for r in rows):
        assert not together(where, "CONNOR", "BOY")


def drive(postcode: str | None, town: str = "Tenford") -> dict[str, Any]:
    """15 High Drive, a house the gazetteer lacks (TF1 and TF2 are the council's outward codes)."""
    return {"uprn": None, "line": f"15 High Drive, {town}", "postcode": postcode}


DAD_AT_DRIVE = [
    row("DAD", "benefits", 1, date(2025, 6, 17), MUM, drive("TF1 7DD")),
    row("DAD", "asb", 2, date(2026, 1, 19), MUM, drive(None)),
]
DAD_NO_POSTCODE = row("DAD", "asb", 2, date(2026, 1, 19), MUM, drive(None))


@pytest.mark.parametrize(
    ("rows", "config", "together_"),
    [
        # the police record has no postcode; the father's claims give the house with TF1 7DD: one home
        (DAD_AT_DRIVE, {}, True),
        # the rule before: the text in the town is another address, and the latest first evidenced
        (DAD_AT_DRIVE, {"complete_postcodes": False}, False),
        # his records give the same text in two outward codes: which one the police meant is unknown
        ([row("DAD", "benefits", 1, date(2025, 6, 17), MUM, drive("TF1 7DD")),
          row("DAD", "health", 3, date(2025, 8, 1), MUM, drive("TF2 2BB")),
          DAD_NO_POSTCODE], {}, False),
        # none of his own records has a postcode, but the batch has the text in the town with a
        # postcode in one outward code only (the child's): the same house
        ([DAD_NO_POSTCODE], {}, True),
        ([DAD_NO_POSTCODE], {"complete_postcodes": False}, False),
        # another family's record gives the same text in the town in another outward code: unknown
        ([DAD_NO_POSTCODE, row("NEIGHBOUR", "health", 4, date(2026, 2, 1), MUM, drive("TF2 2BB"))], {}, False),
        # the same text in another town is another address
        ([row("DAD", "asb", 2, date(2026, 1, 19), MUM, drive(None, town="Kingsbury"))], {}, False),
    ],
)  # fmt: skip
def test_a_record_without_a_postcode_takes_the_postcode_of_the_same_address_in_the_town(
    rows: list[dict[str, Any]], config: dict[str, Any], together_: bool
) -> None:
    child = row("KID", "social_care", 9, D, CHILD, drive("TF1 7DD"))
    where, _ = placed([*rows, child], **config)
    assert together(where, "DAD", "KID") is together_


# A family left OLD for NEW in June: the girl's records move. The home was let again: a boy of
# another family, at an address outside the gazetteer before, is at OLD from September. The father's
# police and health records still give OLD in March and August (after the move, before the boy came).
LEFT_IN_JUNE = [
    row("GIRL", "attendance", 1, date(2026, 4, 2), CHILD, OLD),
    row("GIRL", "school_census", 2, date(2026, 6, 1), CHILD, NEW),
    row("GIRL", "attendance", 3, D, CHILD, NEW),
]
DAD_BEFORE = row("DAD", "asb", 4, date(2026, 1, 10), MUM, OLD)
DAD_AFTER = [row("DAD", "asb", 5, date(2026, 3, 29), MUM, OLD), row("DAD", "health", 6, date(2026, 8, 5), MUM, OLD)]
CAME_IN_SEPTEMBER = [
    row("LET", "attendance", 7, date(2025, 12, 19), TEEN, ELSEWHERE),
    row("LET", "school_census", 8, date(2026, 9, 10), TEEN, OLD),
    row("LET", "attendance", 9, D, TEEN, OLD),
]
DAD_SINCE_THEY_CAME = row("DAD", "health", 10, date(2026, 10, 2), MUM, OLD)


@pytest.mark.parametrize(
    ("rows", "config", "moved"),
    [
        # another family has had OLD since September: the father's records there before they came do
        # not show he still lives there; he goes with his daughter
        ([*LEFT_IN_JUNE, DAD_BEFORE, *DAD_AFTER, *CAME_IN_SEPTEMBER], {}, True),
        # every record of his is after the move but before they came: he lived there before them
        ([*LEFT_IN_JUNE, *DAD_AFTER, *CAME_IN_SEPTEMBER], {}, True),
        # the rule before: his records since the move keep him at OLD
        ([*LEFT_IN_JUNE, DAD_BEFORE, *DAD_AFTER, *CAME_IN_SEPTEMBER], {"newcomers_vacate": False}, False),
        ([*LEFT_IN_JUNE, *DAD_AFTER, *CAME_IN_SEPTEMBER], {"newcomers_vacate": False}, False),
        # seen at OLD since the other family came: he lives there with them
        ([*LEFT_IN_JUNE, DAD_BEFORE, *DAD_AFTER, *CAME_IN_SEPTEMBER, DAD_SINCE_THEY_CAME], {}, False),
        # nobody came: his records since the move keep him at OLD, as before
        ([*LEFT_IN_JUNE, DAD_BEFORE, *DAD_AFTER], {}, False),
    ],
)
def test_a_family_that_moved_into_the_old_home_shows_the_others_left_before_it_came(
    rows: list[dict[str, Any]], config: dict[str, Any], moved: bool
) -> None:
    # the moved-alone rules on their own: left_behind, which places some of these adults with the
    # children whatever they decide, is tested in test_left_behind.py
    where, flags = placed(rows, **{"left_behind": False, **config})
    assert together(where, "DAD", "GIRL") is moved
    assert (flags.get(where["GIRL"]) == "moved_together") is moved
    assert not together(where, "LET", "GIRL") if any(r["person"] == "LET" for r in rows) else True


# The mother was at OLD with the girl before the move. A man of whom no agency has a record before
# the move is seen at OLD after it (a health visit in October; or only the attendance feed that still
# gives the girl OLD after the move).
MUM_BEFORE = row("MUM", "asb", 11, date(2026, 2, 14), MUM, OLD)
MAN_BY_HEALTH = row("MAN", "health", 12, date(2026, 10, 6), MUM, OLD)
MAN_BEFORE = row("MAN", "asb", 15, date(2026, 1, 5), MUM, OLD)
GIRL_LAGS = row("GIRL", "attendance", 13, date(2026, 9, 1), CHILD, OLD)  # the feed lags the move
MAN_BY_LAGGING_FEED = row("MAN", "attendance", 14, date(2026, 9, 1), TEEN, OLD)


@pytest.mark.parametrize(
    ("rows", "config", "mum_moved", "man_moved"),
    [
        # first seen after the move: nothing shows he lived at OLD with the family; he neither keeps
        # the mother there nor goes with her
        ([*LEFT_IN_JUNE, MUM_BEFORE, MAN_BY_HEALTH], {}, True, False),
        # the rule before: he is one of "the others", and the health visit since keeps them at OLD
        ([*LEFT_IN_JUNE, MUM_BEFORE, MAN_BY_HEALTH], {"first_seen_after_move": False}, False, False),
        # seen only by a feed that lags this move: one of the family it has not updated, he goes too
        ([*LEFT_IN_JUNE, GIRL_LAGS, MUM_BEFORE, MAN_BY_LAGGING_FEED], {}, True, True),
        # seen at OLD before the move as well: one of the family, the visit since keeps them there
        ([*LEFT_IN_JUNE, MUM_BEFORE, MAN_BEFORE, MAN_BY_HEALTH], {}, False, False),
    ],
)  # fmt: skip
def test_someone_first_seen_after_the_move_is_not_one_of_the_family_that_left(
    rows: list[dict[str, Any]], config: dict[str, Any], mum_moved: bool, man_moved: bool
) -> None:
    # the moved-alone rules on their own: left_behind, which places some of these adults with the
    # children whatever they decide, is tested in test_left_behind.py
    where, _ = placed(rows, **{"left_behind": False, **config})
    assert together(where, "MUM", "GIRL") is mum_moved
    assert together(where, "MAN", "GIRL") is man_moved


# A block: 14 Lancaster Lane has flats 8 and 9 (UPRNs 81 and 91). A child's school records name
# flat 8; the attendance feed wrote "14 Lancaster Lane" with the UPRN of flat 9 (keyed wrong).
BLOCK = pl.DataFrame(
    {
        "uprn": [81, 91, 101],
        "address_line_1": ["Flat 8, 14 Lancaster Lane", "Flat 9, 14 Lancaster Lane", "Flat 10, 14 Lancaster Lane"],
        "town": ["Tenford"] * 3,
        "postcode": ["TF9 5AR"] * 3,
    }
)


def lane(rid: int, evidence: date, flat: int | None, uprn: int) -> dict[str, Any]:
    text = f"Flat {flat}, 14 Lancaster Lane, Tenford" if flat else "14 Lancaster Lane, Tenford"
    return {"id": rid, "evidence": evidence, "line": text, "uprn": uprn}


@pytest.mark.parametrize(
    ("rows", "config", "home"),
    [
        # the text names no flat, the person's records that name one name flat 8: flat 8
        ([lane(1, date(2026, 4, 2), 8, 81), lane(2, date(2026, 7, 22), None, 91), lane(3, D, 8, 81)], {}, 81),
        # the rule before: the UPRN stands, and flat 9, first evidenced latest, is the home
        ([lane(1, date(2026, 4, 2), 8, 81), lane(2, date(2026, 7, 22), None, 91), lane(3, D, 8, 81)],
         {"recheck_flat_uprns": False}, 91),
        # the records naming a flat name two: which one the flat-less text means is unknown
        ([lane(1, date(2026, 4, 2), 8, 81), lane(4, date(2026, 5, 2), 10, 101), lane(2, date(2026, 7, 22), None, 91)],
         {}, 91),
        # no record names a flat: the UPRN stands
        ([lane(2, date(2026, 7, 22), None, 91)], {}, 91),
        # a record naming flat 9 with its UPRN is not a guess: the latest first evidenced, flat 9
        ([lane(1, date(2026, 4, 2), 8, 81), lane(2, date(2026, 7, 22), 9, 91)], {}, 91),
    ],
)  # fmt: skip
def test_a_flat_less_address_keyed_to_one_flat_takes_the_flat_the_persons_records_name(
    rows: list[dict[str, Any]], config: dict[str, Any], home: int
) -> None:
    records = pl.DataFrame(
        {
            "record_key": [f"attendance:{r['id']}" for r in rows],
            "source": ["attendance"] * len(rows),
            "date_of_birth": [CHILD] * len(rows),
            "evidence_date": [r["evidence"] for r in rows],
            "address": [r["line"] for r in rows],
            "postcode_std": ["TF9 5AR"] * len(rows),
            "uprn_matched": [r["uprn"] for r in rows],
            "address_match": ["uprn_given"] * len(rows),
        },
        schema_overrides={"date_of_birth": pl.Date, "evidence_date": pl.Date, "uprn_matched": pl.Int64},
    )
    index = records.select("record_key", pl.lit("KID").alias("person_id"))
    residents, _ = assign_households(records, index, D, gazetteer=BLOCK, config=HouseholdsConfig(**config))
    assert residents["uprn"].to_list() == [home]
