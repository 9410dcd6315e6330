"""Accounts and sessions: server-side sessions that end, admin account pages, the password policy,
sign-in throttling without lock-out, no account enumeration, ``next=``, TOTP, HSTS (issue 14, item 4).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tests.unit.review.conftest import csrf_of, sign_in
from tests.unit.review.review_data import PASSWORD
from tfident.review import routes, totp, web
from tfident.review.app import SECURE_SESSION_COOKIE, SESSION_COOKIE, Settings, create_app
from tfident.review.pages import signin
from tfident.review.throttle import DEVICE_COOKIE, ThrottlePolicy
from tfident.store import review as store
from tfident.store.passwords import check_password_strength
from tfident.store.tables import metadata

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "test-secret-" + "x" * 32


def _client(app: FastAPI, address: str = "10.0.0.5") -> TestClient:
    return TestClient(app, follow_redirects=False, client=(address, 50000))


@pytest.fixture
def clients(app: FastAPI) -> Iterator[Any]:
    """Clients from given addresses, closed at the end."""
    made: list[TestClient] = []

    def make(address: str = "10.0.0.5") -> TestClient:
        client = _client(app, address)
        client.__enter__()
        made.append(client)
        return client

    yield make
    for client in made:
        client.__exit__(None, None, None)


def _login(client: TestClient, username: str, password: str, **extra: str) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def _actions(engine: Engine) -> list[str]:
    audit = metadata.tables["audit_log"]
    with engine.connect() as connection:
        return list(connection.execute(sa.select(audit.c.action).order_by(audit.c.id)).scalars())


# ------------------------------------------------------------------ sessions end


def test_a_copied_cookie_is_useless_after_signing_out(clients: Any) -> None:
    """It revokes the server-side session on sign-out: a copy of the cookie taken before no longer works."""
    browser = clients()
    token = sign_in(browser, "coordinator")
    copied = browser.cookies.get(SESSION_COOKIE)
    thief = clients("10.9.9.9")
    thief.cookies.set(SESSION_COOKIE, copied)
    assert thief.get("/runs").status_code == 200
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 303
    assert thief.get("/runs").status_code == 303
    assert browser.get("/runs").status_code == 303


def test_an_admin_ends_sessions_disables_and_resets(clients: Any, engine: Engine) -> None:
    """It ends a user's sessions when an admin revokes them, disables the account or resets the password."""
    coordinator, admin = clients(), clients("10.0.0.9")
    admin_token = sign_in(admin, "admin")

    sign_in(coordinator, "coordinator")
    page = admin.get("/users/coordinator")
    assert page.status_code == 200
    assert "End every session of coordinator" in page.text
    assert admin.post("/users/coordinator/sessions", data={"csrf_token": admin_token}).status_code == 303
    assert coordinator.get("/runs").status_code == 303

    sign_in(coordinator, "coordinator")
    assert admin.post("/users/coordinator/disable", data={"csrf_token": admin_token}).status_code == 303
    assert coordinator.get("/runs").status_code == 303
    assert _login(coordinator, "coordinator", PASSWORD).status_code == 400  # disabled: same answer as wrong
    assert admin.post("/users/coordinator/enable", data={"csrf_token": admin_token}).status_code == 303

    sign_in(coordinator, "coordinator")
    weak = admin.post("/users/coordinator/password", data={"csrf_token": admin_token, "password": "aaaaaaaaaaaa"})
    assert weak.status_code == 400
    assert "different characters" in weak.text
    new = "staple violet harbour tram"
    assert (
        admin.post("/users/coordinator/password", data={"csrf_token": admin_token, "password": new}).status_code == 303
    )
    assert coordinator.get("/runs").status_code == 303
    assert _login(coordinator, "coordinator", PASSWORD).status_code == 400
    assert _login(coordinator, "coordinator", new).status_code == 303

    assert admin.post("/users/coordinator/role", data={"csrf_token": admin_token, "role": "auditor"}).status_code == 303
    assert store.get_user(engine, "coordinator").role == "auditor"  # type: ignore[union-attr]
    assert coordinator.get("/runs").status_code == 303  # a new role starts with a new sign-in
    refused = admin.post("/users/admin/disable", data={"csrf_token": admin_token})
    assert refused.status_code == 400
    assert "your own account" in refused.text
    actions = _actions(engine)
    for action in ("session.revoke", "user.disable", "user.enable", "user.password_reset", "user.role"):
        assert action in actions


