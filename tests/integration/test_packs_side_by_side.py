"""Runs of several rule packs for one month, published side by side; and the stored parts of
`tfident diff`'s reasons and the agencies' feedback, on both databases.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from sqlalchemy.engine import Engine
from test_store import OCTOBER, SEPTEMBER, run_record, sample_frames
from typer.testing import CliRunner

from tfident.cli import app
from tfident.errors import NotFound
from tfident.store import latest_run_id, list_runs, previous_month_run_id, resolve_run, write_run
from tfident.store.diff import diff_stored_runs
from tfident.store.feedback import quality_history, read_feedback, write_feedback
from tfident.store.review import DecisionInput, add_decision

NOVEMBER = date(2026, 11, 30)


def record(run_id: str, as_of: date, pack: str) -> Any:
    """A run record of rule pack ``pack``."""
    return dataclasses.replace(run_record(run_id, as_of), ruleset_id=pack, ruleset_version=f"{pack}-v")


def statuses(engine: Engine) -> dict[str, str]:
    """Run id -> status."""
    return dict(list_runs(engine).select("run_id", "status").rows())


@pytest.fixture
def two_packs(engine: Engine) -> Engine:
    """September (phase1), then October run with phase1, phase2, and phase1 again."""
    write_run(engine, record("R-sep-p1", SEPTEMBER, "phase1"), sample_frames())
    write_run(engine, record("R-oct-p1", OCTOBER, "phase1"), sample_frames())
    write_run(engine, record("R-oct-p2", OCTOBER, "phase2"), sample_frames())
    return engine


def test_publishing_another_pack_supersedes_nothing(two_packs: Engine) -> None:
    """It keeps both packs' runs of a month published; a re-run of one pack supersedes only that pack's run."""
    engine = two_packs
    assert statuses(engine) == {"R-sep-p1": "published", "R-oct-p1": "published", "R-oct-p2": "published"}
    write_run(engine, record("R-oct-p1-again", OCTOBER, "phase1"), sample_frames())
    assert statuses(engine) == {
        "R-sep-p1": "published",
        "R-oct-p1": "superseded",
        "R-oct-p2": "published",
        "R-oct-p1-again": "published",
    }


def test_latest_and_previous_month_follow_the_pack(two_packs: Engine) -> None:
    """Latest is the newest run overall unless a pack is named; ids carry over from the same pack's run."""
    engine = two_packs
    assert latest_run_id(engine) == "R-oct-p2"  # the newest published run of any pack
    assert resolve_run(engine, "latest") == "R-oct-p2"
    assert resolve_run(engine, "latest", "phase1") == "R-oct-p1"
    assert resolve_run(engine, "latest", "phase2") == "R-oct-p2"
    assert resolve_run(engine, "R-oct-p1", "phase1") == "R-oct-p1"
    with pytest.raises(NotFound, match="ran rule pack 'phase1', not 'phase2'"):
        resolve_run(engine, "R-oct-p1", "phase2")
    with pytest.raises(NotFound, match="no published run of rule pack 'sf2022'"):
        resolve_run(engine, "latest", "sf2022")

    assert previous_month_run_id(engine, NOVEMBER, "phase1") == "R-oct-p1"
    assert previous_month_run_id(engine, NOVEMBER, "phase2") == "R-oct-p2"
    assert previous_month_run_id(engine, NOVEMBER) == "R-oct-p2"
    # a pack's first month carries from the newest earlier run of any pack
    assert previous_month_run_id(engine, NOVEMBER, "sf2022") == "R-oct-p2"
    assert previous_month_run_id(engine, OCTOBER, "phase2") == "R-sep-p1"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run the command line; it must succeed."""
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_cli_criteria_picks_the_pack(two_packs: Engine, store_url: str, tmp_path: Path) -> None:
    """`export --run latest --criteria` exports that pack's run; `runs` shows and filters the pack."""
    invoke("export", "--run", "latest", "--criteria", "phase1", "--out", str(tmp_path / "p1"), "--db", store_url)
    with (tmp_path / "p1" / "candidates.csv").open(newline="") as file:
        assert {row["run_id"] for row in csv.DictReader(file)} == {"R-oct-p1"}
    invoke("export", "--run", "latest", "--out", str(tmp_path / "any"), "--db", store_url)
    with (tmp_path / "any" / "candidates.csv").open(newline="") as file:
        assert {row["run_id"] for row in csv.DictReader(file)} == {"R-oct-p2"}
    wrong = CliRunner().invoke(
        app, ["export", "--run", "R-oct-p1", "--criteria", "phase2", "--out", str(tmp_path / "x"), "--db", store_url]
    )
    assert wrong.exit_code == 2
    assert "phase2" in wrong.output

    phase2 = json.loads(invoke("runs", "--criteria", "phase2", "--json", "--db", store_url).stdout)
    assert [row["run_id"] for row in phase2] == ["R-oct-p2"]
    table = invoke("runs", "--db", store_url, env={"COLUMNS": "80"}).stdout
    line = next(line for line in table.splitlines() if "R-oct-p2" in line)
    assert "phase2" in line
    assert "published" in line
    assert "2026-10-31" in line
    assert "…" not in table


