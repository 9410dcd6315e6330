"""tfident.standardise: person records of every source in one frame, names and addresses standardised."""

from tfident.standardise.addresses import (
    AddressConfig,
    address_match_summary,
    load_address_config,
    match_addresses,
    parse_addresses,
)
from tfident.standardise.persons import PERSONS_COLUMNS, evidence_date_expr, standardise_persons

__all__ = [
    "PERSONS_COLUMNS",
    "AddressConfig",
    "address_match_summary",
    "evidence_date_expr",
    "load_address_config",
    "match_addresses",
    "parse_addresses",
    "standardise_persons",
]
