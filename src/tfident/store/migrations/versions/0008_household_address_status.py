"""Households whose address has no gazetteer UPRN, and households to look at: two columns.

A family whose address matched no single UPRN (a new build, an address the matcher could
not read, one that fits several flats, one outside the area) now forms a household on its
normalised address; ``households.address_status`` says why it has no UPRN
(``not_in_gazetteer``, ``ambiguous``, ``out_of_area``) and is null for a household at a
UPRN. ``households.review_reason`` flags a family placed by the moved-alone rule of
``config/households.yaml`` (``moved_together``, ``kept_together``, ``moved_alone``).
Existing runs keep null in both.

Downgrading drops the columns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("households", sa.Column("address_status", sa.String(32), nullable=True))
    op.add_column("households", sa.Column("review_reason", sa.String(32), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("households") as batch:
        batch.drop_column("review_reason")
        batch.drop_column("address_status")
