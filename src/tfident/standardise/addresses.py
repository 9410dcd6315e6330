"""Address standardisation and matching to the council gazetteer (LLPG).

Agencies write one address many ways: ``Flat 2, 14 High Street``, ``2/14 High St``,
``14 High Street Flat 2``, ``FLAT 2 14 HIGH STREET``, ``14, High Street``, with or
without the locality, in any case. :func:`parse_addresses` turns an address text into
its parts (``flat``, ``number``, ``street`` with the street type spelt out, and the
remaining ``place`` words) and a canonical ``address_std`` (``FLAT 2 14 HIGH STREET``),
with polars string expressions only.

:func:`match_addresses` gives every person record a gazetteer UPRN. The deterministic
stages settle what they can with certainty:

1. ``uprn_given``: the record's own UPRN, when the gazetteer has it, unless the
   address text matches a *different* UPRN exactly (same full postcode and canonical
   address), which wins as ``exact:uprn_conflict`` (a UPRN keyed wrong points at a
   neighbour; on synthetic batches every such disagreement was a mistyped UPRN);
2. ``exact``: the canonical address within the same full postcode;
3. ``normalised``: the canonical address within the same outward code (the inward
   part of the postcode was wrong, or only the outward code was given), when exactly
   one gazetteer address has it.

The distinct addresses left (with text, not settled by a given UPRN, and not carrying
a postcode whose outward code the gazetteer lacks: those are outside the council's
area) go through the residual stages of ``config/addresses.yaml``, in order, each
seeing only what the earlier ones left:

4. ``fuzzy:S``: same house number and flat, street names similar (rapidfuzz ratio
   ``S`` >= ``fuzzy.min_street_similarity``), within the same outward code, or, with no
   postcode at all, with a locality or town word in common; the best candidate (street
   similarity, then locality and town words in common) must be unique. A street the
   gazetteer has at the record's house number (any flat; in its outward code, or anywhere
   without a postcode) is not read as a misspelling: only that street may match, so a
   block's address without its flat (``21 Regent Way`` where only its flats are listed)
   stays unmatched rather than becoming a house on a street spelt like it (``21 Regent Walk``);
5. ``uam:W``: uk_address_matcher's best gazetteer record (:mod:`.uam`), kept when its
   Splink match weight ``W`` reaches ``uk_address_matcher.min_match_weight`` with a
   margin over the second best of ``min_margin`` (``uam:exact`` for its own exact stage);

and ``unmatched`` otherwise (including every address outside the council's area).
``address_match_weight`` holds the match weight of ``uam`` matches and is null for
every other stage (their reason says how they matched).

Matching runs once per distinct (address, postcode), never per record.
:func:`address_match_summary` counts matched and unmatched records per source and
method for the run's quality summary (counts only: no addresses).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator
from rapidfuzz import fuzz, process

from tfident.config import StrictModel, config_path, load_model
from tfident.ingest.identifiers import postcode_expr, postcode_outward_expr

STREET_TYPES: dict[str, str] = {
    "ST": "STREET",
    "STR": "STREET",
    "RD": "ROAD",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "LN": "LANE",
    "CL": "CLOSE",
    "DR": "DRIVE",
    "DRV": "DRIVE",
    "CRES": "CRESCENT",
    "CRESC": "CRESCENT",
    "CR": "CRESCENT",
    "GR": "GROVE",
    "GRV": "GROVE",
    "PL": "PLACE",
    "GDNS": "GARDENS",
    "GDN": "GARDEN",
    "TER": "TERRACE",
    "TERR": "TERRACE",
    "CT": "COURT",
    "WLK": "WALK",
    "SQ": "SQUARE",
    "PK": "PARK",
    "HTS": "HEIGHTS",
    "MWS": "MEWS",
    "BLVD": "BOULEVARD",
    "PDE": "PARADE",
    "CTS": "COURTS",
}
"""Street-type abbreviations, expanded when they end the street name."""

FUZZY_THRESHOLD = 0.85
"""Least rapidfuzz ratio (0-1) between street names for a fuzzy match (the default)."""

ResidualStage = Literal["fuzzy", "uk_address_matcher"]


class FuzzyConfig(StrictModel):
    """The rapidfuzz street-name stage."""

    min_street_similarity: float = Field(default=FUZZY_THRESHOLD, gt=0, le=1)


class UamConfig(StrictModel):
    """The uk_address_matcher stage (see :mod:`tfident.standardise.uam`)."""

    min_match_weight: float = 10.0
    """Least Splink match weight (log2 Bayes factor) of the best gazetteer record."""
    min_margin: float = Field(default=3.0, ge=0)
    """Least weight margin of the best over the second best (its ``distinguishability``)."""
    threads: int | None = Field(default=None, ge=1)
    """DuckDB threads for its own connection; null: DuckDB's default (every core)."""


