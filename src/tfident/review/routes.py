"""The review app's routes: every one but ``/login`` needs a session and names the permission it needs.

A request without a session is sent to ``/login`` (GET) or refused with 401 (other
methods); a role without the permission gets 403; a run or family the user may not see
gets 404. Refusals and every view of a family, search, decision, link ruling, export,
login and logout write an audit row. POST forms must carry the session's CSRF token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from tfident.errors import StoreError
from tfident.review import charts, service, totp
from tfident.review.areas import AreaMap
from tfident.review.auth import (
    HOME,
    MIN_PASSWORD_LENGTH,
    ROLES,
    CurrentUser,
    check_password_strength,
    csrf_matches,
    hash_password,
    new_csrf_token,
    verify_password,
)
from tfident.review.changes import CHANGE_LABELS, CHANGE_TAGS, ChangesCache, MonthChanges
from tfident.review.exports import families_csv, families_xlsx
from tfident.review.service import DECISION_LABELS, DecisionForm, LinkRulingForm, parse_form
from tfident.review.summary import case_summary
from tfident.review.thresholds import (
    DEFAULT_MATCH_THRESHOLD,
    DEFAULT_REVIEW_THRESHOLD,
    LinkThresholds,
    link_thresholds,
)
from tfident.review.throttle import DEVICE_COOKIE, LoginThrottle, device_cookie, device_of
from tfident.review.weights import parse_weights
from tfident.store import latest_run_id, list_runs, read_quality, read_run, sessions
from tfident.store import review as store

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter()

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
    (``waterfall``), when the run stored match weights for it."""
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


# ------------------------------------------------------------------------ sign in/out

_LOCAL_PATH = re.compile(r"/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?#]*")


def safe_next(value: str | None) -> str | None:
    """``value`` when it is a path on this site (``/runs?x=1``), else None: never another site.

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


LOGIN_FAILED = "The username, password or code is not right. Check them and try again."
"""The one message for every failed sign-in: it never says whether the name exists."""


def _login_form(request: Request, errors: dict[str, str], username: str, next_url: str | None, status: int) -> Response:
    context = {"user": None, "errors": errors, "username": username, "next": next_url or ""}
    return render(request, "login.html", context, status_code=status)


def _throttled(request: Request, wait: float, username: str, next_url: str | None) -> Response:
    _audit(request, None, "login.throttled", "user", None, {"wait_seconds": round(wait, 1)}, username="-")
    seconds = max(1, int(wait + 0.999))
    message = f"Too many sign-in attempts. Wait {seconds} second{'s' if seconds != 1 else ''} and try again."
    response = _login_form(request, {"password": message}, username, next_url, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """Send the user to their role's start page, or to sign in."""
    user = _session_user(request)
    return _redirect(HOME.get(user.role, "/login") if user else "/login")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The sign-in form (``next``: the local page to go to afterwards)."""
    return _login_form(request, {}, "", safe_next(request.query_params.get("next")), 200)


def _device(request: Request, username: str) -> str | None:
    secret = request.app.state.settings.secret_key
    return device_of(secret, request.cookies.get(DEVICE_COOKIE), username)


def _start_session(request: Request, account: store.Account, next_url: str | None) -> Response:
    """Sign ``account`` in: a new server-side session (carrying a decision kept from a timed-out one)."""
    engine = _engine(request)
    settings = request.app.state.settings
    pending = None
    resume = request.session.get("resume")
    if resume:
        old = sessions.find_session(engine, str(resume))
        if old is not None and old.username == account.username and old.pending_json:
            pending = old.pending_json
            sessions.set_pending(engine, old.id, None)
    address = client_address(request)
    token, row = sessions.create_session(
        engine,
        account.username,
        settings.session_lifetime,
        client_address=address,
        user_agent=request.headers.get("user-agent"),
        pending=pending,
        now=_now(),
    )
    request.session.clear()
    request.session.update({"sid": token, "csrf": new_csrf_token()})
    request.state.session_id = row.id
    user = CurrentUser(account.username, account.role, request.session["csrf"], session_id=row.id)
    _audit(request, user, "login", "user", account.username, {"kept_decision": bool(pending)})
    log.info("user %s signed in", account.username)
    if pending:
        request.session["flash"] = (
            "You were signed out before saving. The decision you typed is kept below: check it and save it."
        )
    destination = next_url or (pending.get("url") if pending else None) or HOME.get(account.role, "/runs")
    response = _redirect(destination)
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie(settings.secret_key, account.username),
        max_age=DEVICE_COOKIE_DAYS * 86400,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )
    return response


def _check_login(request: Request, username: str, password: str) -> store.Account | None:
    """The account when the password is right and the account enabled; the same work whether the name exists or not."""
    account = store.get_user(_engine(request), username) if username else None
    ok = verify_password(account.password_hash if account else None, password)
    return account if ok and account is not None and not account.disabled else None


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the username and password, throttled per name and per address (never a lock-out).

    Unknown names, wrong passwords and disabled accounts get the same answer after the same
    work (an argon2 check against a dummy hash for unknown names), in the thread pool.
    """
    form = await request.form()
    if not csrf_matches(request.session.get("csrf"), str(form.get("csrf_token") or "")):
        raise HTTPException(status_code=403, detail="The form has expired or did not come from this service.")
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:1024]
    next_url = safe_next(str(form.get("next") or ""))
    return await run_in_threadpool(_login, request, username, password, next_url)


