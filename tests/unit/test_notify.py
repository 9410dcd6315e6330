"""Plain notifications (tfident.notify): a webhook and an email reach local receivers; failures never raise."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tfident import notify
from tfident.errors import ConfigError
from tfident.notify import PAYLOAD_KEYS, load_settings, notify_run

TOKEN = "tok-3f9a7c1e-do-not-log"
PASSWORD = "smtp-pw-8c2d-do-not-log"
PATH_SECRET = "hooks/AbC123SecretPath"
WAIT = 5.0
"""Longest a test waits for a receiver."""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No notification settings, proxies or council config folder from the developer's environment."""
    for name in (
        "TFIDENT_CONFIG_DIR",
        notify.WEBHOOK_URL_ENV,
        notify.WEBHOOK_TOKEN_FILE_ENV,
        notify.EMAIL_TO_ENV,
        notify.SMTP_HOST_ENV,
        notify.SMTP_PORT_ENV,
        notify.SMTP_PASSWORD_FILE_ENV,
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------ local HTTP receiver


@dataclass
class Received:
    """What a local receiver got."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)


@dataclass
class HttpReceiver:
    url: str
    received: Received
    status: list[int]


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    """An HTTP server on 127.0.0.1 that records each POST and answers with ``status[0]``."""
    received = Received()
    status = [204]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            received.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(status[0])
            if status[0] in (301, 302, 307, 308):
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            received.event.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield HttpReceiver(f"http://127.0.0.1:{server.server_address[1]}/{PATH_SECRET}", received, status)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


# ------------------------------------------------------------------ local SMTP receiver


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Enough SMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    timeout = WAIT

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        received: Received = self.server.received  # type: ignore[attr-defined]
        sender, recipients = "", []
        self._reply("220 localhost test SMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._reply("250-localhost")
                self._reply("250 8BITMIME")
            elif verb == "HELO":
                self._reply("250 localhost")
            elif verb == "MAIL":
                sender = command.split(":", 1)[1].strip()
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip())
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                data = bytearray()
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                received.requests.append({"from": sender, "to": recipients, "data": bytes(data)})
                self._reply("250 OK queued")
                received.event.set()
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")


@dataclass
class SmtpReceiver:
    port: int
    received: Received


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """A tiny SMTP server on 127.0.0.1 that records each message."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.received = Received()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield SmtpReceiver(server.server_address[1], server.received)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


# ------------------------------------------------------------------ helpers


@pytest.fixture
def council_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write the council's notifications.yaml and point TFIDENT_CONFIG_DIR at its folder."""
    folder = tmp_path / "council-config"
    folder.mkdir()
    monkeypatch.setenv("TFIDENT_CONFIG_DIR", str(folder))

    def write(text: str) -> Path:
        path = folder / "notifications.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _secret_file(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / name
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _failed_run() -> list[str]:
    return notify_run(
        "failed",
        message="run failed: database unreachable",
        run_id="R-2024-10-abc",
        as_of=date(2024, 10, 31),
        counts={"school": 1200, "police": 340},
        exit_code=3,
    )


# ------------------------------------------------------------------ tests


def test_the_defaults_send_nothing(http_receiver: HttpReceiver) -> None:
    """It configures no channel by default, so every kind is dropped quietly."""
    settings = load_settings()
    assert settings.on == ("failed", "warning")
    assert settings.webhook.url is None
    assert settings.email.to == ()
    assert settings.email.smtp_host is None
    for kind in notify.KINDS:
        assert notify_run(kind, message="x") == []


def test_the_webhook_gets_the_json_and_the_bearer_token(
    council_config: Callable[[str], Path],
    http_receiver: HttpReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It POSTs the documented JSON document with the token from TFIDENT_NOTIFY_WEBHOOK_TOKEN_FILE."""
    council_config(f"on: [failed]\nwebhook:\n  url: {http_receiver.url}\n  timeout_seconds: 5\n")
    monkeypatch.setenv(notify.WEBHOOK_TOKEN_FILE_ENV, str(_secret_file(tmp_path, "token", TOKEN)))

    assert _failed_run() == ["webhook"]

    [request] = http_receiver.received.requests
    assert request["path"] == f"/{PATH_SECRET}"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    document = json.loads(request["body"])
    assert tuple(document) == PAYLOAD_KEYS
    assert document["source"] == "tfident"
    assert document["kind"] == "failed"
    assert document["message"] == "run failed: database unreachable"
    assert document["run_id"] == "R-2024-10-abc"
    assert document["as_of"] == "2024-10-31"
    assert document["counts"] == {"school": 1200, "police": 340}
    assert document["exit_code"] == 3
    assert document["host"] == socket.gethostname()
    assert document["sent_at"].endswith("+00:00")


def test_the_payload_has_exactly_the_documented_keys() -> None:
    """It sends only the documented fields (counts, ids, dates, names of sources), whatever else is passed."""
    document = notify.payload("warning", message="m" * 5000, counts={"housing": 3})
    assert (
        set(document)
        == set(PAYLOAD_KEYS)
        == {
            "source",
            "kind",
            "message",
            "run_id",
            "as_of",
            "counts",
            "exit_code",
            "host",
            "sent_at",
        }
    )
    assert len(document["message"]) == notify.MAX_MESSAGE
    assert document["run_id"] is None
    assert document["as_of"] is None
    assert document["exit_code"] is None
    assert all(isinstance(value, int) for value in document["counts"].values())


def test_the_email_reaches_the_smtp_server(council_config: Callable[[str], Path], smtp_receiver: SmtpReceiver) -> None:
    """It sends a plain-text email to every recipient with the run's details."""
    council_config(
        "on: [failed, published]\n"
        "email:\n"
        "  to: [ops@council.example, data-team@council.example]\n"
        "  sender: tfident@council.example\n"
        "  smtp_host: 127.0.0.1\n"
        f"  smtp_port: {smtp_receiver.port}\n"
        "  starttls: false\n"
    )

    assert _failed_run() == ["email"]

    [mail] = smtp_receiver.received.requests
    assert mail["from"] == "<tfident@council.example>"
    assert mail["to"] == ["<ops@council.example>", "<data-team@council.example>"]
    message = email.message_from_bytes(mail["data"], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "[tfident] run failed: batch 2024-10-31, run R-2024-10-abc"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    for expected in ("run failed: database unreachable", "Run: R-2024-10-abc", "Exit code: 3", "school: 1200"):
        assert expected in body


def test_both_channels_from_the_environment_alone(
    http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It takes the webhook URL, recipients and SMTP server from the environment over the defaults."""
    monkeypatch.setenv(notify.WEBHOOK_URL_ENV, http_receiver.url)
    monkeypatch.setenv(notify.EMAIL_TO_ENV, " ops@council.example , ,team@council.example")
    monkeypatch.setenv(notify.SMTP_HOST_ENV, "127.0.0.1")
    monkeypatch.setenv(notify.SMTP_PORT_ENV, str(smtp_receiver.port))

    settings = load_settings()
    assert settings.email.to == ("ops@council.example", "team@council.example")
    assert settings.email.starttls is True  # the default: this test's server has no TLS
    monkeypatch.setattr(
        notify,
        "load_settings",
        lambda: settings.model_copy(update={"email": settings.email.model_copy(update={"starttls": False})}),
    )

    assert notify_run("warning", message="2 sources late", as_of=date(2024, 10, 31)) == ["webhook", "email"]
    assert len(http_receiver.received.requests) == 1
    assert len(smtp_receiver.received.requests) == 1


def test_kinds_not_listed_in_on_are_not_sent(
    council_config: Callable[[str], Path], http_receiver: HttpReceiver
) -> None:
    """It sends only the kinds ``on:`` lists (by default failed and warning, not published)."""
    council_config(f"webhook:\n  url: {http_receiver.url}\n")

    assert notify_run("published", message="published", run_id="R1") == []
    assert notify_run("nonsense", message="x") == []
    assert http_receiver.received.requests == []
    assert notify_run("warning", message="late", run_id="R1") == ["webhook"]


@pytest.mark.parametrize("status", [500, 302])
def test_a_receiver_that_refuses_does_not_raise(
    council_config: Callable[[str], Path],
    http_receiver: HttpReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    """It logs a warning without the URL's path or the token when the receiver answers 500 or redirects."""
    council_config(f"webhook:\n  url: {http_receiver.url}\n")
    monkeypatch.setenv(notify.WEBHOOK_TOKEN_FILE_ENV, str(_secret_file(tmp_path, "token", TOKEN)))
    http_receiver.status[0] = status

    with caplog.at_level(logging.WARNING, logger="tfident.notify"):
        assert _failed_run() == []

    assert len(http_receiver.received.requests) == 1  # a redirect is not followed
    assert f"HTTP {status}" in caplog.text
    assert PATH_SECRET not in caplog.text
    assert TOKEN not in caplog.text


def test_receivers_that_are_down_do_not_raise(
    council_config: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It returns no channel, and logs one warning per channel, when nothing listens."""
    port = _free_port()
    council_config(
        f"webhook:\n  url: http://user:{PASSWORD}@127.0.0.1:{port}/{PATH_SECRET}?key={TOKEN}\n"
        f"email:\n  to: [ops@council.example]\n  smtp_host: 127.0.0.1\n  smtp_port: {port}\n"
        "  username: tfident\n"
    )
    monkeypatch.setenv(notify.SMTP_PASSWORD_FILE_ENV, str(_secret_file(tmp_path, "smtp", PASSWORD)))

    with caplog.at_level(logging.WARNING, logger="tfident.notify"):
        assert _failed_run() == []

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert f"http://127.0.0.1:{port}" in caplog.text
    for secret in (PASSWORD, TOKEN, PATH_SECRET):
        assert secret not in caplog.text


def test_a_receiver_that_never_answers_times_out(
    council_config: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    """It gives up after timeout_seconds when the receiver accepts the connection but never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        council_config(f"webhook:\n  url: http://127.0.0.1:{silent.getsockname()[1]}/\n  timeout_seconds: 0.5\n")
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="tfident.notify"):
            assert _failed_run() == []
        assert time.monotonic() - started < WAIT
    assert "timed out" in caplog.text


def test_an_smtp_login_needs_a_password_file_and_starttls(
    council_config: Callable[[str], Path],
    smtp_receiver: SmtpReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It sends no email when a username has no password file, or would send the password in clear."""
    council_config(
        f"email:\n  to: [ops@council.example]\n  smtp_host: 127.0.0.1\n  smtp_port: {smtp_receiver.port}\n"
        "  username: tfident\n  starttls: false\n"
    )
    with caplog.at_level(logging.WARNING, logger="tfident.notify"):
        assert _failed_run() == []
        monkeypatch.setenv(notify.SMTP_PASSWORD_FILE_ENV, str(_secret_file(tmp_path, "smtp", PASSWORD)))
        assert _failed_run() == []
    assert notify.SMTP_PASSWORD_FILE_ENV in caplog.text
    assert "without STARTTLS" in caplog.text
    assert PASSWORD not in caplog.text
    assert smtp_receiver.received.requests == []


def test_an_unknown_key_is_one_config_error_naming_it(
    council_config: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    """It names the file and the bad key, and notify_run only logs it."""
    path = council_config("on: [failed]\nwebhook:\n  url: https://hooks.example/x\n  retries: 3\n")

    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(path) in str(raised.value)
    assert "webhook.retries" in str(raised.value)

    with caplog.at_level(logging.WARNING, logger="tfident.notify"):
        assert notify_run("failed", message="x") == []
    assert "webhook.retries" in caplog.text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("email:\n  password: hunter2hunter2\n", "email.password"),
        ("webhook:\n  token: abc\n", "webhook.token"),
        ("on: [failed, sometimes]\n", "on.1"),
        ("webhook:\n  url: file:///etc/passwd\n", "webhook.url"),
        ("email:\n  smtp_port: 0\n", "email.smtp_port"),
    ],
)
def test_secrets_and_bad_values_are_refused_in_the_yaml(
    council_config: Callable[[str], Path], text: str, key: str
) -> None:
    """It accepts no secret in the YAML, no unknown kind, no non-HTTP URL and no impossible port."""
    council_config(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings()


def test_bad_environment_values_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """It names the variable when the port or the URL from the environment is wrong."""
    monkeypatch.setenv(notify.SMTP_PORT_ENV, "smtp")
    with pytest.raises(ConfigError, match=notify.SMTP_PORT_ENV):
        load_settings()
    monkeypatch.delenv(notify.SMTP_PORT_ENV)
    monkeypatch.setenv(notify.WEBHOOK_URL_ENV, f"ftp://host/{PATH_SECRET}")
    with pytest.raises(ConfigError, match=notify.WEBHOOK_URL_ENV) as raised:
        load_settings()
    assert PATH_SECRET not in str(raised.value)
