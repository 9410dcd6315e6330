"""Splink's Spark backend (``backend: spark`` in ``config/linkage.yaml``).

The Spark session is started once per process, from ``spark_master`` and
``spark_config``, and then reused (a session already running in the process is reused
as it is). Each linkage gets a scratch folder of its own for Splink's intermediate
tables (Spark checkpoints, Parquet), deleted with the Splink views when the linkage is
done: those tables hold personal data.

Jaro-Winkler is tfident's own SQL function (:data:`JARO_WINKLER_SQL`), DuckDB's
algorithm exactly, not the Java one of the jar Splink ships for Spark, which differs:
so Spark gives DuckDB's links, and needs no jar. :func:`spark_api` registers it (and
:data:`JARO_WINKLER_AT_LEAST`, which the comparisons call by name on Spark:
``tfident.link.comparisons``) in the session before Splink runs. Both are SQL functions
(``CREATE TEMPORARY FUNCTION ... RETURN``), which Spark inlines into each query plan:
executors run them in the JVM, so a cluster's executors need Java and Spark only, no
Python nor tfident (docs/spark.md).

Frames go to Spark through Arrow (polars -> pyarrow -> ``createDataFrame``), with the
types Spark reads natively (strings, string arrays, dates, integers, doubles), and come
back the same way (``toArrow``). PySpark is imported here only, so the DuckDB backend
never needs it.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from tfident.errors import ConfigError, LinkageError
from tfident.link.config import LinkageConfig

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

APP_NAME = "tfident-linkage"

JARO_WINKLER = "tfident_jaro_winkler"
"""tfident's Jaro-Winkler similarity on Spark (see :data:`JARO_WINKLER_SQL`), which
:data:`JARO_WINKLER_AT_LEAST` calls."""

JARO_WINKLER_SQL = f"""
CREATE OR REPLACE TEMPORARY FUNCTION {JARO_WINKLER}(a STRING, b STRING)
RETURNS DOUBLE
RETURN CASE
  WHEN a IS NULL OR b IS NULL THEN NULL
  WHEN length(a) = 0 OR length(b) = 0 THEN 0.0D
  ELSE element_at(transform(
    array(CAST(greatest(greatest(length(a), length(b)) div 2 - 1, 0) AS INT)),
    w -> aggregate(
      sequence(1, length(a)),
      CAST(array() AS ARRAY<INT>),
      (matched, i) -> IF(
        greatest(1, i - w) > least(length(b), i + w),
        matched,
        concat(matched, slice(filter(
          sequence(greatest(1, i - w), least(length(b), i + w)),
          j -> substr(b, j, 1) = substr(a, i, 1) AND NOT array_contains(matched, j)
        ), 1, 1))
      ),
      matched -> IF(size(matched) = 0, 0.0D, element_at(transform(
        array((
          CAST(size(matched) AS DOUBLE) / length(a)
          + CAST(size(matched) AS DOUBLE) / length(b)
          + CAST(size(matched) - aggregate(
              zip_with(matched, array_sort(matched), (p, q) -> substr(b, p, 1) != substr(b, q, 1)),
              0, (n, differs) -> n + IF(differs, 1, 0)
            ) div 2 AS DOUBLE) / size(matched)
        ) / 3.0D),
        jaro -> IF(jaro > 0.7D, jaro + CAST(coalesce(
          nullif(array_position(transform(
            sequence(1, least(4, length(a), length(b))), k -> substr(a, k, 1) = substr(b, k, 1)
          ), false), 0) - 1,
          least(4, length(a), length(b))
        ) AS DOUBLE) * 0.1D * (1.0D - jaro), jaro)
      ), 1))
    )
  ), 1)
END
"""
"""Jaro-Winkler similarity exactly as DuckDB's ``jaro_winkler_similarity`` computes it, which
the model was trained with: characters match greedily, each of ``a`` with the first free
equal character of ``b`` within ``max(len) / 2 - 1``; half the transpositions, rounded
down; the prefix (up to 4) boost above 0.7, with DuckDB's order of floating-point
operations (bit for bit the same on 500,000 pairs of names and made-up strings). The
similarity jar Splink ships for Spark (Apache commons-text) does not round the
transpositions down: on 200,000 pairs of synthetic names it disagreed with DuckDB on 2.3%,
two of them across the 0.85 level, so Spark would not give DuckDB's links with it."""


JARO_WINKLER_AT_LEAST = "tfident_jaro_winkler_at_least"
"""The Spark SQL function the Jaro-Winkler levels call: ``tfident_jaro_winkler(a, b) >= threshold``,
with cheap upper bounds first (see :data:`JARO_WINKLER_AT_LEAST_SQL`)."""

