"""``backend: spark`` on a Spark standalone cluster gives DuckDB's links (``make test-cluster``).

The test starts a Spark master and two workers on loopback with the pyspark package's
own launcher (``spark-class``, as ``sbin/start-master.sh`` / ``start-worker.sh`` do), then
runs the pipeline's linkage stage with ``spark_master: spark://127.0.0.1:PORT``: the
executors are separate JVMs started by the workers, as on a real cluster, not threads of
the driver as with ``local[N]``. The checkpoint folder is a local folder, which every
executor reaches because they all run on this machine; a real cluster needs a folder
every executor host reaches (``hdfs://...``; docs/spark.md).

The session is given a Python that does not exist (``PYSPARK_PYTHON``): tfident's
Spark backend registers SQL functions only, which Spark runs in the JVM, so linkage must
not need Python (nor tfident) on the executors. If it ever starts a Python worker on an
executor (a Python UDF, an RDD ``map``), this test fails, and docs/spark.md must say what
executors then need.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyspark
import pytest

from tests.synthetic_records import synthetic_records
from tfident.link import LinkageConfig, load_linkage_config
from tfident.link.backends.spark import spark_session, stop_spark
from tfident.pipeline import link_stage

pytestmark = pytest.mark.cluster

AS_OF = date(2026, 10, 31)
WORKERS = 2
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_class() -> Path:
    """The ``spark-class`` launcher of the installed pyspark package (its ``bin``)."""
    launcher = Path(pyspark.__file__).parent / "bin" / "spark-class"
    assert launcher.exists(), f"pyspark ships no launcher at {launcher}"
    return launcher


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            state = json.load(response)
    except OSError:
        return 0
    return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE")


@pytest.fixture(scope="module")
def master_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A standalone master and two workers (one core, 1 GB each) on 127.0.0.1; stopped afterwards."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Spark needs Java 17 or newer (java on PATH or JAVA_HOME)")
    folder = tmp_path_factory.mktemp("spark-standalone")
    port, ui_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_NO_DAEMONIZE": "1",
        # the JVMs' quick (C1) compiler only: a test's few seconds of queries never pay back the optimising one
        "SPARK_DAEMON_JAVA_OPTS": "-XX:TieredStopAtLevel=1",
    }
    daemons: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        with (folder / f"{name}.log").open("wb") as log:  # the daemon keeps its own descriptor
            daemons.append(
                subprocess.Popen(
                    [str(_spark_class()), *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    url = f"spark://127.0.0.1:{port}"
    try:
        master = ("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port))
        start("master", *master, "--webui-port", str(ui_port))
        for i in range(WORKERS):
            work = folder / f"worker{i}"
            work.mkdir()
            start(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                url,
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "1g",
                "--work-dir",
                str(work),
                "--webui-port",
                str(_free_port()),
            )
        deadline = time.monotonic() + START_TIMEOUT
        while _alive_workers(ui_port) < WORKERS:
            if time.monotonic() > deadline or any(d.poll() is not None for d in daemons):
                logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(folder.glob("*.log")))
                pytest.fail(f"the standalone cluster did not start with {WORKERS} workers:\n{logs}")
            time.sleep(0.5)
        yield url
    finally:
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()


@pytest.fixture(scope="module")
def records() -> pl.DataFrame:
    """The standardised, address-matched person records of a 60-household synthetic batch."""
    return synthetic_records(60, 23, AS_OF)[1]


@pytest.fixture(scope="module")
def cluster_config(master_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinkageConfig]:
    """The committed configuration with ``backend: spark`` on the standalone cluster."""
    quick = "-XX:TieredStopAtLevel=1"
    settings = {
        # the driver listens on loopback, where the executors reach it
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.executor.cores": "1",
        "spark.executor.memory": "512m",
        "spark.cores.max": str(WORKERS),
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4",
        "spark.driver.extraJavaOptions": quick,
        "spark.executor.extraJavaOptions": quick,
    }
    config = load_linkage_config().model_copy(
        update={
            "backend": "spark",
            "spark_master": master_url,
            "spark_config": settings,
            "spark_checkpoint_dir": str(tmp_path_factory.mktemp("checkpoints")),
        }
    )
    stop_spark()  # a session of another test module would be reused as it is
    with pytest.MonkeyPatch.context() as patch:
        # the Python every Python worker would run (PySpark reads it when the session starts):
        # none exists, so none may start (see the module docstring)
        patch.setenv("PYSPARK_PYTHON", "/nonexistent/python3")
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # the driver's JVM: loopback, as the cluster's
        try:
            yield config
        finally:
            stop_spark()


def test_a_standalone_cluster_links_as_duckdb_does(records: pl.DataFrame, cluster_config: LinkageConfig) -> None:
    index_duckdb, links_duckdb, *_ = link_stage(records, load_linkage_config())
    index_spark, links_spark, *_ = link_stage(records, cluster_config)

    session = spark_session(cluster_config)
    assert session.sparkContext.master == cluster_config.spark_master
    executors = session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1  # less the driver
    assert executors == WORKERS  # the work ran on the workers' executors
    assert index_duckdb["person_id"].n_unique() < records.height - 30  # the batch does link
    assert index_spark.equals(index_duckdb)
    keys = ["record_key_l", "record_key_r", "match_rule"]
    assert links_duckdb.filter(pl.col("match_rule") == "splink").height > 20
    assert links_spark.select(keys).equals(links_duckdb.select(keys))
    difference = (links_spark["match_probability"] - links_duckdb["match_probability"]).abs().max()
    assert isinstance(difference, float)
    assert difference <= 1e-9
    # each linkage's scratch folder under the shared checkpoint folder is deleted afterwards
    assert list(Path(cluster_config.spark_checkpoint_dir).iterdir()) == []
    # and the executors really have no Python: anything that needs a Python worker fails there
    with pytest.raises(Exception, match="nonexistent"):
        session.sparkContext.parallelize([1, 2], 2).map(lambda x: x + 1).collect()
