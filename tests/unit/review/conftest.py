"""Review app fixtures: a stored run, one account per role, and signed-in test clients."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tests.unit.review.review_data import PASSWORD, build_database, password_hash
from tfident.review.app import Settings, create_app
from tfident.store import make_engine

with warnings.catch_warnings():
    # Starlette asks for httpx2, which the project does not use; the client works with httpx.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token in a page's form."""
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture(scope="session")
def _review_databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Built review databases by account password hash, for :func:`engine` to copy (each test gets its own copy)."""
    return {}


@pytest.fixture
def engine(
    tmp_path: Path, _review_databases: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database with the October run and accounts coordinator, analyst, auditor, admin.

    It is built (migrated, the run and the accounts written) once per session and password hasher, and
    copied for each test: the migrations alone cost more than the rest of most review tests.
    """
    key = password_hash()
    if key not in _review_databases:
        template = tmp_path_factory.mktemp("review-template") / "review.db"
        build_database(f"sqlite:///{template}").dispose()
        assert not template.with_name("review.db-wal").exists()  # all in the one file, as copied
        _review_databases[key] = template
    shutil.copyfile(_review_databases[key], tmp_path / "review.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'review.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    """The review app on the test database."""
    return create_app(engine, Settings(secret_key="test-secret-" + "x" * 32))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client with no session that does not follow redirects."""
    with TestClient(app, follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in and return the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/logout").text)


@pytest.fixture
def signed_in(client: TestClient) -> Callable[[str], str]:
    """Sign the client in as a user and return the CSRF token."""
    return lambda username: sign_in(client, username)
