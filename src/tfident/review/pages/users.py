"""Account administration for admins, and a user's own account (the second factor)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tfident.errors import StoreError
from tfident.review import totp, web
from tfident.review.auth import (
    MIN_PASSWORD_LENGTH,
    ROLES,
    CurrentUser,
    check_password_strength,
    hash_password,
)
from tfident.review.service import CodeForm, NewAccountForm, PasswordResetForm, parse_form
from tfident.review.web import (
    _area_names,
    _audit,
    _engine,
    _form,
    _not_found,
    _redirect,
    render,
    requires,
)
from tfident.store import review as store
from tfident.store import sessions

router = APIRouter()
log = logging.getLogger(__name__)


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
    form = parse_form(NewAccountForm, _form(request))
    username, role, password = form.username, form.role, form.password
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
        "sessions": sessions.user_sessions(engine, account.username, timeout, web._now()),
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
    revoked = sessions.revoke_user_sessions(engine, account.username, "role", web._now())
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
    store.update_user(engine, account.username, disabled_at=web._now())
    revoked = sessions.revoke_user_sessions(engine, account.username, "disabled", web._now())
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
    form = parse_form(PasswordResetForm, _form(request))
    password = form.password
    weakness = check_password_strength(password, account.username)
    if weakness:
        return _account_page(request, user, account, {"password": weakness.capitalize()}, status=400)
    engine = _engine(request)
    values: dict[str, Any] = {"password_hash": hash_password(password)}
    remove_totp = form.remove_totp
    if remove_totp:
        values["totp_secret"] = None
    store.update_user(engine, account.username, **values)
    revoked = sessions.revoke_user_sessions(engine, account.username, "password", web._now())
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
        revoked = int(session_id in owned and sessions.revoke_session(engine, session_id, "admin", web._now()))
    else:
        revoked = sessions.revoke_user_sessions(engine, account.username, "admin", web._now())
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
    code = parse_form(CodeForm, _form(request)).code
    if not totp.verify(str(secret), code, web._now().timestamp()):
        errors = {"code": "The code is not right. Enter the 6-digit code your authenticator app shows now."}
        return _own_account(request, user, account, str(secret), errors, status=400)
    store.update_user(_engine(request), user.username, totp_secret=str(secret))
    request.session.pop("totp_new", None)
    _audit(request, user, "user.totp_enrolled", "user", user.username)
    request.session["flash"] = "Two-step sign-in is on: you will be asked for a code each time you sign in."
    return _redirect("/account")
