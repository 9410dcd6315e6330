"""Profiles: what the model compares, and the batch's term frequencies.

Records are first collapsed into *profiles*: records whose forename, surname and date of
birth are all known and which agree on every field linkage looks at (names, date of
birth, sex, matched UPRN, address text, postcode, identifiers) are one profile, since
the model would link them anyway (``identical`` links). Splink then scores pairs of
profiles, which keeps the blocks small (a child's termly attendance records are usually
one profile). :func:`splink_input` is the frame Splink reads (one row per profile, with
the derived columns the comparisons use); :func:`tf_tables` the term frequencies of
names over the batch's *records* (not profiles), so ``tfident explain`` recomputes
exactly the same weights from a stored run's records.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

import polars as pl

from tfident.link.model import exact_level_u
from tfident.standardise import names as nm

PROFILE_FIELDS: tuple[str, ...] = (
    "forename_std",
    "middle_std",
    "forename_canonical",
    "forename_metaphone",
    "surname_std",
    "surname_metaphone",
    "date_of_birth",
    "sex",
    "uprn_matched",
    "address_key",
    "postcode_std",
    "upn",
    "nino",
    "nhs_number",
    "pnc_id",
)
"""The fields that make two records one profile when they agree on all of them."""


def build_profiles(persons: pl.DataFrame, solo_keys: Collection[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(profiles, members)``: one row per profile with its key columns, and record -> profile.

    Profile ids (``pid``) are numbered in the order of each profile's smallest record key,
    so they do not depend on the order of ``persons``. Records in ``solo_keys`` (named in
    a reviewer's link ruling) are profiles of their own, as are records missing a name or
    a date of birth: ``solo_key`` is their record key (null for every other profile).
    """
    solo = pl.Series("solo", sorted(solo_keys), dtype=pl.String)
    persons = persons.with_columns(
        _middle_std(persons).alias("middle_std"),
        address_key(persons).alias("address_key"),
        possible_dob(persons).alias("date_of_birth"),
    )
    records = persons.select(
        "record_key",
        *PROFILE_FIELDS,
        pl.col("surname_tokens"),
    ).with_columns(
        pl.when(
            pl.col("forename_std").is_null()
            | pl.col("surname_std").is_null()
            | pl.col("date_of_birth").is_null()
            | pl.col("record_key").is_in(solo.implode())
        )
        .then(pl.col("record_key"))
        .otherwise(None)
        .alias("_solo"),
        pl.when(pl.col("sex").is_in(["M", "F"])).then(pl.col("sex")).otherwise(None).alias("sex"),
    )
    group = [*PROFILE_FIELDS, "_solo"]
    profiles = (
        records.group_by(group)
        .agg(
            pl.col("record_key").min().alias("rep_key"),
            pl.col("record_key").alias("_keys"),
            pl.col("surname_tokens").first(),
            pl.len().cast(pl.Int64).alias("records"),
        )
        .sort("rep_key")
        .with_row_index("pid")
        .with_columns(pl.col("pid").cast(pl.Int64))
    )
    members = profiles.select("pid", "rep_key", "_keys").explode("_keys").rename({"_keys": "record_key"})
    profiles = profiles.drop("_keys").rename({"_solo": "solo_key"})
    return _add_derived(profiles), members


EARLIEST_BIRTH = date(1900, 1, 1)
"""Dates of birth before this are keying errors (``1099``, ``0937`` for ``1999``, ``1937``): no one
that old is on a council's records."""

UNBORN_DAYS = 366
"""A record may give a date of birth after its own date only for a child not yet born (an expected
date on a maternity record, months ahead): one later than this many days after the record's date is
a keying error (``2062``, ``7016`` for ``1962``, ``2016``)."""


def possible_dob(persons: pl.DataFrame) -> pl.Expr:
    """The record's date of birth, or null when no one could have it (:data:`EARLIEST_BIRTH`,
    :data:`UNBORN_DAYS` after the record's ``evidence_date``): an impossible date says nothing about
    who the person is, and compared as a date it holds the record apart from its person's others
    (the dob guard) as a father's date holds him apart from his namesake son.
    """
    dob = pl.col("date_of_birth")
    possible = dob >= pl.lit(EARLIEST_BIRTH)
    if "evidence_date" in persons.columns:
        latest = pl.col("evidence_date") + pl.duration(days=UNBORN_DAYS)
        possible = possible & (latest.is_null() | (dob <= latest))
    return pl.when(possible).then(dob).otherwise(None)


def address_key(persons: pl.DataFrame) -> pl.Expr:
    """The canonical address text (``address_std``) of records the gazetteer gave no UPRN.

    A record with a matched UPRN is compared on its UPRN; one without (a new build not yet
    in the gazetteer, an address outside the area, a format the matcher could not read)
    still carries its address as evidence through this key. Null for matched records, so
    it never splits their profiles.
    """
    if "address_std" not in persons.columns:
        return pl.lit(None, dtype=pl.String)
    uprn = pl.col("uprn_matched") if "uprn_matched" in persons.columns else pl.lit(None, dtype=pl.Int64)
    return pl.when(uprn.is_null()).then(pl.col("address_std")).otherwise(None)


