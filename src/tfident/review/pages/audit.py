"""The audit log for auditors, and who saw a family."""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tfident.review.auth import (
    CurrentUser,
)
from tfident.review.web import (
    _audit,
    _engine,
    render,
    requires,
)
from tfident.store import review as store

router = APIRouter()
log = logging.getLogger(__name__)


def _page_number(value: str | None) -> int:
    """A page number from a query string: anything not a positive number is page 1 (the store clamps the top)."""
    text = (value or "1").strip()
    if not text.isdigit():  # negative, a word, a float: the first page
        return 1
    if len(text) > 9:  # huge: the last page (the store clamps it)
        return store.MAX_AUDIT_PAGE
    return max(1, int(text))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: CurrentUser = Depends(requires("audit.view"))) -> Response:
    """The audit log, newest first, filtered by user, action, object id, client address and session.

    Any ``page`` (negative, huge, not a number) gives a page: the nearest one that exists.
    """
    params = request.query_params
    query = store.AuditQuery(
        username=params.get("username", "")[:64],
        action=params.get("action", "")[:64],
        object_id=params.get("object_id", "")[:200],
        client_address=params.get("client_address", "").strip()[:64],
        session_id=params.get("session_id", "").strip()[:32],
        page=_page_number(params.get("page")),
    )
    rows, total = store.read_audit(_engine(request), query)
    pages = max(1, -(-total // query.page_size))
    query = replace(query, page=min(query.page, pages))
    filters = {
        "username": query.username,
        "action": query.action,
        "object_id": query.object_id,
        "client_address": query.client_address,
        "session_id": query.session_id,
    }
    base = {k: v for k, v in filters.items() if v}
    _audit(request, user, "audit.view", None, None, {"filters": base, "page": query.page})
    context = {
        "user": user,
        "rows": rows,
        "total": total,
        "query": query,
        "pages": pages,
        "actions": store.audit_actions(_engine(request)),
        "page_link": lambda p: "/audit?" + urlencode({**base, "page": p}),
    }
    return render(request, "audit.html", context)


@router.get("/audit/family", response_class=HTMLResponse)
def family_access_page(request: Request, user: CurrentUser = Depends(requires("audit.view"))) -> Response:
    """Who saw this family: every view, print, decision, link ruling and export of one household, newest first."""
    household_id = request.query_params.get("household", "").strip()[:200]
    rows = store.family_access(_engine(request), household_id) if household_id else []
    _audit(request, user, "audit.family_access", "household", household_id or None, {"rows": len(rows)})
    people = sorted({row["username"] for row in rows})
    context = {"user": user, "household_id": household_id, "rows": rows, "people": people}
    return render(request, "audit_family.html", context)
