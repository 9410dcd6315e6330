"""tfident.standardise: person records of every source in one frame, names and addresses standardised."""

import polars as pl

from tfident.standardise.addresses import (
    AddressConfig,
    address_match_summary,
    load_address_config,
    match_addresses,
    parse_addresses,
)
from tfident.standardise.persons import PERSONS_COLUMNS, PERSONS_SCHEMA, evidence_date_expr, standardise_persons

RECORDS_SCHEMA: dict[str, pl.DataType] = {
    **PERSONS_SCHEMA,
    "uprn_matched": pl.Int64(),
    "address_match": pl.String(),
    "address_match_weight": pl.Float64(),
}
"""The standardise stage's ``records``: :data:`PERSONS_SCHEMA` and what :func:`match_addresses` adds, in order."""

__all__ = [
    "PERSONS_COLUMNS",
    "PERSONS_SCHEMA",
    "RECORDS_SCHEMA",
    "AddressConfig",
    "address_match_summary",
    "evidence_date_expr",
    "load_address_config",
    "match_addresses",
    "parse_addresses",
    "standardise_persons",
]