def test_a_session_ends_after_its_absolute_lifetime(
    app: FastAPI, clients: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It ends a session used every few minutes once it is older than its lifetime."""
    client = clients()
    sign_in(client, "coordinator")
    start = web._now()
    step = app.state.settings.session_timeout / 2
    moments = iter(start + step * i for i in range(1, 200))
    for _ in range(int(app.state.settings.session_lifetime / step) - 1):
        moment = next(moments)
        monkeypatch.setattr(web, "_now", lambda moment=moment: moment)
        assert client.get("/runs").status_code == 200
    moment = start + app.state.settings.session_lifetime
    monkeypatch.setattr(web, "_now", lambda: moment)
    assert client.get("/runs").status_code == 303


# ----------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "at least 12"),
        ("aaaaaaaaaaaa", "different characters"),
        ("abababababab", "different characters"),
        ("password1234", "too common"),
        ("Password2026!", "too common"),
        ("Qwerty Uiop 12", "too common"),
        ("coordinator-2026", "username"),
    ],
)
def test_the_password_policy_refuses_weak_passwords(password: str, why: str) -> None:
    """It refuses short, repetitive, common and username passwords, saying why."""
    assert why in (check_password_strength(password, "coordinator") or "")


def test_the_password_policy_accepts_a_phrase() -> None:
    """It accepts a phrase of unrelated words."""
    assert check_password_strength("staple violet harbour tram", "coordinator") is None


def test_an_admin_cannot_add_a_common_password(client: TestClient, signed_in: Any) -> None:
    """It refuses `aaaaaaaaaaaa` and a deny-listed password on the add-user form."""
    token = signed_in("admin")
    for password in ("aaaaaaaaaaaa", "letmein123456"):
        response = client.post(
            "/users", data={"username": "newbie", "role": "analyst", "password": password, "csrf_token": token}
        )
        assert response.status_code == 400, password


# ------------------------------------------------------------------ throttling


def test_guessing_never_locks_out_the_real_user(app: FastAPI, clients: Any, engine: Engine) -> None:
    """It slows an attacker guessing one account's password (429 with a wait) while the real user, at the
    browser they signed in on before, signs in at once; nothing is locked.
    """
    user = clients("10.0.0.5")
    sign_in(user, "coordinator")
    assert user.cookies.get(DEVICE_COOKIE)
    user.post("/logout", data={"csrf_token": csrf_of(user.get("/logout").text)})

    attacker = clients("10.6.6.6")
    statuses = [_login(attacker, "coordinator", f"guess {i}").status_code for i in range(40)]
    assert statuses[:5] == [400] * 5
    assert 429 in statuses
    throttled = _login(attacker, "coordinator", PASSWORD)
    assert throttled.status_code == 429
    assert "Wait" in throttled.text
    assert int(throttled.headers["retry-after"]) <= app.state.settings.throttle.account_ceiling

    assert _login(user, "coordinator", PASSWORD).status_code == 303  # the real user, at once
    users = metadata.tables["users"]
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(users.c.locked_until).where(users.c.username == "coordinator")).scalar()
            is None
        )
    assert "login.throttled" in _actions(engine)


def test_a_new_browser_is_delayed_not_locked_out(app: FastAPI, clients: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """It makes a user without a device cookie wait at most the account's ceiling, then lets them in."""
    clock = [1000.0]
    monkeypatch.setattr(app.state.throttle, "clock", lambda: clock[0])
    attacker = clients("10.6.6.6")
    for i in range(12):
        _login(attacker, "coordinator", f"guess {i}")
        clock[0] += 0.5
    newcomer = clients("10.0.0.7")
    assert _login(newcomer, "coordinator", PASSWORD).status_code == 429
    clock[0] += app.state.settings.throttle.account_ceiling
    assert _login(newcomer, "coordinator", PASSWORD).status_code == 303


def test_an_address_guessing_many_names_is_slowed(clients: Any) -> None:
    """It throttles one address trying many different names (each tried once)."""
    attacker = clients("10.6.6.6")
    statuses = [_login(attacker, f"name{i}", "guess").status_code for i in range(30)]
    assert statuses[:20] == [400] * 20
    assert 429 in statuses[20:]
    assert _login(clients("10.0.0.5"), "coordinator", PASSWORD).status_code == 303


def test_unknown_names_are_throttled_like_real_ones(clients: Any) -> None:
    """It throttles guesses at a name that does not exist exactly as at one that does."""
    real = [_login(clients("10.1.0.1"), "coordinator", f"guess{i}").status_code for i in range(8)]
    unknown = [_login(clients("10.1.0.2"), "nobody-here", f"guess{i}").status_code for i in range(8)]
    assert real == unknown
    assert 429 in unknown


# ------------------------------------------------------------- no enumeration


def _error_text(html: str, username: str) -> str:
    return html.replace(f'value="{username}"', 'value=""').split('name="csrf_token" value="')[0]


def test_the_answer_is_the_same_for_unknown_names_and_wrong_passwords(clients: Any) -> None:
    """It gives an unknown name, a wrong password and a disabled account the same status and message."""
    known = _login(clients("10.2.0.1"), "coordinator", "not the password")
    unknown = _login(clients("10.2.0.2"), "nobody-at-all", "not the password")
    assert known.status_code == unknown.status_code == 400
    assert routes.LOGIN_FAILED in known.text
    assert routes.LOGIN_FAILED in unknown.text
    assert _error_text(known.text, "coordinator") == _error_text(unknown.text, "nobody-at-all")


@pytest.mark.real_password_hashing
def test_the_answer_takes_as_long_for_unknown_names(engine: Engine) -> None:
    """It spends as long on an unknown name as on a wrong password (the argon2 check runs either way)."""
    app = create_app(
        engine, Settings(secret_key=SECRET, throttle=ThrottlePolicy(account_free=10**6, address_free=10**6))
    )
    with _client(app) as client:
        token = csrf_of(client.get("/login").text)

        def timed(username: str) -> float:
            started = time.perf_counter()
            response = client.post(
                "/login", data={"username": username, "password": "wrong guess", "csrf_token": token}
            )
            assert response.status_code == 400
            return time.perf_counter() - started

        timed("coordinator"), timed("nobody")  # warm up
        known, unknown = [], []
        for i in range(12):
            known.append(timed("coordinator"))
            unknown.append(timed(f"nobody{i}"))
    k, u = statistics.median(known), statistics.median(unknown)
    assert abs(k - u) < 0.35 * max(k, u), (k, u)
    assert min(k, u) > 0.01  # both did the password check (argon2), not a shortcut


@pytest.mark.real_password_hashing
def test_passwords_are_hashed_with_the_production_argon2id_parameters() -> None:
    """It stores argon2id hashes at 64 MiB, 3 passes and 4 lanes (the other tests hash with a cheap argon2id)."""
    from tfident.store.passwords import hash_password, verify_password

    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), hashed
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapler")
    assert not verify_password(None, "correct horse battery staple")


