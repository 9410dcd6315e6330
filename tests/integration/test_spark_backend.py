"""``backend: spark`` gives the same persons and links as DuckDB on the same synthetic batch.

One local Spark session (``local[2]``) serves the module and is stopped at the end.
PySpark is imported plainly: CI installs every extra, so a missing PySpark must fail
here, not skip.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyspark  # noqa: F401 - the `spark` extra must be installed (make install syncs every extra)
import pytest

from tests.synthetic_records import synthetic_records
from tfident.link import LinkageConfig, link_persons, load_linkage_config
from tfident.link.backends.spark import spark_session, stop_spark, to_polars, to_spark
from tfident.link.explanation import explain_pair

AS_OF = date(2026, 10, 31)
TOLERANCE = 1e-9

Linked = tuple[pl.DataFrame, pl.DataFrame]


@pytest.fixture(scope="module")
def duckdb_config() -> LinkageConfig:
    return load_linkage_config()


@pytest.fixture(scope="module")
def spark_config(duckdb_config: LinkageConfig) -> Iterator[LinkageConfig]:
    """The committed configuration with ``backend: spark`` on ``local[2]``; its session is stopped afterwards."""
    # the JVM's quick (C1) compiler only: a test's few seconds of queries never pay back the
    # optimising one (results are the same: Java's floating point is strict)
    quick = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"}
    config = duckdb_config.model_copy(update={"backend": "spark", "spark_master": "local[2]", "spark_config": quick})
    session = spark_session(config)
    assert session.sparkContext.master == "local[2]"
    try:
        yield config
    finally:
        stop_spark()


@pytest.fixture(scope="module")
def records() -> pl.DataFrame:
    """The standardised, address-matched person records of a 150-household synthetic batch."""
    return synthetic_records(150, 11, AS_OF)[1]


@pytest.fixture(scope="module")
def on_duckdb(records: pl.DataFrame, duckdb_config: LinkageConfig) -> Linked:
    return link_persons(records, duckdb_config)


@pytest.fixture(scope="module")
def on_spark(records: pl.DataFrame, spark_config: LinkageConfig) -> Linked:
    return link_persons(records, spark_config)


def test_spark_jaro_winkler_is_duckdbs_to_the_bit(records: pl.DataFrame, spark_config: LinkageConfig) -> None:
    """Tfident's Spark SQL Jaro-Winkler equals DuckDB's ``jaro_winkler_similarity`` exactly, on every
    pair of the batch's names and on strings made to stress the matching window and transpositions.
    """
    import duckdb

    from tfident.link.backends.spark import (
        JARO_WINKLER,
        JARO_WINKLER_AT_LEAST,
        JARO_WINKLER_AT_LEAST_SQL,
        JARO_WINKLER_SQL,
        to_polars,
        to_spark,
    )

    names = (
        pl.concat([records["forename_std"].str.split(" ").list.first(), records["surname_std"]])
        .drop_nulls()
        .unique()
        .sort()
    )
    rng = random.Random(5)
    made = ["".join(rng.choice("ABCA") for _ in range(rng.randint(1, 12))) for _ in range(60)]
    words = pl.Series("a", [*names.head(80).to_list(), *made, "A", "AB", "BA", "ABCDEFGHIJKLMNOP"])
    pairs = words.to_frame().join(words.to_frame(), how="cross", suffix="_r").rename({"a_r": "b"})
    pairs = pl.concat([pairs, pl.DataFrame({"a": ["", "", "A"], "b": ["", "A", None]})]).unique()
    levels = (0.92, 0.85, 0.7)
    on_duckdb = duckdb.sql("select a, b, jaro_winkler_similarity(a, b) as jw from pairs").pl()
    on_duckdb = on_duckdb.with_columns(*(pl.col("jw").ge(t).alias(f"at_{t}") for t in levels))
    session = spark_session(spark_config)
    session.sql(JARO_WINKLER_SQL)
    session.sql(JARO_WINKLER_AT_LEAST_SQL)
    to_spark(pairs, session).createOrReplaceTempView("tfident_test_pairs")
    at_least = ", ".join(f"{JARO_WINKLER_AT_LEAST}(a, b, {t}) as `at_{t}`" for t in levels)
    on_spark = to_polars(session.sql(f"select a, b, {JARO_WINKLER}(a, b) as jw, {at_least} from tfident_test_pairs"))
    assert on_spark.height == on_duckdb.height > 10_000
    both = on_duckdb.join(on_spark, on=["a", "b"], how="full", nulls_equal=True, suffix="_spark")
    for column in ["jw", *(f"at_{t}" for t in levels)]:
        assert both.filter(pl.col(column).ne_missing(pl.col(f"{column}_spark"))).is_empty(), column
    assert both.filter(pl.col("b").is_null())["jw_spark"].to_list() == [None]
    assert both["at_0.85"].sum() > 100  # the levels are reached, not only missed


def test_spark_links_the_same_persons_as_duckdb(records: pl.DataFrame, on_duckdb: Linked, on_spark: Linked) -> None:
    index_duckdb, _ = on_duckdb
    index_spark, _ = on_spark
    assert index_duckdb["person_id"].n_unique() < records.height - 100  # the batch does link
    assert index_spark.equals(index_duckdb)  # the same clusters, hence the same person ids


def test_spark_gives_the_same_links_and_probabilities(on_duckdb: Linked, on_spark: Linked) -> None:
    _, links_duckdb = on_duckdb
    _, links_spark = on_spark
    assert links_duckdb.filter(pl.col("match_rule") == "splink").height > 50
    assert set(links_duckdb["match_rule"]) >= {"splink", "identical", "uncertain"}
    keys = ["record_key_l", "record_key_r", "match_rule"]
    assert links_spark.select(keys).equals(links_duckdb.select(keys))  # the same pairs, each in the same band
    difference = (links_spark["match_probability"] - links_duckdb["match_probability"]).abs().max()
    assert isinstance(difference, float)
    assert difference <= TOLERANCE
    for ours, theirs in zip(links_spark["match_weights_json"], links_duckdb["match_weights_json"], strict=True):
        a, b = json.loads(ours), json.loads(theirs)
        assert a.keys() == b.keys()
        assert all(_close(a[k], b[k]) for k in a)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1.5e-4  # the JSON's weights are rounded to 4 places
    return bool(a == b)


def test_spark_explains_a_pair_as_duckdb_does(
    records: pl.DataFrame, on_duckdb: Linked, duckdb_config: LinkageConfig, spark_config: LinkageConfig
) -> None:
    _, links = on_duckdb
    pair = links.filter(pl.col("match_rule") == "splink").sort("match_probability").row(0, named=True)
    a, b = pair["record_key_l"], pair["record_key_r"]
    duckdb_steps = explain_pair(records, a, b, duckdb_config)
    spark_steps = explain_pair(records, a, b, spark_config)
    assert abs(spark_steps.probability - duckdb_steps.probability) <= TOLERANCE
    assert [(s.field, s.level) for s in spark_steps.steps] == [(s.field, s.level) for s in duckdb_steps.steps]
    assert [s.weight for s in spark_steps.steps] == pytest.approx([s.weight for s in duckdb_steps.steps], abs=1e-9)


def test_spark_leaves_no_splink_tables_behind(on_spark: Linked, spark_config: LinkageConfig) -> None:
    session = spark_session(spark_config)
    assert [t.name for t in session.catalog.listTables() if t.name.startswith("__splink__")] == []
    checkpoint = session.sparkContext.getCheckpointDir()  # the last linkage's scratch folder, deleted
    assert checkpoint is not None
    assert checkpoint.startswith("file:")
    assert not Path(checkpoint.removeprefix("file:")).parent.exists()


def _spark_pairs(session: Any, frame: pl.DataFrame, sql: str) -> set[tuple[int, int]]:
    to_spark(frame, session).createOrReplaceTempView("capped_profiles")  # as the backend sends profiles
    pairs = to_polars(
        session.sql(
            "SELECT l.pid AS a, r.pid AS b FROM capped_profiles AS l JOIN capped_profiles AS r"
            f" ON l.pid < r.pid AND {sql}"
        )
    )
    return {(int(a), int(b)) for a, b in pairs.iter_rows()}


def test_spark_skips_thousands_of_crowded_keys_as_duckdb_does(spark_config: LinkageConfig) -> None:
    """A capped rule with thousands of crowded values (a national batch's common full names) runs on
    Spark and skips exactly what DuckDB skips: the exclusion is one flat ``IN`` list (a chain of ORs
    overflowed the executors' stacks at 3M records), for text, date and integer keys.
    """
    import duckdb

    from tfident.link import BlockingRule
    from tfident.link.blocking import blocking_rule_sql

    n = 2_000  # groups of three profiles over the cap of 2, then a pair under it
    frame = pl.DataFrame(
        {
            "pid": list(range(3 * n + 2)),
            "surname_std": [f"S{i // 3}" for i in range(3 * n)] + ["LONE", "LONE"],
            "date_of_birth": [date(2000 + i // 3 % 20, 1 + i // 3 % 12, 1) for i in range(3 * n)]
            + [date(2010, 1, 2)] * 2,
            "uprn_matched": [i // 3 for i in range(3 * n)] + [10, 10],
        }
    )
    session = spark_session(spark_config)
    con = duckdb.connect()
    con.register("capped_profiles", frame.to_arrow())
    for keys in (("surname_std",), ("surname_std", "uprn_matched"), ("surname_std", "date_of_birth", "uprn_matched")):
        rule = BlockingRule(name="r", block_on=keys, max_block=2)
        (sql,) = blocking_rule_sql(LinkageConfig(version="test", blocking_rules=(rule,)), frame)
        on_duckdb = {
            (int(a), int(b))
            for a, b in con.execute(
                f"SELECT l.pid, r.pid FROM capped_profiles AS l JOIN capped_profiles AS r ON l.pid < r.pid AND {sql}"
            ).fetchall()
        }
        assert on_duckdb == {(3 * n, 3 * n + 1)}
        assert _spark_pairs(session, frame, sql) == on_duckdb, keys
