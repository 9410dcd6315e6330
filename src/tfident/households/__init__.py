"""tfident.households: place every linked person at one address on the batch date D.

A person's address at D is the matched UPRN (``uprn_matched``) of its most recent
address evidence: the record with the latest ``evidence_date`` among its records that
matched the gazetteer. Ties go to the source whose address is the more reliable record
of where someone lives now (:data:`RESIDENCE_PRIORITY`: school census and social care
first, benefits and police records last), then to the smallest record key.

An older address in one agency's record does not move a person: an address the person
was first seen at *before* another of their addresses is a former address, however
recent the agency's record of it (a benefit claim whose address DWP never updated).
So the candidate addresses are ranked by when each was first evidenced, latest first,
then by the most recent evidence as above.

Records that matched no gazetteer address (out-of-area addresses, unusable text)
cannot place anyone; a person with none is in ``residents`` with a null household.
The household id is ``H`` and the first 12 hex digits of the SHA-1 of the UPRN.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date

import polars as pl

__all__ = ["RESIDENCE_PRIORITY", "assign_households", "household_id_for"]

log = logging.getLogger(__name__)

RESIDENCE_PRIORITY: tuple[str, ...] = (
    "school_census",
    "social_care",
    "attendance",
    "exclusions",
    "health",
    "benefits",
    "domestic_abuse",
    "youth_offending",
    "asb",
)
"""Sources in order of how reliably their address shows where someone lives now."""

RESIDENTS_SCHEMA: dict[str, pl.DataType] = {
    "person_id": pl.String(),
    "household_id": pl.String(),
    "uprn": pl.Int64(),
    "role": pl.String(),
    "date_of_birth": pl.Date(),
}
HOUSEHOLDS_SCHEMA: dict[str, pl.DataType] = {
    "household_id": pl.String(),
    "uprn": pl.Int64(),
    "address": pl.String(),
    "postcode": pl.String(),
    "n_members": pl.Int64(),
}


def household_id_for(uprn: int) -> str:
    """A household's id: ``H`` and the first 12 hex digits of the SHA-1 of its UPRN."""
    return "H" + hashlib.sha1(str(uprn).encode("ascii")).hexdigest()[:12]


def _age_expr(dob: pl.Expr, as_of: date) -> pl.Expr:
    """Completed years at ``as_of``."""
    had_birthday = (dob.dt.month() < as_of.month) | ((dob.dt.month() == as_of.month) & (dob.dt.day() <= as_of.day))
    return pl.lit(as_of.year) - dob.dt.year() - pl.when(had_birthday).then(0).otherwise(1)


