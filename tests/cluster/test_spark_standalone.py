"""``backend: spark`` on a Spark standalone cluster gives DuckDB's links (``make test-cluster``).

The test starts a Spark master and two workers on loopback with the pyspark package's
own launcher (``spark-class``, as ``sbin/start-master.sh`` / ``start-worker.sh`` do;
:mod:`benchmarks.spark_cluster`, which the Spark benchmark starts its cluster with too), then
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

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyspark  # noqa: F401 - the `spark` extra must be installed (make install syncs every extra)
import pytest

from benchmarks.spark_cluster import QUICK_JVM, ClusterStartError, start_cluster
from tests.synthetic_records import synthetic_records
from tfident.link import LinkageConfig, load_linkage_config
from tfident.link.backends.spark import spark_session, stop_spark
from tfident.pipeline import link_stage

pytestmark = pytest.mark.cluster

AS_OF = date(2026, 10, 31)
WORKERS = 2


@pytest.fixture(scope="module")
def master_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A standalone master and two workers (one core, 1 GB each) on 127.0.0.1; stopped afterwards."""
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("spark-standalone"), workers=WORKERS, cores=1, memory="1g")
    except ClusterStartError as error:
        pytest.fail(str(error))
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def records() -> pl.DataFrame:
    """The standardised, address-matched person records of a 60-household synthetic batch."""
    return synthetic_records(60, 23, AS_OF)[1]


@pytest.fixture(scope="module")
def cluster_config(master_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinkageConfig]:
    """The committed configuration with ``backend: spark`` on the standalone cluster."""
    quick = QUICK_JVM
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
