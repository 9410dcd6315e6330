"""Formatting of export values, and preparing frames for the store (no database needed)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tfident.errors import StoreError
from tfident.store.formatting import (
    fixed,
    format_column,
    format_date,
    format_fixed,
    format_frame,
    format_int,
    format_text,
)
from tfident.store.writer import describe_error, prepare_frame


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        pytest.param(0.5, 4, "0.5000", id="pads-with-zeros"),
        pytest.param(0.987654321, 4, "0.9877", id="rounds"),
        pytest.param(0.12345, 4, "0.1235", id="rounds-the-binary-value-up"),
        pytest.param(0.00005, 4, "0.0001", id="binary-value-just-above-half"),
        pytest.param(1.0, 4, "1.0000", id="one"),
        pytest.param(12345.678, 2, "12345.68", id="money"),
        pytest.param(9000, 2, "9000.00", id="integer-input"),
        pytest.param(-0.00001, 4, "0.0000", id="no-negative-zero"),
        pytest.param(-1.5, 1, "-1.5", id="negative"),
        pytest.param(123456789012.0, 0, "123456789012", id="no-exponent"),
        pytest.param(None, 4, "", id="missing"),
        pytest.param(float("nan"), 4, "", id="nan"),
        pytest.param(float("inf"), 4, "", id="infinite"),
    ],
)
def test_it_formats_fixed_decimals(value: float | None, decimals: int, expected: str) -> None:
    """It writes exactly the decimals asked for, blank when there is no finite value."""
    assert format_fixed(value, decimals) == expected


@pytest.mark.parametrize(
    ("formatter", "value", "expected"),
    [
        pytest.param(format_int, 100012345678, "100012345678", id="uprn"),
        pytest.param(format_int, None, "", id="int-missing"),
        pytest.param(format_date, date(2026, 1, 2), "2026-01-02", id="date-iso"),
        pytest.param(format_date, None, "", id="date-missing"),
        pytest.param(format_text, "O'Neil, Jr", "O'Neil, Jr", id="text-as-is"),
        pytest.param(format_text, None, "", id="text-missing"),
        pytest.param(fixed(4), 0.25, "0.2500", id="fixed-factory"),
    ],
)
def test_it_formats_other_values(formatter: object, value: object, expected: str) -> None:
    """It writes integers in digits, dates as ISO and text as it is."""
    assert callable(formatter)
    assert formatter(value) == expected


def test_it_turns_blanks_into_nulls_so_csv_writes_nothing() -> None:
    """It gives a text column with nulls where the value is missing."""
    column = format_column(pl.Series("p", [0.5, None]), fixed(4))
    assert column.to_list() == ["0.5000", None]
    assert column.dtype == pl.String


def test_it_formats_a_frame_in_the_order_given() -> None:
    """It keeps only the listed columns, in their order, all as text."""
    frame = pl.DataFrame({"b": [1], "a": [0.5], "ignored": ["x"]})
    out = format_frame(frame, {"a": fixed(2), "b": format_int})
    assert out.columns == ["a", "b"]
    assert out.rows() == [("0.50", "1")]


def test_it_prepares_a_frame_for_its_table() -> None:
    """It keeps the table's columns, casts them, fills missing nullable ones and drops the rest."""
    frame = pl.DataFrame(
        {
            "household_id": ["H1"],
            "uprn": ["100000000001"],
            "n_members": [3],
            "extra": [1.5],
        }
    )
    prepared = prepare_frame("households", frame)
    columns = ["household_id", "uprn", "address", "postcode", "n_members", "address_status", "review_reason"]
    assert prepared.columns == columns
    assert prepared.schema["uprn"] == pl.Int64
    assert prepared.row(0) == ("H1", 100000000001, None, None, 3, None, None)


def test_it_encodes_struct_weights_as_json_text() -> None:
    """It stores per-field match weights given as a struct column as JSON text."""
    links = pl.DataFrame(
        {
            "record_key_l": ["a:1"],
            "record_key_r": ["b:1"],
            "match_probability": [0.9],
            "match_weights_json": [{"surname": 4.5, "dob": -1.0}],
        }
    )
    prepared = prepare_frame("links", links)
    assert prepared["match_weights_json"].to_list() == ['{"surname":4.5,"dob":-1.0}']


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        pytest.param(
            pl.DataFrame({"household_id": ["H1"]}), r"lacks required column\(s\) \['n_members'\]", id="missing"
        ),
        pytest.param(
            pl.DataFrame(
                {"household_id": [None], "n_members": [1]}, schema={"household_id": pl.String, "n_members": pl.Int64}
            ),
            r"required column\(s\) \['household_id'\] have blank values",
            id="blank",
        ),
        pytest.param(pl.DataFrame({"household_id": ["H1"], "n_members": ["three"]}), "does not convert", id="bad-type"),
    ],
)
def test_it_names_what_is_wrong_with_a_frame(frame: pl.DataFrame, message: str) -> None:
    """It raises StoreError naming the table and the column, never the values."""
    with pytest.raises(StoreError, match=message):
        prepare_frame("households", frame)


def test_it_keeps_row_values_out_of_database_error_messages() -> None:
    """It reports a driver error's primary message, not the detail that quotes the row."""

    class Diag:
        message_primary = 'null value in column "surname" violates not-null constraint'

    class DriverError(Exception):
        diag = Diag()

    error = DriverError("null value ...\nDETAIL: Failing row contains (Ann, Smith, 2010-03-04).")
    assert describe_error(error) == Diag.message_primary
    assert describe_error(ValueError("first line\nsecond line")) == "first line"
