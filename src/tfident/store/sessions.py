"""Server-side sessions of the review app: create, find, touch and revoke (``sessions`` table).

The browser's cookie holds a random token; the table holds its SHA-256 and everything
else. A session is *live* while it is not revoked, not idle longer than the idle timeout
and not past ``expires_at``. Revoking is final: sign-out, an admin's revocation, a
disabled account or a new password each set ``revoked_at`` with the reason, so a copied
cookie stops working at once, whatever it carries.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.store.tables import metadata, utc_now

sessions = metadata.tables["sessions"]

REVOKE_REASONS: tuple[str, ...] = ("logout", "admin", "disabled", "password", "role", "timeout")
TOUCH_EVERY = timedelta(seconds=30)
"""``last_seen_at`` is written at most this often per session, not on every request."""


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a session token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionRow:
    """A stored session (never the token)."""

    id: str
    username: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None
    client_address: str | None
    user_agent: str | None
    pending_json: dict[str, Any] | None

    def live(self, idle_timeout: timedelta, now: datetime | None = None) -> bool:
        """Whether the session may be used at ``now``."""
        now = now or utc_now()
        return self.revoked_at is None and now < self.expires_at and now - self.last_seen_at <= idle_timeout


def _row(mapping: Any) -> SessionRow:
    values = dict(mapping)
    values.pop("token_hash", None)
    return SessionRow(**values)


def create_session(
    engine: Engine,
    username: str,
    lifetime: timedelta,
    *,
    client_address: str | None = None,
    user_agent: str | None = None,
    pending: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[str, SessionRow]:
    """A new session for ``username``: its secret token (for the cookie) and its row."""
    now = now or utc_now()
    token = secrets.token_urlsafe(32)
    values = {
        "id": secrets.token_hex(8),
        "token_hash": token_hash(token),
        "username": username,
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + lifetime,
        "revoked_at": None,
        "revoked_reason": None,
        "client_address": (client_address or None) and client_address[:64],
        "user_agent": (user_agent or None) and user_agent[:200],
        "pending_json": pending,
    }
    with engine.begin() as connection:
        connection.execute(sessions.insert().values(**values))
    return token, _row(values)


def find_session(engine: Engine, token: str) -> SessionRow | None:
    """The session of a cookie's token (live or not), or None."""
    if not token or len(token) > 200:
        return None
    with engine.connect() as connection:
        row = (
            connection.execute(sa.select(sessions).where(sessions.c.token_hash == token_hash(token))).mappings().first()
        )
    return None if row is None else _row(row)


def touch_session(
    engine: Engine, session: SessionRow, now: datetime | None = None, idle_timeout: timedelta | None = None
) -> None:
    """Record that the session was used now (at most every :data:`TOUCH_EVERY`, or a quarter of a shorter
    ``idle_timeout``).
    """
    now = now or utc_now()
    every = min(TOUCH_EVERY, idle_timeout / 4) if idle_timeout else TOUCH_EVERY
    if now - session.last_seen_at < every:
        return
    with engine.begin() as connection:
        connection.execute(
            sessions.update()
            .where(sessions.c.id == session.id, sessions.c.revoked_at.is_(None))
            .values(last_seen_at=now)
        )


def revoke_session(engine: Engine, session_id: str, reason: str, now: datetime | None = None) -> bool:
    """Revoke one session; returns whether it was live (not already revoked)."""
    with engine.begin() as connection:
        result = connection.execute(
            sessions.update()
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now or utc_now(), revoked_reason=reason)
        )
    return bool(result.rowcount)


def revoke_user_sessions(engine: Engine, username: str, reason: str, now: datetime | None = None) -> int:
    """Revoke every session of ``username``; returns how many were not already revoked."""
    with engine.begin() as connection:
        result = connection.execute(
            sessions.update()
            .where(sessions.c.username == username, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now or utc_now(), revoked_reason=reason)
        )
    return int(result.rowcount or 0)


def user_sessions(
    engine: Engine, username: str, idle_timeout: timedelta, now: datetime | None = None
) -> list[SessionRow]:
    """The live sessions of ``username``, newest first."""
    now = now or utc_now()
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(sessions)
            .where(sessions.c.username == username, sessions.c.revoked_at.is_(None), sessions.c.expires_at > now)
            .order_by(sessions.c.created_at.desc())
        ).mappings()
        found = [_row(row) for row in rows]
    return [s for s in found if s.live(idle_timeout, now)]


def set_pending(engine: Engine, session_id: str, pending: dict[str, Any] | None) -> None:
    """Keep (or clear, with None) a decision typed in a session."""
    with engine.begin() as connection:
        connection.execute(sessions.update().where(sessions.c.id == session_id).values(pending_json=pending))