def resolve_dob(records: pl.DataFrame) -> pl.DataFrame:
    """``person_id, date_of_birth``: the most common known date of birth, ties to the most recent record."""
    known = records.filter(pl.col("date_of_birth").is_not_null())
    return (
        known.group_by("person_id", "date_of_birth")
        .agg(pl.len().alias("_n"), pl.col("evidence_date").max().alias("_latest"), pl.col("record_key").min())
        .sort(
            ["person_id", "_n", "_latest", "record_key"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .unique("person_id", keep="first", maintain_order=True)
        .select("person_id", "date_of_birth")
    )


def resolve_address(records: pl.DataFrame) -> pl.DataFrame:
    """``person_id, uprn``: the address each person lives at on D (see the module docstring)."""
    priority = {source: i for i, source in enumerate(RESIDENCE_PRIORITY)}
    placed = records.filter(pl.col("uprn_matched").is_not_null()).with_columns(
        pl.col("source").replace_strict(priority, default=len(priority), return_dtype=pl.Int64).alias("_priority"),
        pl.col("evidence_date").fill_null(date.min),
    )
    by_address = placed.group_by("person_id", "uprn_matched").agg(
        pl.col("evidence_date").min().alias("_first"),
        pl.col("evidence_date").max().alias("_last"),
        pl.col("_priority").filter(pl.col("evidence_date") == pl.col("evidence_date").max()).min().alias("_priority"),
        pl.col("record_key").min(),
    )
    # first evidenced latest, then most recent evidence, then the more reliable source
    order = ["person_id", "_first", "_last", "_priority", "record_key"]
    descending = [False, True, True, False, False]
    return (
        by_address.sort(order, descending=descending)
        .unique("person_id", keep="first", maintain_order=True)
        .select("person_id", pl.col("uprn_matched").alias("uprn"))
    )


def _household_address(records: pl.DataFrame, gazetteer: pl.DataFrame | None) -> pl.DataFrame:
    """``uprn, address, postcode`` for every matched UPRN: the gazetteer's text when given,
    else the commonest text among the records that matched it exactly."""
    if gazetteer is not None:
        lines = [c for c in ("address_line_1", "address_line_2", "address_line_3", "town") if c in gazetteer.columns]
        return gazetteer.select(
            pl.col("uprn").cast(pl.Int64, strict=False),
            pl.concat_str([pl.col(c) for c in lines], separator=", ", ignore_nulls=True).alias("address"),
            pl.col("postcode").alias("postcode"),
        ).unique("uprn", keep="first")
    rank = pl.when(pl.col("address_match") == "exact").then(0).when(pl.col("address_match") == "normalised").then(1)
    candidates = records.filter(pl.col("uprn_matched").is_not_null() & pl.col("address").is_not_null()).with_columns(
        rank.otherwise(2).alias("_rank")
    )
    address = (
        candidates.group_by("uprn_matched", "address")
        .agg(pl.col("_rank").min(), pl.len().alias("_n"))
        .sort(["uprn_matched", "_rank", "_n", "address"], descending=[False, False, True, False])
        .unique("uprn_matched", keep="first", maintain_order=True)
    )
    postcode = (
        records.filter(pl.col("uprn_matched").is_not_null() & pl.col("postcode_std").is_not_null())
        .group_by("uprn_matched", "postcode_std")
        .len()
        .sort(["uprn_matched", "len", "postcode_std"], descending=[False, True, False])
        .unique("uprn_matched", keep="first", maintain_order=True)
    )
    return (
        address.select("uprn_matched", "address")
        .join(postcode.select("uprn_matched", "postcode_std"), on="uprn_matched", how="full", coalesce=True)
        .select(pl.col("uprn_matched").alias("uprn"), "address", pl.col("postcode_std").alias("postcode"))
    )


def assign_households(
    records: pl.DataFrame,
    person_index: pl.DataFrame,
    as_of: date,
    gazetteer: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Place every person at an address on ``as_of`` and group them into households.

    ``records`` is the matched persons frame (``match_addresses`` output),
    ``person_index`` maps ``record_key`` to ``person_id``. ``gazetteer``, when given,
    supplies the households' address text; otherwise the text is taken from the records.

    Returns ``(residents, households)``: ``residents`` has ``person_id, household_id,
    uprn, role, date_of_birth`` (one row per person, sorted by ``person_id``; role by
    age at ``as_of``: ``adult`` 18 or over, ``child`` under 18, ``unknown`` without a
    date of birth); ``households`` has ``household_id, uprn, address, postcode,
    n_members`` (sorted by ``household_id``).
    """
    linked = records.join(person_index.select("record_key", "person_id"), on="record_key", how="inner")
    persons = linked.select("person_id").unique()
    if persons.is_empty():
        return pl.DataFrame(schema=RESIDENTS_SCHEMA), pl.DataFrame(schema=HOUSEHOLDS_SCHEMA)
    dob = resolve_dob(linked)
    address = resolve_address(linked)
    age = _age_expr(pl.col("date_of_birth"), as_of)
    residents = (
        persons.join(address, on="person_id", how="left")
        .join(dob, on="person_id", how="left")
        .with_columns(
            pl.col("uprn")
            .map_elements(household_id_for, return_dtype=pl.String, skip_nulls=True)
            .alias("household_id"),
            pl.when(pl.col("date_of_birth").is_null())
            .then(pl.lit("unknown"))
            .when(age >= 18)
            .then(pl.lit("adult"))
            .otherwise(pl.lit("child"))
            .alias("role"),
        )
        .select(list(RESIDENTS_SCHEMA))
        .sort("person_id")
    )
    counts = residents.filter(pl.col("household_id").is_not_null()).group_by("household_id", "uprn").len()
    households = (
        counts.join(_household_address(linked, gazetteer), on="uprn", how="left")
        .select(
            "household_id",
            "uprn",
            "address",
            "postcode",
            pl.col("len").cast(pl.Int64).alias("n_members"),
        )
        .sort("household_id")
    )
    log.info("placed %d of %d persons in %d households", counts["len"].sum(), residents.height, households.height)
    return residents, households
