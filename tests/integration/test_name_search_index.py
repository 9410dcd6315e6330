"""The review list's name search reads one covering index, and migration 0006 puts it in place.

Revision 0006 replaced the ``(run_id, household_id)`` index on ``source_records`` by
``(run_id, household_id, forename, surname)``. These tests check that an existing database
keeps its rows through the upgrade and the downgrade, and that on SQLite the search's
subquery reads the index alone, never the table's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.unit.review.review_data import OCTOBER, frames, run_record
from tfident.store import current_revision, head_revision, make_engine, metadata, upgrade, write_run
from tfident.store.engine import migrate
from tfident.store.review import CandidateQuery, query_candidates

OLD_INDEX = "ix_source_records_run_id_household_id"
NEW_INDEX = "ix_source_records_run_id_household_id_forename_surname"


def _migrate(url: str, revision: str, *, downgrade: bool = False) -> None:
    engine = make_engine(url)
    try:
        migrate(engine, revision, downgrade=downgrade)
    finally:
        engine.dispose()


def _indexes(engine: Engine) -> set[str]:
    return {index["name"] for index in sa.inspect(engine).get_indexes("source_records")}


def _records(engine: Engine) -> list[dict[str, Any]]:
    table = metadata.tables["source_records"]
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sa.select(table).order_by(table.c.record_key)).mappings()]


def _found(engine: Engine, search: str) -> list[str]:
    page = query_candidates(engine, "R-OCT", CandidateQuery(search=search, page_size=0))
    return sorted(row["household_id"] for row in page.rows)


def test_migration_0006_swaps_the_index_keeping_every_record(store_url: str) -> None:
    """A database at 0005 with a run goes to head and back; its records and searches are unchanged."""
    # the run is written at head (the writer writes today's columns) and taken down to 0005
    assert upgrade(store_url) == head_revision()
    engine = make_engine(store_url)
    try:
        write_run(engine, run_record("R-OCT", OCTOBER), frames())
        engine.dispose()
        _migrate(store_url, "0005", downgrade=True)
        assert OLD_INDEX in _indexes(engine)
        assert NEW_INDEX not in _indexes(engine)
        before = _records(engine)
        assert _found(engine, "ann smith") == ["H1"]

        assert upgrade(store_url) == head_revision()
        assert NEW_INDEX in _indexes(engine)
        assert OLD_INDEX not in _indexes(engine)
        assert _records(engine) == before
        assert _found(engine, "ann smith") == ["H1"]
        assert _found(engine, "o'brien") == ["H3"]

        _migrate(store_url, "0005", downgrade=True)
        assert current_revision(engine) == "0005"
        assert OLD_INDEX in _indexes(engine)
        assert NEW_INDEX not in _indexes(engine)
        assert _records(engine) == before
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_run(tmp_path: Any) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'tfident.db'}")
    try:
        upgrade(str(engine.url))
        write_run(engine, run_record("R-OCT", OCTOBER), frames())
        yield engine
    finally:
        engine.dispose()


def test_name_search_reads_only_the_covering_index_on_sqlite(sqlite_run: Engine) -> None:
    """SQLite's plan for the list's name search finds a household's names in the index alone."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "LIKE" in statement and "source_records" in statement:
            statements.append((statement, parameters))

    event.listen(sqlite_run, "before_cursor_execute", capture)
    try:
        assert _found(sqlite_run, "smith") == ["H1"]
    finally:
        event.remove(sqlite_run, "before_cursor_execute", capture)
    assert statements, "the name search ran no query on source_records"
    with sqlite_run.connect() as connection:
        for statement, parameters in statements:
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            on_records = [step for step in plan if "source_records" in step]
            assert on_records, plan
            assert all(f"USING COVERING INDEX {NEW_INDEX}" in step for step in on_records), plan
