"""/healthz: 200 when the database answers at the newest schema, 503 (never 500) otherwise; no session, no audit."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tfident.review import health
from tfident.review.app import Settings, create_app
from tfident.store import make_engine
from tfident.store.engine import alembic_config, head_revision
from tfident.store.tables import metadata

SETTINGS = Settings(secret_key="test-secret-" + "x" * 32)
PASSWORD = "pw-5e1b-not-in-answers"


def _audit_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(metadata.tables["audit_log"])).scalar()
    return int(count or 0)


@pytest.fixture
def app_on() -> Iterator[Callable[[str], TestClient]]:
    """Build the app on an engine for ``url``; engines are disposed afterwards."""
    engines: list[Engine] = []

    def build(url: str) -> TestClient:
        engine = make_engine(url)
        engines.append(engine)
        return TestClient(create_app(engine, SETTINGS), follow_redirects=False)

    yield build
    for engine in engines:
        engine.dispose()


def test_it_answers_ok_without_a_session_and_without_auditing(client: TestClient, engine: Engine) -> None:
    """It answers 200 with the schema revision, sets no cookie and writes no audit row."""
    before = _audit_rows(engine)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "schema": head_revision()}
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert client.head("/healthz").status_code == 200
    assert _audit_rows(engine) == before


def test_a_database_that_cannot_be_opened_is_503(app_on: Callable[[str], TestClient], tmp_path: Path) -> None:
    """It answers 503 'unreachable' for an SQLite file whose folder is gone."""
    client = app_on(f"sqlite:///{tmp_path / 'deleted-folder' / 'tfident.db'}")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


def test_a_postgresql_server_that_is_down_is_503_quickly_without_the_password(
    app_on: Callable[[str], TestClient],
) -> None:
    """It answers 503 within the timeout for a closed port, and names no password, user or host."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = app_on(f"postgresql+psycopg://tfident:{PASSWORD}@127.0.0.1:{port}/tfident")
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < health.TIMEOUT_SECONDS + 1
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
    assert PASSWORD not in response.text
    assert "tfident@" not in response.text


def test_a_schema_behind_this_tfident_is_503(engine: Engine, app: FastAPI) -> None:
    """It answers 503 naming both revisions when the schema is not the newest."""
    from alembic.script import ScriptDirectory

    head = head_revision()
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == f"schema at revision {previous}, this tfident needs {head}"


def test_a_database_never_migrated_is_503(app_on: Callable[[str], TestClient], tmp_path: Path) -> None:
    """It answers 503 when the database has no tfident schema at all."""
    response = app_on(f"sqlite:///{tmp_path / 'empty.db'}").get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == f"no tfident schema; this tfident needs revision {head_revision()}"


def test_a_database_that_hangs_is_503_after_the_timeout(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It stops waiting after TIMEOUT_SECONDS and answers 503 rather than hanging the probe."""
    release = threading.Event()

    def hangs(engine: Engine) -> tuple[int, dict[str, str]]:
        release.wait(10)
        return 200, {}

    monkeypatch.setattr(health, "check_database", hangs)
    monkeypatch.setattr(health, "TIMEOUT_SECONDS", 0.2)
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        assert time.monotonic() - started < 5
    finally:
        release.set()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "no answer within 0.2 s"}
