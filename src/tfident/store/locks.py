"""One run per month at a time: the month lock.

Two runs of the same month started at once would race to publish versions of it. A
run takes its month's lock before it computes anything and keeps it until it has
written (or failed); a second run finds the lock held and stops with
:class:`~tfident.errors.RunLocked`, whose message names the run holding it.

* **PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) on a key
  derived from the schema and the month, held by a dedicated connection for the whole
  run. The server releases it when that connection ends, however the run ends (even
  ``kill -9``), so it is never stale. A row in ``run_locks`` records who holds it, so
  the second run can name them.
* **SQLite**: the row in ``run_locks`` (``month`` is its primary key) *is* the lock,
  inserted in its own short transaction. A lock left behind by a run that was killed is
  **stale** and is taken over, with a warning, when its process is no longer running on
  this host, or when it is older than ``stale_after`` (default 6 hours, or
  ``TFIDENT_LOCK_STALE_AFTER`` seconds).

:func:`acquire_month_lock` takes the lock at once and returns a :class:`MonthLock`,
which is also a context manager that releases it::

    with acquire_month_lock(engine, "2026-10", run_id) as lock:
        ...

The run id may be unknown when the lock is taken (it is derived from the inputs);
:meth:`MonthLock.set_run_id` records it once known.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.errors import RunLocked, StoreError
from tfident.store.engine import BEGIN_OPTION, safe_url
from tfident.store.tables import metadata, utc_now

log = logging.getLogger(__name__)

run_locks = metadata.tables["run_locks"]

DEFAULT_STALE_AFTER = timedelta(hours=6)
STALE_AFTER_ENV = "TFIDENT_LOCK_STALE_AFTER"
"""Environment variable: seconds after which an SQLite month lock counts as stale."""
HOLDER_WAIT_SECONDS = 2.0
"""How long a PostgreSQL loser waits for the holder to record who it is, to name it."""


def stale_after_default() -> timedelta:
    """``TFIDENT_LOCK_STALE_AFTER`` seconds when set, else 6 hours."""
    value = os.environ.get(STALE_AFTER_ENV)
    if not value:
        return DEFAULT_STALE_AFTER
    try:
        seconds = float(value)
    except ValueError:
        raise StoreError(f"{STALE_AFTER_ENV}={value!r} is not a number of seconds") from None
    if seconds <= 0:
        raise StoreError(f"{STALE_AFTER_ENV}={value!r} must be a positive number of seconds")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class LockHolder:
    """Who holds a month's lock, as recorded in ``run_locks``."""

    month: str
    run_id: str | None
    token: str
    host: str
    pid: int
    acquired_at: datetime

    def describe(self) -> str:
        """``run R... (pid 123 on host, since ... UTC)``, for messages."""
        who = f"run {self.run_id}" if self.run_id else "a run whose id is not known yet (still reading its inputs)"
        return f"{who} (pid {self.pid} on {self.host}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC)"


@dataclass
class MonthLock:
    """A held month lock; release it with :meth:`release` or by leaving its ``with`` block."""

    engine: Engine
    month: str
    run_id: str | None
    token: str
    _connection: sa.Connection | None = field(default=None, repr=False)
    _key: int | None = field(default=None, repr=False)
    released: bool = False

    def __enter__(self) -> MonthLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()

    def set_run_id(self, run_id: str) -> None:
        """Record the holder's run id (known once its inputs are read), so others can name it."""
        self.run_id = run_id
        with _write_connection(self.engine) as connection, connection.begin():
            connection.execute(
                run_locks.update()
                .where(run_locks.c.month == self.month, run_locks.c.token == self.token)
                .values(run_id=run_id)
            )

    def release(self) -> None:
        """Give the lock up (again is harmless)."""
        if self.released:
            return
        self.released = True
        try:
            with _write_connection(self.engine) as connection, connection.begin():
                deleted = connection.execute(
                    run_locks.delete().where(run_locks.c.month == self.month, run_locks.c.token == self.token)
                ).rowcount
            if not deleted and self._connection is None:
                log.warning(
                    "the lock of month %s was taken over as stale while run %s held it", self.month, self.run_id
                )
        finally:
            if self._connection is not None:
                _unlock_postgres(self._connection, self._key)
                self._connection = None
        log.debug("month %s unlocked by run %s", self.month, self.run_id)


def acquire_month_lock(
    engine: Engine, month: str, run_id: str | None = None, *, stale_after: timedelta | None = None
) -> MonthLock:
    """Take the lock of ``month`` (``YYYY-MM``) for ``run_id``, or raise RunLocked naming its holder.

    ``stale_after`` (SQLite only) defaults to :func:`stale_after_default`.
    """
    token = secrets.token_hex(16)
    try:
        if engine.dialect.name == "postgresql":
            return _acquire_postgres(engine, month, run_id, token)
        return _acquire_row(engine, month, run_id, token, stale_after or stale_after_default())
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot lock month {month} in {safe_url(engine)}: {error.__class__.__name__}") from error