def _login(request: Request, username: str, password: str, next_url: str | None) -> Response:
    throttle: LoginThrottle = request.app.state.throttle
    address = client_address(request)
    device = _device(request, username)
    wait = throttle.wait(username, address, device)
    if wait > 0:
        return _throttled(request, wait, username, next_url)
    account = _check_login(request, username, password)
    if account is None:
        throttle.failed(username, address, device)
        _audit(request, None, "login.failed", "user", None, {"typed_username": username}, username="-")
        return _login_form(request, {"password": LOGIN_FAILED}, username, next_url, 400)
    throttle.succeeded(username, device)
    if account.totp_secret:
        request.session["totp_pending"] = {"username": account.username, "at": _now().timestamp(), "next": next_url}
        return _redirect("/login/code")
    return _start_session(request, account, next_url)


TOTP_PENDING_FOR = 300
"""Seconds between the password and the code before signing in starts again."""


def _totp_pending(request: Request) -> dict[str, Any] | None:
    pending = request.session.get("totp_pending")
    if not isinstance(pending, dict) or _now().timestamp() - float(pending.get("at", 0)) > TOTP_PENDING_FOR:
        request.session.pop("totp_pending", None)
        return None
    return pending


@router.get("/login/code", response_class=HTMLResponse)
def login_code_page(request: Request) -> Response:
    """The second step for an account with a second factor: the 6-digit code."""
    if _totp_pending(request) is None:
        return _redirect("/login")
    return render(request, "login_code.html", {"user": None, "errors": {}})


@router.post("/login/code", response_class=HTMLResponse)
async def login_code(request: Request) -> Response:
    """Check the code of the authenticator app (throttled like passwords)."""
    form = await request.form()
    if not csrf_matches(request.session.get("csrf"), str(form.get("csrf_token") or "")):
        raise HTTPException(status_code=403, detail="The form has expired or did not come from this service.")
    return await run_in_threadpool(_login_code, request, str(form.get("code") or "")[:20])


def _login_code(request: Request, code: str) -> Response:
    pending = _totp_pending(request)
    if pending is None:
        return _redirect("/login")
    username = str(pending["username"])
    throttle: LoginThrottle = request.app.state.throttle
    address = client_address(request)
    device = _device(request, username)
    wait = throttle.wait(username, address, device)
    if wait > 0:
        seconds = max(1, int(wait + 0.999))
        errors = {"code": f"Too many sign-in attempts. Wait {seconds} seconds and try again."}
        return render(request, "login_code.html", {"user": None, "errors": errors}, status_code=429)
    account = store.get_user(_engine(request), username)
    if account is None or account.disabled or not totp.verify(account.totp_secret or "", code, _now().timestamp()):
        throttle.failed(username, address, device)
        _audit(request, None, "login.failed", "user", None, {"typed_username": username, "step": "code"}, username="-")
        errors = {"code": "The code is not right. Enter the 6-digit code your authenticator app shows now."}
        return render(request, "login_code.html", {"user": None, "errors": errors}, status_code=400)
    throttle.succeeded(username, device)
    request.session.pop("totp_pending", None)
    return _start_session(request, account, safe_next(pending.get("next")))


@router.get("/logout", response_class=HTMLResponse)
def logout_page(request: Request, user: CurrentUser = Depends(requires(None))) -> Response:
    """A page with the sign-out button (signing out is a POST, so other sites cannot do it)."""
    return render(request, "logout.html", {"user": user})


@router.post("/logout")
def logout(request: Request, user: CurrentUser = Depends(requires(None))) -> Response:
    """End the session: its server-side row is revoked, so a copy of the cookie is useless too."""
    if user.session_id:
        sessions.revoke_session(_engine(request), user.session_id, "logout", _now())
    _audit(request, user, "logout", "user", user.username)
    request.session.clear()
    request.session["flash"] = "You have signed out."
    return _redirect("/login")


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


# ---------------------------------------------------------------------------- runs


def _run_or_404(request: Request, user: CurrentUser, run_id: str) -> dict[str, Any]:
    engine = _engine(request)
    if run_id == "latest":
        run_id = latest_run_id(engine) or ""
    run = store.readable_run(engine, run_id) if run_id else None
    if run is None:
        raise _not_found(request, user, "run", run_id or "latest")
    return run


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, user: CurrentUser = Depends(requires("runs.view"))) -> Response:
    """Every run with its date, rule set, model version and counts."""
    engine = _engine(request)
    frame = list_runs(engine)
    rows = []
    for run in frame.iter_rows(named=True):
        info = read_run(engine, run["run_id"])
        rows.append({**run, "summary": info.summary})
    return render(request, "runs.html", {"user": user, "runs": rows, "latest": latest_run_id(engine)})


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, user: CurrentUser = Depends(requires("runs.view"))) -> Response:
    """One run: the quality report per source, link rates and charts (counts only, no personal data)."""
    run = _run_or_404(request, user, run_id)
    engine = _engine(request)
    info = read_run(engine, run["run_id"])
    quality = read_quality(engine, run["run_id"])
    rates = store.link_rates(engine, run["run_id"])
    previous_id = store.previous_run_id(engine, run["run_id"])
    previous = store.link_rates(engine, previous_id) if previous_id else {}
    rate_rows: list[dict[str, Any]] = [
        {
            "source": source,
            "records": n,
            "linked": linked,
            "rate": linked / n if n else 0.0,
            "previous": (previous[source][1] / previous[source][0])
            if source in previous and previous[source][0]
            else None,
        }
        for source, (n, linked) in rates.items()
    ]
    combos = sorted(info.summary.get("candidates_by_criteria", {}).items(), key=lambda item: -item[1])
    probabilities = store.link_probabilities(engine, run["run_id"])
    limits = _thresholds(run)
    thresholds = [("match", limits.match), ("review below", limits.review)]
    context = {
        "user": user,
        "run": info,
        "quality": quality,
        "rates": rate_rows,
        "previous_id": previous_id,
        "combos": combos,
        "n_links": len(probabilities),
        "uncertain": sum(1 for p in probabilities if p < limits.review),
        "uncertain_below": limits.review,
        "match_threshold": limits.match,
        "thresholds_from_config": limits.from_config,
        "combo_chart": charts.bar_chart([(k.replace(";", " + "), v) for k, v in combos], "Candidates by criteria met"),
        "probability_chart": charts.histogram(probabilities, "Distribution of link probabilities", thresholds),
        "rate_chart": charts.paired_bars(
            [(r["source"], r["rate"], r["previous"]) for r in rate_rows],
            "Share of each source's records linked to another source",
            ("this run", "previous run"),
        ),
    }
    return render(request, "run.html", context)


