"""The optional second factor: time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30 s).

Written on the standard library (about 20 lines, checked against the RFC's test vectors)
rather than adding a dependency. Any authenticator app (Microsoft or Google
Authenticator, FreeOTP) reads the ``otpauth://`` address or the base32 secret typed in.
A code is accepted in the step before and after the current one, for clock drift.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

STEP = 30
DIGITS = 6
ISSUER = "tfident"


def new_secret() -> str:
    """A random 160-bit secret, base32 without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    compact = "".join(secret.split()).upper()
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The RFC 4226 one-time password of ``counter``."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def code_at(secret: str, at: float) -> str:
    """The code of ``secret`` at Unix time ``at``."""
    return hotp(_key(secret), int(at) // STEP)


def verify(secret: str, code: str, at: float | None = None, window: int = 1) -> bool:
    """Whether ``code`` is the secret's code now or within ``window`` steps either side."""
    code = "".join(code.split())
    if not secret or len(code) != DIGITS or not code.isdigit():
        return False
    now = time.time() if at is None else at
    key = _key(secret)
    counter = int(now) // STEP
    matched = False
    for step in range(-window, window + 1):
        matched |= hmac.compare_digest(hotp(key, counter + step), code)
    return matched


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` address an authenticator app reads."""
    label = quote(f"{ISSUER}:{username}", safe="")
    return f"otpauth://totp/{label}?" + urlencode(
        {"secret": secret, "issuer": ISSUER, "digits": DIGITS, "period": STEP}
    )
