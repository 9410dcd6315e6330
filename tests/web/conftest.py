"""Browser test fixtures: the review app served by uvicorn in a thread, and Debian's chromium driven by Playwright.

Chromium is Debian's (``apt-get install chromium``), at /usr/bin/chromium. Where it is
missing the tests fail with a message in CI (``CI`` set) and are skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from tests.unit.review.review_data import build_database, write_busy_november
from tfident.review.app import Settings, create_app

CHROMIUM = Path(os.environ.get("TFIDENT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium, or a failure (CI) / skip (elsewhere) saying how to install it."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) for the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@contextmanager
def serving(engine: Engine, settings: Settings | None = None) -> Iterator[str]:
    """The review app on a free port against ``engine``; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(engine, settings or Settings(secret_key="web-test-" + "x" * 32)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the review app did not start within 10 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The review app on a free port against a fresh test database; yields its base URL."""
    with serving(build_database(f"sqlite:///{tmp_path / 'web.db'}")) as url:
        yield url


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[str]:
    """The app with October and a busy November (a family of 52 links, a re-ranked, a dropped and a new
    family), November's config setting the match threshold to 0.97.
    """
    engine = build_database(f"sqlite:///{tmp_path / 'busy.db'}")
    write_busy_november(engine, json.dumps({"linkage": {"thresholds": {"match": 0.97, "uncertain": 0.5}}}))
    with serving(engine) as url:
        yield url


@pytest.fixture
def artifacts() -> Path:
    """The folder for screenshots (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
