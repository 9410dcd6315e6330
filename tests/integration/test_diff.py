"""Comparing two runs: families added, dropped and re-ranked, as a pure function and as `tfident diff`."""

from __future__ import annotations

import json

import polars as pl
import pytest
from sqlalchemy.engine import Engine
from test_store import OCTOBER, SEPTEMBER, run_record, sample_frames
from typer.testing import CliRunner

from tfident.cli import app
from tfident.errors import StoreError
from tfident.store import write_run
from tfident.store.diff import RERANKED_COLUMNS, diff_runs


def candidates(rows: list[tuple[str, int, str]]) -> pl.DataFrame:
    """A candidates frame from (household_id, rank, criteria_met)."""
    return pl.DataFrame(
        rows, schema={"household_id": pl.String, "rank": pl.Int64, "criteria_met": pl.String}, orient="row"
    ).with_columns(score=pl.lit(2.5))


def test_it_finds_added_dropped_and_reranked_families() -> None:
    """It matches families by household id and reports rank and criteria changes."""
    a = candidates([("H1", 1, "crime_asb;education"), ("H2", 2, "education;work"), ("H3", 3, "work;health")])
    b = candidates([("H2", 1, "education;work;health"), ("H4", 2, "crime_asb;work"), ("H1", 3, "education;crime_asb")])
    result = diff_runs(a, b)
    assert result.added["household_id"].to_list() == ["H4"]
    assert result.added["rank"].to_list() == [2]
    assert result.dropped["household_id"].to_list() == ["H3"]
    assert result.reranked.columns == list(RERANKED_COLUMNS)
    assert result.reranked.to_dicts() == [
        {
            "household_id": "H2",
            "old_rank": 2,
            "new_rank": 1,
            "rank_change": 1,
            "old_criteria": "education;work",
            "new_criteria": "education;health;work",
            "criteria_added": "health",
            "criteria_removed": "",
        },
        {
            "household_id": "H1",
            "old_rank": 1,
            "new_rank": 3,
            "rank_change": -2,
            "old_criteria": "crime_asb;education",
            "new_criteria": "crime_asb;education",  # same criteria in another order: no change
            "criteria_added": "",
            "criteria_removed": "",
        },
    ]
    assert result.counts() == {"added": 1, "dropped": 1, "reranked": 2, "unchanged": 0}


def test_identical_runs_have_no_differences() -> None:
    """It reports every family unchanged when nothing moved, and handles empty runs."""
    a = candidates([("H1", 1, "work"), ("H2", 2, "education")])
    assert diff_runs(a, a).counts() == {"added": 0, "dropped": 0, "reranked": 0, "unchanged": 2}
    empty = candidates([])
    assert diff_runs(empty, a).counts() == {"added": 2, "dropped": 0, "reranked": 0, "unchanged": 0}
    assert diff_runs(a, empty).dropped["household_id"].to_list() == ["H1", "H2"]


def test_it_rejects_frames_that_are_not_candidates() -> None:
    """It names the missing column or the duplicated household."""
    with pytest.raises(StoreError, match="lack column"):
        diff_runs(pl.DataFrame({"household_id": ["H1"]}), candidates([]))
    with pytest.raises(StoreError, match="more than once"):
        diff_runs(candidates([]), candidates([("H1", 1, "work"), ("H1", 2, "work")]))


@pytest.fixture
def two_versions(engine: Engine) -> Engine:
    """September, then October with one family dropped, one added and the two swapped."""
    write_run(engine, run_record("R-sep", SEPTEMBER), sample_frames())
    frames = sample_frames()
    frames["candidates"] = frames["candidates"].with_columns(
        rank=pl.when(pl.col("household_id") == "H1").then(2).otherwise(1).cast(pl.Int64),
        criteria_met=pl.when(pl.col("household_id") == "H2")
        .then(pl.lit("education;work;health"))
        .otherwise(pl.col("criteria_met")),
    )
    frames["candidates"] = pl.concat(
        [
            frames["candidates"],
            frames["candidates"]
            .filter(pl.col("household_id") == "H2")
            .with_columns(household_id=pl.lit("H3"), rank=pl.lit(3, dtype=pl.Int64), address=pl.lit("3 HIGH STREET")),
        ]
    )
    write_run(engine, run_record("R-oct", OCTOBER), frames)
    return engine


def test_tfident_diff(two_versions: Engine, store_url: str) -> None:
    """It prints the differences between two stored runs, with latest for the newest."""
    result = CliRunner().invoke(app, ["diff", "R-sep", "latest", "--db", store_url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["run_a"], data["run_b"]) == ("R-sep", "R-oct")
    assert data["counts"] == {"added": 1, "dropped": 0, "reranked": 2, "unchanged": 0}
    assert data["added"][0]["household_id"] == "H3"
    assert {row["household_id"]: row["criteria_added"] for row in data["reranked"]} == {"H2": "health", "H1": ""}

    table = CliRunner().invoke(app, ["diff", "R-sep", "R-oct", "--db", store_url])
    assert table.exit_code == 0, table.output
    assert "1 added, 0 dropped, 2 re-ranked" in table.stdout
    assert "H3" in table.stdout
    assert "health" in table.stdout
    assert "HIGH STREET" not in table.stdout  # household ids, ranks and criteria only

    missing = CliRunner().invoke(app, ["diff", "R-sep", "R-nope", "--db", store_url])
    assert missing.exit_code == 2
    assert "R-nope" in missing.output
