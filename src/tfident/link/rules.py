"""Deterministic candidate links: each rule of the configuration is a join on blocking keys.

Records are first collapsed into *profiles*: records whose forename, surname and date of
birth are all known and which agree on every field linkage looks at (names, date of
birth, sex, matched UPRN, postcode, identifiers) are one profile, since every rule would
link them anyway. Rules then run over profiles, which keeps the joins small (a child's
termly attendance records are usually one profile).

A rule joins profiles that agree on all its keys, drops blocks larger than
``max_block``, keeps the pairs that pass its checks and, with ``unique_partner``, drops
a profile's pairs when its partners disagree among themselves (an initial-only record
at a twins' address, or a record without a date of birth at a father and son's).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl
from rapidfuzz.distance import JaroWinkler

from tfident.link.config import LinkageConfig, Rule
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

EDGE_SCHEMA: dict[str, pl.DataType] = {
    "pid_l": pl.Int64(),
    "pid_r": pl.Int64(),
    "probability": pl.Float64(),
    "rule": pl.String(),
    "rule_order": pl.Int64(),
}


def build_profiles(persons: pl.DataFrame, solo_keys: Collection[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(profiles, members)``: one row per profile with its key columns, and record -> profile.

    Profile ids (``pid``) are numbered in the order of each profile's smallest record key,
    so they do not depend on the order of ``persons``. Records in ``solo_keys`` (named in
    a reviewer's link ruling) are profiles of their own.
    """
    solo = pl.Series("solo", sorted(solo_keys), dtype=pl.String)
    persons = persons.with_columns(_middle_std(persons).alias("middle_std"), address_key(persons).alias("address_key"))
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
    profiles = profiles.drop("_keys", "_solo")
    return _add_derived(profiles), members


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
        pl.col("surname_tokens").alias("surname_token"),
        pl.col("forename_variant").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )


_LIST_KEYS = {"forename_variant", "surname_token"}


def _jw(left: pl.Series, right: pl.Series) -> pl.Series:
    """Jaro-Winkler similarity of two string columns (0 where either is null)."""
    values = [
        JaroWinkler.normalized_similarity(a, b) if a is not None and b is not None else 0.0
        for a, b in zip(left.to_list(), right.to_list(), strict=True)
    ]
    return pl.Series(values, dtype=pl.Float64)


def _check(pairs: pl.DataFrame, check: str, config: LinkageConfig) -> pl.Series:
    """Whether each candidate pair passes ``check``."""

    def c(name: str) -> pl.Expr:
        return pl.col(name)

    def r(name: str) -> pl.Expr:
        return pl.col(name + "_r")

    if check == "sex_compatible":
        expr = c("sex").is_null() | r("sex").is_null() | (c("sex") == r("sex"))
    elif check in ("dob_compatible", "dob_near"):
        a, b = c("date_of_birth"), r("date_of_birth")
        days = (a - b).dt.total_days().abs()
        same_day_month = (a.dt.month() == b.dt.month()) & (a.dt.day() == b.dt.day())
        near = (c("dob_transposed") == b) | (days == 1) | (same_day_month & ((a.dt.year() - b.dt.year()).abs() == 1))
        expr = (a.is_null() | b.is_null() | (a == b) | near) if check == "dob_compatible" else near.fill_null(False)
    elif check == "dob_missing_one_side":
        expr = c("date_of_birth").is_null() ^ r("date_of_birth").is_null()
    elif check == "forename_missing_one_side":
        expr = c("forename_std").is_null() ^ r("forename_std").is_null()
    elif check in ("forename_compatible", "forename_similar"):
        return _forename_check(pairs, config, allow_missing=check == "forename_compatible")
    elif check == "surname_similar":
        cheap = pairs.select(
            (
                (c("surname_std") == r("surname_std"))
                | (c("surname_metaphone") == r("surname_metaphone"))
                | (c("surname_token").list.set_intersection(r("surname_token")).list.len() > 0)
            ).fill_null(False)
        ).to_series()
        jw = _jw(pairs["surname_std"], pairs["surname_std_r"]) >= config.surname_similarity
        return cheap | jw
    else:  # pragma: no cover - the configuration model only allows the checks above
        raise ValueError(f"unknown check {check!r}")
    return pairs.select(expr.fill_null(False)).to_series()


def _forename_check(pairs: pl.DataFrame, config: LinkageConfig, allow_missing: bool) -> pl.Series:
    """Forenames agree: same, same canonical or metaphone, nickname variants meet, one an
    initial of the other, or Jaro-Winkler similar; with ``allow_missing`` a blank one agrees too."""
    a, b = pl.col("forename_first"), pl.col("forename_first_r")
    initial = ((a.str.len_chars() == 1) & (b.str.slice(0, 1) == a)) | (
        (b.str.len_chars() == 1) & (a.str.slice(0, 1) == b)
    )
    cheap = pairs.select(
        (
            (a == b)
            | (pl.col("forename_canonical") == pl.col("forename_canonical_r"))
            | (pl.col("forename_metaphone") == pl.col("forename_metaphone_r"))
            | (pl.col("forename_variant").list.set_intersection(pl.col("forename_variant_r")).list.len() > 0)
            | initial
            | (pl.lit(allow_missing) & (a.is_null() | b.is_null()))
        ).fill_null(False)
    ).to_series()
    jw = _jw(pairs["forename_first"], pairs["forename_first_r"]) >= config.guards.forename_similarity
    return cheap | jw


