"""The review app's core under its pages: sessions, permissions, CSRF, audit rows, rendering, errors.

Every route but ``/login`` needs a session and names the permission it needs (:func:`requires`).
A request without a session is sent to ``/login`` (GET) or refused with 401 (other methods);
a role without the permission gets 403; a run or family the user may not see (another run, or
outside their areas) gets 404. Refusals and every view of a family, search, decision, link
ruling, export, login and logout write an audit row naming the client address and session.
POST forms must carry the session's CSRF token. Database work and password hashing run in the
thread pool (page handlers are plain functions; :func:`requires` looks the session up off the loop).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from tfident.review import charts
from tfident.review.areas import AreaMap
from tfident.review.auth import (
    CurrentUser,
    csrf_matches,
    new_csrf_token,
)
from tfident.review.changes import ChangesCache, MonthChanges
from tfident.review.service import DECISION_LABELS
from tfident.review.thresholds import (
    DEFAULT_MATCH_THRESHOLD,
    DEFAULT_REVIEW_THRESHOLD,
    LinkThresholds,
    link_thresholds,
)
from tfident.review.weights import parse_weights
from tfident.store import latest_run_id, sessions
from tfident.store import review as store

log = logging.getLogger(__name__)


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


DECISION_TAGS = {
    "new": "govuk-tag--blue",
    "accept": "govuk-tag--green",
    "reject": "govuk-tag--red",
    "defer": "govuk-tag--yellow",
    "known": "govuk-tag--grey",
    "closed": "govuk-tag--purple",
    "opted_out": "govuk-tag--orange",
}


CLOSURE_REASON_LABELS = {
    "outcomes_achieved": "Outcomes achieved",
    "moved_away": "Moved away",
    "stepped_down": "Stepped down to other support",
    "other": "Other reason",
}


ADDRESS_STATUS_LABELS = {
    "not_in_gazetteer": "not in the gazetteer (a new build, or an address written in a way not recognised)",
    "ambiguous": "ambiguous (it fits more than one gazetteer address)",
    "out_of_area": "outside the council's area",
}
"""The family page's warning for ``households.address_status``."""


REVIEW_REASON_LABELS = {
    "moved_together": "one member's records show a new address and the others have none since; "
    "they are placed with them at the new one",
    "kept_together": "one member's records show a new address and the others have none since; "
    "they are kept together at the old one",
    "moved_alone": "one member's records show a new address and the others have none since",
    "stale_claim": "a member's open benefit claim still gives the address the children left; "
    "their own later records give this one, and they are placed here with the children",
    "lone_children": "the children's records moved here and no adult's did; the adults of the home they "
    "left, whose agencies have not recorded the move, are placed here with them",
    "left_behind": "the children's records moved here; members of the home they left, recorded there since "
    "only by agencies that have not recorded the move, are placed here with them",
    "children_rejoined": "a child's newest records give an address where no adult is known; they are placed "
    "back here, with the adults of the home they were seen at before",
    "children_followed": "the adults' records moved here and a child's still give the home they left, where "
    "no adult is known; the child is placed here with them",
    "moved_in": "an adult's latest record gives a home outside the area, where the children lived before "
    "they came here; the adult's own records place them here too, and they are placed here with the children",
    "flat_from_surname": "a member's records name the block but not the flat (or a house number and street "
    "found in two places, with no postcode); they are placed in the one flat of the block (or the one of those "
    "houses) where people of their surname live, whose records name it",
    "former_home": "an agency still gives a member the home the family moved out of, though their own records "
    "had placed them here with the family since it moved; they are placed here with it",
    "postcode_only": "a member's records give a postcode but no address; they are placed here, the one "
    "address in that postcode where someone recorded with them at an incident, or of their surname, lives",
}
"""The family page's warning for ``households.review_reason``."""


STATUS_FILTERS = {
    store.STATUS_OPEN: "To consider (not attached, closed or opted out)",
    "all": "Any",
    **{status: DECISION_LABELS[status] for status in store.STATUSES},
}
"""The candidate list's status filter: the first is the default."""


UNCERTAIN_BELOW = DEFAULT_REVIEW_THRESHOLD
"""The default review threshold; a run's stored config may set another (see :func:`_thresholds`)."""


MATCH_THRESHOLD = DEFAULT_MATCH_THRESHOLD


MAX_TEXT = 500


DEVICE_COOKIE_DAYS = 180
"""How long a browser is remembered as a device the account signed in on (see :mod:`tfident.review.throttle`)."""


LINK_KINDS = {"cannot_link": "Not the same person", "must_link": "Confirmed the same person"}


templates.env.globals.update(
    decision_labels=DECISION_LABELS,
    decision_tags=DECISION_TAGS,
    closure_reason_labels=CLOSURE_REASON_LABELS,
    address_status_labels=ADDRESS_STATUS_LABELS,
    review_reason_labels=REVIEW_REASON_LABELS,
    uncertain_below=UNCERTAIN_BELOW,
    link_kinds=LINK_KINDS,
)


