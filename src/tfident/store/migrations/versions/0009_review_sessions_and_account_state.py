"""Server-side review sessions, account state and investigator columns in the audit log.

* ``sessions``: one row per signed-in browser session. The cookie holds only a random
  token; the row (found by the token's SHA-256) says whose session it is, when it was
  last used, when it ends and whether it was revoked (sign-out, an admin, a disabled
  account, a password reset). A copied cookie is useless once the row is revoked.
* ``users.disabled_at`` (an admin disabled the account), ``users.totp_secret`` (the
  optional second factor) and ``users.areas`` (the areas a coordinator works in; null is
  the whole council). ``failed_logins`` and ``locked_until`` are no longer used: sign-in is
  throttled rather than locked, so nobody can lock another person out.
* ``audit_log.client_address`` and ``audit_log.session_id``. The columns are added with
  ``ALTER TABLE ... ADD COLUMN`` (no SQLite batch rebuild), so migration 0002's
  append-only triggers stay in place.

Downgrading drops them all.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("pending_json", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    op.create_index(op.f("ix_sessions_username"), "sessions", ["username"], unique=False)
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("areas", sa.String(length=1000), nullable=True))
    op.add_column("audit_log", sa.Column("client_address", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("session_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite 3.35+ drops a plain column in place; a batch rebuild of audit_log would lose
        # the append-only triggers of 0002.
        for column in ("session_id", "client_address"):
            op.execute(f"ALTER TABLE audit_log DROP COLUMN {column}")
    else:
        op.drop_column("audit_log", "session_id")
        op.drop_column("audit_log", "client_address")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("areas")
        batch.drop_column("totp_secret")
        batch.drop_column("disabled_at")
    op.drop_index(op.f("ix_sessions_username"), table_name="sessions")
    op.drop_table("sessions")