def _side(profiles: pl.DataFrame, columns: list[str], explode: list[str]) -> pl.DataFrame:
    frame = profiles.select("pid", *dict.fromkeys(columns))
    for name in explode:
        frame = frame.explode(name)
    return frame.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in dict.fromkeys(columns)))


def rule_edges(profiles: pl.DataFrame, rule: Rule, order: int, config: LinkageConfig) -> pl.DataFrame:
    """The candidate pairs of one rule: ``pid_l < pid_r``, probability, rule name and order."""
    left_keys = [k.split("=")[0] for k in rule.block_on]
    right_keys = [k.split("=")[-1] for k in rule.block_on]
    symmetric = left_keys == right_keys
    left = _side(profiles, left_keys, [k for k in left_keys if k in _LIST_KEYS])
    right = _side(profiles, right_keys, [k for k in right_keys if k in _LIST_KEYS])
    right = right.rename({"pid": "pid_r", **{k: f"_k{i}" for i, k in enumerate(right_keys)}})
    block_sizes = left.group_by(left_keys).agg(pl.col("pid").n_unique().alias("_block"))
    left = left.join(block_sizes, on=left_keys).filter(pl.col("_block") <= rule.max_block).drop("_block")
    pairs = (
        left.join(right, left_on=left_keys, right_on=[f"_k{i}" for i in range(len(right_keys))])
        .filter(pl.col("pid") < pl.col("pid_r") if symmetric else pl.col("pid") != pl.col("pid_r"))
        .select(
            pl.min_horizontal("pid", "pid_r").alias("pid_l"),
            pl.max_horizontal("pid", "pid_r").alias("pid_r"),
            pl.col("pid").alias("_from"),
        )
        .unique(["pid_l", "pid_r"], keep="first")
        .sort("pid_l", "pid_r")
    )
    if pairs.is_empty():
        return pl.DataFrame(schema=EDGE_SCHEMA)
    columns = [c for c in profiles.columns if c not in ("rep_key", "surname_tokens")]
    detail = pairs.join(profiles.select(columns), left_on="pid_l", right_on="pid").join(
        profiles.select(columns).rename({c: f"{c}_r" for c in columns if c != "pid"}),
        left_on="pid_r",
        right_on="pid",
    )
    keep = pl.Series([True] * detail.height)
    for check in rule.checks:
        keep = keep & _check(detail, check, config)
    detail = detail.filter(keep)
    if rule.unique_partner and not detail.is_empty():
        detail = _unique_partner(detail)
    return detail.select(
        "pid_l",
        "pid_r",
        pl.lit(rule.probability, dtype=pl.Float64).alias("probability"),
        pl.lit(rule.name).alias("rule"),
        pl.lit(order, dtype=pl.Int64).alias("rule_order"),
    )


def _unique_partner(detail: pl.DataFrame) -> pl.DataFrame:
    """Drop the pairs of any profile whose partners under this rule are not all alike."""
    ends = pl.concat(
        [
            detail.select(
                pl.col("pid_l").alias("pid"),
                pl.col("forename_canonical_r").alias("fc"),
                pl.col("date_of_birth_r").alias("dob"),
            ),
            detail.select(
                pl.col("pid_r").alias("pid"),
                pl.col("forename_canonical").alias("fc"),
                pl.col("date_of_birth").alias("dob"),
            ),
        ]
    )
    ambiguous = (
        ends.group_by("pid")
        .agg(
            pl.col("fc").filter(pl.col("fc").str.len_chars() > 1).n_unique().alias("n_fc"),
            pl.col("dob").drop_nulls().n_unique().alias("n_dob"),
        )
        .filter((pl.col("n_fc") > 1) | (pl.col("n_dob") > 1))["pid"]
    )
    return detail.filter(~pl.col("pid_l").is_in(ambiguous.implode()) & ~pl.col("pid_r").is_in(ambiguous.implode()))


def candidate_edges(profiles: pl.DataFrame, config: LinkageConfig) -> pl.DataFrame:
    """Every rule's pairs, one row per pair with its strongest rule, in a deterministic order."""
    frames = [rule_edges(profiles, rule, i, config) for i, rule in enumerate(config.rules)]
    edges = pl.concat(frames, how="vertical")
    return edges.sort(["pid_l", "pid_r", "probability", "rule_order"], descending=[False, False, True, False]).unique(
        ["pid_l", "pid_r"], keep="first", maintain_order=True
    )