# ---------------------------------------------------------------------- candidates


def _candidate_query(params: Mapping[str, Any], page_size: int) -> store.CandidateQuery:
    """The list's filters, sort and page from query parameters (or the export form), checked against allowed values."""
    sort = str(params.get("sort") or "rank")
    sort = sort if sort in store.SORTS else "rank"
    direction = str(params.get("dir") or "")
    descending = direction == "desc" if direction in ("asc", "desc") else store.SORTS[sort][1]
    try:
        page = max(1, min(int(str(params.get("page") or "1")), 100_000))
    except ValueError:
        page = 1
    status = str(params.get("status") or "")
    if status == "all":
        status = ""
    elif status not in store.STATUSES:
        status = store.STATUS_OPEN  # attached, closed and opted-out families are not shown unless asked for
    return store.CandidateQuery(
        criterion=str(params.get("criterion") or "")[:64],
        status=status,
        area=str(params.get("area") or "").strip().upper()[:8],
        search=str(params.get("q") or "").strip()[:100],
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )


def _change_filter(params: Mapping[str, Any]) -> str:
    change = str(params.get("change") or "")
    return change if change in CHANGE_LABELS else ""


def _with_change(query: store.CandidateQuery, months: MonthChanges, change: str) -> store.CandidateQuery:
    """The query narrowed to the families of one kind of change since last month (not ``dropped``)."""
    if change and change != "dropped":
        return replace(query, household_ids=months.household_ids(change))
    return query


