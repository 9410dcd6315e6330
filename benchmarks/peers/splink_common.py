"""What both Splink peers do after training: predict, cluster, read the results back, and count comparisons."""

from __future__ import annotations

import time
from typing import Any

import polars as pl
from splink import Linker
from splink.backends.duckdb import DuckDBAPI
from splink.blocking_analysis import cumulative_comparisons_to_be_scored_from_blocking_rules_data


def predict_and_cluster(
    linker: Linker, started: float, trained: float, predict_threshold: float, cluster_threshold: float
) -> dict[str, Any]:
    """Predict at ``predict_threshold``, cluster at ``cluster_threshold``; the worker's result, with the pairs at or
    above the cluster threshold and training timed apart from prediction (``started``, ``trained``: perf_counter).
    """
    predictions = linker.inference.predict(threshold_match_probability=predict_threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, cluster_threshold)
    pairs = pl.from_arrow(
        predictions.as_duckdbpyrelation()
        .filter(f"match_probability >= {cluster_threshold}")
        .select("unique_id_l, unique_id_r")
        .fetch_arrow_table()
    ).rename({"unique_id_l": "record_key_l", "unique_id_r": "record_key_r"})
    frame = pl.from_arrow(clusters.as_duckdbpyrelation().select("unique_id, cluster_id").fetch_arrow_table()).rename(
        {"unique_id": "record_key", "cluster_id": "cluster"}
    )
    assert isinstance(frame, pl.DataFrame)
    assert isinstance(pairs, pl.DataFrame)
    extra = {
        "pairs_predicted": pairs.height,
        "train_seconds": round(trained - started, 3),
        "predict_seconds": round(time.perf_counter() - trained, 3),
    }
    return {"kind": "clusters", "frame": frame, "pairs_frame": pairs, "extra": extra}


def comparisons_scored(tables: Any, rules: list[Any], link_type: str) -> int:
    """Comparisons the prediction blocking rules generate (Splink's own count, duplicates across rules removed)."""
    counts = cumulative_comparisons_to_be_scored_from_blocking_rules_data(
        table_or_tables=tables,
        blocking_rules=rules,
        link_type=link_type,
        db_api=DuckDBAPI(),
        unique_id_column_name="unique_id",
    )
    return int(counts["row_count"].sum())