class LoginRequired(Exception):
    """The request has no valid session."""


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _now() -> datetime:
    return datetime.now(UTC)


def client_address(request: Request) -> str:
    """The address the request came from (uvicorn's ``--proxy-headers`` puts a trusted proxy's client here)."""
    return (request.client.host if request.client else "-")[:64]


def _audit(
    request: Request,
    user: CurrentUser | None,
    action: str,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: dict[str, Any] | None = None,
    username: str | None = None,
) -> None:
    store.write_audit(
        _engine(request),
        username or (user.username if user else "-"),
        user.role if user else None,
        action,
        object_type,
        object_id,
        detail,
        client_address=client_address(request),
        session_id=user.session_id if user else getattr(request.state, "session_id", None),
    )


def _session_user(request: Request) -> CurrentUser | None:
    """The signed-in user, or None when there is no live server-side session.

    A session revoked (sign-out, an admin, a disabled account, a new password) or past its
    absolute lifetime is forgotten; one idle past the timeout is revoked as ``timeout``
    and its token kept in the cookie as ``resume``, so a decision typed in it can be
    offered again once the same user signs back in (see :func:`keep_typed_decision`).
    """
    session = request.session
    token = session.get("sid")
    if not token:
        return None
    engine = _engine(request)
    row = sessions.find_session(engine, str(token))
    now = _now()
    timeout = request.app.state.settings.session_timeout
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        session.pop("sid", None)
        return None
    if now - row.last_seen_at > timeout:
        sessions.revoke_session(engine, row.id, "timeout", now)
        session.pop("sid", None)
        session["resume"] = token
        return None
    account = store.get_user(engine, row.username)
    if account is None or account.disabled:
        sessions.revoke_session(engine, row.id, "disabled", now)
        session.pop("sid", None)
        return None
    sessions.touch_session(engine, row, now, timeout)
    request.state.session_id = row.id
    request.state.session_row = row
    return CurrentUser(
        username=account.username,
        role=account.role,
        csrf_token=session.get("csrf", ""),
        session_id=row.id,
        areas=account.area_list,
    )


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return str(token)


async def _check_csrf(request: Request) -> None:
    form = await request.form()
    request.state.form = form
    given = form.get("csrf_token")
    if not csrf_matches(request.session.get("csrf"), given if isinstance(given, str) else None):
        raise HTTPException(status_code=403, detail="The form has expired or did not come from this service.")


def _form(request: Request) -> FormData:
    """The POSTed form, read (and its CSRF token checked) by :func:`requires`."""
    form: FormData = request.state.form
    return form


def requires(permission: str | None) -> Callable[[Request], Awaitable[CurrentUser]]:
    """A dependency: the signed-in user, who must have ``permission`` (None: any signed-in user).

    POST requests must also carry the session's CSRF token. The session is looked up (a
    database read) in the thread pool, off the event loop.
    """

    async def dependency(request: Request) -> CurrentUser:
        user = await run_in_threadpool(_session_user, request)
        if user is None:
            raise LoginRequired()
        if permission is not None and not user.can(permission):
            await run_in_threadpool(
                _audit, request, user, "access.denied", "route", request.url.path, {"permission": permission}
            )
            raise HTTPException(status_code=403, detail="You do not have permission to see this page.")
        if request.method == "POST":
            await _check_csrf(request)
        return user

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a page with the user, CSRF token and flash message."""
    user = context.get("user")
    context = {
        "csrf_token": _csrf_token(request),
        "flash": request.session.pop("flash", None),
        "can": (lambda permission: user is not None and user.can(permission)),
        **context,
    }
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _not_found(request: Request, user: CurrentUser, object_type: str, object_id: str) -> HTTPException:
    _audit(request, user, "not_found", object_type, object_id[:200])
    return HTTPException(status_code=404, detail="Page not found")


def _clean(value: Any, limit: int = MAX_TEXT) -> str | None:
    text = str(value or "").strip()
    return text[:limit] or None


def _thresholds(run: dict[str, Any] | None) -> LinkThresholds:
    """The link thresholds in a run's stored config, or the defaults."""
    return link_thresholds(run.get("config_json") if run else None)


def _with_weights(link: dict[str, Any]) -> dict[str, Any]:
    """Add the link's stored waterfall (``weights``, as ``tfident explain`` prints it) and its chart
    (``waterfall``), when the run stored match weights for it.
    """
    link["weights"] = parse_weights(link.get("match_weights_json"))
    link["waterfall"] = (
        charts.waterfall(link["weights"], f"Match weights for {link['record_key_l']} and {link['record_key_r']}")
        if link["weights"]
        else None
    )
    return link


def pair_url(run_id: str, left: str, right: str, household_id: str | None = None) -> str:
    """The record-pair page of two records of a run."""
    params = {"run": run_id, "left": left, "right": right}
    if household_id:
        params["household"] = household_id
    return "/pairs?" + urlencode(params)


