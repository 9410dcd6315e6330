"""Splink's DuckDB backend (``backend: duckdb``, the default): a new in-memory database
per linkage; frames go in and come back through Arrow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl


def duckdb_api() -> Any:
    """A Splink ``DuckDBAPI`` on a new in-memory database."""
    from splink import DuckDBAPI

    return DuckDBAPI()


def scored_frame(splink_frame: Any, columns: Callable[[Sequence[str]], list[str]]) -> pl.DataFrame:
    """The ``columns(...)`` of a Splink result frame as polars (through Arrow)."""
    try:
        relation = splink_frame.as_duckdbpyrelation()
    except (AttributeError, NotImplementedError):  # pragma: no cover - other backends
        return pl.from_pandas(splink_frame.as_pandas_dataframe())
    return relation.select(*columns(relation.columns)).pl()
