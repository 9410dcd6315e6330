"""The Spark benchmark's own logic (``benchmarks.spark``): which process is which JVM, the
comparison with DuckDB's output, the memory sampler. No Spark is started: the benchmark's
``--quick`` run (every backend on 2,000 records) takes minutes on two cores, most of it
starting JVMs; ``make test-cluster`` starts the same cluster (``benchmarks.spark_cluster``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from benchmarks import spark as sb

DRIVER, MASTER, WORKER = 100, 200, 300
DAEMONS = {MASTER: "master", WORKER: "worker0"}


@pytest.mark.parametrize(
    ("pid", "cmdline", "expected"),
    [
        (DRIVER, "/venv/bin/python -c from multiprocessing.spawn import spawn_main", "driver_python"),
        (MASTER, "/usr/bin/java -cp /x/jars/* org.apache.spark.deploy.master.Master --host 127.0.0.1", "master"),
        (WORKER, "/usr/bin/java -cp /x/jars/* org.apache.spark.deploy.worker.Worker spark://127.0.0.1:1", "worker"),
        (
            400,
            "/usr/bin/java -Xmx4096M -cp /x/jars/* org.apache.spark.executor.CoarseGrainedExecutorBackend --driver-url",
            "executor",
        ),
        (500, "/usr/bin/java -Xmx6g -cp /x/jars/* org.apache.spark.deploy.SparkSubmit pyspark-shell", "driver_jvm"),
        (
            600,
            "/usr/bin/java -Xmx128m -cp /x/jars/* org.apache.spark.launcher.Main org.apache.spark.deploy.SparkSubmit",
            None,
        ),
        (700, "/bin/bash /x/bin/spark-submit pyspark-shell", None),
    ],
)
def test_each_process_gets_its_role(pid: int, cmdline: str, expected: str | None) -> None:
    assert sb.role(pid, cmdline, DRIVER, DAEMONS) == expected


def _write(folder: Path, name: str, persons: list[str], links: list[tuple[str, str, str, float]]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"index": str(folder / f"{name}_index.parquet"), "links": str(folder / f"{name}_links.parquet")}
    pl.DataFrame({"record_key": ["a", "b", "c"], "person_id": persons}).write_parquet(paths["index"])
    frame = pl.DataFrame(
        links, schema=["record_key_l", "record_key_r", "match_rule", "match_probability"], orient="row"
    ).with_columns(pl.lit("{}").alias("match_weights_json"))
    frame.write_parquet(paths["links"])
    return paths


LINKS = [("a", "b", "splink", 0.99), ("b", "c", "splink", 0.5)]


@pytest.mark.parametrize(
    ("persons", "links", "expected"),
    [
        (["p1", "p1", "p2"], LINKS, {"same_persons": True, "same_links": True, "same_probabilities": True}),
        (["p1", "p2", "p2"], LINKS, {"same_persons": False, "same_links": True, "same_probabilities": True}),
        (
            ["p1", "p1", "p2"],
            [LINKS[0], ("b", "c", "splink", 0.5 + 1e-6)],
            {"same_persons": True, "same_links": True, "same_probabilities": False},
        ),
        (
            ["p1", "p1", "p2"],
            [LINKS[0], ("a", "c", "splink", 0.5)],
            {"same_persons": True, "same_links": False, "links_only_here": 1, "links_only_in_duckdb": 1},
        ),
    ],
)
def test_a_backend_is_compared_with_duckdbs_persons_links_and_probabilities(
    tmp_path: Path, persons: list[str], links: list[tuple[str, str, str, float]], expected: dict[str, object]
) -> None:
    duckdb = _write(tmp_path, "duckdb", ["p1", "p1", "p2"], LINKS)
    other = _write(tmp_path, "spark", persons, links)
    result = sb.compare(other, duckdb)
    assert {key: result[key] for key in expected} == expected


def test_the_sampler_records_the_driver_process_peak() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(64 * 2**20); time.sleep(30)"])
    try:
        sampler = sb.Sampler(child.pid, {}, interval=0.05).start()
        deadline = time.monotonic() + 20
        while sampler.peaks.get(child.pid, ("", 0))[1] < 64 * 1024 and time.monotonic() < deadline:
            time.sleep(0.05)  # until the child holds its 64 MiB
        memory = sampler.stop()
    finally:
        child.kill()
        child.wait()
    (driver,) = memory["peak_mib"]["driver_python"]
    assert driver > 64
    assert memory["jvm_peak_mib_sum"] == 0
    assert memory["all_rss_peak_mib"] > 64
    assert memory["samples"] > 0


def test_the_clusters_executors_get_the_memory_set_and_local_spark_its_driver() -> None:
    memory = sb.Memory(local_driver="6g", cluster_driver="3g", executor="4g", max_result="8g")
    local, cluster = sb.spark_settings("local", memory, 4), sb.spark_settings("cluster", memory, 4)
    assert local["spark.driver.memory"] == "6g"
    assert "spark.executor.memory" not in local  # local[2]'s executors are threads of the driver
    assert (cluster["spark.driver.memory"], cluster["spark.executor.memory"]) == ("3g", "4g")
    assert cluster["spark.cores.max"] == str(sb.WORKERS)
    assert local["spark.driver.maxResultSize"] == cluster["spark.driver.maxResultSize"] == "8g"
