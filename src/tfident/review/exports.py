"""Exports for the Early Help panel: the selected families as XLSX (one fixed sheet) or CSV.

The XLSX has one visible sheet and nothing else: no formulas, links, pivot caches or
hidden sheets. Text that a spreadsheet would read as a formula (``=``, ``+``, ``-``,
``@`` first) is written as text in XLSX and prefixed with ``'`` in CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import xlsxwriter

SHEET_NAME = "Panel list"
COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "Rank"),
    ("household_id", "Household ID"),
    ("address", "Address"),
    ("postcode", "Postcode"),
    ("n_members", "Members"),
    ("criteria_met", "Criteria met"),
    ("score", "Score"),
    ("eligibility", "Eligibility"),
    ("estimated_annual_cost", "Estimated annual cost"),
    ("min_link_probability", "Lowest link probability"),
    ("status", "Decision"),
    ("lead_agency", "Lead agency"),
    ("worker", "Worker"),
    ("decided_by", "Decided by"),
    ("decided_at", "Decided at"),
    ("note", "Note"),
)
"""The fixed template: row 1 holds these headers, one row per family follows."""
MEMBERS_COLUMN: tuple[str, str] = ("members", "Members (name and role)")
"""The panel export's last column, each family's members ("Ann Smith (child); ..."), unless turned off."""

HEADERS: tuple[str, ...] = (*(header for _, header in COLUMNS), MEMBERS_COLUMN[1])
"""The headers with members (the default)."""
HEADERS_WITHOUT_MEMBERS: tuple[str, ...] = tuple(header for _, header in COLUMNS)


def _columns(members: bool) -> tuple[tuple[str, str], ...]:
    return (*COLUMNS, MEMBERS_COLUMN) if members else COLUMNS


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(families: Sequence[dict[str, Any]], members: bool) -> list[list[Any]]:
    return [[_cell(family.get(key)) for key, _ in _columns(members)] for family in families]


def families_xlsx(families: Sequence[dict[str, Any]], title: str, members: bool = True) -> bytes:
    """The families as an XLSX workbook of one sheet with the fixed header row (members last, if ``members``)."""
    headers = tuple(header for _, header in _columns(members))
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    workbook.set_properties({"title": title, "author": "tfident", "comments": "Official-Sensitive: personal data"})
    sheet = workbook.add_worksheet(SHEET_NAME)
    bold = workbook.add_format({"bold": True})
    for column, header in enumerate(headers):
        sheet.write_string(0, column, header, bold)
    for row_number, row in enumerate(_rows(families, members), start=1):
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_string(row_number, column, "Y" if value else "N")
            elif isinstance(value, int | float):
                sheet.write_number(row_number, column, value)
            else:
                sheet.write_string(row_number, column, str(value))
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, len(headers) - 1, 18)
    workbook.close()
    return buffer.getvalue()


def _safe_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def families_csv(families: Sequence[dict[str, Any]], members: bool = True) -> bytes:
    """The families as CSV (UTF-8 with a byte-order mark, so Excel reads it right) with the fixed header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS if members else HEADERS_WITHOUT_MEMBERS)
    for row in _rows(families, members):
        writer.writerow(["" if value is None else _safe_text(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
