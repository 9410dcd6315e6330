"""A withdrawn claim no longer blocks a new claim for its family in the same period.

Before, a claim row was unique on (``attachment_id``, ``period``) whatever its status, and
its ``claim_families`` / ``claim_persons`` rows held the family's lineage and members for
the period for good, so a claim withdrawn (say, prepared too early) could never be made
again. Now:

* ``claims.lineage`` keeps the lineage's household ids (sorted, ``;``-separated) on the
  claim itself, filled here from ``claim_families`` for the claims already made, so an
  evidence pack reads the same ids after a withdrawal has released the rows;
* the unique constraint becomes the partial unique index
  ``uq_claims_attachment_id_period_open`` (``status <> 'withdrawn'``);
* withdrawing a claim deletes its ``claim_families`` and ``claim_persons`` rows
  (:func:`tfident.store.claims.set_status`), which the database's primary keys then no
  longer hold against a new claim. A rejected claim keeps them: the department's
  rejection stands for the period.

Downgrading is refused while a period holds two claims of one attachment (a withdrawn one
and its successor), as the old constraint could not hold them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'withdrawn'")


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("claims", sa.Column("lineage", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT claim_id, household_id FROM claim_families")).all()
    lineage: dict[int, list[str]] = {}
    for claim_id, household_id in rows:
        lineage.setdefault(int(claim_id), []).append(str(household_id))
    for claim_id, household in connection.execute(sa.text("SELECT claim_id, household_id FROM claims")).all():
        ids = sorted(lineage.get(int(claim_id), [str(household)]))
        connection.execute(
            sa.text("UPDATE claims SET lineage = :lineage WHERE claim_id = :claim_id"),
            {"lineage": ";".join(ids), "claim_id": claim_id},
        )
    with op.batch_alter_table("claims") as batch:
        batch.alter_column("lineage", existing_type=sa.Text(), nullable=False)
        batch.drop_constraint("uq_claims_attachment_id_period", type_="unique")
    op.create_index(
        "uq_claims_attachment_id_period_open",
        "claims",
        ["attachment_id", "period"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    """Revert this revision (refused while an attachment has two claims in one period)."""
    connection = op.get_bind()
    twice = connection.execute(
        sa.text("SELECT attachment_id, period FROM claims GROUP BY attachment_id, period HAVING count(*) > 1")
    ).first()
    if twice is not None:
        raise RuntimeError(
            f"cannot downgrade below 0011: attachment {twice[0]} has a withdrawn claim and a later one in period "
            f"{twice[1]}, which revision 0010's unique constraint cannot hold"
        )
    op.drop_index("uq_claims_attachment_id_period_open", table_name="claims")
    with op.batch_alter_table("claims") as batch:
        batch.create_unique_constraint("uq_claims_attachment_id_period", ["attachment_id", "period"])
        batch.drop_column("lineage")
