"""``/healthz``: is the review app's database reachable and at this tfident's schema? For a reverse proxy or monitoring.

It needs no session, shows no personal data and is not audited. 200
``{"status": "ok", "database": "ok", "schema": "<revision>"}`` when the database answers
and is at the newest revision; 503 ``{"status": "unavailable", "database": "<reason>"}``
when it cannot be reached, does not answer within :data:`TIMEOUT_SECONDS`, or its schema
is not the one this tfident needs. The reason is short and names no host, user or
password; the full reason (password hidden) is logged at WARNING.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from tfident.errors import DatabaseUnavailable
from tfident.store.engine import current_revision, head_revision

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
"""Longest /healthz waits for the database before answering 503."""

router = APIRouter()


@cache
def _head() -> str:
    return head_revision()


def check_database(engine: Engine) -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of /healthz for ``engine`` (blocking: run it in a thread)."""
    try:
        revision = current_revision(engine)
    except DatabaseUnavailable as error:
        log.warning("health check: %s", error)
        return 503, {"status": "unavailable", "database": "unreachable"}
    except Exception as error:  # a health check answers 503, never 500
        log.warning("health check: database error (%s)", type(error).__name__)
        return 503, {"status": "unavailable", "database": f"error ({type(error).__name__})"}
    head = _head()
    if revision is None:
        return 503, {"status": "unavailable", "database": f"no tfident schema; this tfident needs revision {head}"}
    if revision != head:
        # Usually behind (run `tfident db upgrade` as the owner); ahead when a newer tfident migrated it.
        reason = f"schema at revision {revision}, this tfident needs {head}"
        return 503, {"status": "unavailable", "database": reason}
    return 200, {"status": "ok", "database": "ok", "schema": revision}


@router.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers at the newest schema, else 503 with a short reason."""
    engine: Engine = request.app.state.engine
    try:
        status, body = await asyncio.wait_for(asyncio.to_thread(check_database, engine), TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("health check: the database did not answer within %g s", TIMEOUT_SECONDS)
        status, body = 503, {"status": "unavailable", "database": f"no answer within {TIMEOUT_SECONDS:g} s"}
    return JSONResponse(body, status_code=status)
