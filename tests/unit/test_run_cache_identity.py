"""The identity index an incremental run takes from the previous run's cache (``tfident.runner``): only one of
exactly the index's columns and types; any other (an older cache's, a damaged one's) is not used, and the
run reads the store's instead.
"""

from __future__ import annotations

import polars as pl
import pytest

from tfident.identity import PREVIOUS_INDEX_SCHEMA
from tfident.runner import IDENTITY_INDEX_FRAME, _cached_identity_index

INDEX = pl.DataFrame(
    {"record_key": ["a"], "person_id": ["P1"], "household_id": ["H1"], "uprn": [1]}, schema=PREVIOUS_INDEX_SCHEMA
)


@pytest.mark.parametrize(
    ("frames", "used"),
    [
        ({IDENTITY_INDEX_FRAME: INDEX, "link_profiles": INDEX}, True),
        ({"link_profiles": INDEX}, False),  # a cache kept before the index was
        ({IDENTITY_INDEX_FRAME: INDEX.drop("uprn")}, False),
        ({IDENTITY_INDEX_FRAME: INDEX.with_columns(pl.col("uprn").cast(pl.String))}, False),
        ({IDENTITY_INDEX_FRAME: INDEX.select("person_id", "record_key", "household_id", "uprn")}, False),
        ({IDENTITY_INDEX_FRAME: INDEX.with_columns(extra=pl.lit(1))}, False),
    ],
    ids=["kept", "none", "a-column-missing", "another-type", "another-order", "another-column"],
)
def test_only_an_index_of_the_right_columns_is_used(frames: dict[str, pl.DataFrame], used: bool) -> None:
    got = _cached_identity_index(frames)
    assert (got is INDEX) if used else (got is None)