@router.get("/runs/{run_id}/candidates", response_class=HTMLResponse)
def candidates_page(
    request: Request, run_id: str, user: CurrentUser = Depends(requires("candidates.view"))
) -> Response:
    """The run's candidate families: filter by criterion, status, area and change since last month, search, sort, page.

    Each family is marked new, carried over or re-ranked since the previous month's run;
    the families that dropped off are listed with why (filter "Dropped"). An opted-out
    family is a stub that says so, nothing else.
    """
    run = _run_or_404(request, user, run_id)
    engine = _engine(request)
    query = _candidate_query(request.query_params, request.app.state.settings.page_size)
    query = replace(query, area_scope=_area_scope(request, user))
    change = _change_filter(request.query_params)
    months = _changes(request, run["run_id"])
    if change == "dropped":
        result = store.CandidatePage(rows=[], total=0)
        full = store.query_candidates(engine, run["run_id"], replace(query, household_ids=(), page_size=1))
        result.criteria, result.areas = full.criteria, full.areas
    else:
        result = store.query_candidates(engine, run["run_id"], _with_change(query, months, change))
    for row in result.rows:
        row["change"] = months.changes.get(row["household_id"])
    dropped = []
    if change == "dropped":
        decided = store.latest_decisions(engine, [row["household_id"] for row in months.dropped])
        for row in months.dropped:
            if not _areas(request).within(row.get("postcode"), user.areas):
                continue
            if query.criterion and query.criterion not in (row["criteria_met"] or "").split(";"):
                continue
            decision = decided.get(row["household_id"], {}).get("decision")
            dropped.append({**row, "status": decision or store.STATUS_NEW})
    filtered = bool(query.criterion or query.status != store.STATUS_OPEN or query.area or query.search or change)
    status_filter = query.status or "all"
    _audit(
        request,
        user,
        "candidates.search" if filtered else "candidates.view",
        "run",
        run["run_id"],
        {
            "criterion": query.criterion or None,
            "status": status_filter,
            "area": query.area or None,
            "change": change or None,
            "search": query.search or None,  # an investigator's question: who searched for whom
            "results": result.total if change != "dropped" else len(dropped),
            "page": query.page,
        },
    )
    pages = max(1, -(-result.total // query.page_size))
    base = {
        k: v
        for k, v in {
            "criterion": query.criterion,
            "status": "" if status_filter == store.STATUS_OPEN else status_filter,
            "area": query.area,
            "q": query.search,
            "change": change,
        }.items()
        if v
    }

    def link(**changes: Any) -> str:
        params = {**base, "sort": query.sort, "dir": "desc" if query.descending else "asc", **changes}
        return f"/runs/{run['run_id']}/candidates?{urlencode({k: v for k, v in params.items() if v != ''})}"

    def sort_link(key: str) -> str:
        descending = (not query.descending) if key == query.sort else store.SORTS[key][1]
        return link(sort=key, dir="desc" if descending else "asc", page=1)

    context = {
        "user": user,
        "run": run,
        "query": query,
        "result": result,
        "pages": pages,
        "link": link,
        "sort_link": sort_link,
        "status_filters": STATUS_FILTERS,
        "status_filter": status_filter,
        "change_filter": change,
        "change_labels": CHANGE_LABELS,
        "change_tags": CHANGE_TAGS,
        "change_counts": months.counts(),
        "previous_run_id": months.previous_run_id,
        "dropped": dropped,
        "filters": base,
        "is_latest": run["run_id"] == latest_run_id(engine),
    }
    return render(request, "candidates.html", context)


EXPORT_SCOPES = {"shown", "new", "accepted", "selected"}


def _member_lines(members: list[dict[str, Any]]) -> str:
    return "; ".join(f"{m['name']} ({m.get('role') or 'role unknown'})" for m in members)


@router.post("/runs/{run_id}/export")
def export_families(request: Request, run_id: str, user: CurrentUser = Depends(requires("export"))) -> Response:
    """The families shown, all new, all accepted or the selected families of a run as XLSX or CSV, logged
    with the row count.

    Every scope but "selected" honours the list's filters (criterion, area, search, change
    since last month; "shown" its status filter too). "New" is the panel's list of families
    not decided on yet. Opted-out families are never exported. The panel export lists each
    family's members with their roles unless the app is set not to (``export_members``).
    """
    run = _run_or_404(request, user, run_id)
    form = _form(request)
    file_format = str(form.get("format") or "xlsx")
    if file_format not in ("xlsx", "csv"):
        raise HTTPException(status_code=400, detail="Choose XLSX or CSV.")
    scope = str(form.get("scope") or "selected")
    if scope not in EXPORT_SCOPES:
        raise HTTPException(status_code=400, detail="Choose which families to export.")
    filters = replace(_candidate_query(form, 0), area_scope=_area_scope(request, user))
    change = _change_filter(form)
    engine = _engine(request)
    if scope == "selected":
        chosen = tuple(str(value)[:200] for value in form.getlist("household_id"))
        if not chosen:
            request.session["flash"] = "Select at least one family to export."
            return _redirect(f"/runs/{run['run_id']}/candidates")
        query = store.CandidateQuery(household_ids=chosen, page_size=0, area_scope=_area_scope(request, user))
    else:
        status = {"new": store.STATUS_NEW, "accepted": "accept"}.get(scope, filters.status)
        query = replace(filters, status=status, page=1, page_size=0, sort="rank", descending=False)
        if change == "dropped":  # dropped families are not candidates of this run
            query = replace(query, household_ids=())
        else:
            query = _with_change(query, _changes(request, run["run_id"]), change)
    families = [f for f in store.query_candidates(engine, run["run_id"], query).rows if f["status"] != "opted_out"]
    members = request.app.state.settings.export_members
    if members:
        by_household = store.household_members(engine, run["run_id"], [f["household_id"] for f in families])
        for family in families:
            family["members"] = _member_lines(by_household.get(family["household_id"], []))
    for family in families:
        family["status"] = DECISION_LABELS.get(family["status"], family["status"])
        if family.get("closure_reason"):
            family["status"] += f" ({CLOSURE_REASON_LABELS.get(family['closure_reason'], family['closure_reason'])})"
    stamp = _now().strftime("%Y%m%d-%H%M")
    name = f"tfident-panel-{run['run_id']}-{stamp}.{file_format}"
    if file_format == "xlsx":
        content = families_xlsx(families, f"Candidate families, run {run['run_id']}", members=members)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        content = families_csv(families, members=members)
        media = "text/csv; charset=utf-8"
    _audit(
        request,
        user,
        f"export.{file_format}",
        "run",
        run["run_id"],
        {
            "rows": len(families),
            "scope": scope,
            "filters": {k: v for k, v in (("criterion", filters.criterion), ("area", filters.area)) if v},
            "change": change or None,
            "search": filters.search or None,
            "members": members,
            "household_ids": [f["household_id"] for f in families],
        },
    )
    log.info("user %s exported %d families of run %s", user.username, len(families), run["run_id"])
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ------------------------------------------------------------------------ families


def _family_run(request: Request, user: CurrentUser, household_id: str, run_param: str | None) -> str:
    """The run a family is shown from; 404 (audited) when it is not a candidate of a readable run, or is
    outside the user's areas."""
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


LINKS_PER_PAGE = 20
"""Links shown per page of the family page's "Links between records"."""
DETAILS = ("records", "links", "evidence", "addresses")
"""The family page's collapsed sections, any of which ``?open=`` opens."""


def _changes(request: Request, run_id: str) -> MonthChanges:
    cache: ChangesCache = request.app.state.changes
    return cache.get(_engine(request), run_id)


def _family_context(
    request: Request, user: CurrentUser, household_id: str, run_id: str
) -> tuple[store.Family, dict[str, Any]]:
    """What the family page and its print view show: the family, its case summary and decisions."""
    engine = _engine(request)
    family = store.read_family(engine, run_id, household_id)
    if family is None:
        raise _not_found(request, user, "household", household_id)
    history = store.decision_history(engine, household_id)
    keys = [r["record_key"] for m in family.members for r in m["records"]]
    rulings = store.read_link_constraints(engine, keys)
    for link in family.links:
        pair = tuple(sorted((link["record_key_l"], link["record_key_r"])))
        link["ruling"] = rulings.get((pair[0], pair[1]))
    limits = _thresholds(store.readable_run(engine, run_id))
    summary = case_summary(family, limits.review)
    evidence_by_criterion: dict[str, list[dict[str, Any]]] = {}
    for row in family.evidence:
        member = summary.member_names.get(str(row.get("person_id")), "a record not placed with a member")
        evidence_by_criterion.setdefault(str(row["criterion"]), []).append({**row, "member": member})
    context = {
        "user": user,
        "family": family,
        "summary": summary,
        "evidence_by_criterion": evidence_by_criterion,
        "history": history,
        "latest": history[0] if history else None,
        "change": _changes(request, run_id).changes.get(household_id),
        "uncertain_below": limits.review,
        "match_threshold": limits.match,
    }
    return family, context


def _suppressed(request: Request, household_id: str, latest: dict[str, Any] | None) -> bool:
    """Whether the family opted out and no override was recorded since."""
    return (
        latest is not None
        and latest["decision"] == "opted_out"
        and store.opt_out_override(_engine(request), household_id) is None
    )


def _opted_out_page(
    request: Request, user: CurrentUser, household_id: str, run_id: str, latest: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The stub an opted-out family gets: that it opted out, nothing else (and the audited override)."""
    context = {"user": user, "household_id": household_id, "run_id": run_id, "latest": latest, "errors": {}}
    return render(request, "family_opted_out.html", context, status_code=status_code)


def _family_page(
    request: Request,
    user: CurrentUser,
    household_id: str,
    run_id: str,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    engine = _engine(request)
    family, context = _family_context(request, user, household_id, run_id)
    latest = context["latest"]
    if _suppressed(request, household_id, latest):
        return _opted_out_page(request, user, household_id, run_id, latest, status_code=status_code)
    try:
        link_page = max(1, int(request.query_params.get("links_page", "1")))
    except ValueError:
        link_page = 1
    link_pages = max(1, -(-len(family.links) // LINKS_PER_PAGE))
    link_page = min(link_page, link_pages)
    offset = (link_page - 1) * LINKS_PER_PAGE
    links_page = family.links[offset : offset + LINKS_PER_PAGE]
    for link in links_page:  # charts only for the links shown
        link["pair_url"] = pair_url(run_id, link["record_key_l"], link["record_key_r"], household_id)
        _with_weights(link)

    def links_url(page: int) -> str:
        return f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id, 'links_page': page})}#links"

    override = store.opt_out_override(engine, household_id) if latest and latest["decision"] == "opted_out" else None
    context.update(
        {
            "errors": errors or {},
            "values": values or {},
            "decision_options": service.decision_options(latest["decision"] if latest else None),
            "closure_reasons": CLOSURE_REASON_LABELS,
            "links_page": links_page,
            "link_page": link_page,
            "link_pages": link_pages,
            "link_offset": offset,
            "links_url": links_url,
            "open_section": "links"
            if "links_page" in request.query_params
            else (request.query_params.get("open") if request.query_params.get("open") in DETAILS else None),
            "override": override,
        }
    )
    return render(request, "family.html", context, status_code=status_code)


@router.get("/families/{household_id}", response_class=HTMLResponse)
def family_page(request: Request, household_id: str, user: CurrentUser = Depends(requires("family.view"))) -> Response:
    """One candidate family: why it is on the list, the decision form, then its records, links and addresses."""
    run_id = _family_run(request, user, household_id, request.query_params.get("run"))
    _audit(request, user, "family.view", "household", household_id, {"run_id": run_id})
    return _family_page(request, user, household_id, run_id, values=_kept_decision(request, household_id))


def _kept_decision(request: Request, household_id: str) -> dict[str, Any] | None:
    """The decision this user typed about the family before their last session timed out (offered once)."""
    row: sessions.SessionRow | None = getattr(request.state, "session_row", None)
    pending = row.pending_json if row is not None else None
    if not pending or pending.get("household_id") != household_id:
        return None
    sessions.set_pending(_engine(request), row.id, None)  # type: ignore[union-attr]
    values = pending.get("values") or {}
    return {k: values.get(k) for k in ("decision", "reason", "lead_agency", "worker", "note", "closure_reason")}


@router.get("/families/{household_id}/print", response_class=HTMLResponse)
def family_print(request: Request, household_id: str, user: CurrentUser = Depends(requires("family.view"))) -> Response:
    """A one- or two-page summary of the family for the panel's papers (printed from the browser)."""
    run_id = _family_run(request, user, household_id, request.query_params.get("run"))
    _audit(request, user, "family.print", "household", household_id, {"run_id": run_id})
    _, context = _family_context(request, user, household_id, run_id)
    if _suppressed(request, household_id, context["latest"]):
        return _opted_out_page(request, user, household_id, run_id, context["latest"])
    context["printed_at"] = _now()
    return render(request, "family_print.html", context)


@router.post("/families/{household_id}/override", response_class=HTMLResponse)
def override_opt_out(request: Request, household_id: str, user: CurrentUser = Depends(requires("decide"))) -> Response:
    """Show an opted-out family again, to record a new decision: needs a reason, and is audited."""
    form = _form(request)
    run_id = _family_run(request, user, household_id, str(form.get("run_id") or "") or None)
    history = store.decision_history(_engine(request), household_id)
    latest = history[0] if history else None
    if latest is None or latest["decision"] != "opted_out":
        return _redirect(f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id})}")
    reason = _clean(form.get("override_reason"))
    if not reason:
        context = {
            "user": user,
            "household_id": household_id,
            "run_id": run_id,
            "latest": latest,
            "errors": {"override_reason": "Enter why the family must be shown again, such as the consent it gave"},
        }
        return render(request, "family_opted_out.html", context, status_code=400)
    _audit(request, user, store.OPT_OUT_OVERRIDE, "household", household_id, {"run_id": run_id, "reason": reason})
    request.session["flash"] = "The opt-out is overridden for this family: the override is in the audit log."
    return _redirect(f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id})}#decide")


