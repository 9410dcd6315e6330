"""A synthetic batch's extracts as ingest hands them on, and its standardised, address-matched records.

Shared by the tests that need realistic person records without reading files: the
identifiers normalised by ingest's own expressions, the UPRN as Int64, and a ``line``
(the CSV line, header on line 1).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from tfident.ingest.identifiers import IDENTIFIER_EXPRS, uprn_expr
from tfident.ingest.sources import SOURCES
from tfident.standardise import match_addresses, standardise_persons
from tfident.synth import generate_batch


def typed_extracts(extracts: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """``extracts`` with identifiers normalised, UPRN Int64 and line numbers, as ingest gives them."""
    out = {}
    for name, frame in extracts.items():
        exprs = [
            uprn_expr(pl.col("uprn")).alias("uprn")
            if c.name == "uprn"
            else IDENTIFIER_EXPRS[c.name](pl.col(c.name)).alias(c.name)
            for c in SOURCES[name].columns
            if c.type == "identifier"
        ]
        out[name] = (
            frame.with_columns(exprs).with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
        )
    return out


def synthetic_records(households: int, seed: int, as_of: date) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """A synthetic batch's typed extracts and its standardised, address-matched person records."""
    extracts = typed_extracts(generate_batch(households, seed, as_of).extracts)
    return extracts, match_addresses(standardise_persons(extracts, as_of), extracts["gazetteer"])
