"""Migration 0008 adds households.address_status and review_reason; runs store and read them back.

A database with a run goes down to 0007 (the columns dropped, the households kept) and up to
head again (the columns back, null for the old run); a run written at head keeps both flags.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa

from tests.unit.review.review_data import OCTOBER, frames, run_record
from tfident.store import current_revision, head_revision, make_engine, metadata, upgrade, write_run
from tfident.store.engine import migrate
from tfident.store.review import read_family

households = metadata.tables["households"]
NEW_COLUMNS = {"address_status", "review_reason"}


def _columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns("households")}
    finally:
        engine.dispose()


def _rows(url: str, columns: list[str]) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            statement = sa.text(f"SELECT {', '.join(columns)} FROM households ORDER BY run_id, household_id")
            return [tuple(row) for row in connection.execute(statement)]
    finally:
        engine.dispose()


def test_migration_0008_adds_the_flags_keeping_every_household(store_url: str) -> None:
    upgrade(store_url)
    run_frames = frames()
    run_frames["households"] = run_frames["households"].with_columns(
        pl.Series("address_status", [None, "not_in_gazetteer", "out_of_area"], dtype=pl.String),
        pl.Series("review_reason", [None, "moved_together", None], dtype=pl.String),
        pl.Series("uprn", [100000000001, None, None], dtype=pl.Int64),
    )
    engine = make_engine(store_url)
    try:
        write_run(engine, run_record("R-OCT", OCTOBER), run_frames)
        family = read_family(engine, "R-OCT", "H2")
        assert family is not None
        assert family.household is not None
        assert family.household["address_status"] == "not_in_gazetteer"
        assert family.household["review_reason"] == "moved_together"
    finally:
        engine.dispose()
    plain = ["run_id", "household_id", "uprn", "address", "postcode", "n_members"]
    before = _rows(store_url, plain)
    assert _rows(store_url, ["household_id", "address_status", "review_reason"]) == [
        ("H1", None, None),
        ("H2", "not_in_gazetteer", "moved_together"),
        ("H3", "out_of_area", None),
    ]

    engine = make_engine(store_url)
    try:
        migrate(engine, "0007", downgrade=True)
        assert current_revision(engine) == "0007"
    finally:
        engine.dispose()
    assert not NEW_COLUMNS & _columns(store_url)
    assert _rows(store_url, plain) == before

    assert upgrade(store_url) == head_revision()
    assert _columns(store_url) >= NEW_COLUMNS
    assert _rows(store_url, plain) == before
    assert _rows(store_url, ["address_status", "review_reason"]) == [(None, None)] * 3