def _middle_std(persons: pl.DataFrame) -> pl.Expr:
    """The standardised middle names of each record (``name_std`` of ``middle_names``), if any."""
    if "middle_names" not in persons.columns:
        return pl.lit(None, dtype=pl.String)
    distinct = persons["middle_names"].drop_nulls().unique().sort().to_list()
    mapping = {value: nm.name_std(value) for value in distinct}
    return pl.col("middle_names").replace_strict(mapping, default=None, return_dtype=pl.String)


def _add_derived(profiles: pl.DataFrame) -> pl.DataFrame:
    """Derived key columns: first forename, variants, middle names, initial, transposed dob.

    ``forename_middles`` holds every given name but the first: the later words of the
    forename (``MARY JANE``) and the middle names (one-letter initials left out).
    """
    forenames = profiles["forename_std"].drop_nulls().unique().sort().to_list()
    table = pl.DataFrame(
        {
            "forename_std": forenames,
            "forename_first": [f.split(" ")[0] for f in forenames],
            "forename_variant": [list(nm.forename_variants(f.split(" ")[0])) for f in forenames],
        },
        schema={"forename_std": pl.String, "forename_first": pl.String, "forename_variant": pl.List(pl.String)},
    )
    later = pl.col("forename_std").str.split(" ").list.slice(1)
    middle = pl.col("middle_std").str.split(" ")
    middles = (
        pl.concat_list(
            later.fill_null(pl.lit([], dtype=pl.List(pl.String))),
            middle.fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .list.eval(pl.element().filter(pl.element().str.len_chars() > 1))
        .list.unique(maintain_order=True)
    )
    dob = pl.col("date_of_birth")
    transposed = (
        pl.when((dob.dt.day() <= 12) & (dob.dt.day() != dob.dt.month()))
        .then(pl.date(dob.dt.year(), dob.dt.day(), dob.dt.month()))
        .otherwise(None)
    )
    return profiles.join(table, on="forename_std", how="left").with_columns(
        middles.alias("forename_middles"),
        transposed.alias("dob_transposed"),
        pl.col("forename_variant").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )


INPUT_COLUMNS: tuple[str, ...] = (
    "pid",
    "forename_first",
    "forename_canonical",
    "forename_variant",
    "forename_initial",
    "forename_middles",
    "surname_std",
    "surname_tokens",
    "surname_metaphone",
    "date_of_birth",
    "dob_digits",
    "dob_year",
    "dob_month",
    "dob_day",
    "dob_transposed",
    "sex",
    "uprn_matched",
    "address_key",
    "postcode_std",
    "upn",
    "nino",
    "nhs_number",
    "pnc_id",
)
"""The columns of the frame Splink reads (``pid`` is the unique id)."""

TF_COLUMNS: tuple[str, ...] = ("forename_first", "surname_std")


def splink_input(profiles: pl.DataFrame) -> pl.DataFrame:
    """The Splink input frame from profiles (``build_profiles``' output)."""
    dob = pl.col("date_of_birth")
    no_names = pl.lit([], dtype=pl.List(pl.String))
    middles = pl.col("forename_middles").fill_null(no_names) if "forename_middles" in profiles.columns else no_names
    return profiles.select(
        "pid",
        "forename_first",
        "forename_canonical",
        pl.col("forename_variant"),
        pl.col("forename_first").str.slice(0, 1).alias("forename_initial"),
        middles.alias("forename_middles"),
        "surname_std",
        "surname_tokens",
        "surname_metaphone",
        dob,
        dob.dt.strftime("%Y%m%d").alias("dob_digits"),
        dob.dt.year().cast(pl.Int32).alias("dob_year"),
        dob.dt.month().cast(pl.Int32).alias("dob_month"),
        dob.dt.day().cast(pl.Int32).alias("dob_day"),
        "dob_transposed",
        "sex",
        "uprn_matched",
        pl.col("address_key")
        if "address_key" in profiles.columns
        else pl.lit(None, dtype=pl.String).alias("address_key"),
        "postcode_std",
        "upn",
        "nino",
        "nhs_number",
        "pnc_id",
    )


TF_PSEUDO_RECORDS = 1000
"""Term frequencies are smoothed towards the model's average (the exact level's u) as if
this many records had the average frequency: negligible for a council's batch, and a
batch of a handful of records gets no term-frequency adjustment at all."""


def tf_tables(persons: pl.DataFrame, model: dict[str, Any] | None = None) -> dict[str, pl.DataFrame]:
    """Term-frequency lookups (``value, tf_value``) over the records of a batch.

    With ``model``, each frequency is smoothed towards the model's average
    (:data:`TF_PSEUDO_RECORDS`).
    """
    firsts = persons.select(pl.col("forename_std").str.split(" ").list.first().alias("forename_first"))
    surnames = persons.select("surname_std")
    out = {}
    for name, frame in (("forename_first", firsts), ("surname_std", surnames)):
        values = frame.filter(pl.col(name).is_not_null())
        average = exact_level_u(model, name) if model else None
        if average is None:
            prior, weight = 0.0, 0
        else:
            prior, weight = average, TF_PSEUDO_RECORDS
        total = values.height + weight
        out[name] = (
            values.group_by(name)
            .len()
            .select(name, ((pl.col("len") + prior * weight) / max(total, 1)).alias(f"tf_{name}"))
            .sort(name)
        )
    return out