JARO_WINKLER_AT_LEAST_SQL = f"""
CREATE OR REPLACE TEMPORARY FUNCTION {JARO_WINKLER_AT_LEAST}(a STRING, b STRING, threshold DOUBLE)
RETURNS BOOLEAN
RETURN CASE
  WHEN a IS NULL OR b IS NULL THEN NULL
  WHEN length(a) = 0 OR length(b) = 0 THEN 0.0D >= threshold
  WHEN 0.6D * (
    (
      CAST(least(length(a) - length(translate(a, b, '')), length(b) - length(translate(b, a, ''))) AS DOUBLE)
        / length(a)
      + CAST(least(length(a) - length(translate(a, b, '')), length(b) - length(translate(b, a, ''))) AS DOUBLE)
        / length(b)
      + 1.0D
    ) / 3.0D
  ) + 0.4D < threshold - 1e-9 THEN false
  ELSE {JARO_WINKLER}(a, b) >= threshold
END
"""
"""Whether the Jaro-Winkler similarity of ``a`` and ``b`` reaches ``threshold``: exactly
``tfident_jaro_winkler(a, b) >= threshold``, but most pairs of different names are settled
by an upper bound first, in plain string functions. At most ``m`` characters match, ``m`` no
more than the characters of either string found anywhere in the other (``translate`` deletes
them); with no transpositions Jaro is then at most
``(m / len(a) + m / len(b) + 1) / 3``, and the prefix boost (at most 4 x 0.1) at most
``0.6 x that + 0.4``. A pair whose bound falls short of the threshold (by more than
floating-point error) cannot reach it."""


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ConfigError(
            "config/linkage.yaml: backend: spark needs PySpark: install tfident with its 'spark' extra"
            " (uv sync --extra spark, or pip install 'tfident[spark]'); Spark also needs Java 17 or newer"
        ) from None


def local_cores(master: str) -> int:
    """The cores a local master URL gives Spark (``local`` 1, ``local[N]`` N, ``local[*]`` all)."""
    found = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\d+)?\])?", master)
    if not found or found.group(1) is None:
        return 1
    return (os.cpu_count() or 1) if found.group(1) == "*" else int(found.group(1))


def spark_settings(config: LinkageConfig) -> dict[str, str]:
    """The settings of the session tfident starts: its defaults, then ``spark_config``."""
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if config.spark_master.startswith("local["):
        partitions = str(2 * local_cores(config.spark_master))
        settings["spark.sql.shuffle.partitions"] = partitions
        settings["spark.default.parallelism"] = partitions
    if config.spark_master == "local":
        settings["spark.sql.shuffle.partitions"] = settings["spark.default.parallelism"] = "2"
    if config.spark_local:
        settings["spark.ui.enabled"] = "false"
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.driver.host"] = "127.0.0.1"
    settings.update(config.spark_config)
    return settings


def spark_session(config: LinkageConfig) -> SparkSession:
    """The process's Spark session: the running one, or a new one from ``spark_master`` and ``spark_config``."""
    _require_pyspark()
    from pyspark.sql import SparkSession

    running = _running_session()
    if running is not None:
        log.debug("linkage reuses the running Spark session")
        return running
    builder: Any = SparkSession.builder.master(config.spark_master).appName(APP_NAME)
    for key, value in spark_settings(config).items():
        builder = builder.config(key, value)
    # a local master's driver listens on loopback only: Spark need not guess an interface
    loopback = config.spark_local and "SPARK_LOCAL_IP" not in os.environ
    if loopback:
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # read by the JVM getOrCreate launches
    try:
        session: SparkSession = builder.getOrCreate()
    except Exception as error:  # pyspark raises several kinds here (no Java, bad master...)
        raise LinkageError(
            f"config/linkage.yaml: could not start Spark with spark_master {config.spark_master!r}"
            f" (backend: spark needs Java 17 or newer on PATH or in JAVA_HOME): {error}"
        ) from None
    finally:
        if loopback:
            os.environ.pop("SPARK_LOCAL_IP", None)
    _quiet_jvm_logs(session)
    log.info("started Spark %s (master %s) for linkage", session.version, config.spark_master)
    return session


QUIET_JVM_LOGGERS: tuple[str, ...] = ("org.apache.spark.sql.execution.datasources.DataSource",)
"""Spark loggers set to ERROR: Splink's table names start with ``__``, which Spark warns it
would skip as hidden when listing a folder (it reads them all the same)."""


def _quiet_jvm_logs(session: SparkSession) -> None:
    try:
        jvm: Any = session.sparkContext._jvm
        level = jvm.org.apache.logging.log4j.Level.ERROR
        for name in QUIET_JVM_LOGGERS:
            jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)
    except Exception:  # pragma: no cover - another logging back end: the warnings stay
        log.debug("could not quieten Spark's logs", exc_info=True)


