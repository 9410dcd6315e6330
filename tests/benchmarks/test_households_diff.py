"""benchmarks.households_diff: who a households rule moves, read against the truth (fast: tiny files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl

from benchmarks.households_diff import moved

# true households: TH1 = MUM, DAD, KID; TH2 = NEIGHBOUR. One record each.
TRUTH = pl.DataFrame(
    {
        "source": ["asb", "benefits", "attendance", "asb"],
        "record_id": ["1", "2", "3", "4"],
        "true_person_id": ["TP1", "TP2", "TP3", "TP4"],
        "true_household_id": ["TH1", "TH1", "TH1", "TH2"],
    }
)


def _db(path: Path, households: dict[str, str | None]) -> Path:
    """A run's database: persons P1..P4 (one per truth record) in the given households."""
    with sqlite3.connect(path) as con:
        con.execute("create table runs (run_id text)")
        con.execute("create table persons (run_id text, person_id text, household_id text)")
        con.execute("create table source_records (run_id text, source text, record_id text, person_id text)")
        con.execute("insert into runs values ('R1')")
        for i, (person, household) in enumerate(households.items()):
            con.execute("insert into persons values ('R1', ?, ?)", (person, household))
            con.execute("insert into source_records values ('R1', ?, ?, ?)", (TRUTH["source"][i], str(i + 1), person))
    return path


def test_people_placed_differently_are_read_against_their_true_household(tmp_path: Path) -> None:
    (tmp_path / "batch" / "truth").mkdir(parents=True)
    TRUTH.write_csv(tmp_path / "batch" / "truth" / "persons.csv")
    # before: the father is in no household, the son with the neighbour; after: both with the mother
    off = _db(tmp_path / "off.db", {"P1": "H1", "P2": None, "P3": "H2", "P4": "H2"})
    on = _db(tmp_path / "on.db", {"P1": "H1", "P2": "H1", "P3": "H1", "P4": "H2"})
    assert moved(tmp_path / "batch", off, on) == {("unplaced", "own"): 1, ("other", "own"): 1}
    # and the other way round
    assert moved(tmp_path / "batch", on, off) == {("own", "unplaced"): 1, ("own", "other"): 1}
