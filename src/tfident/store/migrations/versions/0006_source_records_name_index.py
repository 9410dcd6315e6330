"""Search by name without reading every record: a covering index on source_records.

The review list's name search looks, for each candidate household of a run, for a linked
record whose "forename surname" contains the query. With only ``(run_id, household_id)``
indexed, SQLite reads each matching row from the table, and since the writer stores rows in
primary-key order a household's records lie on many pages; a 5,000-candidate list took
270 ms at p95 (see benchmarks/results/review.md).

This revision replaces ``ix_source_records_run_id_household_id`` by
``ix_source_records_run_id_household_id_forename_surname``. The new index has the old one as
its prefix, so every query the old index served still uses it, and it holds the names, so the
search reads the index alone. It costs wider index entries at write time, not a second index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEX = "ix_source_records_run_id_household_id"
NEW_INDEX = "ix_source_records_run_id_household_id_forename_surname"


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(op.f(NEW_INDEX), "source_records", ["run_id", "household_id", "forename", "surname"])
    op.drop_index(op.f(OLD_INDEX), table_name="source_records")


def downgrade() -> None:
    """Undo this revision."""
    op.create_index(op.f(OLD_INDEX), "source_records", ["run_id", "household_id"])
    op.drop_index(op.f(NEW_INDEX), table_name="source_records")
