"""The audit log is append-only on SQLite and PostgreSQL: rows can be added and read, never changed or removed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from tfident.store import metadata
from tfident.store.engine import alembic_config, current_revision, head_revision, init_db
from tfident.store.review import AuditQuery, read_audit, write_audit

audit_log = metadata.tables["audit_log"]


def _write_two(engine: Engine) -> None:
    write_audit(engine, "cora", "coordinator", "family.view", "household", "H1", {"run_id": "R1"})
    write_audit(engine, "aldo", "auditor", "audit.view")


def _rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.select(audit_log.c.username, audit_log.c.action))]


def test_audit_rows_can_be_added_and_read(engine: Engine) -> None:
    """It accepts INSERTs into the audit log and reads them back."""
    _write_two(engine)
    rows, total = read_audit(engine, AuditQuery())
    assert total == 2
    assert [row["action"] for row in rows] == ["audit.view", "family.view"]


@pytest.mark.parametrize(
    "statement",
    [
        audit_log.update().values(username="someone else"),
        audit_log.update().where(audit_log.c.action == "family.view").values(detail_json=None),
        audit_log.delete(),
        audit_log.delete().where(audit_log.c.username == "cora"),
    ],
    ids=["update-all", "update-one", "delete-all", "delete-one"],
)
def test_audit_rows_cannot_be_changed_or_deleted(engine: Engine, statement: sa.Executable) -> None:
    """It refuses UPDATE and DELETE of audit rows, leaving the log as it was."""
    _write_two(engine)
    before = _rows(engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(statement)
    assert _rows(engine) == before


def test_audit_log_cannot_be_truncated_on_postgresql(engine: Engine) -> None:
    """It refuses TRUNCATE of the audit log on PostgreSQL (SQLite has no TRUNCATE)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL only")
    _write_two(engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE audit_log"))
    assert len(_rows(engine)) == 2


def test_a_fresh_database_is_migrated_to_head_with_the_triggers(bare_engine: Engine) -> None:
    """It brings a new database to the newest revision, triggers included, through init_db."""
    init_db(bare_engine)
    assert current_revision(bare_engine) == head_revision()
    init_db(bare_engine)  # a second start leaves it as it is
    _write_two(bare_engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(audit_log.delete())


def test_the_migration_downgrades_and_upgrades_again(bare_engine: Engine) -> None:
    """It drops the triggers on downgrade (rows become changeable) and restores them on upgrade."""
    with bare_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    _write_two(bare_engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(audit_log.update().values(role=None))

    with bare_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    with bare_engine.begin() as connection:
        assert connection.execute(audit_log.update().where(audit_log.c.username == "aldo").values(role=None)).rowcount
    with bare_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(audit_log.delete())
    assert len(_rows(bare_engine)) == 2