@router.post("/families/{household_id}/decisions", response_class=HTMLResponse)
def decide(request: Request, household_id: str, user: CurrentUser = Depends(requires("decide"))) -> Response:
    """Record a decision about a family.

    Accept (with lead agency and worker), reject (with reason), defer, already known,
    close an attached family (with a closure reason) or record that the family opted out.
    """
    try:
        form = parse_form(DecisionForm, _form(request))
    except ValidationError:
        raise HTTPException(status_code=400, detail="The form's decision marker is not a number.") from None
    run_id = _family_run(request, user, household_id, form.run_id)
    engine = _engine(request)
    current = store.current_status(engine, household_id)
    if current == "opted_out" and store.opt_out_override(engine, household_id) is None:
        # An opted-out family is shown as a stub; nothing is decided about it without an audited override.
        latest = store.decision_history(engine, household_id)[0]
        return _opted_out_page(request, user, household_id, run_id, latest, status_code=409)
    errors = service.decision_errors(current, form)
    if errors:
        # the page is shown again, family and all: that is a view, and is audited as one
        _audit(request, user, "family.view", "household", household_id, {"run_id": run_id, "after": "form_error"})
        return _family_page(request, user, household_id, run_id, errors, form.values(), status_code=400)
    try:
        service.record_decision(engine, household_id, run_id, form, user.username)
    except store.DecisionRefused as refused:  # another decision came first, or the status changed
        errors = {"decision": f"The decision was not saved: {refused}"}
        _audit(request, user, "family.view", "household", household_id, {"run_id": run_id, "after": "refused"})
        return _family_page(request, user, household_id, run_id, errors, form.values(), status_code=409)
    detail = {"run_id": run_id, "decision": form.decision}
    if form.stored_closure_reason():
        detail["closure_reason"] = str(form.stored_closure_reason())
    _audit(request, user, "decision", "household", household_id, detail)
    request.session["flash"] = f"Decision saved: {DECISION_LABELS[form.decision]}."
    return _redirect(f"/families/{household_id}?{urlencode({'run': run_id})}")