def _running_session() -> SparkSession | None:
    """The session active in this thread, else the process's default one, if it is alive."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)
    if session is None or session.sparkContext._jsc is None:
        return None
    return session


def stop_spark() -> None:
    """Stop the process's Spark session, if one is running (tests; long-lived processes)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:  # pragma: no cover - nothing can be running
        return
    session = _running_session()
    if session is not None:
        with _pyspark_sockets():
            session.stop()


@contextmanager
def spark_api(config: LinkageConfig) -> Iterator[Any]:
    """A Splink ``SparkAPI`` on the process's session, with a scratch folder for the calls inside.

    The scratch folder becomes the session's checkpoint folder; on the way out Splink's
    temporary views are dropped and the folder (its intermediate tables) is deleted.
    """
    session = spark_session(config)
    from splink.backends.spark import SparkAPI

    with _pyspark_sockets(), _scratch(session, config):
        try:
            # tfident's comparisons call no function of Splink's jar (see JARO_WINKLER_SQL)
            db_api = SparkAPI(spark_session=session, break_lineage_method="parquet", register_udfs_automatically=False)
            register_functions(session)
            yield db_api
        finally:
            _drop_splink_views(session)


def register_functions(session: SparkSession) -> None:
    """Register in ``session`` the SQL functions tfident's comparisons call on Spark
    (:data:`JARO_WINKLER`, :data:`JARO_WINKLER_AT_LEAST`).
    """
    session.sql(JARO_WINKLER_SQL)
    session.sql(JARO_WINKLER_AT_LEAST_SQL)


@contextmanager
def _pyspark_sockets() -> Iterator[None]:
    """PySpark leaves the local sockets it collects results through to the garbage collector
    (``pyspark.util._load_from_socket``), which warns of each (ResourceWarning): collect them
    here, silently, rather than at some later moment in unrelated code.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            yield
        finally:
            gc.collect()


@contextmanager
def _scratch(session: SparkSession, config: LinkageConfig) -> Iterator[str]:
    """A fresh checkpoint folder for Splink's intermediate tables, deleted afterwards."""
    if config.spark_checkpoint_dir:
        folder = f"{config.spark_checkpoint_dir.rstrip('/')}/tfident-{uuid.uuid4().hex}"
        local = None
    else:
        local = tempfile.mkdtemp(prefix="tfident-spark-")  # mode 0700: the owner's only
        folder = local
    session.sparkContext.setCheckpointDir(folder)
    try:
        yield folder
    finally:
        try:
            if local is not None:
                shutil.rmtree(local, ignore_errors=True)
            else:
                _delete_path(session, folder)
        except Exception:  # pragma: no cover - never hide the linkage's own error
            log.warning("could not delete Spark's scratch folder for linkage", exc_info=True)


def _delete_path(session: SparkSession, folder: str) -> None:
    """Delete ``folder`` (any Hadoop file system: file://, hdfs://, s3a://...) recursively."""
    jvm: Any = session.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    path.getFileSystem(session.sparkContext._jsc.hadoopConfiguration()).delete(path, True)


def _drop_splink_views(session: SparkSession) -> None:
    for table in session.catalog.listTables():
        if table.isTemporary and table.name.startswith("__splink__"):
            session.catalog.dropTempView(table.name)


def _arrow_type(dtype: pa.DataType) -> pa.DataType:
    """The Arrow type Spark reads for ``dtype`` (plain strings and lists, not large or view ones)."""
    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.string()
    if pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype) or pa.types.is_list(dtype):
        return pa.list_(_arrow_type(dtype.value_type))
    if pa.types.is_null(dtype):
        return pa.string()
    return dtype


def to_spark(frame: pl.DataFrame, session: SparkSession) -> SparkDataFrame:
    """``frame`` as a Spark DataFrame (through Arrow; nulls stay nulls, lists become arrays)."""
    table = frame.to_arrow()
    schema = pa.schema([pa.field(f.name, _arrow_type(f.type)) for f in table.schema])
    return session.createDataFrame(table.cast(schema))


def scored_frame(
    splink_frame: Any, columns: Callable[[Sequence[str]], list[str]], min_probability: float | None = None
) -> pl.DataFrame:
    """The ``columns(...)`` of a Splink result frame as polars; with ``min_probability``,
    the rows whose ``match_probability`` reaches it.
    """
    frame = splink_frame.as_spark_dataframe()
    if min_probability is not None:
        frame = frame.filter(frame["match_probability"] >= min_probability)
    return to_polars(frame.select(*columns(frame.columns)))


def to_polars(frame: SparkDataFrame) -> pl.DataFrame:
    """A Spark DataFrame as polars (through Arrow)."""
    with _pyspark_sockets():
        table = frame.toArrow()
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result
