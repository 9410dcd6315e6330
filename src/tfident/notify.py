"""Plain notifications of a run's outcome, without Prefect: a webhook (JSON over HTTP) and email (SMTP).

:func:`notify_run` tells the people who look after the monthly run that it failed, finished
with a warning or was published. It never raises: a channel that cannot deliver is logged
at WARNING (without the URL's path, query or credentials, the token or the password) and
the run's outcome is unaffected.

What is sent carries counts, run ids, dates, source names and error kinds only, never
personal data: callers must keep ``message`` free of names, dates of birth, addresses and
identifiers.

Configuration (one whole file, layered like every config file: the council's
``notifications.yaml`` replaces the shipped default, which sends nothing)::

    on: [failed, warning]            # which kinds are sent
    webhook: {url: https://..., timeout_seconds: 10}
    email: {to: [ops@council.example], sender: tfident@council.example,
            smtp_host: smtp.council.example, smtp_port: 587, starttls: true,
            username: tfident}

Environment variables override or complete it for an install:
``TFIDENT_NOTIFY_WEBHOOK_URL``, ``TFIDENT_NOTIFY_EMAIL_TO`` (comma-separated),
``TFIDENT_SMTP_HOST``, ``TFIDENT_SMTP_PORT``. Secrets come only from files named by the
environment, never from the YAML: ``TFIDENT_NOTIFY_WEBHOOK_TOKEN_FILE`` (sent as
``Authorization: Bearer``) and ``TFIDENT_SMTP_PASSWORD_FILE``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from tfident.config import StrictModel, config_path, load_model
from tfident.errors import ConfigError

log = logging.getLogger(__name__)

Kind = Literal["failed", "warning", "published"]
KINDS: tuple[str, ...] = ("failed", "warning", "published")

CONFIG_FILE = "notifications.yaml"
WEBHOOK_URL_ENV = "TFIDENT_NOTIFY_WEBHOOK_URL"
WEBHOOK_TOKEN_FILE_ENV = "TFIDENT_NOTIFY_WEBHOOK_TOKEN_FILE"
EMAIL_TO_ENV = "TFIDENT_NOTIFY_EMAIL_TO"
SMTP_HOST_ENV = "TFIDENT_SMTP_HOST"
SMTP_PORT_ENV = "TFIDENT_SMTP_PORT"
SMTP_PASSWORD_FILE_ENV = "TFIDENT_SMTP_PASSWORD_FILE"

SMTP_TIMEOUT_SECONDS = 30.0
"""How long an SMTP connection or command may take before the email channel gives up."""
MAX_MESSAGE = 2000
"""Longest message sent; a longer one is cut."""
PAYLOAD_KEYS = ("source", "kind", "message", "run_id", "as_of", "counts", "exit_code", "host", "sent_at")
"""The webhook's JSON document has exactly these keys."""


class WebhookSettings(StrictModel):
    """Where the JSON document is posted; no URL, no webhook."""

    url: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        return _check_url(value) if value else None


class EmailSettings(StrictModel):
    """Who gets the email and through which SMTP server; no recipients or no host, no email."""

    to: tuple[str, ...] = ()
    sender: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None


class NotificationSettings(StrictModel):
    """``notifications.yaml``: which kinds are sent, and the channels."""

    on: tuple[Kind, ...] = ("failed", "warning")
    webhook: WebhookSettings = WebhookSettings()
    email: EmailSettings = EmailSettings()

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: Any) -> Any:
        # YAML 1.1 reads an unquoted ``on:`` key as the boolean True.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    return url


