"""Least privilege on PostgreSQL: docs/postgres-roles.sql's owner migrates, its app role does the rest.

Each PostgreSQL test makes its own database and two roles with unique names by running
``docs/postgres-roles.sql`` with psql as the superuser of ``TFIDENT_TEST_POSTGRES_URL``,
and drops them afterwards. The app role's commands never migrate: a schema behind (or
ahead of) this tfident stops them with exit code 3 until the owner runs
``tfident db upgrade``. SQLite keeps migrating itself.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tfident.cli import app
from tfident.errors import SchemaOutOfDate
from tfident.store import current_revision, head_revision, make_engine, metadata, prepare_database
from tfident.store.engine import migrate
from tfident.store.review import write_audit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for httpx2 (see tests/unit/review/conftest.py)
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
ROLES_SQL = REPO / "docs" / "postgres-roles.sql"
AS_OF = date(2026, 10, 31)
PASSWORD = "correct horse battery staple"
PREVIOUS = "0006"
"""One migration behind head (0007 adds ``decisions.carried_from``)."""
UPGRADE_MESSAGE = "run `tfident db upgrade` as the database owner"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REFUSED = r"permission denied|must be owner"
"""What PostgreSQL says when a role lacks a privilege or does not own the table."""

audit = metadata.tables["audit_log"]
decisions = metadata.tables["decisions"]
runs = metadata.tables["runs"]


@dataclass(frozen=True)
class RolesDatabase:
    """A database set up by docs/postgres-roles.sql, and a URL for each role."""

    name: str
    schema: str
    owner: str
    app: str
    admin_url: str
    owner_url: str
    app_url: str


def _url(base: str, database: str, username: str | None = None, password: str | None = None) -> str:
    url = make_url(base).set(database=database, query={})
    if username is not None:
        url = url.set(username=username, password=password)
    return url.render_as_string(hide_password=False)


def _run_roles_sql(base: str, database: str, variables: dict[str, str]) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail("psql is needed to run docs/postgres-roles.sql (PostgreSQL client tools)")
    url = make_url(base)
    env = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else dict(os.environ)
    command = [psql, "-X", "-q", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    command += ["-U", url.username or "postgres", "-d", database, "-f", str(ROLES_SQL)]
    for name, value in variables.items():
        command += ["-v", f"{name}={value}"]
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def roles_db() -> Iterator[RolesDatabase]:
    """A new database with the owner and app roles of docs/postgres-roles.sql; nothing migrated yet."""
    base = os.environ.get("TFIDENT_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TFIDENT_TEST_POSTGRES_URL is not set")
    suffix = secrets.token_hex(5)
    name, owner, app_role = f"tfident_roles_{suffix}", f"tfident_owner_{suffix}", f"tfident_app_{suffix}"
    owner_password, app_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        _run_roles_sql(
            base,
            name,
            {
                "owner_role": owner,
                "app_role": app_role,
                "schema": "tf",
                "owner_password": owner_password,
                "app_password": app_password,
            },
        )
        yield RolesDatabase(
            name=name,
            schema="tf",
            owner=owner,
            app=app_role,
            admin_url=_url(base, name),
            owner_url=_url(base, name, owner, owner_password),
            app_url=_url(base, name, app_role, app_password),
        )
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{owner}", "{app_role}"')
        admin.dispose()


@pytest.fixture
def upgraded(roles_db: RolesDatabase) -> RolesDatabase:
    """The database after the owner's ``tfident db upgrade``."""
    result = invoke("db", "upgrade", "--db", roles_db.owner_url)
    assert f"to {head_revision()}" in " ".join(result.stdout.split())
    return roles_db


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic batch."""
    from tfident.synth import synthesise

    out = tmp_path_factory.mktemp("roles_batch")
    synthesise(households=60, seed=3, as_of=AS_OF, out=out)
    return out


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder for checkpoints, and the acting user for the audit log."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFIDENT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("TFIDENT_USER", "scheduler")
    monkeypatch.delenv("TFIDENT_DATABASE_URL", raising=False)
    monkeypatch.delenv("TFIDENT_DATABASE_URL_FILE", raising=False)
    return tmp_path


def invoke(*args: str, input: str | None = None, exit_code: int = 0) -> Any:
    """Run the command line and check its exit code."""
    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exit_code == exit_code, result.output
    return result


def run_batch(batch: Path, url: str, *, exit_code: int = 0) -> Any:
    """``tfident run`` of the batch, without Prefect."""
    args = ["run", "--extracts", str(batch), "--as-of", f"{AS_OF:%Y-%m-%d}", "--db", url, "--no-prefect"]
    return invoke(*args, exit_code=exit_code)


def scalar(url: str, statement: str, **params: Any) -> Any:
    """One value read with its own engine."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(statement), params).scalar()
    finally:
        engine.dispose()


