"""The Splink database backends: DuckDB (in process, the default) and Spark.

``database(config)`` opens the backend ``config.backend`` names for the calls inside;
``linker`` builds a ``splink.Linker`` on it with the batch's term frequencies;
``as_table`` and ``to_polars`` move frames in and out. Everything else in
``tfident.link`` is the same on both backends: the comparisons render their SQL for
either dialect (``tfident.link.comparisons``), and the Spark backend registers the SQL
functions those comparisons call on Spark (``tfident.link.backends.spark``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from tfident.link.config import LinkageConfig


@contextmanager
def quiet_splink(level: int = logging.WARNING) -> Iterator[None]:
    """Splink's own logging below ``level`` and its user warnings silenced, for the calls inside."""
    loggers = [logging.getLogger(name) for name in ("splink", "duckdb", "py4j")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"splink(\.|$)")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"splink(\.|$)")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"splink(\.|$)")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def database(config: LinkageConfig) -> Iterator[Any]:
    """The Splink database API of ``config.backend`` for the calls inside.

    DuckDB: a new in-memory database (``tfident.link.backends.duckdb``), closed on the way
    out: Splink's linker holds it in reference cycles, which kept its tables (some 600 MiB
    at a million records) in memory until the next garbage collection. Spark: the
    process's Spark session with tfident's SQL functions registered and a scratch folder
    for Splink's intermediate tables, deleted on the way out
    (``tfident.link.backends.spark.spark_api``).
    """
    if config.backend == "spark":
        from tfident.link.backends.spark import spark_api

        with spark_api(config) as db_api:
            yield db_api
        return
    from tfident.link.backends.duckdb import duckdb_api

    db_api = duckdb_api()
    try:
        yield db_api
    finally:
        db_api._con.close()


def is_spark(db_api: Any) -> bool:
    """Whether ``db_api`` (a Splink database API) is Spark's."""
    return bool(db_api.sql_dialect.sql_dialect_str == "spark")


def as_table(frame: pl.DataFrame, db_api: Any) -> Any:
    """``frame`` as an input table of ``db_api`` (DuckDB: Arrow; Spark: a Spark DataFrame)."""
    if is_spark(db_api):
        from tfident.link.backends.spark import to_spark

        return to_spark(frame, db_api.spark)
    return frame.to_arrow()


def to_polars(splink_frame: Any, min_probability: float | None = None) -> pl.DataFrame:
    """A Splink result frame of scored pairs as polars, with the columns
    :func:`tfident.link.prediction.field_weights` reads (:func:`scored_columns`).

    ``min_probability`` (Spark only): the rows whose ``match_probability`` reaches it.
    """
    if is_spark(splink_frame.db_api):
        from tfident.link.backends.spark import scored_frame

        return scored_frame(splink_frame, scored_columns, min_probability)
    from tfident.link.backends.duckdb import scored_frame as duckdb_scored_frame

    return duckdb_scored_frame(splink_frame, scored_columns)


def scored_columns(columns: Sequence[str]) -> list[str]:
    """The columns of Splink's scored pairs that :func:`tfident.link.prediction.field_weights`
    reads: the matching columns (each pair's names, dates, addresses), which Splink keeps
    only so that the levels (``gamma_<c>``) come with them, are left in the database.
    """
    keep = ("pid_l", "pid_r", "match_weight", "match_probability")
    return [c for c in columns if c in keep or c.startswith(("gamma_", "bf_"))]


