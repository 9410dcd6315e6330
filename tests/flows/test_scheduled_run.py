"""The served deployments against a real Prefect server: the scheduler starts the monthly run.

One Prefect server (``prefect server start`` on a free local port, its own PREFECT_HOME
and SQLite database, scheduler loops shortened) and one serving process
(``python -m tfident.flows.deployment --interval 10``) for the module. Nobody starts a
flow run by hand: the server's scheduler creates the runs and the served runner picks
them up. Every process is stopped at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prefect")

import httpx

from tfident.store import list_runs, make_engine, read_candidates
from tfident.synth import synthesise

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BATCH_DATE = date(2026, 10, 31)
BAD_DATE = date(2026, 11, 30)
DEPLOYMENT = "scheduled-test"
INTERVAL_SECONDS = 10
WAIT_SECONDS = 150
LOOKBACK_SECONDS = 10
"""Prefect's causal-ordering wait, shortened from its fixed 15 minutes (see prefect_server_short_lookback.py)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # its own process group, so that stopping it stops every process it started
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Receiver:
    """A local HTTP endpoint that records what is posted to it."""

    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Served:
    api: str
    inbox: Path
    db_url: str
    logs: list[Path]
    receiver: Receiver
    started: float

    def flow_runs(self, flow_name: str = "tfident-monthly-run") -> list[dict[str, Any]]:
        body = {
            "flows": {"name": {"any_": [flow_name]}},
            "deployments": {"name": {"any_": [DEPLOYMENT]}},
            "sort": "EXPECTED_START_TIME_ASC",
        }
        response = httpx.post(f"{self.api}/flow_runs/filter", json=body, timeout=10)
        response.raise_for_status()
        return list(response.json())

    def wait_for(self, what: str, found: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = found()
            if result:
                return result
            time.sleep(1)
        logs = "\n\n".join(f"--- {log.name}\n{_tail(log)}" for log in self.logs)
        runs = [(r["state_type"], r["auto_scheduled"]) for r in self.flow_runs() if r["state_type"] != "SCHEDULED"]
        pytest.fail(f"no {what} within {seconds:.0f} s; flow runs {runs}\n{logs}")


def _receiver() -> tuple[ThreadingHTTPServer, Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            receiver.posts.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/notify"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, receiver


def _batch(inbox: Path, as_of: date) -> Path:
    folder = inbox / as_of.isoformat()
    synthesise(households=60, seed=3, as_of=as_of, out=folder)
    shutil.rmtree(folder / "truth")
    (folder / "READY").touch()
    return folder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A Prefect server and the served tfident deployments, with one synthetic batch in the inbox."""
    tmp = tmp_path_factory.mktemp("prefect")
    inbox = tmp / "inbox"
    _batch(inbox, BATCH_DATE)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "TFIDENT_DATABASE_URL", "TFIDENT_INBOX", "TFIDENT_PREFECT_"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    server_env = {
        **env,
        "PREFECT_HOME": str(tmp / "server-home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "true",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    }
    db_url = f"sqlite:///{tmp / 'tfident.db'}"
    serve_env = {
        **env,
        "PREFECT_HOME": str(tmp / "client-home"),
        "PREFECT_API_URL": api,
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "TFIDENT_DATABASE_URL": db_url,
        "TFIDENT_CHECKPOINT_DIR": str(tmp / "checkpoints"),
    }
    http_server, receiver = _receiver()
    server_log, serve_log = tmp / "server.log", tmp / "serve.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            _start(
                [
                    sys.executable,
                    str(Path(__file__).with_name("prefect_server_short_lookback.py")),
                    str(LOOKBACK_SECONDS),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                server_env,
                server_log,
            )
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or processes[0].poll() is not None:
                pytest.fail(f"the Prefect server did not start:\n{_tail(server_log)}")
            time.sleep(0.5)
        started = time.monotonic()
        processes.append(
            _start(
                [
                    sys.executable,
                    "-m",
                    "tfident.flows.deployment",
                    "--inbox",
                    str(inbox),
                    "--name",
                    DEPLOYMENT,
                    "--interval",
                    str(INTERVAL_SECONDS),
                    "--retries",
                    "0",
                    "--notify-url",
                    receiver.url,
                ],
                serve_env,
                serve_log,
            )
        )
        yield Served(api, inbox, db_url, [server_log, serve_log], receiver, started)
    finally:
        for process in reversed(processes):
            _stop(process)
        http_server.shutdown()
        http_server.server_close()


def test_the_scheduler_runs_the_inbox_batch(served: Served) -> None:
    """A flow run the scheduler created (auto-scheduled, no one started it) completes and publishes the batch."""

    def completed() -> dict[str, Any] | None:
        runs = [r for r in served.flow_runs() if r["state_type"] == "COMPLETED"]
        return runs[0] if runs else None

    run = served.wait_for("completed scheduled flow run", completed)
    took = time.monotonic() - served.started
    print(f"first scheduled run completed {took:.0f} s after serving started")
    assert run["auto_scheduled"] is True
    assert run["deployment_id"] is not None
    assert run["parameters"]["inbox"] == str(served.inbox.resolve())
    assert "db" not in run["parameters"]  # no database URL (a secret) among the parameters

    engine = make_engine(served.db_url)
    try:
        runs = list_runs(engine, statuses=["published"])
        assert runs["as_of"].to_list() == [BATCH_DATE]
        assert runs["candidates"][0] > 0
        households = read_candidates(engine, runs["run_id"][0])["household_id"].to_list()
    finally:
        engine.dispose()

    # the run's summary artifact holds counts, not household ids
    response = httpx.post(
        f"{served.api}/artifacts/filter", json={"artifacts": {"key": {"any_": ["tfident-monthly-run-summary"]}}}
    )
    response.raise_for_status()
    summaries = [a["data"] for a in response.json() if a["flow_run_id"] == run["id"]]
    assert summaries
    assert "Candidates:" in summaries[0]
    assert not [h for h in households if h in summaries[0]]


def test_a_failed_run_is_notified_through_prefect(served: Served) -> None:
    """A batch folder with an extract missing fails its scheduled run; the automation posts to the webhook
    (after Prefect's causal-ordering wait, 15 minutes on a real server, shortened here).
    """
    served.wait_for(
        "completed run of the good batch", lambda: any(r["state_type"] == "COMPLETED" for r in served.flow_runs())
    )
    bad = _batch(served.inbox, BAD_DATE)
    (bad / "school_census.csv").unlink()

    failed = served.wait_for(
        "failed scheduled flow run", lambda: [r for r in served.flow_runs() if r["state_type"] == "FAILED"]
    )
    assert failed[0]["auto_scheduled"] is True
    posts = served.wait_for("notification", lambda: served.receiver.posts, seconds=90)
    assert posts[0]["subject"] == "tfident run failed"
    assert failed[0]["name"] in posts[0]["body"]
    assert "Failed" in posts[0]["body"]
