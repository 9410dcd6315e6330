"""The review app: a FastAPI application built by :func:`create_app` around a store engine.

Pages are rendered on the server with Jinja2 (autoescaped) and the GOV.UK Design System,
shipped in ``static/govuk``; nothing is fetched at run time and every page works without
JavaScript. Routes live in :mod:`tfident.review.routes`.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.middleware.sessions import SessionMiddleware

from tfident.outcomes import ProgrammePeriod
from tfident.review import health
from tfident.review.areas import AreaMap
from tfident.review.changes import ChangesCache
from tfident.review.routes import install_error_handlers, router
from tfident.review.throttle import LoginThrottle, ThrottlePolicy

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
SESSION_COOKIE = "tfident_session"
SECURE_SESSION_COOKIE = "__Host-tfident_session"
"""The cookie's name when cookies are Secure: the ``__Host-`` prefix makes the browser refuse it
unless it is Secure, for this host only and for every path."""
HSTS = "max-age=31536000; includeSubDomains"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@dataclass(frozen=True)
class Settings:
    """How the app runs: the session secret, cookie security and timeouts."""

    secret_key: str
    secure_cookies: bool = False
    """Cookies only over HTTPS (``Secure``, ``__Host-`` prefix); set when the app is served over HTTPS."""
    session_timeout: timedelta = timedelta(minutes=30)
    """A session unused this long ends (its typed decision is kept for signing in again)."""
    session_lifetime: timedelta = timedelta(hours=12)
    """A session ends this long after signing in, however busy."""
    hsts: bool | None = None
    """Send ``Strict-Transport-Security``; None: when cookies are secure or the request came over HTTPS."""
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    areas: AreaMap | None = None
    """The council's areas; None: ``areas.yaml`` of the config folders (none when there is no such file)."""
    periods: tuple[ProgrammePeriod, ...] | None = None
    """The programme periods claims are made in; None: ``periods`` of ``outcomes.yaml`` in the config folders."""
    page_size: int = 50
    export_members: bool = True
    """Whether the panel export lists each family's members (names and roles);
    ``TFIDENT_EXPORT_MEMBERS=0`` leaves them out."""

    @classmethod
    def from_environment(cls) -> Settings:
        """Settings from ``TFIDENT_SECRET_KEY``, ``TFIDENT_SECURE_COOKIES``, ``TFIDENT_SESSION_MINUTES``,
        ``TFIDENT_SESSION_HOURS``, ``TFIDENT_HSTS`` and ``TFIDENT_EXPORT_MEMBERS``.

        Without a secret key a random one is made, so sessions end when the app restarts.
        """
        secret = os.environ.get("TFIDENT_SECRET_KEY") or secrets.token_urlsafe(48)
        secure = os.environ.get("TFIDENT_SECURE_COOKIES", "").strip().lower() in ("1", "true", "yes")
        minutes = int(os.environ.get("TFIDENT_SESSION_MINUTES", "30"))
        members = os.environ.get("TFIDENT_EXPORT_MEMBERS", "1").strip().lower() not in ("0", "false", "no")
        hours = float(os.environ.get("TFIDENT_SESSION_HOURS", "12"))
        hsts_text = os.environ.get("TFIDENT_HSTS", "").strip().lower()
        hsts = None if not hsts_text else hsts_text in ("1", "true", "yes")
        return cls(
            secret_key=secret,
            secure_cookies=secure,
            session_timeout=timedelta(minutes=minutes),
            session_lifetime=timedelta(hours=hours),
            hsts=hsts,
            export_members=members,
        )


def create_app_from_environment() -> FastAPI:
    """The app for ``tfident serve`` (a uvicorn factory): the database is ``TFIDENT_DATABASE_URL`` (or its file)."""
    from tfident.store import make_engine, prepare_database

    engine = make_engine(None)
    try:
        prepare_database(engine)
    except BaseException:
        engine.dispose()  # e.g. SchemaOutOfDate: close the connection it opened
        raise
    return create_app(engine)


def create_app(engine: Engine, settings: Settings | None = None) -> FastAPI:
    """Build the review app on a migrated tfident database."""
    settings = settings or Settings.from_environment()
    app = FastAPI(title="tfident review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.settings = settings
    app.state.changes = ChangesCache()
    app.state.throttle = LoginThrottle(settings.throttle)
    app.state.areas = settings.areas or AreaMap.load()

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        hsts = (
            settings.hsts if settings.hsts is not None else (settings.secure_cookies or request.url.scheme == "https")
        )
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SECURE_SESSION_COOKIE if settings.secure_cookies else SESSION_COOKIE,
        max_age=int(settings.session_lifetime.total_seconds()),
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)  # /healthz: no session, not audited
    app.include_router(router)
    install_error_handlers(app)
    return app
