"""Compare the candidate lists of two runs: families added, dropped and re-ranked.

Families are matched by their stable ``household_id``, so two versions of a month (or
two months) can be compared. :func:`diff_runs` is pure: it takes two candidate frames
(as :func:`tfident.store.read_candidates` returns them; ``household_id``, ``rank`` and
``criteria_met`` are needed) and returns frames, sorted for a stable display:

* ``added``: in B, not in A (by B's rank);
* ``dropped``: in A, not in B (by A's rank);
* ``reranked``: in both, with a different rank or different criteria met (by B's rank),
  with ``old_rank``, ``new_rank``, ``rank_change`` (positive: moved up the list),
  ``old_criteria``, ``new_criteria``, ``criteria_added`` and ``criteria_removed``
  (criterion names joined by ``;``).

No names or addresses are in any of the frames: household ids, ranks, scores and
criterion names only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from tfident.errors import StoreError

REQUIRED_COLUMNS: tuple[str, ...] = ("household_id", "rank", "criteria_met")
ADDED_COLUMNS: tuple[str, ...] = ("household_id", "rank", "score", "criteria_met")
DROPPED_COLUMNS: tuple[str, ...] = ADDED_COLUMNS
RERANKED_COLUMNS: tuple[str, ...] = (
    "household_id",
    "old_rank",
    "new_rank",
    "rank_change",
    "old_criteria",
    "new_criteria",
    "criteria_added",
    "criteria_removed",
)


@dataclass(frozen=True)
class RunDiff:
    """What changed between the candidates of run A and run B."""

    added: pl.DataFrame
    dropped: pl.DataFrame
    reranked: pl.DataFrame
    unchanged: int
    """Families in both runs with the same rank and criteria."""

    def counts(self) -> dict[str, int]:
        """How many families are in each part."""
        return {
            "added": self.added.height,
            "dropped": self.dropped.height,
            "reranked": self.reranked.height,
            "unchanged": self.unchanged,
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the counts and every row of each part."""
        return {
            "counts": self.counts(),
            "added": self.added.to_dicts(),
            "dropped": self.dropped.to_dicts(),
            "reranked": self.reranked.to_dicts(),
        }


def _normalised(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise StoreError(f"cannot compare runs: the candidates of {name} lack column(s) {missing}")
    if frame["household_id"].is_duplicated().any():
        raise StoreError(f"cannot compare runs: the candidates of {name} list a household more than once")
    score = pl.col("score").cast(pl.Float64) if "score" in frame.columns else pl.lit(None, dtype=pl.Float64)
    return frame.select(
        pl.col("household_id").cast(pl.String),
        pl.col("rank").cast(pl.Int64),
        score.alias("score"),
        pl.col("criteria_met").cast(pl.String).fill_null(""),
    )


def _criteria_set(column: str) -> pl.Expr:
    return pl.col(column).str.split(";").list.eval(pl.element().filter(pl.element() != "")).list.unique().list.sort()


def diff_runs(candidates_a: pl.DataFrame, candidates_b: pl.DataFrame) -> RunDiff:
    """Families added to, dropped from and re-ranked in B's candidates compared with A's."""
    a = _normalised(candidates_a, "run A")
    b = _normalised(candidates_b, "run B")
    added = b.join(a.select("household_id"), on="household_id", how="anti").sort("rank", "household_id")
    dropped = a.join(b.select("household_id"), on="household_id", how="anti").sort("rank", "household_id")
    both = a.join(b, on="household_id", how="inner", suffix="_new").select(
        "household_id",
        pl.col("rank").alias("old_rank"),
        pl.col("rank_new").alias("new_rank"),
        (pl.col("rank") - pl.col("rank_new")).alias("rank_change"),
        _criteria_set("criteria_met").alias("old_set"),
        _criteria_set("criteria_met_new").alias("new_set"),
    )
    both = both.with_columns(
        pl.col("old_set").list.join(";").alias("old_criteria"),
        pl.col("new_set").list.join(";").alias("new_criteria"),
        pl.col("new_set").list.set_difference(pl.col("old_set")).list.sort().list.join(";").alias("criteria_added"),
        pl.col("old_set").list.set_difference(pl.col("new_set")).list.sort().list.join(";").alias("criteria_removed"),
    )
    changed = (pl.col("rank_change") != 0) | (pl.col("old_criteria") != pl.col("new_criteria"))
    reranked = both.filter(changed).sort("new_rank", "household_id").select(RERANKED_COLUMNS)
    return RunDiff(
        added=added.select(ADDED_COLUMNS),
        dropped=dropped.select(DROPPED_COLUMNS),
        reranked=reranked,
        unchanged=both.height - reranked.height,
    )
