"""Incremental households (issue 16): the previous run's parses of address texts are reused, and the
result is exactly a full run's, whatever changed since (a text, a postcode, the gazetteer, another
record of the batch, the code).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tfident.households import HouseholdsConfig, _gazetteer_index, assign_households
from tfident.households.incremental import (
    INDEX_SCHEMA,
    PARSES_SCHEMA,
    AddressParses,
    HouseholdsCache,
    households_fingerprint,
    index_frame,
    index_from_frame,
    parser_for,
)
from tfident.standardise import match_addresses, standardise_persons
from tfident.standardise.addresses import parse_addresses

D0, D1 = date(2026, 9, 30), date(2026, 10, 31)

GAZETTEER = pl.DataFrame(
    {
        "uprn": [10, 11, 12, 20],
        "address_line_1": ["14 High Street", "Flat 1", "Flat 2", "3 Mill Lane"],
        "address_line_2": [None, "7 Park Road", "7 Park Road", None],
        "town": ["Tenford"] * 4,
        "postcode": ["TF1 1AA", "TF1 2BB", "TF1 2BB", "TF2 3CC"],
    }
)
# the same gazetteer with a block of two flats at 1 New Build Way (the new build is now in it)
NEW_BUILD_BLOCK = pl.concat(
    [
        GAZETTEER,
        pl.DataFrame(
            {
                "uprn": [30, 31],
                "address_line_1": ["Flat 1", "Flat 2"],
                "address_line_2": ["1 New Build Way", "1 New Build Way"],
                "town": ["Tenford"] * 2,
                "postcode": ["TF1 9ZZ", "TF1 9ZZ"],
            }
        ),
    ]
)
# the same gazetteer holding 14 High Street and Flat 2, 7 Park Road twice (a second UPRN each)
DUPLICATED = pl.concat([GAZETTEER, GAZETTEER.filter(pl.col("uprn").is_in([10, 12])).with_columns(pl.col("uprn") + 90)])

BASE: list[dict[str, Any]] = [
    {"person": "P1", "id": "1", "line": "14 High Street", "postcode": "TF1 1AA"},
    {"person": "P2", "id": "2", "line": "1 New Build Way", "postcode": "TF1 9ZZ"},
    {"person": "P3", "id": "3", "line": "1, NEW BUILD WAY", "postcode": "tf19zz"},
    {"person": "P4", "id": "4", "line": "7 Park Road", "postcode": "TF1 2BB"},
    {"person": "P4", "id": "4b", "line": "Flat 2, 7 Park Road", "postcode": "TF1 2BB", "evidence": date(2026, 3, 1)},
    {"person": "P6", "id": "6", "line": "9 Cotton Walk", "town": "Wrekinford", "postcode": None},
    {"person": "P7", "id": "7", "line": "Flat 3, 5 Station Road", "postcode": "TF1 4DD"},
    {"person": "P7", "id": "7b", "line": "5 Station Road", "postcode": "TF1 4DD", "evidence": date(2026, 2, 1)},
]


def matched(rows: list[dict[str, Any]], gazetteer: pl.DataFrame, as_of: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Standardised, address-matched person records (school census layout) and their person index."""
    census = pl.DataFrame(
        {
            "record_id": [r["id"] for r in rows],
            "forename": ["A"] * len(rows),
            "surname": ["B"] * len(rows),
            "date_of_birth": [date(2012, 1, 1)] * len(rows),
            "address_line_1": [r["line"] for r in rows],
            "town": [r.get("town", "Tenford") for r in rows],
            "postcode": [r.get("postcode") for r in rows],
            "census_date": [r.get("evidence", date(2026, 9, 1)) for r in rows],
        },
        schema_overrides={"postcode": pl.String},
    )
    records = match_addresses(standardise_persons({"school_census": census}, as_of), gazetteer)
    index = records.select("record_key", pl.Series("person_id", [r["person"] for r in rows]))
    return records, index


def replaced(rows: list[dict[str, Any]], record_id: str, **changes: Any) -> list[dict[str, Any]]:
    return [{**r, **changes} if r["id"] == record_id else r for r in rows]


@dataclass(frozen=True)
class Month:
    """A case: month 1's records and gazetteer (month 0 is :data:`BASE` and :data:`GAZETTEER`), and the
    person whose household (or its address status) the change must alter (None: nothing changes).
    """

    name: str
    rows: list[dict[str, Any]]
    gazetteer: pl.DataFrame
    moves: str | None


