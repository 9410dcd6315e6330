"""One run of a month at a time: the month lock on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tfident.cli import app
from tfident.errors import RunLocked, StoreError
from tfident.store import acquire_month_lock, metadata
from tfident.store.locks import read_lock_holder, stale_after_default
from tfident.store.tables import utc_now

MONTH = "2026-10"
run_locks = metadata.tables["run_locks"]


def lock_rows(engine: Engine) -> list[tuple[str, str | None]]:
    """(month, run_id) of every lock row."""
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.select(run_locks.c.month, run_locks.c.run_id)).all()]  # type: ignore[misc]


def test_two_acquirers_at_once_one_wins_and_the_other_names_it(engine: Engine) -> None:
    """It lets exactly one of two simultaneous runs of a month proceed; the other is told which run holds it."""
    barrier = threading.Barrier(2)
    won: list[str] = []
    lost: list[RunLocked] = []
    release = threading.Event()

    def attempt(run_id: str) -> None:
        barrier.wait()
        try:
            with acquire_month_lock(engine, MONTH, run_id):
                won.append(run_id)
                release.wait(timeout=30)
        except RunLocked as error:
            lost.append(error)
            release.set()

    threads = [threading.Thread(target=attempt, args=(run_id,)) for run_id in ("R-first", "R-second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1
    assert len(lost) == 1
    message = str(lost[0])
    assert f"month {MONTH} is locked by run {won[0]}" in message
    assert f"pid {os.getpid()}" in message
    assert lost[0].holder == won[0]
    assert lost[0].month == MONTH
    assert lock_rows(engine) == []


def test_it_locks_months_independently(engine: Engine) -> None:
    """It lets runs of different months proceed together."""
    with acquire_month_lock(engine, "2026-09", "R-sep"), acquire_month_lock(engine, MONTH, "R-oct"):
        assert sorted(lock_rows(engine)) == [("2026-09", "R-sep"), (MONTH, "R-oct")]
    assert lock_rows(engine) == []


def test_it_releases_the_lock_after_success_and_after_failure(engine: Engine) -> None:
    """It frees the month when the run finishes, and when it fails."""
    with acquire_month_lock(engine, MONTH, "R1"):
        pass
    with pytest.raises(RuntimeError, match="linkage blew up"), acquire_month_lock(engine, MONTH, "R2"):
        raise RuntimeError("linkage blew up")
    assert lock_rows(engine) == []
    with acquire_month_lock(engine, MONTH, "R3") as lock:
        assert lock_rows(engine) == [(MONTH, "R3")]
    assert lock.released
    lock.release()  # again: harmless


def test_it_names_the_run_id_once_the_holder_knows_it(engine: Engine) -> None:
    """It names a holder that has not read its inputs yet, then its run id once recorded."""
    with acquire_month_lock(engine, MONTH) as lock:
        with pytest.raises(RunLocked, match="whose id is not known yet"):
            acquire_month_lock(engine, MONTH, "R-other")
        lock.set_run_id("R-holder")
        with pytest.raises(RunLocked, match="locked by run R-holder"):
            acquire_month_lock(engine, MONTH, "R-other")


HOLDER_SCRIPT = """
import sys, time
from tfident.store import acquire_month_lock, make_engine
engine = make_engine(sys.argv[1])
lock = acquire_month_lock(engine, sys.argv[2], sys.argv[3])
print("locked", flush=True)
time.sleep(600)
"""


def start_holder(store_url: str, run_id: str) -> subprocess.Popen[str]:
    """A separate process that takes the month lock and then hangs."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, store_url, MONTH, run_id], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_run_killed_while_holding_the_lock_does_not_block_the_next(store_url: str, engine: Engine) -> None:
    """It refuses while another process holds the month; once that process is killed, the month is free."""
    holder = start_holder(store_url, "R-killed")
    try:
        with pytest.raises(RunLocked, match=f"locked by run R-killed \\(pid {holder.pid} on "):
            acquire_month_lock(engine, MONTH, "R-next")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    # PostgreSQL frees the advisory lock when the session ends; SQLite finds the holder's process gone
    deadline = time.monotonic() + 10
    while True:
        try:
            lock = acquire_month_lock(engine, MONTH, "R-next")
            break
        except RunLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with lock:
        assert lock_rows(engine) == [(MONTH, "R-next")]
    assert lock_rows(engine) == []


def test_it_takes_over_an_sqlite_lock_older_than_the_timeout(tmp_path: Path) -> None:
    """It treats a lock older than stale_after as stale, even when its process seems alive."""
    from tfident.store import init_db, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'tfident.db'}")
    try:
        init_db(engine)
        with engine.begin() as connection:
            connection.execute(
                run_locks.insert().values(
                    month=MONTH,
                    run_id="R-old",
                    token="t" * 32,
                    host="another-host",
                    pid=1,
                    acquired_at=utc_now() - timedelta(hours=7),
                )
            )
        with pytest.raises(RunLocked, match="locked by run R-old"):
            acquire_month_lock(engine, MONTH, "R-new", stale_after=timedelta(hours=8))
        with acquire_month_lock(engine, MONTH, "R-new", stale_after=timedelta(hours=6)):
            holder = read_lock_holder(engine, MONTH)
            assert holder is not None
            assert (holder.run_id, holder.host, holder.pid) == ("R-new", socket.gethostname(), os.getpid())
    finally:
        engine.dispose()


def test_the_stale_timeout_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    """It reads TFIDENT_LOCK_STALE_AFTER seconds, and rejects a bad value."""
    monkeypatch.delenv("TFIDENT_LOCK_STALE_AFTER", raising=False)
    assert stale_after_default() == timedelta(hours=6)
    monkeypatch.setenv("TFIDENT_LOCK_STALE_AFTER", "90")
    assert stale_after_default() == timedelta(seconds=90)
    monkeypatch.setenv("TFIDENT_LOCK_STALE_AFTER", "soon")
    with pytest.raises(StoreError, match="TFIDENT_LOCK_STALE_AFTER"):
        stale_after_default()


# -------------------------------------------------------------------- tfident run


def test_tfident_run_exits_3_naming_the_run_that_holds_the_month(
    engine: Engine, store_url: str, sample_batch: Path
) -> None:
    """It stops a second run of a locked month with exit 3 (environment) and the holder's run id; it runs once freed."""
    args = ["run", "--extracts", str(sample_batch), "--as-of", "2026-10-31", "--db", store_url, "--no-prefect"]
    with acquire_month_lock(engine, MONTH, "R-holder"):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 3, result.output
        assert "locked by run R-holder" in " ".join(result.output.split())
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert lock_rows(engine) == []  # released after success


def test_tfident_run_releases_the_month_when_it_fails(engine: Engine, store_url: str, tmp_path: Path) -> None:
    """It frees the month lock when the batch is rejected."""
    (tmp_path / "empty").mkdir()
    args = ["run", "--extracts", str(tmp_path / "empty"), "--as-of", "2026-10-31", "--db", store_url, "--no-prefect"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert lock_rows(engine) == []
