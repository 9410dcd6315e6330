"""A Spark standalone master and workers on loopback, started with the pyspark package's own launcher.

``pyspark/bin/spark-class`` runs the master and each worker in the foreground (as
``sbin/start-master.sh`` / ``start-worker.sh`` do, without daemonizing): separate JVMs,
as on a real cluster, whose executors are JVMs again, started by the workers. Used by
``tests/cluster/test_spark_standalone.py`` (``make test-cluster``) and by the Spark
benchmark (:mod:`benchmarks.spark`), so both start the cluster the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 60.0
QUICK_JVM = "-XX:TieredStopAtLevel=1"
"""The JVMs' quick (C1) compiler only: a test's few seconds of queries never pay back the optimising one."""


class ClusterStartError(RuntimeError):
    """The standalone cluster did not start (no Java, a daemon exited, or too few workers came up)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
    """The installed pyspark package's folder, which is a Spark distribution (``bin``, ``jars``)."""
    import pyspark

    return Path(pyspark.__file__).parent


def spark_class() -> Path:
    """The ``spark-class`` launcher of the installed pyspark package (its ``bin``)."""
    launcher = spark_home() / "bin" / "spark-class"
    if not launcher.exists():
        raise ClusterStartError(f"pyspark ships no launcher at {launcher}")
    return launcher


def alive_workers(ui_port: int) -> int:
    """Workers the master at web UI ``ui_port`` reports ALIVE (0 while it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            state = json.load(response)
    except OSError:
        return 0
    return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE")


@dataclass
class StandaloneCluster:
    """A running master and its workers: the master URL, and each daemon's process by name."""

    url: str
    ui_port: int
    folder: Path
    daemons: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        """Each daemon's process id (``master``, ``worker0``, ...): the JVM itself, since spark-class ``exec``s it."""
        return {name: daemon.pid for name, daemon in self.daemons.items()}

    def logs(self, tail: int = 2000) -> str:
        """The last ``tail`` characters of each daemon's log."""
        return "\n".join(p.read_text(errors="replace")[-tail:] for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        """Stop every daemon (their executors end with them)."""
        for daemon in self.daemons.values():
            daemon.terminate()
        for daemon in self.daemons.values():
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def start_cluster(
    folder: Path,
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    daemon_java_opts: str = QUICK_JVM,
    timeout: float = START_TIMEOUT,
) -> StandaloneCluster:
    """Start a master and ``workers`` workers (``cores`` cores and ``memory`` for executors each) on
    127.0.0.1, logs and work folders under ``folder``; return once every worker is ALIVE.

    ``daemon_java_opts`` go to the master's and workers' own JVMs (``SPARK_DAEMON_JAVA_OPTS``), not
    to the executors (``spark.executor.extraJavaOptions`` of the application does that).
    Raises :class:`ClusterStartError` (with the daemons' logs) if they do not come up in ``timeout`` s.
    """
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ClusterStartError("Spark needs Java 17 or newer (java on PATH or JAVA_HOME)")
    folder.mkdir(parents=True, exist_ok=True)
    port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_NO_DAEMONIZE": "1",
        "SPARK_DAEMON_JAVA_OPTS": daemon_java_opts,
    }
    cluster = StandaloneCluster(f"spark://127.0.0.1:{port}", ui_port, folder)

    def start(name: str, *args: str) -> None:
        with (folder / f"{name}.log").open("wb") as log:  # the daemon keeps its own descriptor
            cluster.daemons[name] = subprocess.Popen(
                [str(spark_class()), *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    try:
        master = ("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port))
        start("master", *master, "--webui-port", str(ui_port))
        for i in range(workers):
            work = folder / f"worker{i}"
            work.mkdir(exist_ok=True)
            start(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                cluster.url,
                "--host",
                "127.0.0.1",
                "--cores",
                str(cores),
                "--memory",
                memory,
                "--work-dir",
                str(work),
                "--webui-port",
                str(free_port()),
            )
        deadline = time.monotonic() + timeout
        while alive_workers(ui_port) < workers:
            if time.monotonic() > deadline or any(d.poll() is not None for d in cluster.daemons.values()):
                raise ClusterStartError(
                    f"the standalone cluster did not start with {workers} workers:\n{cluster.logs()}"
                )
            time.sleep(0.5)
    except BaseException:
        cluster.stop()
        raise
    return cluster
