"""Engines and migrations: where the database is, and bringing its schema up to date.

No engine is created at import time. :func:`make_engine` builds one from an SQLAlchemy
URL (an SQLite file ``tfident.db`` in the working folder by default); :func:`init_db`
migrates it to the newest schema with Alembic, configured in code (no ``alembic.ini``).
Close an engine with ``engine.dispose()`` when done.

Who migrates: commands that use the database call :func:`prepare_database`. An SQLite
file is migrated there and then (it has one user, who owns the file). A PostgreSQL
database is only checked: the application's role cannot change the schema (see
``docs/postgres-roles.sql``), so a schema behind this tfident stops the command with
:class:`~tfident.errors.SchemaOutOfDate` until the owner role runs ``tfident db upgrade``,
and a code update never migrates production by itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url

from tfident.errors import DatabaseUnavailable, SchemaOutOfDate, StoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEFAULT_SQLITE_FILE = "tfident.db"
BEGIN_OPTION = "tfident_sqlite_begin"
"""Execution option naming the SQLite ``BEGIN`` to use (``"BEGIN IMMEDIATE"`` for writers)."""


DATABASE_URL_ENV = "TFIDENT_DATABASE_URL"
DATABASE_URL_FILE_ENV = "TFIDENT_DATABASE_URL_FILE"
"""Environment variables naming the database: the URL itself, or a file holding it (a secret
mounted by systemd's ``LoadCredential=`` or a 0600 file), so a password never sits on a
command line, in Prefect's parameters or in the process list."""


def default_url() -> str:
    """The URL used when ``--db`` is not given.

    ``TFIDENT_DATABASE_URL``, else the first line of the file ``TFIDENT_DATABASE_URL_FILE``
    names, else an SQLite file ``tfident.db`` in the working folder.
    """
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    file = os.environ.get(DATABASE_URL_FILE_ENV, "").strip()
    if file:
        try:
            lines = Path(file).expanduser().read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise StoreError(f"{DATABASE_URL_FILE_ENV}={file}: cannot read it ({error.strerror})") from None
        url = next((line.strip() for line in lines if line.strip()), "")
        if not url:
            raise StoreError(f"{DATABASE_URL_FILE_ENV}={file}: the file is empty (expected an SQLAlchemy URL)")
        return url
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default: :func:`default_url`).

    SQLite connections use write-ahead logging, enforce foreign keys, wait up to 30 s
    for a lock, and get real transactions (SQLAlchemy, not the driver, emits ``BEGIN``),
    so a run is written atomically. ``kwargs`` go to :func:`sqlalchemy.create_engine`.
    """
    try:
        parsed = make_url(url or default_url())
    except sa.exc.ArgumentError as error:
        where = f"--db {url!r}" if url else "the database URL (TFIDENT_DATABASE_URL or its file)"
        raise StoreError(f"{where} is not an SQLAlchemy URL (e.g. sqlite:///tfident.db): {error}") from None
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as error:
        raise StoreError(f"cannot use database {parsed.render_as_string()}: {error}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Leave transactions to SQLAlchemy (the "begin" hook below): pysqlite's own
        # implicit BEGIN would leave reads before the first write outside the transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "busy_timeout=30000"):
                cursor.execute(f"PRAGMA {pragma}")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(BEGIN_OPTION, "BEGIN"))


def safe_url(engine: Engine) -> str:
    """The engine's URL with any password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config for tfident's migrations, built in code; ``connection`` is used when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this tfident."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def unavailable(engine: Engine, error: BaseException) -> DatabaseUnavailable:
    """The error for a database that cannot be reached (no row values, no password)."""
    return DatabaseUnavailable(f"cannot reach database {safe_url(engine)}: {_first_line(error)}")