# --------------------------------------------------------------- diff reasons, stored


def test_diff_reads_why_families_dropped(engine: Engine) -> None:
    """It finds merges, members who moved, lost criteria and settling decisions in the stored tables."""
    write_run(engine, run_record("R-sep", SEPTEMBER), sample_frames())
    frames = sample_frames()
    # October: H2's only member P4 moved in with H1 (a merge), H1 lost 'work'; H3 is not a candidate.
    frames["persons"] = frames["persons"].with_columns(
        household_id=pl.when(pl.col("person_id") == "P4").then(pl.lit("H1")).otherwise(pl.col("household_id"))
    )
    frames["households"] = frames["households"].filter(pl.col("household_id") != "H2")
    frames["candidates"] = frames["candidates"].filter(pl.col("household_id") == "H1")
    frames["criteria_evidence"] = frames["criteria_evidence"].filter(pl.col("criterion") != "work")
    frames["identity_events"] = pl.DataFrame({"kind": ["household_merge"], "old_ids": ["H1;H2"], "new_ids": ["H1"]})
    write_run(engine, run_record("R-oct"), frames)
    add_decision(engine, DecisionInput("H2", "R-sep", "opted_out", "coordinator"))

    result = diff_stored_runs(engine, "R-sep", "R-oct")
    assert result.dropped.select("household_id", "reasons", "why").rows() == [
        ("H2", "merged;settled", "merged into H1; settled: latest decision opted_out"),
    ]
    assert diff_stored_runs(engine, "R-oct", "R-sep").dropped.is_empty()


# ---------------------------------------------------------------- agency feedback, stored


def test_feedback_keeps_each_agency_to_its_own_rows(engine: Engine, tmp_path: Path) -> None:
    """It splits quarantine, counts and coverage by agency, and compares with the previous month's run."""
    write_run(engine, run_record("R-sep", SEPTEMBER), sample_frames())
    frames = sample_frames()
    frames["quarantine"] = pl.DataFrame(
        {
            "source": ["asb", "attendance", "school_census", "benefits"],
            "file": ["asb.csv", "attendance.csv", "school_census.csv", "benefits.csv"],
            "line": [7, 3, 9, 2],
            "record_id": ["CANARY-ASB", "CANARY-ATT", "CANARY-SC", "CANARY-BEN"],
            "field": ["date_of_birth"] * 4,
            "value": ["=HYPERLINK(1)", "x", "y", "z"],
            "reason": ["unparseable date"] * 4,
        }
    )
    frames["quality"] = pl.DataFrame(
        {
            "source": ["asb", "attendance", "school_census", "benefits"],
            "report_json": [
                json.dumps({"rows_read": 5, "rows_accepted": 4, "rows_quarantined": 1, "invalid_identifiers": {}}),
                json.dumps(
                    {"rows_read": 9, "rows_accepted": 8, "rows_quarantined": 1, "invalid_identifiers": {"upn": 2}}
                ),
                json.dumps(
                    {"rows_read": 4, "rows_accepted": 3, "rows_quarantined": 1, "invalid_identifiers": {"upn": 1}}
                ),
                json.dumps(
                    {"rows_read": 2, "rows_accepted": 1, "rows_quarantined": 1, "invalid_identifiers": {"nino": 0}}
                ),
            ],
        }
    )
    summary = {"coverage": {"attendance": {"schools_missing": ["URN100001"]}, "benefits": {"missing_months": 1}}}
    write_run(engine, dataclasses.replace(run_record("R-oct"), summary=summary), frames)

    feedback = read_feedback(engine, "R-oct")
    assert sorted(feedback) == ["asb", "benefits", "schools"]
    schools = feedback["schools"]
    assert schools.sources == ["attendance", "school_census"]
    assert sorted(schools.quarantine["record_id"]) == ["CANARY-ATT", "CANARY-SC"]
    assert schools.invalid_identifiers.rows() == [("attendance", "upn", 2), ("school_census", "upn", 1)]
    assert schools.coverage is not None
    assert schools.coverage.rows() == [("attendance", "schools_missing", "URN100001")]
    asb = feedback["asb"].counts.row(0, named=True)
    assert (asb["rows_read"], asb["previous_rows_read"], asb["change_rows_read"]) == (5, 3, 2)
    assert (asb["rows_quarantined"], asb["previous_rows_quarantined"], asb["change_rows_quarantined"]) == (1, 1, 0)
    assert feedback["benefits"].counts.row(0, named=True)["previous_rows_read"] is None  # not sent in September

    paths = write_feedback(engine, "R-oct", tmp_path)
    book = openpyxl.load_workbook(paths["asb"], read_only=True)
    try:
        rows = list(book["Quarantined rows"].iter_rows(values_only=True))
        assert rows[1][5] == "=HYPERLINK(1)"  # kept as text, never a formula
        assert book["Coverage"]["A1"].value == "source"
    finally:
        book.close()

    history = quality_history(engine)
    assert history.filter(pl.col("source") == "asb").select("month", "rows_read").rows() == [
        ("2026-09", 3),
        ("2026-10", 5),
    ]
