"""The identity index a run cache keeps (``tfident.store.identity_index_of``) is exactly the one the store reads
back (``read_identity_index``), on SQLite and PostgreSQL: the next month carries ids over from either alike.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine

from tests.integration.test_store import run_record
from tfident.store import identity_index_of, read_identity_index, write_run

RECORDS = pl.DataFrame(
    {
        # not in record-key order; one record in no household; one in a household the run does not hold
        "record_key": ["b:2", "a:10", "a:9", "c:1", "a:1", "d:1"],
        "source": ["b", "a", "a", "c", "a", "d"],
        "record_id": ["2", "10", "9", "1", "1", "1"],
        "person_id": ["P2", "P1", "P1", "P3", "P1", "P4"],
        "household_id": ["H2", "H1", "H1", None, "H1", "H9"],
        "forename": ["x", None, "y", "z", "w", "v"],
    }
)
HOUSEHOLDS = pl.DataFrame(
    {
        "household_id": ["H2", "H1", "H3"],
        "uprn": pl.Series([None, 100000000001, 7], dtype=pl.Int64),  # H2 at no UPRN; H3 without records
        "n_members": [1, 1, 0],
    }
)


@pytest.mark.parametrize(
    ("records", "households"),
    [
        (RECORDS, HOUSEHOLDS),
        (RECORDS.reverse(), HOUSEHOLDS.reverse()),  # whatever the frames' order
        (RECORDS, HOUSEHOLDS.with_columns(pl.col("uprn").cast(pl.Int32, strict=False).fill_null(5))),
        (RECORDS.with_columns(pl.lit(None, dtype=pl.String).alias("household_id")), HOUSEHOLDS),
    ],
    ids=["as-made", "reversed", "other-uprn-type", "nobody-placed"],
)
def test_the_cached_identity_index_is_what_the_store_reads(
    engine: Engine, records: pl.DataFrame, households: pl.DataFrame
) -> None:
    """Columns, types, rows and their order are the same as read back from the written run."""
    write_run(engine, run_record("R-ID"), {"source_records": records, "households": households})
    stored = read_identity_index(engine, "R-ID")
    assert stored.height == records.height
    assert_frame_equal(identity_index_of(records, households), stored, check_exact=True)