CASES = [
    Month("nothing changed", BASE, GAZETTEER, None),
    # a record's text changed: its parse cannot be the old text's
    Month("text changed", replaced(BASE, "2", line="2 New Build Way"), GAZETTEER, "P2"),
    # the same text in another outward code: the parse is reused, the key is not
    Month("postcode changed", replaced(BASE, "2", postcode="TF2 9ZZ"), GAZETTEER, "P2"),
    # the same text, a gazetteer that now has a block of flats there: status and key from the new gazetteer
    Month("gazetteer changed", BASE, NEW_BUILD_BLOCK, "P2"),
    # a gazetteer that now holds P1's house twice: P1's UPRN is keyed as the house's text
    Month("an address twice", BASE, DUPLICATED, "P1"),
    # another record of the batch gives the postcode of P6's town-only text (a batch-level fact)
    Month(
        "another record completes a postcode",
        [*BASE, {"person": "P8", "id": "8", "line": "9 Cotton Walk", "town": "Wrekinford", "postcode": "TF10 3RL"}],
        GAZETTEER,
        "P6",
    ),
    # the person's record naming the flat is gone: the flat-less text no longer takes it
    Month("a person's flat record removed", [r for r in BASE if r["id"] != "4b"], GAZETTEER, "P4"),
    # a child of the same surname (every record's is B) is seen in flat 1 of the new build P2's and P3's
    # flat-less records name: they take that flat (flat_from_surname), a fact of another person's records
    Month(
        "another person's flat gives the surname's flat",
        [*BASE, {"person": "P9", "id": "9", "line": "Flat 1, 1 New Build Way", "postcode": "TF1 9ZZ"}],
        GAZETTEER,
        "P2",
    ),
]