def read_lock_holder(engine: Engine, month: str) -> LockHolder | None:
    """Who the ``run_locks`` row of ``month`` names, if there is one."""
    with engine.connect() as connection:
        return _holder(connection, month)


# ------------------------------------------------------------------------------ shared


def _write_connection(engine: Engine) -> sa.Connection:
    return engine.connect().execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})


def _holder(connection: sa.Connection, month: str) -> LockHolder | None:
    row = connection.execute(sa.select(run_locks).where(run_locks.c.month == month)).mappings().first()
    if row is None:
        return None
    return LockHolder(**{name: row[name] for name in ("month", "run_id", "token", "host", "pid", "acquired_at")})


def _row_values(month: str, run_id: str | None, token: str) -> dict[str, Any]:
    return {
        "month": month,
        "run_id": run_id,
        "token": token,
        "host": socket.gethostname()[:255],
        "pid": os.getpid(),
        "acquired_at": utc_now(),
    }


def _locked(month: str, holder: LockHolder | None, hint: str) -> RunLocked:
    who = holder.describe() if holder is not None else "another run (it has not recorded who it is yet)"
    return RunLocked(
        f"month {month} is locked by {who}: only one run of a month at a time. {hint}",
        month=month,
        holder=holder.run_id if holder is not None else None,
    )


# ------------------------------------------------------------------ SQLite: the lock row


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists, under another user
        return False
    return False


def stale_reason(holder: LockHolder, stale_after: timedelta, now: datetime | None = None) -> str | None:
    """Why ``holder``'s lock is stale (its process is gone, or it is too old), or None when it is live."""
    if holder.host == socket.gethostname() and _process_gone(holder.pid):
        return f"its process {holder.pid} on {holder.host} is no longer running"
    age = (now or utc_now()) - holder.acquired_at
    if age > stale_after:
        return f"it was taken {age} ago, longer than the {stale_after} after which a lock is stale"
    return None


def _acquire_row(engine: Engine, month: str, run_id: str | None, token: str, stale_after: timedelta) -> MonthLock:
    with _write_connection(engine) as connection, connection.begin():
        holder = _holder(connection, month)
        if holder is not None:
            reason = stale_reason(holder, stale_after)
            if reason is None:
                raise _locked(
                    month,
                    holder,
                    "Wait for it to finish. A lock left by a run that was killed is taken over once its "
                    f"process is gone (same host) or after {stale_after} ({STALE_AFTER_ENV} seconds).",
                )
            log.warning("taking over the stale lock of month %s held by %s: %s", month, holder.describe(), reason)
            connection.execute(run_locks.delete().where(run_locks.c.month == month, run_locks.c.token == holder.token))
        connection.execute(run_locks.insert().values(**_row_values(month, run_id, token)))
    log.debug("month %s locked by run %s", month, run_id)
    return MonthLock(engine=engine, month=month, run_id=run_id, token=token)


# -------------------------------------------------------- PostgreSQL: an advisory lock


def _advisory_key(schema: str, month: str) -> int:
    digest = hashlib.sha256(f"tfident.run_lock:{schema}:{month}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _acquire_postgres(engine: Engine, month: str, run_id: str | None, token: str) -> MonthLock:
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
        key = _advisory_key(str(schema), month)
        got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one()
    except BaseException:
        connection.close()
        raise
    if not got:
        connection.close()
        raise _locked(month, _wait_for_holder(engine, month), "Wait for it to finish.")
    try:
        with engine.begin() as writer:
            # a row left by a holder that was killed is out of date: the server freed its lock
            writer.execute(run_locks.delete().where(run_locks.c.month == month))
            writer.execute(run_locks.insert().values(**_row_values(month, run_id, token)))
    except BaseException:
        _unlock_postgres(connection, key)
        raise
    log.debug("month %s locked by run %s (advisory lock %d)", month, run_id, key)
    return MonthLock(engine=engine, month=month, run_id=run_id, token=token, _connection=connection, _key=key)


def _wait_for_holder(engine: Engine, month: str) -> LockHolder | None:
    """The holder's row; it may lag the advisory lock by a moment, so wait briefly for it."""
    deadline = time.monotonic() + HOLDER_WAIT_SECONDS
    while True:
        holder = read_lock_holder(engine, month)
        if holder is not None or time.monotonic() > deadline:
            return holder
        time.sleep(0.05)


def _unlock_postgres(connection: sa.Connection, key: int | None) -> None:
    try:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    except Exception:  # the connection is unusable: dropping it frees the lock on the server
        log.warning("could not release advisory lock %s cleanly; closing its connection", key)
        connection.invalidate()
    finally:
        connection.close()
