"""Crash safety: a run killed (SIGKILL) in the middle of writing leaves nothing of itself visible.

The killed writer is a separate process running ``write_run`` on a large frame, with
``write_frame`` patched to kill the process part-way: between tables, or half-way
through the largest table. Afterwards readers still see the previous published run, no
run table has a row of the killed run (PostgreSQL rolls the transaction back when the
connection drops; SQLite's write-ahead log never commits it), and the same run id can be
written again. Run as a script, this file is the writer that gets killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime

import polars as pl
import sqlalchemy as sa

SEPTEMBER = date(2026, 9, 30)
OCTOBER = date(2026, 10, 31)
KILLED_RUN = "R20261031-killed0001"
ROWS = 50_000


def big_frames(rows: int) -> dict[str, pl.DataFrame]:
    """``rows`` source records (persons of 2 records, households of 3 persons) and the frames built on them."""
    records = (
        pl.DataFrame({"i": pl.int_range(rows, eager=True)})
        .select(
            record_key=pl.format("src:{}", pl.col("i")),
            source=pl.lit("src"),
            record_id=pl.col("i").cast(pl.String),
            person_id=pl.format("P{}", pl.col("i") // 2),
            household_id=pl.format("H{}", pl.col("i") // 6),
            forename=pl.format("Forename{}", pl.col("i").mod(997)),
            surname=pl.format("Surname{}", pl.col("i").mod(4999)),
            date_of_birth=pl.date(1960, 1, 1) + pl.duration(days=pl.col("i").mod(20000)),
        )
        .with_columns(address=pl.lit("1 HIGH STREET"), postcode=pl.lit("AB1 2CD"))
    )
    persons = records.group_by("person_id", maintain_order=True).agg(pl.col("household_id").first())
    households = (
        persons.group_by("household_id", maintain_order=True)
        .agg(pl.len().cast(pl.Int64).alias("n_members"))
        .with_columns(address=pl.lit("1 HIGH STREET"), postcode=pl.lit("AB1 2CD"))
    )
    candidates = households.head(50).with_columns(
        rank=pl.int_range(1, 51, dtype=pl.Int64), score=pl.lit(2.0), criteria_met=pl.lit("crime_asb;education")
    )
    return {"source_records": records, "persons": persons, "households": households, "candidates": candidates}


def record(run_id: str, as_of: date):  # type: ignore[no-untyped-def]
    """The run record of the crash tests."""
    from tfident.store import RunRecord

    return RunRecord(
        run_id=run_id,
        as_of=as_of,
        ruleset_id="phase1",
        ruleset_version="TF1_2012",
        linkage_model_version="linkage-1",
        config_json="{}",
        config_hash="c" * 64,
        code_version="0.1.0",
        created_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
    )


def killed_writer(url: str, run_id: str, mode: str) -> None:
    """Write a run and SIGKILL this process part-way through (the child side of the tests)."""
    from tfident.store import make_engine, write_run, writer

    original = writer.write_frame
    written: list[str] = []

    def write_then_die(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
        if mode == "mid_table" and table.name == "source_records":
            original(connection, table, frame.head(frame.height // 2))
            os.kill(os.getpid(), signal.SIGKILL)
        original(connection, table, frame)
        written.append(table.name)
        if mode == "between_tables" and len(written) == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    writer.write_frame = write_then_die  # type: ignore[assignment]
    write_run(make_engine(url), record(run_id, OCTOBER), big_frames(ROWS))
    raise SystemExit("the writer was not killed")


if __name__ == "__main__":
    killed_writer(*sys.argv[1:4])


# ---------------------------------------------------------------------------- tests

import pytest  # noqa: E402 - the child process above does not need pytest
from sqlalchemy.engine import Engine  # noqa: E402

from tests.integration.run_rows import rows_of  # noqa: E402
from tfident.store import (  # noqa: E402
    latest_run_id,
    read_candidates,
    read_run,
    resolve_run,
    write_run,
)


@pytest.mark.parametrize("mode", ["between_tables", "mid_table"])
def test_a_run_killed_mid_write_leaves_nothing_visible_and_runs_again(
    engine: Engine, store_url: str, mode: str
) -> None:
    """It keeps the previous run readable, keeps no row of the killed run, and lets the run id run again."""
    september = big_frames(600)
    write_run(engine, record("R-september", SEPTEMBER), september)

    child = subprocess.run(
        [sys.executable, __file__, store_url, KILLED_RUN, mode], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    assert latest_run_id(engine) == "R-september"
    assert resolve_run(engine, "latest") == "R-september"
    assert read_candidates(engine, "R-september").height == 50
    assert set(rows_of(engine, KILLED_RUN).values()) == {0}

    frames = big_frames(ROWS)
    write_run(engine, record(KILLED_RUN, OCTOBER), frames)
    info = read_run(engine, KILLED_RUN)
    assert (info.status, info.version) == ("published", 1)
    assert latest_run_id(engine) == KILLED_RUN
    counts = rows_of(engine, KILLED_RUN)
    assert {name: counts[name] for name in frames} == {name: frame.height for name, frame in frames.items()}
    assert read_run(engine, "R-september").status == "published"  # another month: not superseded
