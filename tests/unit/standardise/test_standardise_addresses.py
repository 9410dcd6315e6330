"""Address parsing and gazetteer matching."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfident.standardise import match_addresses, parse_addresses

GAZETTEER = pl.DataFrame(
    {
        "uprn": [10, 11, 12, 13, 20, 30, 31],
        "address_line_1": [
            "Flat 1", "Flat 2", "14 High Street", "15 High Street", "3 Mill Lane", "6 Chaucer Road", "6 Chaucer Road",
        ],
        "address_line_2": [
            "14 High Street", "14 High Street", "Northfield", "Northfield", None, "Kingsbury Vale", None,
        ],
        "address_line_3": ["Northfield", "Northfield", None, None, None, None, None],
        "town": ["Tenford"] * 7,
        "postcode": ["TF4 2BA", "TF4 2BA", "TF4 2BA", "TF4 2BA", "TF1 1AB", "TF7 3AA", "TF1 5BB"],
    },
    schema_overrides={"uprn": pl.Int64, "address_line_3": pl.String},
)  # fmt: skip


def std(address: str) -> str | None:
    return parse_addresses(pl.DataFrame({"address": [address]}))["address_std"][0]


@pytest.mark.parametrize(
    "address",
    [
        "Flat 2, 14 High Street, Northfield, Tenford",
        "Flat 2, 14 High Street",
        "2/14 High St, Tenford",
        "2 / 14 High St.",
        "14 High Street Flat 2, Northfield",
        "FLAT 2 14 HIGH STREET, NORTHFIELD, TENFORD",
        "flat 2, 14 high street, northfield, tenford",
        "Flat 2 14 High St., Northfield",
        "Apartment 2, 14 High Street",
        "Apt. 2, 14 High Street",
    ],
)
def test_flat_variants_agree(address: str) -> None:
    assert std(address) == "FLAT 2 14 HIGH STREET"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("14, High Street, Northfield", "14 HIGH STREET"),
        ("14 High St", "14 HIGH STREET"),
        ("3 Mill Ln, Tenford", "3 MILL LANE"),
        ("8 Oak Dr.", "8 OAK DRIVE"),
        ("12 Queen's Gdns", "12 QUEENS GARDENS"),
        ("14B High Street", "14B HIGH STREET"),
        ("Rose Cottage, Tenford", "ROSE COTTAGE, TENFORD"),
        ("St Johns Road 4", "ST JOHNS ROAD 4"),
    ],
)
def test_address_std(address: str, expected: str) -> None:
    assert std(address) == expected


def persons(rows: list[tuple[str | None, str | None, int | None]]) -> pl.DataFrame:
    from tfident.ingest.identifiers import postcode_expr, postcode_outward_expr

    return pl.DataFrame(
        {
            "record_key": [f"asb:{i}" for i in range(len(rows))],
            "address": [r[0] for r in rows],
            "postcode": [r[1] for r in rows],
            "uprn": [r[2] for r in rows],
        },
        schema_overrides={"uprn": pl.Int64, "address": pl.String, "postcode": pl.String},
    ).with_columns(
        postcode_expr(pl.col("postcode")).alias("postcode_std"),
        postcode_outward_expr(pl.col("postcode")).alias("postcode_outward"),
    )


def match(address: str | None, postcode: str | None, uprn: int | None = None) -> tuple[int | None, str]:
    out = match_addresses(persons([(address, postcode, uprn)]), GAZETTEER)
    return out["uprn_matched"][0], out["address_match"][0]


def test_exact_match() -> None:
    assert match("2/14 High St", "tf42ba") == (11, "exact")
    assert match("14 HIGH STREET, NORTHFIELD", "TF4 2BA") == (12, "exact")


def test_flat_must_agree() -> None:
    assert match("Flat 3, 14 High Street", "TF4 2BA")[0] is None
    assert match("16 High Street", "TF4 2BA")[0] is None


def test_wrong_inward_postcode_falls_back_to_outward() -> None:
    assert match("Flat 1, 14 High Street", "TF4 2BZ") == (10, "normalised")


def test_outward_code_alone() -> None:
    assert match("3 Mill Lane", "TF1") == (20, "normalised")


def test_missing_postcode_uses_locality() -> None:
    assert match("6, Chaucer Road, Kingsbury Vale, Tenford", None) == (30, "fuzzy:1.00")
    assert match("3 Mill Lane, Tenford", None) == (20, "fuzzy:1.00")


def test_missing_postcode_ambiguous_street_is_unmatched() -> None:
    assert match("6 Chaucer Road, Tenford", None) == (None, "unmatched")


def test_misspelt_street_is_fuzzy() -> None:
    uprn, reason = match("3 Mil Lane", "TF1 1AB")
    assert uprn == 20
    assert reason.startswith("fuzzy:0.")


def test_out_of_area_is_unmatched() -> None:
    assert match("3 Mill Lane, Wrekinford", "TF10 7LF") == (None, "unmatched")
    assert match("3 Mill Lane, Wrekinford", None) == (None, "unmatched")
    assert match(None, "TF4 2BA") == (None, "unmatched")


def test_given_uprn_wins() -> None:
    assert match("somewhere odd", None, 13) == (13, "uprn_given")
    assert match("15 High Street", "TF4 2BA", 13) == (13, "uprn_given")


def test_given_uprn_unknown_to_the_gazetteer_is_ignored() -> None:
    assert match("15 High Street", "TF4 2BA", 999) == (13, "exact")


def test_mistyped_uprn_loses_to_an_exact_address() -> None:
    assert match("15 High Street", "TF4 2BA", 12) == (13, "exact:uprn_conflict")


def test_match_keeps_rows_and_order() -> None:
    rows = [("15 High Street", "TF4 2BA", None), (None, None, None), ("2/14 High St", "TF4 2BA", None)] * 3
    out = match_addresses(persons(rows), GAZETTEER)
    assert out["record_key"].to_list() == [f"asb:{i}" for i in range(9)]
    assert out["uprn_matched"].to_list() == [13, None, 11] * 3
    assert out.schema["uprn_matched"] == pl.Int64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("Flat 12/3,.' High St Rd ABCxyzé-")), max_size=40), max_size=5))
def test_parse_never_raises_and_is_idempotent(addresses: list[str]) -> None:
    parsed = parse_addresses(pl.DataFrame({"address": addresses}, schema={"address": pl.String}))
    again = parse_addresses(parsed.select(pl.col("address_std").alias("address")))
    assert again["address_std"].to_list() == parsed["address_std"].to_list()


# a block whose flats alone are listed (21 Regent Way, on two postcodes), a house on a street one
# letter away (21 Regent Walk), a block on another street (14 Green Walk) and a house whose street is
# close to it (14 Regent Walk), all in TF1, and another 21 Regent Walk in Westmoor (TF2)
BLOCKS = pl.DataFrame(
    {
        "uprn": [1, 2, 3, 4, 5, 6],
        "address_line_1": ["Flat 8", "Flat 11", "21 Regent Walk", "Flat 5", "14 Regent Walk", "21 Regent Walk"],
        "address_line_2": ["21 Regent Way", "21 Regent Way", None, "14 Green Walk", None, "Westmoor"],
        "town": ["Tenford"] * 6,
        "postcode": ["TF1 2BN", "TF1 2BP", "TF1 3BW", "TF1 8BB", "TF1 3BU", "TF2 4AA"],
    },
    schema_overrides={"uprn": pl.Int64},
)


@pytest.mark.parametrize(
    ("address", "postcode", "expected"),
    [
        # a block's address without its flat is not a house on a street spelt like it: no match
        # (fuzzy gave 21 Regent Walk and 14 Regent Walk, ratio 0.86, before)
        ("21 Regent Way, Tenford", "TF1 2BN", (None, "unmatched")),
        ("21, Regent Way", "TF1 2BP", (None, "unmatched")),
        ("14 Green Wlk., Tenford", "TF1 8BB", (None, "unmatched")),
        ("14 Green Walk, Tenford", None, (None, "unmatched")),  # no postcode: the street has 14 somewhere
        # its flats still match, exactly or within the outward code
        ("Flat 8, 21 Regent Way", "TF1 2BN", (1, "exact")),
        ("11/21 Regent Way", "TF1 2ZZ", (2, "normalised")),
        # a street the gazetteer lacks is still read as a misspelling
        ("21 Regnt Walk", "TF1 3BW", (3, "fuzzy:0.95")),
        ("21 Regent Wallk, Westmoor", None, (6, "fuzzy:0.96")),
        # the street at that number in another outward code does not count: 21 Regent Way is in TF1
        # only, so a record in TF2 is still read as a misspelt Regent Walk there (as before)
        ("21 Regent Way", "TF2 4AA", (6, "fuzzy:0.86")),
    ],
)
def test_a_street_the_gazetteer_has_at_that_number_is_not_misspelt(
    address: str, postcode: str | None, expected: tuple[int | None, str]
) -> None:
    out = match_addresses(persons([(address, postcode, None)]), BLOCKS)
    assert (out["uprn_matched"][0], out["address_match"][0]) == expected
