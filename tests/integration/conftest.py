"""Store fixtures: an empty, migrated database on SQLite always, and on PostgreSQL when configured.

PostgreSQL tests run when ``TFIDENT_TEST_POSTGRES_URL`` is set. Each test gets its own
schema ``tfident_test_<hex>`` (selected with ``search_path`` in the engine URL), dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from tfident.store import init_db, make_engine

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _postgres_base_url() -> str:
    url = os.environ.get("TFIDENT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TFIDENT_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tfident.db'}"
        return
    base = _postgres_base_url()
    schema = f"tfident_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def bare_engine(store_url: str) -> Iterator[Engine]:
    """An engine on the empty database, not yet migrated."""
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to the newest schema by :func:`init_db`, once per session, for tests to copy."""
    path = tmp_path_factory.mktemp("migrated") / "tfident.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        init_db(engine)
    finally:
        engine.dispose()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the migration is not all in the database file"
    return path


@pytest.fixture
def engine(bare_engine: Engine, request: pytest.FixtureRequest) -> Engine:
    """An engine on a database migrated to the newest schema.

    On SQLite the empty file becomes a copy of one migrated once per session (migrating costs more than
    copying, and some 200 tests ask for this fixture); :func:`init_db` then finds it at the newest revision.
    """
    if bare_engine.dialect.name == "sqlite":
        database = bare_engine.url.database
        assert database
        bare_engine.dispose()
        target = Path(database)
        assert not target.exists() or target.stat().st_size == 0, "the test's database must still be empty"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), target)
    init_db(bare_engine)
    return bare_engine