def table_privileges(db: RolesDatabase, role: str, table: str) -> set[str]:
    """The privileges ``role`` holds on ``table`` of the schema, as the superuser sees them."""
    engine = make_engine(db.admin_url)
    try:
        with engine.connect() as connection:
            return {
                privilege
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
                if connection.execute(
                    sa.text("SELECT has_table_privilege(:role, :table, :privilege)"),
                    {"role": role, "table": f"{db.schema}.{table}", "privilege": privilege},
                ).scalar_one()
            }
    finally:
        engine.dispose()


def sign_in(client: TestClient, username: str) -> None:
    """Sign ``client`` in with the test password."""
    token = CSRF.search(client.get("/login").text)
    assert token, "no CSRF token on the login page"
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code == 303, response.text


# ----------------------------------------------------------------- the app role's work


@pytest.mark.postgres
def test_the_app_role_runs_serves_adds_users_and_applies_retention(
    upgraded: RolesDatabase, batch: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the app role: a run is stored and published, the review app shows its families, an account is added,
    and retention purges the run, all on a schema it may not alter.
    """
    db = upgraded
    run_id = run_batch(batch, db.app_url).stdout.strip().splitlines()[-1]
    assert scalar(db.admin_url, "SELECT status FROM tf.runs WHERE run_id = :r", r=run_id) == "published"
    households = scalar(db.admin_url, "SELECT array_agg(household_id) FROM tf.candidates WHERE run_id = :r", r=run_id)
    assert households, "the synthetic batch should have candidate families"
    assert scalar(db.admin_url, "SELECT count(*) FROM tf.run_locks") == 0  # the month lock was released

    invoke("users", "add", "cora", "--role", "coordinator", "--db", db.app_url, input=PASSWORD + "\n")
    assert scalar(db.admin_url, "SELECT role FROM tf.users WHERE username = 'cora'") == "coordinator"

    # the review app as `tfident serve` builds it: the factory reads TFIDENT_DATABASE_URL
    from tfident.review.app import create_app_from_environment

    monkeypatch.setenv("TFIDENT_DATABASE_URL", db.app_url)
    monkeypatch.setenv("TFIDENT_SECRET_KEY", "test-secret-" + "x" * 32)
    review = create_app_from_environment()
    try:
        with TestClient(review, follow_redirects=False) as client:
            sign_in(client, "cora")
            listing = client.get(f"/runs/{run_id}/candidates", params={"status": "all"})
            assert listing.status_code == 200
            assert households[0] in listing.text
            assert client.get(f"/families/{households[0]}", params={"run": run_id}).status_code == 200
    finally:
        review.state.engine.dispose()
    assert scalar(db.admin_url, "SELECT count(*) FROM tf.audit_log WHERE username = 'cora'") >= 2  # login, views

    result = invoke("retention", "apply", "--months", "1", "--db", db.app_url, "--json")
    assert run_id in result.stdout
    assert scalar(db.admin_url, "SELECT status FROM tf.runs WHERE run_id = :r", r=run_id) == "purged"
    for table in ("source_records", "persons", "households", "candidates", "criteria_evidence"):
        assert scalar(db.admin_url, f"SELECT count(*) FROM tf.{table} WHERE run_id = :r", r=run_id) == 0
    assert scalar(db.admin_url, "SELECT count(*) FROM tf.audit_log WHERE action = 'retention.purged'") == 1


@pytest.mark.postgres
def test_the_app_role_may_add_to_the_audit_log_but_never_change_or_truncate_it(upgraded: RolesDatabase) -> None:
    """The app role holds SELECT and INSERT on audit_log only (and SELECT on alembic_version); UPDATE, DELETE
    and TRUNCATE are refused, and it can neither create nor alter tables.
    """
    db = upgraded
    assert table_privileges(db, db.app, "audit_log") == {"SELECT", "INSERT"}
    assert table_privileges(db, db.app, "alembic_version") == {"SELECT"}
    assert table_privileges(db, db.app, "runs") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert table_privileges(db, "public", "audit_log") == set()

    engine = make_engine(db.app_url)
    try:
        write_audit(engine, "cora", "coordinator", "family.view", "household", "H1")
        refused = [
            audit.update().values(username="someone else"),
            audit.delete(),
            sa.text("TRUNCATE audit_log"),
            sa.text("UPDATE alembic_version SET version_num = '0001'"),
            sa.text("CREATE TABLE sneaky (id integer)"),
            sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"),
            sa.text("DROP TABLE audit_log"),
        ]
        for statement in refused:
            with pytest.raises(sa.exc.ProgrammingError, match=REFUSED), engine.begin() as connection:
                connection.execute(statement)
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one() == 1
    finally:
        engine.dispose()

    owner = make_engine(db.owner_url)  # the owner holds every privilege; the triggers still refuse
    try:
        for statement in (audit.delete(), sa.text("TRUNCATE audit_log")):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), owner.begin() as connection:
                connection.execute(statement)
    finally:
        owner.dispose()


# ---------------------------------------------------------------------------- upgrades


@pytest.mark.postgres
def test_a_schema_one_migration_behind_stops_the_app_role_until_the_owner_upgrades(
    upgraded: RolesDatabase, batch: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run`, `serve`, `users add` and `retention apply` exit 3 naming both revisions and `tfident db upgrade`,
    and write nothing; after the owner's upgrade the migrated table is usable by the app role.
    """
    db = upgraded
    owner = make_engine(db.owner_url)
    try:
        migrate(owner, PREVIOUS, downgrade=True)
        assert current_revision(owner) == PREVIOUS
    finally:
        owner.dispose()

    import uvicorn

    def no_server(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("serve must not start on an out-of-date schema")

    monkeypatch.setattr(uvicorn, "run", no_server)
    outputs = [
        run_batch(batch, db.app_url, exit_code=3).output,
        invoke("serve", "--db", db.app_url, exit_code=3).output,
        invoke(
            "users", "add", "cora", "--role", "admin", "--db", db.app_url, input=f"{PASSWORD}\n", exit_code=3
        ).output,
        invoke("retention", "apply", "--months", "1", "--db", db.app_url, exit_code=3).output,
    ]
    for output in outputs:
        text = " ".join(output.split())
        assert UPGRADE_MESSAGE in text
        assert f"revision {PREVIOUS}" in text
        assert f"revision {head_revision()}" in text
    monkeypatch.setenv("TFIDENT_DATABASE_URL", db.app_url)
    from tfident.review.app import create_app_from_environment

    with pytest.raises(SchemaOutOfDate, match="tfident db upgrade"):
        create_app_from_environment()

    for table in ("runs", "run_locks", "users", "audit_log", "source_records"):
        assert scalar(db.admin_url, f"SELECT count(*) FROM tf.{table}") == 0, table
    assert scalar(db.admin_url, "SELECT version_num FROM tf.alembic_version") == PREVIOUS
    assert not list((workdir / "checkpoints").glob("*/*"))

    result = invoke("db", "upgrade", "--db", db.owner_url)
    assert f"from revision {PREVIOUS} to {head_revision()}" in " ".join(result.stdout.split())

    # 0007 added decisions.carried_from: the app role writes and reads it with no new grant
    app_engine = make_engine(db.app_url)
    try:
        prepare_database(app_engine)
        with app_engine.begin() as connection:
            connection.execute(
                decisions.insert().values(
                    household_id="H-NEW",
                    decision="defer",
                    username="tfident",
                    created_at=sa.func.now(),
                    carried_from="H-OLD",
                )
            )
        with app_engine.connect() as connection:
            assert connection.execute(sa.select(decisions.c.carried_from)).scalar_one() == "H-OLD"
    finally:
        app_engine.dispose()
    assert table_privileges(db, db.app, "audit_log") == {"SELECT", "INSERT"}  # still append-only


@pytest.mark.postgres
def test_tables_the_owner_creates_later_are_usable_by_the_app_role(upgraded: RolesDatabase) -> None:
    """Default privileges: a table (and its sequence) a future migration creates needs no grant, and gives
    the app role rows only: no TRUNCATE, no DROP.
    """
    db = upgraded
    owner = make_engine(db.owner_url)
    try:
        with owner.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE future_table (id bigserial PRIMARY KEY, note text)")
    finally:
        owner.dispose()
    assert table_privileges(db, db.app, "future_table") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    app_engine = make_engine(db.app_url)
    try:
        with app_engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO future_table (note) VALUES ('a'), ('b')")
            connection.exec_driver_sql("UPDATE future_table SET note = 'c' WHERE note = 'a'")
            connection.exec_driver_sql("DELETE FROM future_table WHERE note = 'b'")
        with app_engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT note FROM future_table").scalars().all() == ["c"]
        for statement in ("TRUNCATE future_table", "DROP TABLE future_table"):
            with pytest.raises(sa.exc.ProgrammingError, match=REFUSED), app_engine.begin() as connection:
                connection.exec_driver_sql(statement)
    finally:
        app_engine.dispose()


@pytest.mark.postgres
def test_a_database_never_migrated_or_migrated_by_a_newer_tfident_is_refused(
    roles_db: RolesDatabase, batch: Path, workdir: Path
) -> None:
    """A new database is not migrated by the app role (exit 3: never migrated, run the upgrade); one at a
    revision this tfident does not know is refused as newer, and left as it is.
    """
    db = roles_db
    text = " ".join(run_batch(batch, db.app_url, exit_code=3).output.split())
    assert "never migrated" in text
    assert UPGRADE_MESSAGE in text
    assert scalar(db.admin_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'tf'") == 0

    invoke("db", "upgrade", "--db", db.owner_url)
    owner = make_engine(db.owner_url)
    try:
        with owner.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    finally:
        owner.dispose()
    text = " ".join(invoke("serve", "--db", db.app_url, exit_code=3).output.split())
    assert "revision 0099, newer than this tfident knows" in text
    assert scalar(db.admin_url, "SELECT version_num FROM tf.alembic_version") == "0099"


# ------------------------------------------------------------------------------ SQLite


def test_sqlite_is_still_migrated_by_the_commands_themselves(tmp_path: Path) -> None:
    """On SQLite prepare_database migrates: a new file to head, and one a migration behind up to head."""
    engine = make_engine(f"sqlite:///{tmp_path / 'tfident.db'}")
    try:
        assert current_revision(engine) is None
        prepare_database(engine)
        assert current_revision(engine) == head_revision()
        migrate(engine, PREVIOUS, downgrade=True)
        prepare_database(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_users_add_migrates_a_new_database(tmp_path: Path) -> None:
    """`tfident users add` on a new SQLite file creates the schema and the account."""
    url = f"sqlite:///{tmp_path / 'tfident.db'}"
    invoke("users", "add", "cora", "--role", "coordinator", "--db", url, input=PASSWORD + "\n")
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