def test_password_checks_and_database_reads_run_off_the_event_loop(
    clients: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It checks passwords and reads the session in the thread pool, so slow hashing cannot stall other pages."""
    seen: list[bool] = []

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    real_verify, real_get_user = signin.verify_password, store.get_user

    def verify(*args: Any) -> bool:
        seen.append(on_loop())
        return real_verify(*args)

    def get_user(*args: Any) -> Any:
        seen.append(on_loop())
        return real_get_user(*args)

    monkeypatch.setattr(signin, "verify_password", verify)
    monkeypatch.setattr(store, "get_user", get_user)
    client = clients()
    sign_in(client, "coordinator")
    assert client.get("/runs/R-OCT/candidates").status_code == 200
    assert client.get("/families/H1").status_code == 200
    assert seen
    assert not any(seen)


# --------------------------------------------------------------------- next=


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/login?next=/x", " /runs"],
)
def test_next_goes_only_to_local_pages(clients: Any, target: str) -> None:
    """It ignores a next= that is another site, a scheme or the sign-in page, going to the role's home."""
    response = _login(clients(), "coordinator", PASSWORD, next=target)
    assert response.headers["location"] == "/runs"


def test_next_returns_to_the_page_asked_for(clients: Any) -> None:
    """It sends a user who opened a family without a session back to that family after signing in."""
    client = clients()
    first = client.get("/families/H1?run=R-OCT")
    assert first.headers["location"] == "/login?next=%2Ffamilies%2FH1%3Frun%3DR-OCT"
    page = client.get(first.headers["location"])
    assert 'name="next" value="/families/H1?run=R-OCT"' in page.text
    token = csrf_of(page.text)
    response = client.post(
        "/login",
        data={"username": "coordinator", "password": PASSWORD, "csrf_token": token, "next": "/families/H1?run=R-OCT"},
    )
    assert response.headers["location"] == "/families/H1?run=R-OCT"


# ---------------------------------------------------- a decision kept through timeout


def test_a_decision_typed_before_a_timeout_is_kept(
    app: FastAPI, clients: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It keeps a decision posted after the session timed out and offers it, filled in, after signing in again."""
    client = clients()
    sign_in(client, "coordinator")
    token = csrf_of(client.get("/families/H1?run=R-OCT").text)
    later = web._now() + app.state.settings.session_timeout * 2
    monkeypatch.setattr(web, "_now", lambda: later)
    typed = {
        "csrf_token": token,
        "run_id": "R-OCT",
        "decision": "reject",
        "reason": "Family moved to Wakefield in September",
        "note": "Checked with the school",
    }
    response = client.post("/families/H1/decisions", data=typed)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Ffamilies%2FH1")
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(metadata.tables["decisions"])).scalar() == 0
    login_page = client.get(response.headers["location"])
    back = client.post(
        "/login",
        data={
            "username": "coordinator",
            "password": PASSWORD,
            "csrf_token": csrf_of(login_page.text),
            "next": "/families/H1?run=R-OCT#decide",
        },
    )
    assert back.status_code == 303
    page = client.get(back.headers["location"])
    assert "Family moved to Wakefield in September" in page.text
    assert "Checked with the school" in page.text
    assert "decision you typed is kept" in page.text


def test_a_decision_is_not_kept_for_another_user(app: FastAPI, clients: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """It offers a kept decision only to the user who typed it."""
    client = clients()
    sign_in(client, "coordinator")
    token = csrf_of(client.get("/families/H1?run=R-OCT").text)
    later = web._now() + app.state.settings.session_timeout * 2
    monkeypatch.setattr(web, "_now", lambda: later)
    client.post(
        "/families/H1/decisions",
        data={"csrf_token": token, "run_id": "R-OCT", "decision": "reject", "reason": "XYZZY reason"},
    )
    sign_in(client, "auditor")
    assert "XYZZY reason" not in client.get("/families/H1?run=R-OCT").text


# ------------------------------------------------------------------- HTTPS


def test_secure_cookies_and_hsts_when_served_over_https(engine: Engine) -> None:
    """It names the cookie __Host-, marks it Secure and sends HSTS when secure cookies are configured."""
    app = create_app(engine, Settings(secret_key=SECRET, secure_cookies=True))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        response = client.get("/login")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SECURE_SESSION_COOKIE}=")
        assert "secure" in cookie.lower()
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
        signed = _login(client, "coordinator", PASSWORD)
        assert all("secure" in c.lower() for c in signed.headers.get_list("set-cookie"))


def test_no_hsts_over_plain_http_by_default(client: TestClient) -> None:
    """It sends no HSTS header over plain HTTP unless configured."""
    assert "strict-transport-security" not in client.get("/login").headers


# ---------------------------------------------------------------------- TOTP


def test_totp_matches_the_rfc_6238_vectors() -> None:
    """It computes the RFC 6238 SHA-1 test vectors (8 digits there, 6 here: the last six)."""
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # b"12345678901234567890"
    for at, code in ((59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")):
        assert totp.code_at(secret, at) == code[-6:]
        assert totp.verify(secret, code[-6:], at)
    assert not totp.verify(secret, "000000", 59)


def test_a_user_turns_on_a_second_factor_and_then_needs_it(clients: Any, engine: Engine) -> None:
    """It lets a user enrol an authenticator, then asks for its code after the password."""
    client = clients()
    token = sign_in(client, "coordinator")
    page = client.get("/account")
    assert "Turn on two-step sign-in" in page.text
    secret = client.get("/account").text.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    wrong = client.post("/account/totp", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400
    code = totp.code_at(secret, time.time())
    assert client.post("/account/totp", data={"csrf_token": token, "code": code}).status_code == 303
    assert store.get_user(engine, "coordinator").totp_secret == secret  # type: ignore[union-attr]

    fresh = clients("10.0.0.8")
    response = _login(fresh, "coordinator", PASSWORD)
    assert response.headers["location"] == "/login/code"
    assert fresh.get("/runs").status_code == 303  # the password alone is not a session
    code_page = fresh.get("/login/code")
    bad = fresh.post(
        "/login/code", data={"csrf_token": csrf_of(code_page.text), "code": "123456" if code != "123456" else "654321"}
    )
    assert bad.status_code == 400
    good = fresh.post(
        "/login/code", data={"csrf_token": csrf_of(code_page.text), "code": totp.code_at(secret, time.time())}
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/runs"
    assert fresh.get("/runs").status_code == 200


def test_the_throttle_memory_is_bounded() -> None:
    """It keeps at most max_buckets buckets however many names are sprayed, dropping the stalest first."""
    from tfident.review.throttle import LoginThrottle

    clock = [0.0]
    throttle = LoginThrottle(ThrottlePolicy(max_buckets=100), clock=lambda: clock[0])
    for i in range(1000):
        clock[0] += 1
        throttle.failed(f"name{i}", f"10.0.{i // 250}.{i % 250}", None)
    assert len(throttle._buckets) <= 100
    assert throttle.account_key("name999") in throttle._buckets
