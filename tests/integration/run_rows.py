"""What a run left in the database: its rows per table (for the crash and resume tests)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.store import RUN_TABLES, metadata


def rows_of(engine: Engine, run_id: str, tables: Iterable[str] = ("runs", *RUN_TABLES)) -> dict[str, int]:
    """Rows of ``run_id`` in each of ``tables`` (``runs`` and every run table by default)."""
    with engine.connect() as connection:
        return {
            name: connection.execute(
                sa.select(sa.func.count())
                .select_from(metadata.tables[name])
                .where(metadata.tables[name].c.run_id == run_id)
            ).scalar_one()
            for name in tables
        }
