"""Prediction: Splink scores the blocked pairs of profiles with the frozen model, and each
pair's score is split into per-comparison weights (the waterfall ``tfident explain`` and
the review app show).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from tfident.link.backends import as_table, database, is_spark, linker, quiet_splink, to_polars
from tfident.link.blocking import blocking_rules_setting
from tfident.link.comparisons import COMPARISONS, comparisons_for_dialect
from tfident.link.config import LinkageConfig
from tfident.link.profiles import splink_input


def prediction_settings(
    model: dict[str, Any], config: LinkageConfig, frame: pl.DataFrame | None = None
) -> dict[str, Any]:
    """The model's Splink settings with the configuration's blocking rules, for its backend.

    The rules are capped on ``frame``, the profiles to score (``tfident.link.blocking``).
    """
    settings = dict(model["settings"])
    settings["comparisons"] = comparisons_for_dialect(model, config.backend)
    settings["sql_dialect"] = config.backend
    settings["blocking_rules_to_generate_predictions"] = blocking_rules_setting(config, frame)
    settings["retain_intermediate_calculation_columns"] = True
    # Splink keeps each comparison's level (gamma_<c>) only with the matching columns: the
    # run stores the levels with the weights, for `tfident explain`
    settings["retain_matching_columns"] = True
    settings["linker_uid"] = "tfident"
    return settings


def predict(
    profiles: pl.DataFrame, tf: dict[str, pl.DataFrame], model: dict[str, Any], config: LinkageConfig
) -> pl.DataFrame:
    """Score the blocked pairs of profiles: ``pid_l, pid_r, match_weight, match_probability``,
    ``gamma_<c>`` and ``mw_<c>`` (the field's match weight) per comparison; pairs at or
    above the uncertain threshold only.
    """
    frame = splink_input(profiles)
    if frame.height < 2:
        return empty_scores()
    settings = prediction_settings(model, config, frame)
    threshold = config.thresholds.uncertain
    with quiet_splink(), database(config) as db_api:
        scorer = linker(frame, settings, db_api, tf)
        if is_spark(db_api):
            # Spark would push the threshold's filter below the comparison levels, inlining
            # every level (each Jaro-Winkler) into it many times over: filter the stored scores
            result = scorer.inference.predict()
            scored = to_polars(result, min_probability=threshold)
        else:
            result = scorer.inference.predict(threshold_match_probability=threshold)
            scored = to_polars(result)
    return field_weights(scored).sort("pid_l", "pid_r")


def compare_records(
    left: pl.DataFrame, right: pl.DataFrame, tf: dict[str, pl.DataFrame], model: dict[str, Any], config: LinkageConfig
) -> pl.DataFrame:
    """Score one profile row against another with the model, whatever the blocking rules say."""
    both = pl.concat([splink_input(left), splink_input(right)])
    settings = prediction_settings(model, config)
    with quiet_splink(), database(config) as db_api:
        scorer = linker(both, settings, db_api, tf)
        result = scorer.inference.compare_two_records(
            as_table(splink_input(left), db_api), as_table(splink_input(right), db_api)
        )
        scored = to_polars(result)
    return field_weights(scored)


def empty_scores() -> pl.DataFrame:
    """The scored-pairs frame with no rows."""
    schema: dict[str, pl.DataType] = {
        "pid_l": pl.Int64(),
        "pid_r": pl.Int64(),
        "match_weight": pl.Float64(),
        "match_probability": pl.Float64(),
    }
    for name in COMPARISONS:
        schema[f"gamma_{name}"] = pl.Int32()
        schema[f"mw_{name}"] = pl.Float64()
    return pl.DataFrame(schema=schema)


def field_weights(scored: pl.DataFrame) -> pl.DataFrame:
    """``pid_l, pid_r, match_weight, match_probability, gamma_<c>, mw_<c>`` from Splink's output
    (``mw_<c>`` = log2 of the Bayes factor times its term-frequency adjustment).
    """
    columns: list[pl.Expr] = [
        pl.col("pid_l").cast(pl.Int64),
        pl.col("pid_r").cast(pl.Int64),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
    ]
    for name in COMPARISONS:
        weight = pl.col(f"bf_{name}").cast(pl.Float64).log(2)
        if f"bf_tf_adj_{name}" in scored.columns:
            weight = weight + pl.col(f"bf_tf_adj_{name}").cast(pl.Float64).log(2)
        gamma = pl.col(f"gamma_{name}") if f"gamma_{name}" in scored.columns else pl.lit(None)
        columns += [gamma.cast(pl.Int32).alias(f"gamma_{name}"), weight.alias(f"mw_{name}")]
    return scored.select(columns)


def without_identifiers(identifiers: Sequence[str]) -> pl.Expr:
    """A scored pair's match weight less the weights of the ``identifiers`` comparisons
    (the prior and every other field): how strong the pair is without them.
    """
    total = pl.col("match_weight")
    for name in identifiers:
        total = total - pl.col(f"mw_{name}").fill_null(0.0)
    return total


def weights_json(scores: pl.DataFrame, prior: float) -> pl.Expr:
    """The ``match_weights_json`` expression over a scored-pairs frame: the prior, each
    comparison's weight, the total and the probability, and ``levels``: each comparison's
    level (its comparison vector value, -1 for the null level), so ``tfident explain`` can
    show what the run computed.
    """
    fields = [pl.lit(round(prior, 4)).alias("prior")]
    fields += [pl.col(f"mw_{name}").round(4).alias(name) for name in COMPARISONS]
    fields += [
        pl.col("match_weight").round(4).alias("total"),
        pl.col("match_probability").round(6).alias("probability"),
        pl.struct([pl.col(f"gamma_{name}").alias(name) for name in COMPARISONS]).alias("levels"),
    ]
    return pl.struct(fields).struct.json_encode()
