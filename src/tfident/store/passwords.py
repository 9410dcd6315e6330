"""How account passwords are stored and what a new one must be: argon2id hashes, a password policy.

It lives in the store (beside the ``users`` table) so that both the review app and the
``tfident users add`` command can use it without importing each other.

The policy (:func:`check_password_strength`): at least 12 characters (at most 256, so a
hash cannot be made to take long), at least 5 different characters (``aaaaaaaaaaaa`` is
refused), not the username, and not one of the common passwords in
``common_passwords.txt`` (compared lower-cased without spaces, and again with trailing
digits and punctuation removed, so ``Password2026!`` is refused too).
"""

from __future__ import annotations

import re
import secrets
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 5
DENY_LIST = Path(__file__).with_name("common_passwords.txt")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
_TRAILING = re.compile(r"[\d\W_]+$")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash it still spends the same time, so names cannot be probed."""
    try:
        return (
            _hasher.verify(password_hash or _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH]) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    """The deny list (lower case), read once."""
    lines = DENY_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _forms(password: str) -> set[str]:
    compact = "".join(password.lower().split())
    return {compact, _TRAILING.sub("", compact)}


def check_password_strength(password: str, username: str | None = None) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must be at most {MAX_PASSWORD_LENGTH} characters"
    if len(set(password.lower())) < MIN_DISTINCT_CHARACTERS:
        return f"the password must use at least {MIN_DISTINCT_CHARACTERS} different characters"
    forms = _forms(password)
    if username and len(username) >= 3 and any(username.lower() in form for form in forms):
        return "the password must not contain the username"
    if forms & common_passwords():
        return "the password is too common: choose a longer phrase of unrelated words"
    return None
