"""Run locks and purged runs: the ``run_locks`` table, and ``purged`` as a run status.

``run_locks`` says who is running a month (on SQLite the row is the lock itself).
``purged`` marks a run whose personal data ``tfident retention apply`` deleted.

On SQLite the ``runs`` table is rebuilt to change its CHECK constraint (SQLite cannot
alter one); :func:`tfident.store.init_db` runs migrations with foreign keys off, so the
rebuild does not cascade into the run tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("running", "published", "failed", "superseded")
NEW_STATUSES = (*OLD_STATUSES, "purged")


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN ({})".format(", ".join(f"'{status}'" for status in statuses))


def _set_run_statuses(statuses: tuple[str, ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise RuntimeError(
                "rebuilding runs on SQLite with foreign keys on would delete every run's rows: "
                "migrate with tfident.store.init_db (or `tfident db upgrade`), which turns them off"
            )
        with op.batch_alter_table("runs", recreate="always") as batch:
            batch.drop_constraint(op.f("ck_runs_status"), type_="check")
            batch.create_check_constraint(op.f("ck_runs_status"), _status_check(statuses))
    else:
        op.drop_constraint(op.f("ck_runs_status"), "runs", type_="check")
        op.create_check_constraint(op.f("ck_runs_status"), "runs", _status_check(statuses))


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "run_locks",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_run_locks")),
    )
    _set_run_statuses(NEW_STATUSES)


def downgrade() -> None:
    """Undo this revision: purged runs (whose data is gone) are recorded as failed."""
    op.execute(
        sa.text(
            "UPDATE runs SET status = 'failed', error = 'personal data deleted by retention' WHERE status = 'purged'"
        )
    )
    _set_run_statuses(OLD_STATUSES)
    op.drop_table("run_locks")
