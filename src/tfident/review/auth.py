"""Accounts, roles and sessions of the review app: argon2 passwords, deny-by-default permissions, CSRF.

Every route names the one permission it needs; a role has only the permissions listed in
:data:`PERMISSIONS`, so anything not granted is refused. Sessions are server-side rows
(:mod:`tfident.store.sessions`); the signed cookie (Starlette's ``SessionMiddleware``:
HttpOnly, SameSite=Lax, Secure and ``__Host-`` prefixed when configured) holds only the
session's random token, the CSRF token every POST form must echo back, and a flash message.
Sign-in is throttled (:mod:`tfident.review.throttle`), never locked.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from tfident.store.passwords import MIN_PASSWORD_LENGTH, check_password_strength, hash_password, verify_password

__all__ = [
    "HOME",
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "ROLES",
    "CurrentUser",
    "allowed",
    "check_password_strength",
    "csrf_matches",
    "hash_password",
    "new_csrf_token",
    "verify_password",
]

ROLES: tuple[str, ...] = ("coordinator", "analyst", "auditor", "admin")

PERMISSIONS: dict[str, frozenset[str]] = {
    "coordinator": frozenset(
        {
            "runs.view",
            "candidates.view",
            "family.view",
            "decide",
            "links.review",
            "export",
            "claims.view",
            "claims.evidence",
            "claims.prepare",
        }
    ),
    "analyst": frozenset({"runs.view", "claims.view"}),
    "auditor": frozenset(
        {"runs.view", "candidates.view", "family.view", "audit.view", "claims.view", "claims.evidence", "claims.audit"}
    ),
    "admin": frozenset({"users.manage"}),
}
"""What each role may do; everything else is denied. Analysts see runs, quality and claims only;
auditors read everything and change nothing but claims' internal audit (sign off or reject a draft
claim, draw the audit sample); coordinators prepare claims and move them on (withdraw, submitted,
paid, rejected); admins manage accounts only."""

HOME: dict[str, str] = {"coordinator": "/runs", "analyst": "/runs", "auditor": "/runs", "admin": "/users"}


def allowed(role: str | None, permission: str) -> bool:
    """Whether ``role`` has ``permission`` (unknown roles have none)."""
    return role is not None and permission in PERMISSIONS.get(role, frozenset())


def new_csrf_token() -> str:
    """A fresh random CSRF token."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the form's."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user of a request."""

    username: str
    role: str
    csrf_token: str
    session_id: str | None = None
    """The public id of the server-side session (``sessions.id``)."""
    areas: tuple[str, ...] = ()
    """The areas a coordinator works in (empty: the whole council)."""

    def can(self, permission: str) -> bool:
        """Whether this user's role grants ``permission``."""
        return allowed(self.role, permission)
