"""The audit trail of runs, exports and deletions: who did what to which run, and when.

Rows go to ``audit_log`` (append-only, see migration 0002) with ``object_type`` ``run``
and the run id. ``detail`` holds counts, checksums and file paths, never personal data.
The user is the one given, else ``TFIDENT_USER``, else the operating-system account
running tfident.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tfident.store.tables import metadata, utc_now

audit_log = metadata.tables["audit_log"]

USER_ENV = "TFIDENT_USER"
RUN_PUBLISHED = "run.published"
EXPORT_WRITTEN = "export.written"
RETENTION_PURGED = "retention.purged"


@dataclass(frozen=True)
class AuditOrigin:
    """Who asked, from where: the role, client address and session of a review-app request, for the
    audit rows a store function writes on its behalf (the audit page filters on them).
    """

    role: str | None = None
    client_address: str | None = None
    session_id: str | None = None


def acting_user(user: str | None = None) -> str:
    """``user`` when given, else ``TFIDENT_USER``, else the operating-system user (at most 64 characters)."""
    name = user or os.environ.get(USER_ENV)
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):  # no login name and no passwd entry (some containers)
            name = f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return name[:64]


def write_audit_row(
    connection: sa.Connection,
    action: str,
    object_id: str | None,
    detail: dict[str, Any],
    *,
    user: str | None = None,
    role: str | None = None,
    object_type: str = "run",
    origin: AuditOrigin | None = None,
) -> None:
    """Append one audit row about a run (``object_id``), in the caller's transaction; ``origin`` adds the
    review-app request's role (unless ``role`` is given), client address and session.
    """
    values: dict[str, Any] = {
        "at": utc_now(),
        "username": acting_user(user),
        "role": role or (origin.role if origin else None),
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "detail_json": detail,
    }
    if origin is not None and origin.client_address:
        values["client_address"] = origin.client_address[:64]
    if origin is not None and origin.session_id:
        values["session_id"] = origin.session_id
    connection.execute(audit_log.insert().values(**values))
