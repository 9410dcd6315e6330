"""Closed and opted-out families: two more decisions, and why an attached family was closed.

``decisions.decision`` may now also be ``closed`` (an attached family whose work with the
programme has ended) or ``opted_out`` (the family declined consent); the new column
``decisions.closure_reason`` (``outcomes_achieved``, ``moved_away``, ``stepped_down``,
``other``) says why a family was closed. Existing decisions are kept as they are.

On SQLite the ``decisions`` table is rebuilt (batch mode) to change its CHECK constraint,
which SQLite cannot alter; it is a child table only, so the rebuild touches no other
table. On PostgreSQL the constraint is dropped and added again.

Downgrading refuses while any ``closed`` or ``opted_out`` decision exists: the older
schema has no way to say so, and a family's decisions are not ours to rewrite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_DECISIONS = ("accept", "reject", "defer", "known")
NEW_DECISIONS = (*OLD_DECISIONS, "closed", "opted_out")
CLOSURE_REASONS = ("outcomes_achieved", "moved_away", "stepped_down", "other")
DECISION_CHECK = "ck_decisions_decision"
CLOSURE_CHECK = "ck_decisions_closure_reason"


def _in(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


def upgrade() -> None:
    """Apply this revision."""
    closure_reason = sa.Column("closure_reason", sa.String(length=32), nullable=True)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("decisions", recreate="always") as batch:
            batch.drop_constraint(op.f(DECISION_CHECK), type_="check")
            batch.create_check_constraint(op.f(DECISION_CHECK), _in("decision", NEW_DECISIONS))
            batch.add_column(closure_reason)
            batch.create_check_constraint(op.f(CLOSURE_CHECK), _in("closure_reason", CLOSURE_REASONS))
    else:
        op.drop_constraint(op.f(DECISION_CHECK), "decisions", type_="check")
        op.create_check_constraint(op.f(DECISION_CHECK), "decisions", _in("decision", NEW_DECISIONS))
        op.add_column("decisions", closure_reason)
        op.create_check_constraint(op.f(CLOSURE_CHECK), "decisions", _in("closure_reason", CLOSURE_REASONS))


def downgrade() -> None:
    """Undo this revision, unless a family has been closed or has opted out."""
    bind = op.get_bind()
    found = bind.execute(
        sa.text(
            "SELECT COUNT(*) FROM decisions WHERE decision IN ('closed', 'opted_out') OR closure_reason IS NOT NULL"
        )
    ).scalar_one()
    if found:
        raise RuntimeError(
            f"cannot downgrade below revision 0005: {found} decision(s) close a family or record an opt-out, "
            "which the older schema cannot hold"
        )
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("decisions", recreate="always") as batch:
            batch.drop_constraint(op.f(CLOSURE_CHECK), type_="check")
            batch.drop_column("closure_reason")
            batch.drop_constraint(op.f(DECISION_CHECK), type_="check")
            batch.create_check_constraint(op.f(DECISION_CHECK), _in("decision", OLD_DECISIONS))
    else:
        op.drop_constraint(op.f(CLOSURE_CHECK), "decisions", type_="check")
        op.drop_column("decisions", "closure_reason")
        op.drop_constraint(op.f(DECISION_CHECK), "decisions", type_="check")
        op.create_check_constraint(op.f(DECISION_CHECK), "decisions", _in("decision", OLD_DECISIONS))