class AddressConfig(StrictModel):
    """``config/addresses.yaml``: the residual stages after the deterministic ones."""

    residual_stages: tuple[ResidualStage, ...] = ("fuzzy",)
    fuzzy: FuzzyConfig = FuzzyConfig()
    uk_address_matcher: UamConfig = UamConfig()

    @field_validator("residual_stages")
    @classmethod
    def _once_each(cls, stages: tuple[ResidualStage, ...]) -> tuple[ResidualStage, ...]:
        if len(set(stages)) != len(stages):
            raise ValueError("each stage may appear once")
        return stages


def load_address_config(path: Path | None = None) -> AddressConfig:
    """Load ``config/addresses.yaml`` (or ``path``)."""
    return load_model(path or config_path("addresses.yaml"), AddressConfig)


_FLAT_WORDS = r"\b(?:APARTMENT|APT|FLT|UNIT)\b"
_NUMBER_STREET = r"^(?:.*?[ ,])?(\d+[A-Z]?)[ ,]+([A-Z][A-Z ]*?)\s*(?:,\s*(.*))?$"


def _clean_expr(text: pl.Expr) -> pl.Expr:
    """Upper case ASCII, apostrophes dropped, punctuation to spaces, tidy commas and slashes."""
    return (
        text.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_uppercase()
        .str.replace_all(r"['’‘`]", "")
        .str.replace_all(r"[^A-Z0-9/,]+", " ")
        .str.replace_all(r"\s*/\s*", "/")
        .str.replace_all(_FLAT_WORDS, "FLAT")
        .str.replace_all(r"\bFLAT\s+NO\b", "FLAT")
        .str.replace_all(r"\s*,[\s,]*", ", ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" ,")
    )


def _street_type_expr(street: pl.Expr) -> pl.Expr:
    """Spell out the street type when it is the street's last word."""
    last = street.str.extract(r"(?:^| )([A-Z]+)$", 1)
    expanded = last.replace(STREET_TYPES)
    return pl.when(last.is_in(list(STREET_TYPES))).then(street.str.replace(r"[A-Z]+$", "") + expanded).otherwise(street)


def parse_addresses(frame: pl.DataFrame, column: str = "address") -> pl.DataFrame:
    """``frame`` with ``address_clean, flat, number, street, place, address_std`` added.

    ``address_std`` is ``[FLAT f ]number street`` when a house number was found, else
    the cleaned text; null when the address is empty.
    """
    clean = _clean_expr(pl.col(column))
    slash = r"\b(\d+[A-Z]?)/(\d+[A-Z]?)\b"
    out = frame.with_columns(clean.alias("address_clean")).with_columns(
        pl.coalesce(
            pl.col("address_clean").str.extract(r"\bFLAT ([0-9A-Z]+)\b", 1),
            pl.col("address_clean").str.extract(slash, 1),
        ).alias("flat"),
        pl.col("address_clean")
        .str.replace(r"\s*\bFLAT [0-9A-Z]+\b", "")
        .str.replace(slash, "$2")
        .str.replace_all(r"\s*,[\s,]*", ", ")
        .str.strip_chars(" ,")
        .alias("_rest"),
    )
    out = out.with_columns(
        pl.col("_rest").str.extract(_NUMBER_STREET, 1).alias("number"),
        _street_type_expr(pl.col("_rest").str.extract(_NUMBER_STREET, 2).str.strip_chars()).alias("street"),
        pl.col("_rest").str.extract(_NUMBER_STREET, 3).alias("place"),
    )
    std = (
        pl.when(pl.col("number").is_not_null() & pl.col("street").is_not_null())
        .then(
            pl.concat_str(
                [
                    pl.when(pl.col("flat").is_not_null()).then(pl.lit("FLAT ") + pl.col("flat") + " "),
                    pl.col("number"),
                    pl.lit(" "),
                    pl.col("street"),
                ],
                ignore_nulls=True,
            )
        )
        .otherwise(pl.col("address_clean").replace("", None))
    )
    return out.with_columns(std.alias("address_std")).drop("_rest")


def gazetteer_parts(gazetteer: pl.DataFrame) -> pl.DataFrame:
    """The gazetteer with its address text, postcode and parsed parts: what :func:`match_addresses`
    matches against (an incremental run keeps it while the gazetteer is unchanged,
    ``tfident.standardise.incremental``).
    """
    lines = [c for c in ("address_line_1", "address_line_2", "address_line_3", "town") if c in gazetteer.columns]
    gaz = gazetteer.select(
        pl.col("uprn").cast(pl.Int64, strict=False).alias("uprn"),
        pl.concat_str([pl.col(c) for c in lines], separator=", ", ignore_nulls=True).alias("address"),
        postcode_expr(pl.col("postcode")).alias("postcode_std"),
        postcode_outward_expr(pl.col("postcode")).alias("postcode_outward"),
    ).filter(pl.col("uprn").is_not_null())
    return parse_addresses(gaz)


def _unique_key(gaz: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Gazetteer rows whose ``keys`` identify exactly one UPRN."""
    return (
        gaz.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
        .group_by(keys)
        .agg(pl.col("uprn").min(), pl.len().alias("_n"))
        .filter(pl.col("_n") == 1)
        .drop("_n")
    )


def _words(text: str | None) -> set[str]:
    return set(text.replace(",", " ").split()) if text else set()


def _fuzzy(queries: pl.DataFrame, gaz: pl.DataFrame, threshold: float = FUZZY_THRESHOLD) -> pl.DataFrame:
    """Fuzzy street matches for ``queries`` (rows with number and street): ``qid, uprn_fz, score``."""
    Bucket = tuple[list[int], list[str], list[set[str]]]
    by_number: dict[tuple[str, str], Bucket] = defaultdict(lambda: ([], [], []))
    by_outward: dict[tuple[str, str, str], Bucket] = defaultdict(lambda: ([], [], []))
    known_outwards = set(gaz["postcode_outward"].drop_nulls().to_list())
    # the streets the gazetteer has at each house number a query gives (any flat): a query whose own
    # street has its number (in its outward code; anywhere, without a postcode) names a real building,
    # so a different street is no spelling of it (a block's address without its flat, `21 Regent Way`
    # when only its flats are listed, is not `21 Regent Walk`): only its own street may match
    own = (
        gaz.join(queries.select("number").unique(), on="number", how="semi")
        .select("number", "street", "postcode_outward")
        .drop_nulls(["number", "street"])
        .unique()
    )
    own_in_outward = set(own.drop_nulls("postcode_outward").iter_rows())
    own_anywhere = set(own.select("number", "street").iter_rows())
    # only the buckets some query looks in (a query looks by its number and flat): the same matches,
    # without walking the whole gazetteer in Python when few addresses are left (an incremental month)
    wanted = queries.select("number", pl.col("flat").fill_null("")).unique()
    gaz = gaz.join(
        wanted,
        left_on=["number", pl.col("flat").fill_null("")],
        right_on=["number", "flat"],
        how="semi",
        maintain_order="left",
    )
    for uprn, number, flat, street, outward, place in gaz.select(
        "uprn", "number", "flat", "street", "postcode_outward", "place"
    ).iter_rows():
        if number is None or street is None:
            continue
        for target in (by_number[(number, flat or "")], by_outward[(number, flat or "", outward or "")]):
            target[0].append(uprn)
            target[1].append(street)
            target[2].append(_words(place))
    cutoff = threshold * 100
    qids: list[int] = []
    uprns: list[int] = []
    scores: list[float] = []
    for qid, number, flat, street, outward, place in queries.select(
        "qid", "number", "flat", "street", "postcode_outward", "place"
    ).iter_rows():
        if outward is not None and outward not in known_outwards:
            continue  # a postcode outside the council's area
        if outward is not None:
            bucket = by_outward.get((number, flat or "", outward))
        else:
            bucket = by_number.get((number, flat or ""))
        if bucket is None:
            continue
        words = _words(place)
        real = (number, street, outward) in own_in_outward if outward is not None else (number, street) in own_anywhere
        similar = process.extract(street, bucket[1], scorer=fuzz.ratio, score_cutoff=cutoff, limit=None)
        if real:
            similar = [hit for hit in similar if bucket[1][hit[2]] == street]
        # best street similarity first, then most locality/town words in common
        ranked = sorted(
            (
                (score, len(words & bucket[2][i]), i)
                for _, score, i in similar
                if outward is not None or words & bucket[2][i]
            ),
            key=lambda x: (-x[0], -x[1], x[2]),
        )
        if not ranked:
            continue
        best_score, best_overlap, best = ranked[0]
        if len(ranked) > 1 and ranked[1][:2] == (best_score, best_overlap):
            continue  # two equally good candidates: ambiguous
        qids.append(qid)
        uprns.append(bucket[0][best])
        scores.append(round(best_score / 100, 2))
    return pl.DataFrame(
        {"qid": qids, "uprn_fz": uprns, "score": scores},
        schema={"qid": pl.UInt32, "uprn_fz": pl.Int64, "score": pl.Float64},
    )


def _residual_stage(stage: str, rest: pl.DataFrame, gaz: pl.DataFrame, config: AddressConfig) -> pl.DataFrame:
    """One residual stage on the queries ``rest``: ``qid, _uprn, _reason, _weight``."""
    out_schema = {"qid": pl.UInt32, "_uprn": pl.Int64, "_reason": pl.String, "_weight": pl.Float64}
    if stage == "fuzzy":
        parsed = rest.filter(pl.col("number").is_not_null() & pl.col("street").is_not_null())
        found = _fuzzy(parsed, gaz, config.fuzzy.min_street_similarity)
        return found.select(
            "qid",
            pl.col("uprn_fz").alias("_uprn"),
            (pl.lit("fuzzy:") + pl.col("score").round(2).cast(pl.String).str.pad_end(4, "0")).alias("_reason"),
            pl.lit(None, dtype=pl.Float64).alias("_weight"),
        )
    from tfident.standardise.uam import uam_matches

    settings = config.uk_address_matcher
    queries = rest.select("qid", "address", pl.coalesce("postcode_std", "postcode_outward").alias("postcode"))
    canonical = gaz.select("uprn", "address", pl.col("postcode_std").alias("postcode"))
    found = uam_matches(queries, canonical, settings.min_match_weight, settings.min_margin, settings.threads)
    return found.select(
        "qid",
        pl.col("uprn_uam").alias("_uprn"),
        pl.when(pl.col("weight").is_null())
        .then(pl.lit("uam:exact"))
        .otherwise(pl.lit("uam:") + pl.col("weight").round(1).cast(pl.String))
        .alias("_reason"),
        pl.col("weight").round(3).alias("_weight"),
    ).cast(out_schema)  # type: ignore[arg-type]


def match_addresses(
    persons: pl.DataFrame,
    gazetteer: pl.DataFrame,
    config: AddressConfig | None = None,
    parts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``persons`` with ``uprn_matched`` (Int64, null when unmatched), ``address_match`` and
    ``address_match_weight`` (Float64) added; ``config`` defaults to :class:`AddressConfig`'s defaults.
    ``parts``, when given, must be :func:`gazetteer_parts` of ``gazetteer`` (it is not parsed again).
    """
    config = config or AddressConfig()
    gaz = gazetteer_parts(gazetteer) if parts is None else parts
    known = gaz.select(pl.col("uprn").alias("uprn_known")).unique()
    key = ["address", "postcode_std", "postcode_outward"]
    # a distinct address needs its text matched unless every record of it has a known UPRN
    needs_text = (
        persons.select(*key, "uprn")
        .join(known, left_on="uprn", right_on="uprn_known", how="left", coalesce=False)
        .group_by(key)
        .agg(pl.col("uprn_known").is_null().any().alias("_needs_text"))
    )
    queries = needs_text.sort(key, nulls_last=True).with_row_index("qid").pipe(parse_addresses)
    exact = _unique_key(gaz, ["postcode_std", "address_std"]).rename({"uprn": "uprn_exact"})
    near = _unique_key(gaz, ["postcode_outward", "address_std"]).rename({"uprn": "uprn_near"})
    queries = queries.join(exact, on=["postcode_std", "address_std"], how="left").join(
        near, on=["postcode_outward", "address_std"], how="left"
    )
    known_outwards = gaz["postcode_outward"].drop_nulls().unique().implode()
    rest = queries.filter(
        pl.col("uprn_exact").is_null()
        & pl.col("uprn_near").is_null()
        & pl.col("_needs_text")
        & pl.col("address").is_not_null()
        # a valid postcode in an outward code the gazetteer lacks: outside the area
        & (pl.col("postcode_outward").is_null() | pl.col("postcode_outward").is_in(known_outwards))
    )
    found: list[pl.DataFrame] = []
    for stage in config.residual_stages:
        if rest.is_empty():
            break
        matched = _residual_stage(stage, rest, gaz, config)
        found.append(matched)
        rest = rest.join(matched.select("qid"), on="qid", how="anti")
    residual = (
        pl.concat(found)
        if found
        else pl.DataFrame(schema={"qid": pl.UInt32, "_uprn": pl.Int64, "_reason": pl.String, "_weight": pl.Float64})
    )
    queries = queries.join(residual, on="qid", how="left")
    reason = (
        pl.when(pl.col("uprn_exact").is_not_null())
        .then(pl.lit("exact"))
        .when(pl.col("uprn_near").is_not_null())
        .then(pl.lit("normalised"))
        .when(pl.col("_uprn").is_not_null())
        .then(pl.col("_reason"))
        .otherwise(pl.lit("unmatched"))
    )
    text_match = queries.select(
        *key,
        pl.coalesce("uprn_exact", "uprn_near", "_uprn").alias("_uprn_text"),
        reason.alias("_reason_text"),
        pl.col("_weight").alias("_weight_text"),
    )
    out = (
        persons.with_row_index("_row")
        .join(text_match, on=key, how="left", nulls_equal=True)
        .join(known, left_on="uprn", right_on="uprn_known", how="left", coalesce=False)
        .sort("_row")
    )
    given = pl.col("uprn_known").is_not_null()
    # a UPRN keyed one digit out points at a neighbour: an exact text match elsewhere wins
    conflict = given & (pl.col("_reason_text") == "exact") & (pl.col("_uprn_text") != pl.col("uprn"))
    return out.with_columns(
        pl.when(given & ~conflict)
        .then(pl.col("uprn"))
        .otherwise(pl.col("_uprn_text"))
        .cast(pl.Int64)
        .alias("uprn_matched"),
        pl.when(conflict)
        .then(pl.lit("exact:uprn_conflict"))
        .when(given)
        .then(pl.lit("uprn_given"))
        .otherwise(pl.col("_reason_text"))
        .alias("address_match"),
        pl.when(given).then(None).otherwise(pl.col("_weight_text")).cast(pl.Float64).alias("address_match_weight"),
    ).drop("_row", "_uprn_text", "_reason_text", "_weight_text", "uprn_known")


def address_match_method_expr(reason: pl.Expr) -> pl.Expr:
    """The method of an ``address_match`` reason: its score (``:0.93``, ``:12.3``) dropped."""
    return reason.str.replace(r":-?[0-9.]+$", "")


def address_match_summary(persons: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per source: ``matched`` and ``unmatched`` record counts and records ``by_method``
    (``uprn_given``, ``exact``, ``normalised``, ``fuzzy``, ``uam``, ..., ``unmatched``).
    """
    counts = (
        persons.select("source", address_match_method_expr(pl.col("address_match")).alias("method"))
        .group_by("source", "method")
        .len()
        .sort("source", "method")
    )
    summary: dict[str, dict[str, Any]] = {}
    for source, method, n in counts.iter_rows():
        entry = summary.setdefault(source, {"matched": 0, "unmatched": 0, "by_method": {}})
        entry["unmatched" if method == "unmatched" else "matched"] += n
        entry["by_method"][method] = n
    return summary
