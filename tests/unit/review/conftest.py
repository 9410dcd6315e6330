"""Review app fixtures: a stored run, one account per role, and signed-in test clients."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tests.unit.review.review_data import PASSWORD, build_database
from tfident.review.app import Settings, create_app

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


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A database with the October run and accounts coordinator, analyst, auditor, admin."""
    engine = build_database(f"sqlite:///{tmp_path / 'review.db'}")
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