@router.post("/families/{household_id}/links", response_class=HTMLResponse)
def rule_on_link(
    request: Request, household_id: str, user: CurrentUser = Depends(requires("links.review"))
) -> Response:
    """Confirm a link (must_link) or say two records are not the same person (cannot_link); the next run respects it."""
    form = parse_form(LinkRulingForm, _form(request))
    run_id = _family_run(request, user, household_id, form.run_id)
    left, right, kind = form.record_key_l, form.record_key_r, form.kind
    keys = store.household_record_keys(_engine(request), run_id, household_id)
    if kind not in LINK_KINDS or left not in keys or right not in keys or left == right:
        raise HTTPException(status_code=400, detail="That pair of records is not part of this family.")
    store.add_link_constraint(_engine(request), left, right, kind, user.username, form.reason)
    _audit(
        request,
        user,
        f"link.{kind}",
        "household",
        household_id,
        {"run_id": run_id, "record_key_l": left, "record_key_r": right},
    )
    request.session["flash"] = (
        "Saved: the next run will keep these records apart."
        if kind == "cannot_link"
        else "Saved: the link is confirmed for future runs."
    )
    return _redirect(f"/families/{quote(household_id, safe='')}?{urlencode({'run': run_id, 'open': 'links'})}#links")


# -------------------------------------------------------------------- record pairs

PAIR_FIELDS: tuple[tuple[str, str], ...] = (
    ("source", "Source"),
    ("record_id", "Record"),
    ("forename", "Forename"),
    ("middle_names", "Middle names"),
    ("surname", "Surname"),
    ("date_of_birth", "Date of birth"),
    ("sex", "Sex"),
    ("address", "Address"),
    ("postcode", "Postcode"),
    ("uprn", "UPRN sent"),
    ("uprn_matched", "UPRN matched"),
    ("evidence_date", "Dated"),
)
"""Fields of a record shown side by side on the record-pair page, with their labels."""
COMPARED_FIELDS = frozenset(
    {"forename", "middle_names", "surname", "date_of_birth", "sex", "address", "postcode", "uprn", "uprn_matched"}
)


def _same(left: Any, right: Any) -> bool | None:
    """Whether two values agree (case and spacing ignored), or None when either is missing."""
    if left is None or right is None or left == "" or right == "":
        return None
    return " ".join(str(left).upper().split()) == " ".join(str(right).upper().split())


def _pair_or_404(
    request: Request, user: CurrentUser, run_id: str, left: str, right: str, household_id: str | None
) -> tuple[store.RecordPair, str]:
    """The stored link of the run between ``left`` and ``right`` and the candidate family it is shown for."""
    pair = store.read_pair(_engine(request), run_id, left, right) if run_id and left and right else None
    if pair is None or (household_id and household_id not in pair.households):
        raise _not_found(request, user, "link", f"{run_id}/{left}/{right}")
    shown_for = household_id or pair.households[0]
    if user.areas:
        _, postcode = store.candidate_postcode(_engine(request), pair.run_id, shown_for)
        _check_area(request, user, shown_for, pair.run_id, postcode)
    return pair, shown_for


def _pair_page(request: Request, user: CurrentUser, pair: store.RecordPair, household_id: str) -> HTMLResponse:
    engine = _engine(request)
    link = _with_weights(dict(pair.link))
    left, right = pair.left, pair.right
    rows = [
        {
            "name": name,
            "label": label,
            "left": left.get(name),
            "right": right.get(name),
            "same": _same(left.get(name), right.get(name)) if name in COMPARED_FIELDS else None,
            "compared": name in COMPARED_FIELDS,
        }
        for name, label in PAIR_FIELDS
    ]
    history = store.link_constraint_history(engine, left["record_key"], right["record_key"])
    limits = _thresholds(store.readable_run(engine, pair.run_id))
    context = {
        "user": user,
        "pair": pair,
        "link": link,
        "left": left,
        "right": right,
        "rows": rows,
        "household_id": household_id,
        "history": history,
        "ruling": history[0] if history else None,
        "uncertain_below": limits.review,
        "match_threshold": limits.match,
        "family_url": f"/families/{household_id}?{urlencode({'run': pair.run_id})}",
    }
    return render(request, "pair.html", context)


