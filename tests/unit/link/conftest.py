"""Builders for small persons frames: rows as dicts, run through standardise and address matching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.ingest.sources import SOURCES
from tfident.link import LinkageConfig, load_linkage_config
from tfident.standardise import match_addresses, standardise_persons

AS_OF = date(2026, 10, 31)
TYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "code": pl.String(),
    "identifier": pl.String(),
    "date": pl.Date(),
    "integer": pl.Int64(),
}

GAZETTEER = pl.DataFrame(
    {
        "uprn": [1001, 1002, 1003, 1004],
        "address_line_1": ["1 High Street", "2 High Street", "3 High Street", "4 High Street"],
        "address_line_2": [None, None, None, None],
        "address_line_3": [None, None, None, None],
        "town": ["Tenford"] * 4,
        "postcode": ["TF1 1AA"] * 4,
    },
    schema_overrides={"uprn": pl.Int64, "address_line_2": pl.String, "address_line_3": pl.String},
)


def extract(source: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A typed extract of ``source`` with every canonical column (null unless given)."""
    columns = {}
    for column in SOURCES[source].columns:
        dtype = pl.Int64() if column.name == "uprn" else TYPES[column.type]
        columns[column.name] = pl.Series(column.name, [row.get(column.name) for row in rows], dtype=dtype)
    return pl.DataFrame(columns)


def build_persons(rows: list[dict[str, Any]], gazetteer: pl.DataFrame = GAZETTEER) -> pl.DataFrame:
    """Standardised, address-matched persons from rows that each name their ``source``."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    extracts = {source: extract(source, source_rows) for source, source_rows in by_source.items()}
    return match_addresses(standardise_persons(extracts, AS_OF), gazetteer)


@pytest.fixture
def make_persons() -> Callable[..., pl.DataFrame]:
    """The :func:`build_persons` builder."""
    return build_persons


@pytest.fixture(scope="session")
def linkage() -> LinkageConfig:
    """The committed linkage configuration."""
    return load_linkage_config()
