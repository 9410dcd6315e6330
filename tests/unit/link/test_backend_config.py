"""The ``backend`` keys of ``config/linkage.yaml`` and moving a model across backends (no Spark started)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tfident.config import config_hash
from tfident.errors import ConfigError
from tfident.link import LinkageConfig, load_linkage_config
from tfident.link.comparisons import comparisons_for_dialect
from tfident.link.prediction import prediction_settings

BASE = 'version: "1"\nblocking_rules:\n  - {name: dob, block_on: [date_of_birth]}\n'


def _load(tmp_path: Path, extra: str) -> LinkageConfig:
    path = tmp_path / "linkage.yaml"
    path.write_text(BASE + extra)
    return load_linkage_config(path, with_model=False)


def test_spark_keys_default_and_load(tmp_path: Path) -> None:
    config = _load(tmp_path, "backend: spark\n")
    assert config.spark_master == "local[2]"
    assert config.spark_config == {}
    assert config.spark_local
    config = _load(
        tmp_path,
        "backend: spark\nspark_master: local[*]\nspark_config:\n  spark.driver.memory: 4g\n"
        "  spark.sql.shuffle.partitions: 8\n  spark.sql.adaptive.enabled: false\n",
    )
    assert config.spark_config == {
        "spark.driver.memory": "4g",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.adaptive.enabled": "false",
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("backend: spark\nspark_master: sc://host:15002\n", "Spark Connect"),
        ("backend: spark\nspark_master: lokal[2]\n", "spark_master"),
        ("backend: spark\nspark_config: {driver.memory: 4g}\n", "spark_config"),
        ("backend: spark\nspark_master: spark://host:7077\n", "spark_checkpoint_dir"),
        ("backend: sparkle\n", "backend"),
    ],
)
def test_bad_spark_keys_are_named(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, extra)


def test_a_cluster_master_with_a_checkpoint_dir_loads(tmp_path: Path) -> None:
    config = _load(tmp_path, "backend: spark\nspark_master: spark://host:7077\nspark_checkpoint_dir: hdfs:///tmp/tf\n")
    assert not config.spark_local


def test_spark_connection_keys_are_not_hashed(tmp_path: Path) -> None:
    plain = _load(tmp_path, "backend: spark\n")
    tuned = _load(
        tmp_path,
        "backend: spark\nspark_master: local[1]\nspark_config: {spark.driver.memory: 2g}\nspark_checkpoint_dir: /x\n",
    )
    assert config_hash({"linkage": plain}) == config_hash({"linkage": tuned})
    assert config_hash({"linkage": plain}) != config_hash({"linkage": _load(tmp_path, "backend: duckdb\n")})
    assert "spark_config" not in tuned.model_dump()  # a setting may hold a credential: never stored with a run


def test_the_model_moves_to_spark_and_back() -> None:
    config = load_linkage_config()
    model = config.model_data
    assert model["settings"]["sql_dialect"] == "duckdb"
    spark = comparisons_for_dialect(model, "spark")
    sql = [level["sql_condition"] for c in spark for level in c["comparison_levels"]]
    # DuckDB's Jaro-Winkler, not the function of Splink's jar
    assert "tfident_jaro_winkler_at_least(`forename_first_l`, `forename_first_r`, 0.92)" in sql
    assert not any(s.startswith("jaro_winkler(") for s in sql)
    assert any("ARRAY_INTERSECT" in s for s in sql)
    assert not any('"' in s or "list_intersect" in s or "jaro_winkler_similarity" in s for s in sql)

    # everything but the SQL is the model's own
    def without_sql(cs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        return [[{k: v for k, v in lv.items() if k != "sql_condition"} for lv in c["comparison_levels"]] for c in cs]

    assert without_sql(spark) == without_sql(model["settings"]["comparisons"])
    trained_on_spark = {"settings": {**model["settings"], "sql_dialect": "spark", "comparisons": spark}}
    assert comparisons_for_dialect(trained_on_spark, "duckdb") == model["settings"]["comparisons"]
    assert comparisons_for_dialect(model, "duckdb") is model["settings"]["comparisons"]
    spark_config = config.model_copy(update={"backend": "spark"})
    settings = prediction_settings(model, spark_config)
    assert settings["comparisons"] == spark
    assert {r["sql_dialect"] for r in settings["blocking_rules_to_generate_predictions"]} == {"spark"}


def test_a_model_with_foreign_sql_does_not_move() -> None:
    model = copy.deepcopy(load_linkage_config().model_data)
    model["settings"]["comparisons"][0]["comparison_levels"][4]["sql_condition"] = "levenshtein(a_l, a_r) <= 1"
    with pytest.raises(ConfigError, match=r"backend: spark.*'forename'.*retrain"):
        comparisons_for_dialect(model, "spark")


def test_spark_levels_call_the_functions_the_spark_backend_registers() -> None:
    """On Spark every Jaro-Winkler level calls tfident's registered SQL function by name (rendered
    by the level itself, for the dialect), never Splink's ``jaro_winkler``; on DuckDB, DuckDB's own.
    """
    from tfident.link.backends.spark import JARO_WINKLER_AT_LEAST, JARO_WINKLER_AT_LEAST_SQL
    from tfident.link.comparisons import comparison_dicts

    assert f"FUNCTION {JARO_WINKLER_AT_LEAST}(" in JARO_WINKLER_AT_LEAST_SQL
    spark = [level["sql_condition"] for c in comparison_dicts("spark") for level in c["comparison_levels"]]
    duckdb = [level["sql_condition"] for c in comparison_dicts("duckdb") for level in c["comparison_levels"]]
    calls = [s for s in spark if "jaro" in s.lower()]
    assert len(calls) == 8  # forename 3, surname 3, address 2
    assert all(s.count(f"{JARO_WINKLER_AT_LEAST}(") == s.lower().count("jaro") for s in calls)
    assert (
        f"{JARO_WINKLER_AT_LEAST}(forename_first_l, surname_std_r, 0.9)"
        f" AND {JARO_WINKLER_AT_LEAST}(surname_std_l, forename_first_r, 0.9)"
    ) in spark
    assert 'jaro_winkler_similarity("surname_std_l", "surname_std_r") >= 0.85' in duckdb
    assert sum(s.count("jaro_winkler_similarity(") for s in duckdb) == sum(s.count("jaro") for s in spark)