@router.get("/pairs", response_class=HTMLResponse)
def pair_page(request: Request, user: CurrentUser = Depends(requires("links.review"))) -> Response:
    """Two linked records side by side, with the match weights and a form to confirm or reject the link."""
    params = request.query_params
    run_id = params.get("run", "")[:40] or latest_run_id(_engine(request)) or ""
    left, right = params.get("left", "")[:500], params.get("right", "")[:500]
    pair, household_id = _pair_or_404(request, user, run_id, left, right, params.get("household", "")[:500] or None)
    _audit(
        request,
        user,
        "pair.view",
        "household",
        household_id,
        {"run_id": pair.run_id, "record_key_l": left, "record_key_r": right},
    )
    return _pair_page(request, user, pair, household_id)


@router.post("/pairs", response_class=HTMLResponse)
def rule_on_pair(request: Request, user: CurrentUser = Depends(requires("links.review"))) -> Response:
    """Confirm (must_link) or reject (cannot_link) the link shown on the record-pair page; the next run respects it."""
    form = parse_form(LinkRulingForm, _form(request))
    run_id = (form.run_id or "")[:40]
    left, right, household, kind = form.record_key_l, form.record_key_r, form.household_id, form.kind
    if kind not in LINK_KINDS:
        raise HTTPException(status_code=400, detail="Choose whether the records are the same person.")
    pair, household_id = _pair_or_404(request, user, run_id, left, right, household)
    store.add_link_constraint(_engine(request), left, right, kind, user.username, form.reason)
    _audit(
        request,
        user,
        f"link.{kind}",
        "household",
        household_id,
        {"run_id": pair.run_id, "record_key_l": left, "record_key_r": right},
    )
    request.session["flash"] = (
        "Saved: the next run will keep these records apart."
        if kind == "cannot_link"
        else "Saved: the link is confirmed for future runs."
    )
    return _redirect(pair_url(pair.run_id, left, right, household_id))


# ------------------------------------------------------------------------- audit


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


# ------------------------------------------------------------------------- users


def _area_names(request: Request) -> list[str]:
    areas: AreaMap = request.app.state.areas
    return areas.names


def _users_context(
    request: Request, user: CurrentUser, errors: dict[str, str], values: dict[str, str]
) -> dict[str, Any]:
    return {
        "user": user,
        "accounts": store.list_users(_engine(request)),
        "roles": ROLES,
        "errors": errors,
        "values": values,
        "min_length": MIN_PASSWORD_LENGTH,
    }


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """Accounts, each with a link to manage it, and a form to add one."""
    return render(request, "users.html", _users_context(request, user, {}, {}))


