"""Text formats of the export files: fixed decimals, ISO dates, blanks for missing values.

Every value is turned into text here, by Python, so an export is the same bytes on every
database and every rerun.

>>> format_fixed(0.5, 4)
'0.5000'
>>> format_fixed(None, 4)
''
>>> format_date(date(2026, 10, 31))
'2026-10-31'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl

SCORE_DECIMALS = 4
PROBABILITY_DECIMALS = 4
MONEY_DECIMALS = 2


def format_fixed(value: float | int | None, decimals: int) -> str:
    """A number with exactly ``decimals`` decimal places; blank when missing or not finite.

    Rounding is of the exact binary value, half to even, as Python's own formatting does;
    a negative value that rounds to zero loses its sign.
    """
    if value is None:
        return ""
    number = float(value)
    if not math.isfinite(number):
        return ""
    text = f"{number:.{decimals}f}"
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]
    return text


def format_int(value: int | None) -> str:
    """An integer in plain digits (a UPRN, a count); blank when missing."""
    return "" if value is None else str(int(value))


def format_date(value: date | None) -> str:
    """A date as ``YYYY-MM-DD``; blank when missing."""
    return "" if value is None else value.isoformat()


def format_text(value: str | None) -> str:
    """Text as it is; blank when missing."""
    return "" if value is None else str(value)


def fixed(decimals: int) -> Callable[[Any], str]:
    """A formatter with ``decimals`` fixed decimal places."""
    return lambda value: format_fixed(value, decimals)


def format_column(series: pl.Series, formatter: Callable[[Any], str]) -> pl.Series:
    """A column turned into text, value by value; blanks become nulls, which CSV writes as nothing."""
    texts = [formatter(value) or None for value in series.to_list()]
    return pl.Series(series.name, texts, dtype=pl.String)


def format_frame(frame: pl.DataFrame, formatters: dict[str, Callable[[Any], str]]) -> pl.DataFrame:
    """A frame of exactly the ``formatters`` columns, in that order, every one as text."""
    return pl.DataFrame([format_column(frame[name], formatter) for name, formatter in formatters.items()])
