"""The uk_address_matcher stage: the MoJ's pretrained Splink address model against the gazetteer.

`uk_address_matcher <https://github.com/moj-analytical-services/uk_address_matcher>`_
cleans both sides (token frequencies and the trained model ship inside the package: it
reads nothing from the network), blocks candidate pairs, scores them with its
pretrained Splink model, re-ranks the top candidates by the tokens that distinguish
neighbouring addresses (flat and house numbers, building names) and returns, per
address, the best gazetteer record with its ``match_weight`` and its
``distinguishability`` (the weight margin over the second best; null when there was
only one candidate).

:func:`uam_matches` runs it on distinct residual addresses only (what the deterministic
stages left), on a DuckDB connection of its own that it always closes, and keeps a
match when its weight reaches ``min_match_weight`` and its margin reaches ``min_margin``.
The package and its dependencies (Splink, DuckDB) are imported only when the stage runs.
"""

from __future__ import annotations

import warnings

import polars as pl

UAM_SCHEMA: dict[str, pl.DataType] = {"qid": pl.UInt32(), "uprn_uam": pl.Int64(), "weight": pl.Float64()}
"""Columns of :func:`uam_matches`' result."""


def uam_candidates(queries: pl.DataFrame, canonical: pl.DataFrame, threads: int | None = None) -> pl.DataFrame:
    """uk_address_matcher's best gazetteer record for each query (no threshold applied).

    ``queries``: ``qid`` (UInt32), ``address``, ``postcode`` (may be null); ``canonical``:
    ``uprn`` (Int64), ``address`` (the gazetteer's text), ``postcode``. Returns ``qid,
    uprn_uam, weight, margin`` for the queries uk_address_matcher found a candidate for;
    ``weight`` and ``margin`` are null when its own exact stage matched (it is only
    given addresses tfident's exact stages did not settle, so that is rare).
    """
    schema = {**UAM_SCHEMA, "margin": pl.Float64()}
    queries = queries.filter(pl.col("address").is_not_null())
    if queries.is_empty() or canonical.is_empty():
        return pl.DataFrame(schema=schema)
    import duckdb

    messy = queries.select(
        pl.col("qid").cast(pl.String).alias("unique_id"),
        pl.col("address").alias("address_concat"),
        pl.col("postcode").cast(pl.String),
    )
    gaz = canonical.select(
        pl.col("uprn").cast(pl.String).alias("unique_id"),
        pl.col("address").alias("address_concat"),
        pl.col("postcode").cast(pl.String),
    )
    # Our own in-memory connection, never shared, never allowed to fetch extensions.
    settings: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False}
    if threads is not None:
        settings["threads"] = threads
    con = duckdb.connect(":memory:", config=settings)
    try:
        with warnings.catch_warnings():
            # Splink reads its SQL resources with the deprecated importlib.resources.path
            warnings.filterwarnings("ignore", message="path is deprecated", category=DeprecationWarning)
            from uk_address_matcher import AddressMatcher

            matcher = AddressMatcher(
                canonical_addresses=con.from_arrow(gaz.to_arrow()),
                addresses_to_match=con.from_arrow(messy.to_arrow()),
                con=con,
                cleaning_num_chunks=1,
                show_progress="off",
            )
            found = matcher.match().matches().arrow()
        result = pl.from_arrow(found)
    finally:
        con.close()
    assert isinstance(result, pl.DataFrame)
    return result.filter(pl.col("resolved_canonical_id").is_not_null()).select(
        pl.col("unique_id").cast(pl.UInt32).alias("qid"),
        pl.col("resolved_canonical_id").cast(pl.Int64).alias("uprn_uam"),
        pl.col("match_weight").cast(pl.Float64).alias("weight"),
        pl.col("distinguishability").cast(pl.Float64).alias("margin"),
    )


def uam_matches(
    queries: pl.DataFrame,
    canonical: pl.DataFrame,
    min_match_weight: float,
    min_margin: float,
    threads: int | None = None,
) -> pl.DataFrame:
    """The matches of :func:`uam_candidates` that are strong and clear enough: ``qid, uprn_uam, weight``.

    Kept: weight >= ``min_match_weight`` and margin over the second best >= ``min_margin``
    (a lone candidate has no margin and is kept on its weight), and uk_address_matcher's
    own exact matches (null weight).
    """
    found = uam_candidates(queries, canonical, threads)
    weight, margin = pl.col("weight"), pl.col("margin")
    keep = weight.is_null() | ((weight >= min_match_weight) & (margin.is_null() | (margin >= min_margin)))
    return found.filter(keep).select(list(UAM_SCHEMA))