def connect(engine: Engine) -> sa.Connection:
    """A connection, or :class:`DatabaseUnavailable` when the database is down or cannot be opened."""
    try:
        return engine.connect()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise unavailable(engine, error) from error


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at, or None when it was never migrated."""
    with connect(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


UPGRADE_HINT = "run `tfident db upgrade` as the database owner role (docs/postgres-roles.sql)"


def prepare_database(engine: Engine) -> None:
    """Make sure the database has this tfident's schema before a command uses it.

    SQLite is migrated to the newest schema (:func:`init_db`). Any other database
    (PostgreSQL) is never migrated here: the application's role may not alter the schema,
    and a code update must not migrate production unannounced. A database never migrated,
    or at an older revision than :func:`head_revision`, raises
    :class:`~tfident.errors.SchemaOutOfDate` saying to run ``tfident db upgrade`` as the
    owner; one at a revision this tfident does not know (a newer tfident migrated it) is
    refused the same way, saying to upgrade tfident. Nothing is written either way.
    :class:`~tfident.errors.DatabaseUnavailable` when it cannot be reached.
    """
    if engine.dialect.name == "sqlite":
        init_db(engine)
        return
    check_schema(engine)


def check_schema(engine: Engine) -> None:
    """Raise :class:`~tfident.errors.SchemaOutOfDate` unless the database is at :func:`head_revision`; read only."""
    expected = head_revision()
    try:
        with connect(engine) as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            schema = connection.dialect.default_schema_name
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise unavailable(engine, error) from error
    except sa.exc.DBAPIError as error:  # e.g. no SELECT on alembic_version: say so, not "a bug"
        raise StoreError(
            f"cannot read the schema revision of database {safe_url(engine)}: {_first_line(error)} "
            "(the application role needs SELECT on alembic_version; see docs/postgres-roles.sql)"
        ) from error
    if current == expected:
        return
    where = f"database {safe_url(engine)}" + (f" (schema {schema})" if schema else "")
    if current is None:
        raise SchemaOutOfDate(
            f"{where} has no tfident schema (never migrated); this tfident needs revision {expected}: {UPGRADE_HINT}"
        )
    if current not in known_revisions():
        raise SchemaOutOfDate(
            f"{where} is at schema revision {current}, newer than this tfident knows (its newest is {expected}): "
            "a newer tfident migrated it; run that version (upgrade tfident), not this one"
        )
    raise SchemaOutOfDate(
        f"{where} is at schema revision {current} but this tfident needs revision {expected}: {UPGRADE_HINT}"
    )


def known_revisions() -> frozenset[str]:
    """Every migration revision shipped with this tfident."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def init_db(engine: Engine) -> None:
    """Migrate the database to the newest schema (creating every table on a new database).

    It is safe to call on every start: a database already at the newest revision is left
    as it is.
    """
    if current_revision(engine) == head_revision():  # DatabaseUnavailable when it cannot be reached
        return
    try:
        migrate(engine)
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot migrate database {safe_url(engine)}: {error}") from error
    log.info("database %s migrated to revision %s", safe_url(engine), head_revision())


def migrate(engine: Engine, revision: str = "head", *, downgrade: bool = False) -> None:
    """Upgrade (or downgrade) to ``revision`` in one transaction, one migrating process at a time.

    Either every step is applied or none is: a migration that refuses (0005's downgrade
    while closures exist) leaves the schema and ``alembic_version`` as they were.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the write lock) and runs
    with foreign keys off, as SQLite's table rebuilds need (a rebuilt parent table must
    not cascade deletes into its children); they are checked before the commit. On
    PostgreSQL a transaction-scoped advisory lock queues concurrent migrations, and an
    upgrade ends by taking back what default privileges gave on the tables of
    :data:`RESTRICTED_TABLES` (:func:`restrict_grants`).
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        if sqlite:
            connection = connection.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
            driver.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr] # outside any transaction
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(hashtext('tfident.migrate.' || current_schema()))")
                    )
                step = command.downgrade if downgrade else command.upgrade
                step(alembic_config(connection), revision)
                if engine.dialect.name == "postgresql" and not downgrade:
                    restrict_grants(connection)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise StoreError(f"migrating left a row of {broken[0]} without its {broken[2]} row")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


RESTRICTED_TABLES: dict[str, frozenset[str]] = {
    "audit_log": frozenset({"SELECT", "INSERT"}),
    "alembic_version": frozenset({"SELECT"}),
}
"""Tables on which no role but the owner may hold more than these privileges (PostgreSQL).

The audit log is append-only (migration 0002's triggers refuse UPDATE, DELETE and TRUNCATE;
without the privileges the application's role is refused before any trigger runs), and
only the owner migrates. ``docs/postgres-roles.sql`` grants the application role SELECT,
INSERT, UPDATE and DELETE on every table the owner creates (``ALTER DEFAULT PRIVILEGES``),
these two included, because they do not exist yet when it runs; each upgrade takes the
extra privileges back in the migrating transaction, so they never reach a committed table.
"""


def restrict_grants(connection: sa.Connection) -> list[tuple[str, str, str]]:
    """Revoke from every role but the owner (PUBLIC included) privileges beyond :data:`RESTRICTED_TABLES`.

    Runs as the migrating role (the owner, or a superuser, who revokes as the owner).
    Returns (table, role, privileges) for each revocation.
    """
    found = connection.execute(
        sa.text(
            """
            SELECT c.relname, c.oid::regclass::text AS qualified,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                   a.privilege_type
            FROM pg_class AS c CROSS JOIN LATERAL aclexplode(c.relacl) AS a
            WHERE c.oid IN (SELECT to_regclass(name) FROM unnest(CAST(:names AS text[])) AS name)
              AND a.grantee <> c.relowner
            ORDER BY 1, 3, 4
            """
        ),
        {"names": list(RESTRICTED_TABLES)},
    ).all()
    extra: dict[tuple[str, str], list[str]] = {}
    for name, qualified, grantee, privilege in found:
        if privilege not in RESTRICTED_TABLES[name]:
            extra.setdefault((qualified, grantee), []).append(privilege)
    revoked: list[tuple[str, str, str]] = []
    for (qualified, grantee), privileges in extra.items():
        listed = ", ".join(privileges)
        connection.exec_driver_sql(f"REVOKE {listed} ON TABLE {qualified} FROM {grantee} CASCADE")
        log.info("revoked %s on %s from %s (append-only or owner-only table)", listed, qualified, grantee)
        revoked.append((qualified, grantee, listed))
    return revoked


def upgrade(url: str | None = None) -> str:
    """Migrate the database at ``url`` to the newest schema and return the revision (``tfident db upgrade``)."""
    engine = make_engine(url)
    try:
        init_db(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    return revision or ""