def _households(
    rows: list[dict[str, Any]], gazetteer: pl.DataFrame, as_of: date, parses: AddressParses | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    records, index = matched(rows, gazetteer, as_of)
    return assign_households(records, index, as_of, gazetteer=gazetteer, config=HouseholdsConfig(), parses=parses)


def _placement(result: tuple[pl.DataFrame, pl.DataFrame]) -> dict[str, tuple[Any, ...]]:
    """Each person's household id and its address, postcode and status."""
    residents, households = result
    placed = residents.join(households, on="household_id", how="left")
    return {
        row[0]: row[1:]
        for row in placed.select("person_id", "household_id", "address", "postcode", "address_status").iter_rows()
    }


def _month0_cache() -> tuple[HouseholdsCache, dict[str, tuple[Any, ...]]]:
    parses = AddressParses()
    result = _households(BASE, GAZETTEER, D0, parses)
    return HouseholdsCache(households_fingerprint(), parses.table(), parses.index), _placement(result)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_an_incremental_month_gives_the_full_months_households(case: Month) -> None:
    cache, old = _month0_cache()
    full = _households(case.rows, case.gazetteer, D1)
    parses = cache.parser()
    incremental = _households(case.rows, case.gazetteer, D1, parses)
    assert_frame_equal(incremental[0], full[0])
    assert_frame_equal(incremental[1], full[1])
    assert parses.reused > 0  # the previous month's parses were used
    assert parses.index_reused == (case.gazetteer is GAZETTEER)  # the index only of the very same gazetteer
    new = _placement(full)
    if case.moves is None:
        assert new == old
        assert parses.parsed == 0  # every text was parsed last month
    else:  # the change reaches the result: a stale reuse would have kept the old household
        assert new[case.moves] != old[case.moves]


TEXTS = [
    None,
    "",
    "14 High Street",
    "Flat 2, 7 Park Road, Tenford",
    "flat 3 14/2 high st., tenford",
    "2/14 High Street",
    "Flat A 9 Cotton Walk, Wrekinford",
    "The Old Mill, Mill Lane",
    "14 High Street",  # a text twice
]


@pytest.mark.parametrize("known", [None, [], ["14 High Street", None], TEXTS], ids=["no cache", "empty", "some", "all"])
def test_parses_are_parse_addresses_exactly(known: list[str | None] | None) -> None:
    frame = pl.DataFrame({"address": TEXTS, "other": list(range(len(TEXTS)))}, schema_overrides={"address": pl.String})
    cache = (
        None
        if known is None
        else parse_addresses(pl.DataFrame({"address": known}, schema={"address": pl.String})).select(
            list(PARSES_SCHEMA)
        )
    )
    parses = AddressParses(cache.unique("address", maintain_order=True) if cache is not None else None)
    assert_frame_equal(parses.parse(frame), parse_addresses(frame))
    assert parses.reused + parses.parsed == len(set(TEXTS))
    assert parses.reused == (0 if known is None else len(set(known)))


def test_a_cached_parse_is_taken_as_it_is_so_only_this_codes_parses_are_trusted() -> None:
    # a wrong parse of a text (as an older code's rule might have given) under this code's fingerprint is
    # used: the fingerprint is what keeps an older code's parses out
    wrong = pl.DataFrame(
        {"address": ["14 High Street"], **{c: ["X"] for c in PARSES_SCHEMA if c != "address"}}, schema=PARSES_SCHEMA
    )
    frame = pl.DataFrame({"address": ["14 High Street"]})
    assert HouseholdsCache(households_fingerprint(), wrong).parser().parse(frame)["address_std"].to_list() == ["X"]
    # under another fingerprint (other code) or with another layout nothing is reused
    for cache in (
        HouseholdsCache("another code", wrong),
        HouseholdsCache(households_fingerprint(), wrong.drop("address_clean")),
        HouseholdsCache(households_fingerprint(), pl.concat([wrong, wrong])),  # a text twice: not this code's
    ):
        parses = cache.parser()
        assert_frame_equal(parses.parse(frame), parse_addresses(frame))
        assert parses.reused == 0


def test_the_cache_round_trips_through_the_run_caches_frames() -> None:
    cache, _ = _month0_cache()
    again = HouseholdsCache.from_frames(cache.frames())
    assert again is not None
    assert again.fingerprint == cache.fingerprint
    assert_frame_equal(again.parses, cache.parses)
    assert HouseholdsCache.from_frames({"standardised": cache.parses}) is None  # an older run's cache
    assert parser_for(None).known is None
    assert cache.parses.get_column("address").is_duplicated().sum() == 0


REORDERED = GAZETTEER.reverse()
RENAMED = GAZETTEER.with_columns(
    pl.when(pl.col("uprn") == 20).then(pl.lit("5 Mill Lane")).otherwise("address_line_1").alias("address_line_1")
)
RECODED = GAZETTEER.with_columns(
    pl.when(pl.col("uprn") == 20).then(pl.lit("TF9 3CC")).otherwise("postcode").alias("postcode")
)


@pytest.mark.parametrize(
    ("gazetteer", "reused"),
    [
        (GAZETTEER, True),
        (GAZETTEER.with_columns(pl.lit("x").alias("ward")), True),  # a column the index does not read
        (REORDERED, False),  # the same rows in another order: not proven the same input, made again
        (RENAMED, False),
        (RECODED, False),
        (NEW_BUILD_BLOCK, False),
        (DUPLICATED, False),
        (GAZETTEER.head(0), False),
    ],
    ids=[
        "same",
        "another column",
        "reordered",
        "a text changed",
        "a postcode changed",
        "flats added",
        "an address twice",
        "empty",
    ],
)
def test_the_gazetteer_index_is_reused_only_for_the_same_gazetteer(gazetteer: pl.DataFrame, reused: bool) -> None:
    made = AddressParses()
    _gazetteer_index(GAZETTEER, made)
    assert made.index is not None
    assert not made.index_reused
    parses = HouseholdsCache(households_fingerprint(), made.table(), made.index).parser()
    assert _gazetteer_index(gazetteer, parses) == _gazetteer_index(gazetteer)
    assert parses.index_reused == reused
    assert parses.index is not None
    assert parses.index.schema == pl.Schema(INDEX_SCHEMA)


@pytest.mark.parametrize(
    "gazetteer",
    [GAZETTEER, NEW_BUILD_BLOCK, RENAMED, DUPLICATED, GAZETTEER.head(0)],
    ids=["base", "block", "renamed", "duplicated", "empty"],
)
def test_the_index_frame_holds_the_index_exactly(gazetteer: pl.DataFrame) -> None:
    index = _gazetteer_index(gazetteer)
    if gazetteer is DUPLICATED:
        assert index[4] == {10: "A:TF1|14 HIGH STREET", 100: "A:TF1|14 HIGH STREET", 12: "A:TF1|FLAT 2 7 PARK ROAD"} | {
            102: "A:TF1|FLAT 2 7 PARK ROAD"
        }
    assert len(index[5]) == gazetteer.height  # the parts of every UPRN's address, kept with the rest
    frame = index_frame(
        gazetteer.select(
            pl.col("uprn").cast(pl.Int64),
            pl.concat_str(["address_line_1", "address_line_2", "town"], separator=", ", ignore_nulls=True).alias(
                "address"
            ),
            pl.col("postcode").str.split(" ").list.first().alias("outward"),
        ),
        index,
    )
    assert frame.schema == pl.Schema(INDEX_SCHEMA)
    assert index_from_frame(frame) == index


def test_a_stale_index_under_this_code_is_not_taken_for_another_gazetteer() -> None:
    # an index (here deliberately wrong: no outward codes) kept with the gazetteer input it was made from
    made = AddressParses()
    _gazetteer_index(GAZETTEER, made)
    assert made.index is not None
    wrong = made.index.filter(pl.col("part") != "outward")
    parses = HouseholdsCache(households_fingerprint(), made.table(), wrong).parser()
    assert _gazetteer_index(GAZETTEER, parses)[0] == set()  # taken for its own gazetteer: reuse is in effect
    parses = HouseholdsCache(households_fingerprint(), made.table(), wrong).parser()
    assert _gazetteer_index(RECODED, parses) == _gazetteer_index(RECODED)  # never for another
    assert not parses.index_reused
    parses = HouseholdsCache("other code", made.table(), wrong).parser()
    assert _gazetteer_index(GAZETTEER, parses) == _gazetteer_index(GAZETTEER)
    assert not parses.index_reused


def test_a_reused_index_keys_an_address_held_twice_as_a_full_run_does() -> None:
    made = AddressParses()
    _households(BASE, DUPLICATED, D0, made)
    parses = HouseholdsCache(households_fingerprint(), made.table(), made.index).parser()
    incremental = _households(BASE, DUPLICATED, D1, parses)
    full = _households(BASE, DUPLICATED, D1)
    assert parses.index_reused
    assert_frame_equal(incremental[0], full[0])
    assert_frame_equal(incremental[1], full[1])
    assert _placement(full)["P1"][3] == "ambiguous"  # at 14 High Street's text, not UPRN 10