def comparison_vectors(scorer: Any, narrow_ids: bool = False) -> pl.DataFrame:
    """Splink's comparison vectors of every blocked pair: ``pid_l, pid_r`` and ``gamma_<c>`` (Int8), nothing else.

    The same blocking and comparison-vector SQL as ``scorer.inference.predict()`` (Splink's
    own functions, in the same order), without the prediction step: ``predict`` keeps every
    matching column (names, dates, addresses of both records) to retain the levels, which
    for all the blocked pairs of a large batch (some 20 million at a million records) is
    far more than memory holds. On DuckDB the query streams straight into polars (no table
    of the blocked pairs or of their vectors is materialised); on Spark the vectors are a
    table read back through Arrow. Only plain SQL blocking rules (no exploding rules).
    ``narrow_ids``: every unique id fits a 32-bit integer, and the ids come back as ``Int32``.
    """
    from splink.internals.blocking import block_using_rules_sqls
    from splink.internals.comparison_vector_values import compute_comparison_vector_values_from_id_pairs_sqls
    from splink.internals.pipeline import CTEPipeline
    from splink.internals.vertically_concatenate import compute_df_concat_with_tf

    settings = scorer._settings_obj
    info = settings.column_info_settings
    db_api = scorer._db_api
    concat = compute_df_concat_with_tf(scorer, CTEPipeline())
    pipeline = CTEPipeline([concat])
    pipeline.enqueue_list_of_sqls(
        block_using_rules_sqls(
            input_tablename_l="__splink__df_concat_with_tf",
            input_tablename_r="__splink__df_concat_with_tf",
            blocking_rules=settings._blocking_rules_to_generate_predictions,
            link_type=settings._link_type,
            source_dataset_input_column=info.source_dataset_input_column,
            unique_id_input_column=info.unique_id_input_column,
        )
    )
    comparisons = settings.core_model_settings.comparisons
    ids = list(info.unique_id_input_column.names_l_r)
    columns = [*ids, *(c._case_statement for c in comparisons), "match_key"]
    pipeline.enqueue_list_of_sqls(
        compute_comparison_vector_values_from_id_pairs_sqls(
            settings._columns_to_select_for_blocking,
            columns,
            input_tablename_l="__splink__df_concat_with_tf",
            input_tablename_r="__splink__df_concat_with_tf",
            source_dataset_input_column=info.source_dataset_input_column,
            unique_id_input_column=info.unique_id_input_column,
            link_type=settings._link_type,
            sql_dialect_str=scorer._sql_dialect_str,
        )
    )
    gammas = ", ".join(f"CAST({c._gamma_column_name} AS TINYINT) AS {c._gamma_column_name}" for c in comparisons)
    # with narrow_ids, the ids as 32-bit integers: the vectors are the link stage's largest result (18.8
    # million rows at a million records), and 8 bytes less a row took 146 MiB off the blocking query's peak
    id_type = "INTEGER" if narrow_ids else "BIGINT"
    id_columns = ", ".join(f"CAST({c} AS {id_type}) AS {c}" for c in ids)
    pipeline.enqueue_sql(
        f"select {id_columns}, {gammas} from __splink__df_comparison_vectors", "__tfident_comparison_vectors"
    )
    if is_spark(db_api):
        from tfident.link.backends.spark import scored_frame

        vectors = db_api.sql_pipeline_to_splink_dataframe(pipeline)
        return scored_frame(vectors, scored_columns)
    return db_api._execute_sql_against_backend(pipeline.generate_cte_pipeline_sql()).pl()


def linker(frame: pl.DataFrame, settings: Any, db_api: Any, tf: dict[str, pl.DataFrame]) -> Any:
    """A ``splink.Linker`` over ``frame`` on ``db_api``, with the term-frequency lookups ``tf``."""
    from splink import Linker

    # validate_settings only logs (settings whose columns are missing): the settings are the model's and
    # the frame is splink_input's, and its SQL parsing cost 1.5 s of CPU per run (quiet_splink hid its logs)
    result = Linker(
        as_table(frame, db_api), settings, db_api=db_api, set_up_basic_logging=False, validate_settings=False
    )
    for name, table in tf.items():
        # overwrite: a Spark session outlives one linker, and the model's linker_uid is fixed
        result.table_management.register_term_frequency_lookup(as_table(table, db_api), name, overwrite=True)
    return result