@router.post("/users", response_class=HTMLResponse)
def add_account(request: Request, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """Add an account (the password must pass the policy)."""
    form = _form(request)
    username = str(form.get("username") or "").strip()
    role = str(form.get("role") or "")
    password = str(form.get("password") or "")
    errors: dict[str, str] = {}
    if not username or len(username) > 64:
        errors["username"] = "Enter a username of up to 64 characters"
    if role not in ROLES:
        errors["role"] = "Choose a role"
    weakness = check_password_strength(password, username)
    if weakness:
        errors["password"] = weakness.capitalize()
    if not errors:
        try:
            store.add_user(_engine(request), username, role, hash_password(password))
        except StoreError as error:
            errors["username"] = str(error)
    if errors:
        context = _users_context(request, user, errors, {"username": username, "role": role})
        return render(request, "users.html", context, status_code=400)
    _audit(request, user, "user.add", "user", username, {"role": role})
    request.session["flash"] = f"Account {username} added."
    return _redirect("/users")


def _account_or_404(request: Request, user: CurrentUser, username: str) -> store.Account:
    account = store.get_user(_engine(request), username)
    if account is None:
        raise _not_found(request, user, "user", username)
    return account


def _account_page(
    request: Request, user: CurrentUser, account: store.Account, errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    engine = _engine(request)
    timeout = request.app.state.settings.session_timeout
    context = {
        "user": user,
        "account": account,
        "roles": ROLES,
        "errors": errors or {},
        "sessions": sessions.user_sessions(engine, account.username, timeout, _now()),
        "areas": _area_names(request),
        "min_length": MIN_PASSWORD_LENGTH,
        "is_self": account.username == user.username,
    }
    return render(request, "user.html", context, status_code=status)


def _user_url(username: str) -> str:
    return f"/users/{quote(username, safe='')}"


@router.get("/users/{username}", response_class=HTMLResponse)
def user_page(request: Request, username: str, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """One account: its role, state, live sessions and areas, with the forms to change them."""
    return _account_page(request, user, _account_or_404(request, user, username))


def _refuse_self(request: Request, user: CurrentUser, account: store.Account, what: str) -> Response | None:
    if account.username != user.username:
        return None
    errors = {"account": f"You cannot {what} your own account: ask another admin."}
    return _account_page(request, user, account, errors, status=400)


@router.post("/users/{username}/role", response_class=HTMLResponse)
def change_role(request: Request, username: str, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """Change an account's role; its sessions are revoked so the new role starts with a new sign-in."""
    account = _account_or_404(request, user, username)
    refused = _refuse_self(request, user, account, "change the role of")
    if refused:
        return refused
    role = str(_form(request).get("role") or "")
    if role not in ROLES:
        return _account_page(request, user, account, {"role": "Choose a role"}, status=400)
    engine = _engine(request)
    store.update_user(engine, account.username, role=role)
    revoked = sessions.revoke_user_sessions(engine, account.username, "role", _now())
    _audit(
        request,
        user,
        "user.role",
        "user",
        account.username,
        {"from": account.role, "to": role, "sessions_revoked": revoked},
    )
    request.session["flash"] = f"{account.username} is now {role}."
    return _redirect(_user_url(account.username))


@router.post("/users/{username}/disable", response_class=HTMLResponse)
def disable_account(request: Request, username: str, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """Disable an account: it cannot sign in and every session of it ends now."""
    account = _account_or_404(request, user, username)
    refused = _refuse_self(request, user, account, "disable")
    if refused:
        return refused
    engine = _engine(request)
    store.update_user(engine, account.username, disabled_at=_now())
    revoked = sessions.revoke_user_sessions(engine, account.username, "disabled", _now())
    _audit(request, user, "user.disable", "user", account.username, {"sessions_revoked": revoked})
    request.session["flash"] = f"Account {account.username} disabled."
    return _redirect(_user_url(account.username))


@router.post("/users/{username}/enable", response_class=HTMLResponse)
def enable_account(request: Request, username: str, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """Enable a disabled account again."""
    account = _account_or_404(request, user, username)
    store.update_user(_engine(request), account.username, disabled_at=None)
    _audit(request, user, "user.enable", "user", account.username)
    request.session["flash"] = f"Account {account.username} enabled again."
    return _redirect(_user_url(account.username))


@router.post("/users/{username}/password", response_class=HTMLResponse)
def reset_password(request: Request, username: str, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """Set a new password (it must pass the policy); every session of the account ends.

    "Remove the second factor" too, for a user who lost their authenticator.
    """
    account = _account_or_404(request, user, username)
    form = _form(request)
    password = str(form.get("password") or "")
    weakness = check_password_strength(password, account.username)
    if weakness:
        return _account_page(request, user, account, {"password": weakness.capitalize()}, status=400)
    engine = _engine(request)
    values: dict[str, Any] = {"password_hash": hash_password(password)}
    remove_totp = form.get("remove_totp") == "yes"
    if remove_totp:
        values["totp_secret"] = None
    store.update_user(engine, account.username, **values)
    revoked = sessions.revoke_user_sessions(engine, account.username, "password", _now())
    _audit(
        request,
        user,
        "user.password_reset",
        "user",
        account.username,
        {"sessions_revoked": revoked, "second_factor_removed": remove_totp},
    )
    request.session["flash"] = f"New password set for {account.username}; their sessions have ended."
    return _redirect(_user_url(account.username))


@router.post("/users/{username}/sessions", response_class=HTMLResponse)
def revoke_sessions(request: Request, username: str, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """End one session of the account (``session_id``) or all of them."""
    account = _account_or_404(request, user, username)
    engine = _engine(request)
    session_id = str(_form(request).get("session_id") or "")[:32]
    if session_id:
        owned = {
            s.id for s in sessions.user_sessions(engine, account.username, request.app.state.settings.session_timeout)
        }
        revoked = int(session_id in owned and sessions.revoke_session(engine, session_id, "admin", _now()))
    else:
        revoked = sessions.revoke_user_sessions(engine, account.username, "admin", _now())
    _audit(
        request,
        user,
        "session.revoke",
        "user",
        account.username,
        {"sessions_revoked": revoked, "session": session_id or "all"},
    )
    request.session["flash"] = f"{revoked} session{'s' if revoked != 1 else ''} of {account.username} ended."
    return _redirect(_user_url(account.username))


@router.post("/users/{username}/areas", response_class=HTMLResponse)
def set_areas(request: Request, username: str, user: CurrentUser = Depends(requires("users.manage"))) -> Response:
    """Set the areas a coordinator works in (none: the whole council)."""
    account = _account_or_404(request, user, username)
    known = _area_names(request)
    chosen = [str(a) for a in _form(request).getlist("areas")]
    unknown = [a for a in chosen if a not in known]
    if unknown:
        return _account_page(request, user, account, {"areas": "Choose areas from the list"}, status=400)
    store.update_user(_engine(request), account.username, areas=";".join(chosen) or None)
    _audit(request, user, "user.areas", "user", account.username, {"areas": chosen})
    request.session["flash"] = (
        f"{account.username} works in {', '.join(chosen)}." if chosen else f"{account.username} sees the whole council."
    )
    return _redirect(_user_url(account.username))


# ------------------------------------------------------------------- own account


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: CurrentUser = Depends(requires(None))) -> Response:
    """The signed-in user's account: set up (or see) the second factor."""
    account = store.get_user(_engine(request), user.username)
    assert account is not None  # a live session's account exists
    secret = None
    if not account.totp_secret:
        secret = request.session.get("totp_new") or totp.new_secret()
        request.session["totp_new"] = secret
    return _own_account(request, user, account, secret, {})


def _own_account(
    request: Request,
    user: CurrentUser,
    account: store.Account,
    secret: str | None,
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    context = {
        "user": user,
        "account": account,
        "secret": secret,
        "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) if secret else "",
        "uri": totp.provisioning_uri(secret, account.username) if secret else None,
        "errors": errors,
    }
    return render(request, "account.html", context, status_code=status)


@router.post("/account/totp", response_class=HTMLResponse)
def enrol_totp(request: Request, user: CurrentUser = Depends(requires(None))) -> Response:
    """Turn on the second factor: the code from the authenticator app must match the secret shown."""
    account = store.get_user(_engine(request), user.username)
    assert account is not None
    secret = request.session.get("totp_new")
    if account.totp_secret or not secret:
        return _redirect("/account")
    code = str(_form(request).get("code") or "")[:20]
    if not totp.verify(str(secret), code, _now().timestamp()):
        errors = {"code": "The code is not right. Enter the 6-digit code your authenticator app shows now."}
        return _own_account(request, user, account, str(secret), errors, status=400)
    store.update_user(_engine(request), user.username, totp_secret=str(secret))
    request.session.pop("totp_new", None)
    _audit(request, user, "user.totp_enrolled", "user", user.username)
    request.session["flash"] = "Two-step sign-in is on: you will be asked for a code each time you sign in."
    return _redirect("/account")


# ------------------------------------------------------------------------ errors


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
