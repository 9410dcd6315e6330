"""tfident.standardise: person records of every source in one frame, names and addresses standardised."""

from tfident.standardise.addresses import match_addresses, parse_addresses
from tfident.standardise.persons import PERSONS_COLUMNS, evidence_date_expr, standardise_persons

__all__ = ["PERSONS_COLUMNS", "evidence_date_expr", "match_addresses", "parse_addresses", "standardise_persons"]
