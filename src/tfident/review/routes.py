"""The review app's routes: one router per page, wired together here.

Each page lives in :mod:`tfident.review.pages` (sign-in, runs, candidates, families, record
pairs, claims, audit, users) over the core in :mod:`tfident.review.web` (sessions, permissions,
CSRF, audit rows, rendering, errors) and the review logic in :mod:`tfident.review.service`.
Every route but ``/login`` needs a session and names the permission it needs.
"""

from __future__ import annotations

from fastapi import APIRouter

from tfident.review.pages import audit, candidates, claims, families, pairs, runs, signin, users
from tfident.review.pages.signin import LOGIN_FAILED
from tfident.review.web import install_error_handlers

__all__ = ["LOGIN_FAILED", "install_error_handlers", "router"]

PAGES = (signin, runs, candidates, families, pairs, claims, audit, users)
"""The page modules, each with its ``router``."""

router = APIRouter()
for page in PAGES:
    # The pages' routes themselves (not FastAPI's lazily included routers), so that the role
    # matrix test sees every route with its permission.
    router.routes.extend(page.router.routes)
