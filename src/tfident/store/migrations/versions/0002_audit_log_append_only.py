"""The audit log is append-only: triggers refuse every UPDATE and DELETE of ``audit_log`` rows.

On PostgreSQL a trigger function raises an exception (SQLSTATE 42501, insufficient
privilege) before any row is updated or deleted, and a statement trigger refuses
``TRUNCATE``. On SQLite, ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers ``RAISE(ABORT)``.
INSERT and SELECT are untouched, so the review app keeps writing and reading the log.

The triggers bind every role that uses the tables, the application's included. A role
that owns the table could still drop a trigger; for defence in depth run migrations as
an owner role and the app as a role granted only SELECT and INSERT on ``audit_log``.
Retention deletes personal data from the run tables, never from the audit log. A later
migration that rebuilds ``audit_log`` on SQLite (batch mode) must re-create the triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "tfident_audit_log_append_only"
ROW_TRIGGER = "audit_log_append_only"
TRUNCATE_TRIGGER = "audit_log_no_truncate"
SQLITE_TRIGGERS = {"UPDATE": "audit_log_no_update", "DELETE": "audit_log_no_delete"}
MESSAGE = "audit_log is append-only"

POSTGRES_UPGRADE = (
    f"""
    CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % of audit rows is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """,
    f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON audit_log",
    f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
    f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON audit_log",
    f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
)
POSTGRES_DOWNGRADE = (
    f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON audit_log",
    f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON audit_log",
    f"DROP FUNCTION IF EXISTS {FUNCTION}()",
)


def _sqlite_upgrade() -> tuple[str, ...]:
    statements: list[str] = []
    for operation, name in SQLITE_TRIGGERS.items():
        statements.append(f"DROP TRIGGER IF EXISTS {name}")
        statements.append(
            f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {operation} of audit rows is not allowed'); END"
        )
    return tuple(statements)


def _sqlite_downgrade() -> tuple[str, ...]:
    return tuple(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS.values())


def _run(postgres: tuple[str, ...], sqlite: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    statements = {"postgresql": postgres, "sqlite": sqlite}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"tfident does not support {dialect} databases")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    """Apply this revision."""
    _run(POSTGRES_UPGRADE, _sqlite_upgrade())


def downgrade() -> None:
    """Undo this revision: drop the triggers (and the PostgreSQL trigger function)."""
    _run(POSTGRES_DOWNGRADE, _sqlite_downgrade())