_LOCAL_PATH = re.compile(r"/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?#]*")


def safe_next(value: str | None) -> str | None:
    r"""``value`` when it is a path on this site (``/runs?x=1``), else None: never another site.

    Refused: absolute and scheme-relative addresses (``https://x``, ``//x``, ``/\\x``),
    anything with control characters or backslashes, and the sign-in pages themselves.
    """
    if not value or len(value) > 2000:
        return None
    if not _LOCAL_PATH.fullmatch(value) or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/logout")):
        return None
    return value


def keep_typed_decision(request: Request, form: FormData) -> str | None:
    """Keep a decision posted after its session timed out; returns the family page to come back to.

    Kept only when the cookie names a session that timed out (not one signed out or
    revoked), the form carries that browser's CSRF token, and the path is a family's
    decision form. It is offered again only to the same user, after signing in.
    """
    match = re.fullmatch(r"/families/([^/]+)/decisions", request.url.path)
    resume = request.session.get("resume")
    if match is None or not resume:
        return None
    given = form.get("csrf_token")
    if not csrf_matches(request.session.get("csrf"), given if isinstance(given, str) else None):
        return None
    engine = _engine(request)
    old = sessions.find_session(engine, str(resume))
    if old is None or old.revoked_reason != "timeout":
        return None
    household_id = unquote(match.group(1))
    run_id = str(form.get("run_id") or "")[:40]
    values = {k: _clean(form.get(k)) for k in ("decision", "reason", "lead_agency", "worker", "closure_reason")}
    values["note"] = _clean(form.get("note"), 4000)
    url = f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id} if run_id else {})}#decide"
    sessions.set_pending(engine, old.id, {"household_id": household_id, "run_id": run_id, "values": values, "url": url})
    return url


def _run_or_404(request: Request, user: CurrentUser, run_id: str) -> dict[str, Any]:
    engine = _engine(request)
    if run_id == "latest":
        run_id = latest_run_id(engine) or ""
    run = store.readable_run(engine, run_id) if run_id else None
    if run is None:
        raise _not_found(request, user, "run", run_id or "latest")
    return run


def _family_run(request: Request, user: CurrentUser, household_id: str, run_param: str | None) -> str:
    """The run a family is shown from; 404 (audited) when it is not a candidate of a readable run, or is
    outside the user's areas.
    """
    run_id = run_param or latest_run_id(_engine(request)) or ""
    found, postcode = store.candidate_postcode(_engine(request), run_id, household_id) if run_id else (False, None)
    if not found:
        raise _not_found(request, user, "household", household_id)
    if store.readable_run(_engine(request), run_id) is None:
        raise _not_found(request, user, "household", household_id)
    _check_area(request, user, household_id, run_id, postcode)
    return run_id


def _areas(request: Request) -> AreaMap:
    areas: AreaMap = request.app.state.areas
    return areas


def _area_scope(request: Request, user: CurrentUser) -> store.AreaScope | None:
    """The database filter of the user's areas (None: the whole council)."""
    return _areas(request).scope(user.areas)


def _check_area(request: Request, user: CurrentUser, household_id: str, run_id: str, postcode: str | None) -> None:
    """404 with an audit row (``family.out_of_area``) when the family is outside the user's areas."""
    if _areas(request).within(postcode, user.areas):
        return
    _audit(
        request,
        user,
        "family.out_of_area",
        "household",
        household_id[:200],
        {"run_id": run_id, "user_areas": list(user.areas), "path": request.url.path},
    )
    raise HTTPException(status_code=404, detail="Page not found")


def _changes(request: Request, run_id: str) -> MonthChanges:
    cache: ChangesCache = request.app.state.changes
    return cache.get(_engine(request), run_id)


def _area_names(request: Request) -> list[str]:
    areas: AreaMap = request.app.state.areas
    return areas.names


def install_error_handlers(app: FastAPI) -> None:
    """Send requests without a session to sign in, and render errors as pages."""

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": safe_next(target) or "/"}), status_code=303)
        if request.method == "POST":
            kept = await run_in_threadpool(keep_typed_decision, request, await request.form())
            if kept:
                request.session["flash"] = (
                    "Your session ended before the decision was saved. Sign in again: the decision you typed is kept."
                )
                return RedirectResponse("/login?" + urlencode({"next": kept}), status_code=303)
        return HTMLResponse("Sign in first.", status_code=401)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        user = await run_in_threadpool(_session_user, request) if "session" in request.scope else None
        titles = {
            400: "There is a problem",
            401: "Sign in first",
            403: "Access denied",
            404: "Page not found",
            405: "Not allowed",
        }
        context = {
            "user": user,
            "title": titles.get(exc.status_code, "Sorry, there is a problem"),
            "detail": exc.detail,
        }
        return await run_in_threadpool(render, request, "error.html", context, exc.status_code)
