"""How table columns map to polars types, both ways (shared by the writer and the readers)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from polars.datatypes import DataType, DataTypeClass

from tfident.store.tables import UTCDateTime

PolarsType = DataType | DataTypeClass


def polars_dtype(column: sa.Column[object] | sa.ColumnElement[object]) -> PolarsType:
    """The polars type that holds values of ``column``; JSON documents travel as JSON text."""
    column_type = column.type
    if isinstance(column_type, sa.JSON):
        return pl.String
    if isinstance(column_type, UTCDateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(column_type, sa.Date):
        return pl.Date
    if isinstance(column_type, sa.Integer):
        return pl.Int64
    if isinstance(column_type, sa.Float):
        return pl.Float64
    if isinstance(column_type, sa.String):
        return pl.String
    raise TypeError(f"no polars type for column {column} of type {column_type!r}")  # pragma: no cover


def frame_schema(columns: list[sa.Column[object]] | list[sa.ColumnElement[object]]) -> dict[str, PolarsType]:
    """A polars schema for selected columns, in order."""
    return {column.name: polars_dtype(column) for column in columns}