def safe_target(url: str) -> str:
    """``url`` reduced to scheme, host and port, for messages: no credentials, path or query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}" if parts.hostname else "(invalid URL)"
    except ValueError:
        return "(invalid URL)"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _read_secret(env_name: str) -> str | None:
    """The first line of the file ``env_name`` names, or None when it is not set."""
    file = _env(env_name)
    if file is None:
        return None
    try:
        lines = Path(file).expanduser().read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"{env_name}={file}: cannot read it ({error.strerror})") from None
    secret = next((line.strip() for line in lines if line.strip()), "")
    if not secret:
        raise ConfigError(f"{env_name}={file}: the file is empty")
    return secret


def load_settings() -> NotificationSettings:
    """``notifications.yaml`` (the council's, else the default) with the environment's overrides.

    Raises ``ConfigError`` naming the file and key, or the variable, when either is wrong.
    """
    settings = load_model(config_path(CONFIG_FILE), NotificationSettings)
    webhook: dict[str, Any] = {}
    if (url := _env(WEBHOOK_URL_ENV)) is not None:
        try:
            webhook["url"] = _check_url(url)
        except ValueError as error:
            raise ConfigError(f"{WEBHOOK_URL_ENV}: {error} (got {safe_target(url)})") from None
    email: dict[str, Any] = {}
    if (to := _env(EMAIL_TO_ENV)) is not None:
        email["to"] = tuple(address.strip() for address in to.split(",") if address.strip())
    if (host := _env(SMTP_HOST_ENV)) is not None:
        email["smtp_host"] = host
    if (port := _env(SMTP_PORT_ENV)) is not None:
        if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f"{SMTP_PORT_ENV}={port!r}: expected a port number (1 to 65535)")
        email["smtp_port"] = int(port)
    return settings.model_copy(
        update={
            "webhook": settings.webhook.model_copy(update=webhook),
            "email": settings.email.model_copy(update=email),
        }
    )


def payload(
    kind: str,
    *,
    message: str,
    run_id: str | None = None,
    as_of: date | None = None,
    counts: Mapping[str, int] | None = None,
    exit_code: int | None = None,
) -> dict[str, Any]:
    """The JSON document the webhook receives (exactly :data:`PAYLOAD_KEYS`); the email says the same."""
    return {
        "source": "tfident",
        "kind": kind,
        "message": str(message)[:MAX_MESSAGE],
        "run_id": run_id,
        "as_of": as_of.isoformat() if as_of is not None else None,
        "counts": {str(name): int(value) for name, value in (counts or {}).items()},
        "exit_code": exit_code,
        "host": socket.gethostname(),
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a redirected POST would lose its body or carry the token elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def send_webhook(settings: WebhookSettings, document: Mapping[str, Any]) -> None:
    """POST ``document`` as JSON to the webhook; raise when it is not accepted (2xx)."""
    if not settings.url:
        raise ConfigError("no webhook URL")
    headers = {"Content-Type": "application/json", "User-Agent": "tfident-notify"}
    token = _read_secret(WEBHOOK_TOKEN_FILE_ENV)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        settings.url, data=json.dumps(document).encode("utf-8"), headers=headers, method="POST"
    )
    opener = urllib.request.build_opener(_NoRedirects)
    with opener.open(request, timeout=settings.timeout_seconds) as response:
        status = response.status
    if not 200 <= status < 300:
        raise urllib.error.HTTPError(safe_target(settings.url), status, f"HTTP {status}", response.headers, None)


def _subject(document: Mapping[str, Any]) -> str:
    about = [f"batch {document['as_of']}"] if document["as_of"] else []
    about += [f"run {document['run_id']}"] if document["run_id"] else []
    return f"[tfident] run {document['kind']}" + (f": {', '.join(about)}" if about else "")


def _body(document: Mapping[str, Any]) -> str:
    lines = [document["message"], ""]
    labels = {"kind": "Kind", "run_id": "Run", "as_of": "Batch date", "exit_code": "Exit code", "host": "Host"}
    for key, label in labels.items():
        if document[key] is not None:
            lines.append(f"{label}: {document[key]}")
    if document["counts"]:
        lines.append("Counts:")
        lines.extend(f"  {name}: {value}" for name, value in document["counts"].items())
    lines.append(f"Sent at: {document['sent_at']}")
    return "\n".join(lines) + "\n"


def send_email(settings: EmailSettings, document: Mapping[str, Any]) -> None:
    """Send ``document`` as a plain-text email; raise when the server does not take it."""
    if not settings.to or not settings.smtp_host:
        raise ConfigError("no email recipients or SMTP host")
    password = _read_secret(SMTP_PASSWORD_FILE_ENV)
    if settings.username and password is None:
        raise ConfigError(f"email.username is set but {SMTP_PASSWORD_FILE_ENV} is not")
    if settings.username and not settings.starttls:
        raise ConfigError("refusing to send the SMTP password without STARTTLS (email.starttls: false)")
    mail = EmailMessage()
    mail["Subject"] = _subject(document)
    mail["From"] = settings.sender or f"tfident@{socket.getfqdn()}"
    mail["To"] = ", ".join(settings.to)
    mail.set_content(_body(document))
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username and password is not None:
            smtp.login(settings.username, password)
        smtp.send_message(mail)


def _describe(error: BaseException, secrets: tuple[str | None, ...]) -> str:
    """A short reason for a failed delivery, with any secret (URL, token, password) blanked out."""
    if isinstance(error, urllib.error.HTTPError):
        text = f"HTTP {error.code}"
    elif isinstance(error, urllib.error.URLError):
        reason = error.reason
        text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    elif isinstance(error, smtplib.SMTPResponseException):
        text = f"{type(error).__name__} (SMTP {error.smtp_code})"
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        text = f"SMTPRecipientsRefused ({len(error.recipients)} recipients)"
    elif isinstance(error, ConfigError):
        text = f"ConfigError: {' '.join(line.strip() for line in str(error).splitlines())}"
    elif isinstance(error, OSError):
        text = f"{type(error).__name__}: {error}"
    else:
        text = type(error).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text.splitlines()[0][:500] if text.strip() else type(error).__name__


def _secret_values() -> tuple[str | None, ...]:
    values: list[str | None] = [_env(WEBHOOK_URL_ENV)]
    for name in (WEBHOOK_TOKEN_FILE_ENV, SMTP_PASSWORD_FILE_ENV):
        with contextlib.suppress(ConfigError):
            values.append(_read_secret(name))
    return tuple(values)


def notify_run(
    kind: str,
    *,
    message: str,
    run_id: str | None = None,
    as_of: date | None = None,
    counts: Mapping[str, int] | None = None,
    exit_code: int | None = None,
) -> list[str]:
    """Send a notification of ``kind`` ("failed", "warning" or "published") by every configured channel.

    Only kinds listed in ``on:`` are sent. Returns the channels that delivered
    (``"webhook"``, ``"email"``). Never raises: failures are logged at WARNING.
    """
    try:
        if kind not in KINDS:
            log.warning("notification not sent: unknown kind %r (expected one of %s)", kind, ", ".join(KINDS))
            return []
        settings = load_settings()
        if kind not in settings.on:
            return []
        document = payload(kind, message=message, run_id=run_id, as_of=as_of, counts=counts, exit_code=exit_code)
    except Exception as error:  # a notification must never change the run's outcome
        log.warning("notification not sent: %s", _describe(error, _secret_values()))
        return []
    delivered: list[str] = []
    if settings.webhook.url:
        try:
            send_webhook(settings.webhook, document)
            delivered.append("webhook")
        except Exception as error:
            secrets = (*_secret_values(), settings.webhook.url)
            log.warning(
                "notification by webhook to %s failed: %s",
                safe_target(settings.webhook.url),
                _describe(error, secrets),
            )
    if settings.email.to and settings.email.smtp_host:
        try:
            send_email(settings.email, document)
            delivered.append("email")
        except Exception as error:
            log.warning(
                "notification by email through %s:%s failed: %s",
                settings.email.smtp_host,
                settings.email.smtp_port,
                _describe(error, _secret_values()),
            )
    return delivered
