"""Date parsing for extracts: ISO dates, per-source formats and Excel serial numbers.

Every date column is parsed by one polars expression (no per-row Python). The
formats tried, in order, are the source's configured formats (``DD/MM/YYYY`` style or
``strftime`` style), then ISO ``YYYY-MM-DD`` (with an optional time part, as
spreadsheets and databases write it), then, where allowed, Excel serial day numbers
(``45292`` is 2024-01-01). A value that none of them parses is null, and
:func:`date_fault_expr` gives the reason the row goes to quarantine.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import polars as pl

ISO_FORMAT = "%Y-%m-%d"
EARLIEST = dt.date(1900, 1, 1)
"""Dates before this are taken as keying errors (quarantined as out of range)."""
LATEST = dt.date(2100, 12, 31)
"""Dates after this are taken as keying errors (quarantined as out of range)."""

UNPARSEABLE = "unparseable date"
OUT_OF_RANGE = "date out of range"

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_FIRST_REAL_SERIAL = 61  # serial 60 is Excel's fictional 29 February 1900
_TOKENS = (("YYYY", "%Y"), ("YY", "%y"), ("MMM", "%b"), ("MM", "%m"), ("DD", "%d"))
_ISO_WITH_TIME = r"^(\d{4}-\d{1,2}-\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_SERIAL = r"^\d{1,7}(?:\.\d+)?$"


def to_strptime(date_format: str) -> str:
    """Turn ``DD/MM/YYYY``-style formats into ``strftime`` ones; ``%`` formats pass through.

    >>> to_strptime("DD/MM/YYYY")
    '%d/%m/%Y'
    >>> to_strptime("%d.%m.%Y")
    '%d.%m.%Y'
    """
    if "%" in date_format:
        return date_format
    pattern = "|".join(re.escape(token) for token, _ in _TOKENS)
    lookup = dict(_TOKENS)
    return re.sub(pattern, lambda m: lookup[m.group(0)], date_format.upper())


def date_expr(expr: pl.Expr, formats: Sequence[str] = (), excel_serials: bool = False) -> pl.Expr:
    """Polars expression parsing a String column to Date; null where nothing parses."""
    text = expr.cast(pl.String).str.strip_chars()
    attempts = [text.str.strptime(pl.Date, to_strptime(f), strict=False, exact=True) for f in formats]
    iso = text.str.extract(_ISO_WITH_TIME, 1)
    attempts.append(iso.str.strptime(pl.Date, ISO_FORMAT, strict=False, exact=True))
    if excel_serials:
        serial = text.str.extract(r"^(\d{1,7})(?:\.\d+)?$", 1).cast(pl.Int64, strict=False)
        from_serial = pl.lit(_EXCEL_EPOCH) + pl.duration(days=serial)
        attempts.append(pl.when(serial >= _EXCEL_FIRST_REAL_SERIAL).then(from_serial).otherwise(None))
    return pl.coalesce(attempts)


def date_fault_expr(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """Polars expression: the quarantine reason for a date value, or null when it is fine.

    ``raw`` is the cleaned text (null when blank) and ``parsed`` its :func:`date_expr`.
    """
    return (
        pl.when(raw.is_not_null() & parsed.is_null())
        .then(pl.lit(UNPARSEABLE))
        .when((parsed < pl.lit(EARLIEST)) | (parsed > pl.lit(LATEST)))
        .then(pl.lit(OUT_OF_RANGE))
        .otherwise(None)
    )


def parse_dates(values: pl.Series, formats: Sequence[str] = (), excel_serials: bool = False) -> pl.Series:
    """Parse a String series to Date (null where nothing parses, range not checked)."""
    frame = pl.DataFrame({"value": values.cast(pl.String)})
    return frame.select(date_expr(pl.col("value"), formats, excel_serials))["value"]


def parse_date(value: str | None, formats: Sequence[str] = (), excel_serials: bool = False) -> dt.date | None:
    """Parse one date the way ingest does; ``None`` when nothing parses.

    >>> parse_date("31/01/2024", ["DD/MM/YYYY"])
    datetime.date(2024, 1, 31)
    >>> parse_date("45292", excel_serials=True)
    datetime.date(2024, 1, 1)
    """
    if value is None:
        return None
    result = parse_dates(pl.Series([value], dtype=pl.String), formats, excel_serials)[0]
    return result if isinstance(result, dt.date) else None


def date_fault(value: str | None, formats: Sequence[str] = (), excel_serials: bool = False) -> str | None:
    """The quarantine reason for one date value (``None`` when blank or fine)."""
    if value is None or not value.strip():
        return None
    parsed = parse_date(value, formats, excel_serials)
    if parsed is None:
        return UNPARSEABLE
    if not EARLIEST <= parsed <= LATEST:
        return OUT_OF_RANGE
    return None


def excel_serial(day: dt.date) -> int:
    """The Excel serial day number of ``day`` (for tests and writers)."""
    return (day - _EXCEL_EPOCH).days
