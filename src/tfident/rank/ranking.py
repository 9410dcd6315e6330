"""Rank eligible households: most criteria first, then severity, then ``household_id``.

``config/ranking.yaml`` holds the weights and unit costs (``RankingConfig``). The score
is transparent on purpose (domain-research 11.2: "avoid opaque risk scores"):

``score`` = sum over the criteria met of ``criterion_weights[c]``
          + sum over (rule, person) pairs that fired of ``rule_weights[rule]``
            (a permanent exclusion of two children counts twice)
          + ``per_evidence_record`` x min(evidence records, ``evidence_cap``)
          + ``must_include_bonus`` when the household is ``must_include``
          + ``per_member`` x ``n_members``

rounded to 6 decimals so that float summation order never changes the ranking.

``estimated_annual_cost`` = ``cost.base`` + sum over the criteria met of
``cost.per_criterion[c]`` (``cost.default_per_criterion`` for criteria not listed)
+ ``cost.per_member`` x ``n_members``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import Field

from tfident.config import StrictModel, load_model
from tfident.criteria import NON_CRITERION_COLUMNS


class SeverityWeights(StrictModel):
    """The weights of the severity score (see the module notes)."""

    criterion_weights: dict[str, float] = Field(default_factory=dict)
    default_criterion_weight: float = 1.0
    rule_weights: dict[str, float] = Field(default_factory=dict)
    default_rule_weight: float = 1.0
    per_evidence_record: float = Field(0.1, ge=0)
    evidence_cap: int = Field(20, ge=0)
    must_include_bonus: float = 0.0
    per_member: float = 0.0


class CostModel(StrictModel):
    """Unit costs (pounds a year) behind ``estimated_annual_cost``."""

    base: float = Field(0.0, ge=0)
    per_criterion: dict[str, float] = Field(default_factory=dict)
    default_per_criterion: float = Field(0.0, ge=0)
    per_member: float = Field(0.0, ge=0)


class RankingConfig(StrictModel):
    """``config/ranking.yaml``: how candidates are scored, ordered and costed."""

    version: str
    description: str = ""
    severity: SeverityWeights = Field(default_factory=SeverityWeights)  # type: ignore[arg-type]
    cost: CostModel = Field(default_factory=CostModel)  # type: ignore[arg-type]


CANDIDATE_SCHEMA: dict[str, pl.DataType] = {
    "household_id": pl.String(),
    "rank": pl.Int64(),
    "score": pl.Float64(),
    "criteria_met": pl.String(),
    "eligibility": pl.String(),
    "estimated_annual_cost": pl.Float64(),
}
"""The columns of ``candidates``, in order."""


def load_ranking_config(path: str | Path) -> RankingConfig:
    """Load ``config/ranking.yaml`` (or another path); one ``ConfigError`` naming the file and key."""
    return load_model(Path(path), RankingConfig)


def rank_candidates(
    household_criteria: pl.DataFrame,
    evidence: pl.DataFrame,
    households: pl.DataFrame,
    config: RankingConfig,
) -> pl.DataFrame:
    """Eligible households, best first: columns of :data:`CANDIDATE_SCHEMA`.

    Ordered by the number of criteria met (descending), then ``score`` (descending),
    then ``household_id`` (ascending); ``rank`` is 1..n in that order. The criterion
    columns are those of ``household_criteria`` besides ``household_id``, ``n_national``,
    ``eligible`` and ``eligibility``, in their column (pack) order.
    """
    criteria = [c for c in household_criteria.columns if c not in NON_CRITERION_COLUMNS]
    eligible = household_criteria.filter(pl.col("eligible").fill_null(False))
    if eligible.height == 0:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    sev, cost = config.severity, config.cost
    ids = eligible.select("household_id")

    evidence = evidence.join(ids, on="household_id", how="semi")
    rule_weight = pl.col("rule_id").replace_strict(
        sev.rule_weights, default=sev.default_rule_weight, return_dtype=pl.Float64
    )
    rule_part = (
        evidence.select("household_id", "rule_id", "person_id")
        .unique()
        .group_by("household_id")
        .agg(rule_weight.sum().alias("_rules"))
    )
    records = evidence.select("household_id", "source", "record_id").unique().group_by("household_id").len("_records")
    members = households.select(
        pl.col("household_id").cast(pl.String), pl.col("n_members").cast(pl.Float64).alias("_members")
    ).unique(subset="household_id", keep="first", maintain_order=True)

    def met(c: str) -> pl.Expr:
        return pl.col(c).fill_null(False).cast(pl.Float64)

    criterion_part = (
        pl.sum_horizontal([met(c) * sev.criterion_weights.get(c, sev.default_criterion_weight) for c in criteria])
        if criteria
        else pl.lit(0.0)
    )
    cost_part = (
        pl.sum_horizontal([met(c) * cost.per_criterion.get(c, cost.default_per_criterion) for c in criteria])
        if criteria
        else pl.lit(0.0)
    )
    n_met = pl.sum_horizontal([pl.col(c).fill_null(False).cast(pl.Int64) for c in criteria]) if criteria else pl.lit(0)
    criteria_met = (
        pl.concat_str(
            [pl.when(pl.col(c).fill_null(False)).then(pl.lit(c)) for c in criteria], separator=";", ignore_nulls=True
        )
        if criteria
        else pl.lit("")
    )

    scored = (
        eligible.join(rule_part, on="household_id", how="left")
        .join(records, on="household_id", how="left")
        .join(members, on="household_id", how="left")
        .with_columns(
            pl.col("_rules").fill_null(0.0),
            pl.col("_records").fill_null(0).cast(pl.Int64),
            pl.col("_members").fill_null(0.0),
        )
        .with_columns(
            n_met.cast(pl.Int64).alias("_n_met"),
            (
                criterion_part
                + pl.col("_rules")
                + sev.per_evidence_record
                * pl.min_horizontal(pl.col("_records"), pl.lit(sev.evidence_cap)).cast(pl.Float64)
                + pl.when(pl.col("eligibility") == "must_include").then(sev.must_include_bonus).otherwise(0.0)
                + sev.per_member * pl.col("_members")
            )
            .round(6)
            .alias("score"),
            criteria_met.alias("criteria_met"),
            (cost.base + cost_part + cost.per_member * pl.col("_members")).round(2).alias("estimated_annual_cost"),
        )
        .sort(["_n_met", "score", "household_id"], descending=[True, True, False])
        .with_row_index("rank", offset=1)
    )
    return scored.select(
        pl.col("household_id").cast(pl.String),
        pl.col("rank").cast(pl.Int64),
        pl.col("score").cast(pl.Float64),
        pl.col("criteria_met").cast(pl.String),
        pl.col("eligibility").cast(pl.String),
        pl.col("estimated_annual_cost").cast(pl.Float64),
    )
