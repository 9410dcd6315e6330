"""Sign-in throttling that slows a password-guesser without locking anyone out.

There is no account lock-out (anyone could trigger one by typing wrong passwords for
another person's name). Instead failed sign-ins are counted in three kinds of bucket:

* **per account name**, whatever address the attempt comes from, for names that exist
  and names that do not alike (so the answer says nothing about which names exist);
* **per client address**, across every name tried from it;
* **per device**: a browser in which the account signed in before holds a signed
  *device cookie* for it (the OWASP "device cookie" scheme). Attempts carrying a valid
  device cookie for the name typed skip the account and address buckets, so the real
  user, at their usual browser, signs in however hard someone else is guessing. Wrong
  passwords with a device cookie count against that cookie only; after
  :attr:`ThrottlePolicy.device_failures` of them the cookie is no longer honoured.

After a bucket's free failures, each further failure makes the bucket wait before the
next attempt is even checked: 2, 4, 8 ... seconds up to a ceiling (60 s for an
account, 300 s for an address). An attempt made while waiting is refused without
checking the password and does not count, so the wait never grows past the ceiling and
a user without their device cookie is delayed, never shut out. Buckets forget their
failures after :attr:`ThrottlePolicy.forget_after` without one.

The counts are kept in the app's memory (one process: ``tfident serve`` runs one); a
restart clears them, which only ever helps the real user.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ThrottlePolicy:
    """Free failures, ceilings and memory of the three buckets."""

    account_free: int = 5
    account_ceiling: float = 60.0
    address_free: int = 20
    address_ceiling: float = 300.0
    device_failures: int = 10
    forget_after: float = 3600.0
    max_buckets: int = 100_000
    """Buckets kept at most (names sprayed at random cannot fill the memory): past it the stalest go first."""


@dataclass
class _Bucket:
    failures: int = 0
    wait_until: float = 0.0
    last_failure: float = 0.0


@dataclass
class LoginThrottle:
    """The sign-in throttle of one app (thread-safe)."""

    policy: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def account_key(username: str) -> str:
        """The account bucket of a typed name (case and spaces ignored)."""
        return "account:" + "".join(username.lower().split())

    @staticmethod
    def address_key(address: str) -> str:
        """The address bucket of a client address."""
        return "address:" + address

    @staticmethod
    def device_key(device: str) -> str:
        """The bucket of a device cookie."""
        return "device:" + device

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None or (bucket.failures and now - bucket.last_failure > self.policy.forget_after):
            bucket = self._buckets[key] = _Bucket()
        return bucket

    def device_trusted(self, device: str | None) -> bool:
        """Whether a (valid) device cookie may still bypass the account and address buckets."""
        if not device:
            return False
        with self._lock:
            return self._bucket(self.device_key(device), self.clock()).failures < self.policy.device_failures

    def wait(self, username: str, address: str, device: str | None) -> float:
        """Seconds to wait before this attempt may be checked (0: go ahead)."""
        now = self.clock()
        if self.device_trusted(device):
            return 0.0
        with self._lock:
            waits = [self._bucket(key, now).wait_until - now for key in self._keys(username, address)]
        return max(0.0, *waits)

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        return self.account_key(username), self.address_key(address)

    def failed(self, username: str, address: str, device: str | None) -> None:
        """Count a failed attempt in its buckets."""
        now = self.clock()
        trusted = self.device_trusted(device)
        with self._lock:
            if trusted and device:
                self._count(self.device_key(device), now, free=self.policy.device_failures, ceiling=0.0)
                return
            account, address_key = self._keys(username, address)
            self._count(account, now, free=self.policy.account_free, ceiling=self.policy.account_ceiling)
            self._count(address_key, now, free=self.policy.address_free, ceiling=self.policy.address_ceiling)

    def _prune(self, now: float) -> None:
        if len(self._buckets) < self.policy.max_buckets:
            return
        stale = [k for k, b in self._buckets.items() if now - b.last_failure > self.policy.forget_after]
        for key in stale:
            del self._buckets[key]
        if len(self._buckets) >= self.policy.max_buckets:
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k].last_failure)
            for key in by_age[: len(by_age) // 2]:
                del self._buckets[key]

    def _count(self, key: str, now: float, *, free: int, ceiling: float) -> None:
        if key not in self._buckets:
            self._prune(now)
        bucket = self._bucket(key, now)
        bucket.failures += 1
        bucket.last_failure = now
        over = bucket.failures - free
        if over > 0 and ceiling > 0:
            bucket.wait_until = now + min(ceiling, 2.0**over)

    def succeeded(self, username: str, device: str | None) -> None:
        """A correct password: the account's bucket (and the device's) start again."""
        with self._lock:
            self._buckets.pop(self.account_key(username), None)
            if device:
                self._buckets.pop(self.device_key(device), None)


DEVICE_COOKIE = "tfident_device"


def device_cookie(secret: str, username: str) -> str:
    """A new device cookie value for ``username``: a random id and its HMAC."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_mac(secret, username, nonce)}"


def device_of(secret: str, cookie: str | None, username: str) -> str | None:
    """The device id of a cookie issued for ``username`` (None when absent, forged or for another name)."""
    if not cookie or cookie.count(".") != 1 or len(cookie) > 200:
        return None
    nonce, mac = cookie.split(".")
    return nonce if hmac.compare_digest(mac, _mac(secret, username, nonce)) else None


def _mac(secret: str, username: str, nonce: str) -> str:
    message = f"device|{''.join(username.lower().split())}|{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
