"""Identity events: persons and households that merged, split or moved since the previous run.

``identity_events`` is a run table (rows go with their run): ``kind`` (``person_merge``,
``person_split``, ``household_merge``, ``household_split``, ``household_moved``) and the
previous and new ids, ``;``-joined (see :mod:`tfident.identity`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("person_merge", "person_split", "household_merge", "household_split", "household_moved")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "identity_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("old_ids", sa.Text(), nullable=False),
        sa.Column("new_ids", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ({})".format(", ".join(f"'{kind}'" for kind in KINDS)), name=op.f("ck_identity_events_kind")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_identity_events_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_events")),
    )
    op.create_index(op.f("ix_identity_events_run_id_kind"), "identity_events", ["run_id", "kind"], unique=False)


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_identity_events_run_id_kind"), table_name="identity_events")
    op.drop_table("identity_events")
