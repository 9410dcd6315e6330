"""Decisions that follow a family through a merge or a split: ``decisions.carried_from``.

When members of two households come to live together (``household_merge``) or a
household's members come to live apart (``household_split``), the family's id changes
for at least one part. Publishing a run now copies the decision that must follow them
onto the new id (see :mod:`tfident.store.carry`); ``carried_from`` names the household
the copied decision came from. Coordinators' own decisions leave it empty.

Downgrading drops the column; the copied decisions stay, their notes still saying where
they came from.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("decisions", sa.Column("carried_from", sa.String(), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("carried_from")
