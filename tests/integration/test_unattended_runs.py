"""Unattended runs: the monthly inbox, failures recorded in `tfident runs`, retries only for transient faults."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tfident.cli import app
from tfident.errors import DatabaseUnavailable, RunLocked
from tfident.runner import retry_transient


def runs_json(url: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["runs", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def inbox_folder(inbox: Path, name: str, batch: Path) -> Path:
    """A copy of ``batch`` as the inbox folder ``name``, with its READY marker."""
    target = inbox / name
    shutil.copytree(batch, target, ignore=shutil.ignore_patterns("truth"))
    (target / "READY").touch()
    return target


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("engine")  # migrated: on PostgreSQL only the owner migrates
def test_the_inbox_runs_each_complete_folder_once_oldest_first(
    store_url: str, sample_batch: Path, tmp_path: Path
) -> None:
    """Two complete folders run in date order; then there is nothing to do; a late folder is refused (exit 2),
    recorded in `tfident runs`, and passed by afterwards.
    """
    from datetime import date

    from tfident.synth import synthesise_months

    # two real consecutive months (the same files twice would rightly fail the data checks: last month re-sent)
    september, october = synthesise_months(300, 1, date(2026, 9, 30), tmp_path / "months", 2)
    inbox = tmp_path / "incoming"
    inbox_folder(inbox, "2026-09-30", september)
    inbox_folder(inbox, "2026-10-31", october)
    (inbox / "2026-11-30").mkdir()  # still arriving: no READY marker
    args = ["run", "--inbox", str(inbox), "--db", store_url, "--no-prefect"]

    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    runs = runs_json(store_url)
    assert sorted(str(r["as_of"])[:10] for r in runs) == ["2026-09-30", "2026-10-31"]
    assert {r["status"] for r in runs} == {"published"}

    idle = CliRunner().invoke(app, args)
    assert idle.exit_code == 0, idle.output
    assert idle.stdout == ""
    assert "Nothing to run" in idle.output

    inbox_folder(inbox, "2026-08-31", sample_batch)  # a late re-send of an old month
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert "not after the last published run's 2026-10-31" in " ".join(refused.output.split())
    assert (inbox / "2026-08-31" / "REFUSED").is_file()
    failed = [r for r in runs_json(store_url) if r["status"] == "failed"]
    assert len(failed) == 1
    assert str(failed[0]["as_of"]).startswith("2026-08-31")
    assert "bad input (exit 2)" in str(failed[0]["error"])
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0
    assert "Nothing to run" in again.output


def test_a_database_that_is_down_is_retried_then_exit_3(tmp_path: Path, sample_batch: Path) -> None:
    """Unreachable database: tried 1 + 2 times with backoff, then exit 3 naming the database, not exit 2."""
    url = f"postgresql+psycopg://tfident:secret-password@127.0.0.1:{closed_port()}/tfident"
    args = ["run", "--extracts", str(sample_batch), "--as-of", "2026-10-31", "--db", url]
    result = CliRunner().invoke(app, [*args, "--no-prefect", "--retries", "2", "--retry-delay", "0.01"])
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "cannot reach database" in text
    assert "try 1 of 3" in text
    assert "try 2 of 3" in text
    assert "try 3 of 3" not in text
    assert "secret-password" not in result.output


@pytest.mark.usefixtures("engine")  # migrated: on PostgreSQL only the owner migrates
def test_bad_data_is_not_retried_and_its_failure_is_recorded(store_url: str, tmp_path: Path) -> None:
    """A batch missing its required extracts fails at once (exit 2) and shows in `tfident runs` with why."""
    empty = tmp_path / "2026-10-31"
    empty.mkdir()
    args = ["run", "--extracts", str(empty), "--as-of", "2026-10-31", "--db", store_url, "--no-prefect"]
    result = CliRunner().invoke(app, [*args, "--retries", "3", "--retry-delay", "30"])
    assert result.exit_code == 2, result.output
    assert "trying again" not in result.output
    (failed,) = runs_json(store_url)
    assert failed["status"] == "failed"
    assert str(failed["run_id"]).startswith("F20261031-")
    assert str(failed["error"]).startswith("bad input (exit 2): ")
    listing = CliRunner().invoke(app, ["runs", "--db", store_url])
    assert "Why runs failed" in listing.output
    assert str(failed["run_id"]) in listing.output


def test_a_held_month_lock_is_retried_and_recorded_as_an_environment_fault(store_url: str, sample_batch: Path) -> None:
    """Another run holding the month: retried, then exit 3, recorded with the holder named."""
    from tfident.store import acquire_month_lock, init_db, make_engine

    engine = make_engine(store_url)
    init_db(engine)
    try:
        with acquire_month_lock(engine, "2026-10", "R-holder"):
            args = ["run", "--extracts", str(sample_batch), "--as-of", "2026-10-31", "--db", store_url]
            result = CliRunner().invoke(app, [*args, "--no-prefect", "--retries", "1", "--retry-delay", "0.01"])
    finally:
        engine.dispose()
    assert result.exit_code == 3, result.output
    assert "try 1 of 2" in " ".join(result.output.split())
    (failed,) = runs_json(store_url)
    assert str(failed["error"]).startswith("environment (exit 3)")
    assert "R-holder" in str(failed["error"])


def test_retry_transient_backs_off_and_gives_up_on_anything_else() -> None:
    """Waits double each time; a non-transient error is raised on the first try."""
    waits: list[float] = []
    calls = iter([DatabaseUnavailable("down"), RunLocked("held", month="2026-10"), "done"])

    def flaky() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert retry_transient(flaky, 3, 5.0, sleep=waits.append) == "done"
    assert waits == [5.0, 10.0]
    tries: list[int] = []

    def bad() -> None:
        tries.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        retry_transient(bad, 5, 0.0, sleep=waits.append)
    assert tries == [1]


def test_a_run_stopped_by_sigterm_is_recorded_as_failed_and_resumable(tmp_path: Path) -> None:
    """`systemctl stop` mid-run: exit 3, the run recorded failed (not left running), and `--resume` finishes it."""
    from tfident.synth import synthesise

    batch = tmp_path / "batch"
    # 300 households: after "link ..." the run has the link stage and every later one left, seconds of work,
    # ample for a SIGTERM sent at once to arrive before it ends (the resume below runs them in-process)
    synthesise(households=300, seed=5, as_of=__import__("datetime").date(2026, 10, 31), out=batch)
    url = f"sqlite:///{tmp_path / 't.db'}"
    tfident = str(Path(sys.executable).with_name("tfident"))
    process = subprocess.Popen(
        [tfident, "run", "--extracts", str(batch), "--as-of", "2026-10-31", "--db", url, "--no-prefect"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for line in process.stderr:  # stop it once a stage after ingest has started
        if "link ..." in line or time.monotonic() > deadline:
            break
    process.terminate()
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 3, err
    (failed,) = runs_json(url)
    assert failed["status"] == "failed"
    assert "stopped by SIGTERM" in str(failed["error"])
    assert "--resume" in str(failed["error"])
    resumed = CliRunner().invoke(app, ["run", "--resume", str(failed["run_id"]), "--db", url])
    assert resumed.exit_code == 0, resumed.output
    assert [r["status"] for r in runs_json(url)] == ["published"]


def test_a_failed_and_a_warned_run_are_notified_to_a_local_receiver(
    tmp_path: Path, sample_batch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain webhook channel hears of a refused batch (exit 2) and of a run published with quarantined rows,
    with counts and reasons only.
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bodies: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("TFIDENT_NOTIFY_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    url = f"sqlite:///{tmp_path / 't.db'}"
    try:
        empty = tmp_path / "empty"
        empty.mkdir()
        failed = CliRunner().invoke(app, ["run", "--extracts", str(empty), "--as-of", "2026-10-31", "--db", url])
        assert failed.exit_code == 2, failed.output
        batch = tmp_path / "batch"
        shutil.copytree(sample_batch, batch)
        census = batch / "school_census.csv"
        lines = census.read_text().splitlines()
        census.write_text("\n".join([*lines, lines[-1]]) + "\n")  # a duplicate record id: quarantined
        warned = CliRunner().invoke(
            app, ["run", "--extracts", str(batch), "--as-of", "2026-10-31", "--db", url, "--no-prefect"]
        )
        assert warned.exit_code == 0, warned.output
        assert "warning:" in warned.output
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    kinds = [body["kind"] for body in bodies]
    assert kinds == ["failed", "warning"], bodies  # "published" is not in the default `on:` list
    assert bodies[0]["exit_code"] == 2
    assert str(bodies[0]["message"]).startswith("bad input (exit 2)")
    assert "school_census: 1 of" in str(bodies[1]["message"])
    assert bodies[1]["counts"]["candidates"] > 0  # type: ignore[index]


def test_a_broken_notifications_file_stops_the_run_before_it_starts(tmp_path: Path, sample_batch: Path) -> None:
    """A misspelt key in the council's notifications.yaml is exit 2 naming it, not a warning after the run."""
    council = tmp_path / "config"
    council.mkdir()
    (council / "notifications.yaml").write_text("on: [failed]\nwebhok: {url: 'https://hooks.example/x'}\n")
    url = f"sqlite:///{tmp_path / 't.db'}"
    args = ["--config", str(council), "run", "--extracts", str(sample_batch), "--as-of", "2026-10-31", "--db", url]
    result = CliRunner().invoke(app, [*args, "--no-prefect"])
    assert result.exit_code == 2, result.output
    assert "notifications.yaml" in result.output
    assert "webhok" in result.output
    assert [r["status"] for r in runs_json(url)] == ["failed"]
