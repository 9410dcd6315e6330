"""Signing in and out: password, throttling, the optional second factor, sessions and ``next=``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from tfident.review import totp, web
from tfident.review.auth import (
    HOME,
    CurrentUser,
    csrf_matches,
    new_csrf_token,
    verify_password,
)
from tfident.review.service import CodeForm, SignInForm, parse_form
from tfident.review.throttle import DEVICE_COOKIE, LoginThrottle, device_cookie, device_of
from tfident.review.web import (
    DEVICE_COOKIE_DAYS,
    _audit,
    _engine,
    _redirect,
    _session_user,
    client_address,
    render,
    requires,
    safe_next,
)
from tfident.store import review as store
from tfident.store import sessions

router = APIRouter()
log = logging.getLogger(__name__)


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
        now=web._now(),
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
    typed = parse_form(SignInForm, form)
    return await run_in_threadpool(_login, request, typed.username, typed.password, safe_next(typed.next))


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
        request.session["totp_pending"] = {"username": account.username, "at": web._now().timestamp(), "next": next_url}
        return _redirect("/login/code")
    return _start_session(request, account, next_url)


TOTP_PENDING_FOR = 300
"""Seconds between the password and the code before signing in starts again."""


def _totp_pending(request: Request) -> dict[str, Any] | None:
    pending = request.session.get("totp_pending")
    if not isinstance(pending, dict) or web._now().timestamp() - float(pending.get("at", 0)) > TOTP_PENDING_FOR:
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
    return await run_in_threadpool(_login_code, request, parse_form(CodeForm, form).code)


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
    if account is None or account.disabled or not totp.verify(account.totp_secret or "", code, web._now().timestamp()):
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
        sessions.revoke_session(_engine(request), user.session_id, "logout", web._now())
    _audit(request, user, "logout", "user", user.username)
    request.session.clear()
    request.session["flash"] = "You have signed out."
    return _redirect("/login")
