"""``tfident.store.identity_index_of``: a run's identity index from its frames (what its run cache keeps)."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tfident.identity import PREVIOUS_INDEX_SCHEMA
from tfident.store import identity_index_of

HOUSEHOLDS = pl.DataFrame({"household_id": ["H1", "H2"], "uprn": pl.Series([11, None], dtype=pl.Int64)})


def _records(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["record_key", "person_id", "household_id"], orient="row").with_columns(
        forename=pl.lit("x")
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("b", "P1", "H1"), ("a", "P2", "H2")], [("a", "P2", "H2", None), ("b", "P1", "H1", 11)]),
        ([("a", "P1", None)], [("a", "P1", None, None)]),  # placed in no household
        ([("a", "P1", "H7")], [("a", "P1", "H7", None)]),  # a household the run does not hold
        ([("a10", "P1", "H1"), ("a9", "P1", "H1")], [("a10", "P1", "H1", 11), ("a9", "P1", "H1", 11)]),  # bytes
    ],
)
def test_identity_index_of(rows: list[tuple[str, str, str | None]], expected: list[tuple[object, ...]]) -> None:
    """One row per record with its household's UPRN, by record key, of the previous-index types."""
    got = identity_index_of(_records(rows), HOUSEHOLDS)
    want = pl.DataFrame(expected, schema=PREVIOUS_INDEX_SCHEMA, orient="row")
    assert_frame_equal(got, want, check_exact=True)
