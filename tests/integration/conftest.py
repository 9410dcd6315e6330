"""Store fixtures: an empty, migrated database on SQLite always, and on PostgreSQL when configured.

PostgreSQL tests run when ``TFIDENT_TEST_POSTGRES_URL`` is set. Each test gets its own
schema ``tfident_test_<hex>`` (selected with ``search_path`` in the engine URL), dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
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


@pytest.fixture
def engine(bare_engine: Engine) -> Engine:
    """An engine on a database migrated to the newest schema."""
    init_db(bare_engine)
    return bare_engine
