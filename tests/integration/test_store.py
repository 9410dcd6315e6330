"""The store on a real database: migrations, atomic publishing, reading back, exports."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine

from tests.integration.run_rows import rows_of
from tfident.errors import NotFound, StoreError
from tfident.store import (
    EXPORT_COLUMNS,
    RUN_TABLES,
    RunRecord,
    current_revision,
    export_run,
    fail_run,
    head_revision,
    init_db,
    latest_run_id,
    list_runs,
    make_engine,
    metadata,
    read_candidates,
    read_evidence,
    read_members,
    read_persons_index,
    read_quality,
    read_quarantine,
    read_run,
    resolve_run,
    run_exists,
    start_run,
    upgrade,
    write_run,
)
from tfident.store import writer as writer_module

OCTOBER = date(2026, 10, 31)
SEPTEMBER = date(2026, 9, 30)


def run_record(run_id: str, as_of: date = OCTOBER) -> RunRecord:
    """A run record with made-up config."""
    return RunRecord(
        run_id=run_id,
        as_of=as_of,
        ruleset_id="phase1",
        ruleset_version="TF1_2012",
        linkage_model_version="linkage-1",
        config_json='{"criteria": "phase1"}',
        config_hash="a" * 64,
        code_version="0.1.0",
        summary={"records": 7, "candidates": 2},
        stage_timings={"ingest": 0.5},
        created_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
    )


def sample_frames() -> dict[str, pl.DataFrame]:
    """Three households, two of them candidates, with links inside and across persons."""
    records = pl.DataFrame(
        [
            ("school_census:S1", "school_census", "S1", "P1", "H1", "Ann", "Smith", date(2010, 3, 4), 0.0),
            ("attendance:A1", "attendance", "A1", "P1", "H1", "Anne", "Smith", date(2010, 3, 4), 1.0),
            ("benefits:B1", "benefits", "B1", "P2", "H1", "Bob", "Smith", date(1980, 1, 1), 2.0),
            ("asb:X1", "asb", "X1", "P3", "H1", None, None, None, 3.0),
            ("school_census:S2", "school_census", "S2", "P4", "H2", "Émile", "O'Neil, Jr", date(2012, 12, 12), 4.0),
            ("benefits:B2", "benefits", "B2", "P5", "H3", "Cat", "Jones", date(1990, 6, 1), 5.0),
            ("asb:X2", "asb", "X2", "P6", None, "Dan", "Brown", None, 6.0),
        ],
        schema={
            "record_key": pl.String,
            "source": pl.String,
            "record_id": pl.String,
            "person_id": pl.String,
            "household_id": pl.String,
            "forename": pl.String,
            "surname": pl.String,
            "date_of_birth": pl.Date,
            "surname_metaphone": pl.Float64,  # a standardised column the store ignores
        },
        orient="row",
    ).with_columns(
        address=pl.lit("1 HIGH STREET"),
        postcode=pl.lit("AB1 2CD"),
        uprn_matched=pl.lit(100000000001, dtype=pl.Int64),
        address_match=pl.lit("exact"),
        surname_tokens=pl.lit(["SMITH"]),
    )
    links = pl.DataFrame(
        {
            "record_key_l": ["attendance:A1", "asb:X1", "benefits:B1"],
            "record_key_r": ["school_census:S1", "benefits:B1", "school_census:S1"],
            # the last two join records of different persons (e.g. split by review): not member links
            "match_probability": [0.987654321, 0.51, 0.75],
            "match_rule": ["model", "model", "model"],
        }
    )
    persons = pl.DataFrame(
        {
            "person_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
            "household_id": ["H1", "H1", "H1", "H2", "H3", None],
            "date_of_birth": [date(2010, 3, 4), date(1980, 1, 1), None, date(2012, 12, 12), date(1990, 6, 1), None],
            "role": ["child", "adult", "unknown", "child", "adult", "unknown"],
        }
    )
    households = pl.DataFrame(
        {
            "household_id": ["H1", "H2", "H3"],
            "uprn": [100000000001, None, 100000000003],
            "address": ["1 HIGH STREET, TOWN", '2 "THE COTTAGES", LOW ROAD', "3 HIGH STREET"],
            "postcode": ["AB1 2CD", None, "AB1 2CF"],
            "n_members": [3, 1, 1],
        }
    )
    candidates = pl.DataFrame(
        {
            "household_id": ["H2", "H1"],
            "rank": [2, 1],
            "score": [2.5, 3.123456],
            "criteria_met": ["education;work", "crime_asb;education;work"],
            "eligibility": ["may_include", "must_include"],
            "estimated_annual_cost": [9000.0, 12345.678],
            "min_link_probability": [1.0, 0.987654321],
        }
    ).join(households, on="household_id")
    evidence = pl.DataFrame(
        {
            "household_id": ["H1", "H1", "H2"],
            "criterion": ["crime_asb", "work", "education"],
            "rule_id": ["crime_asb.asb_intervention", "work.out_of_work_benefit", "education.not_on_roll"],
            "person_id": ["P3", "P2", "P4"],
            "source": ["asb", "benefits", "school_census"],
            "record_id": ["X1", "B1", "S2"],
            "event_date": [date(2026, 5, 1), date(2025, 1, 1), None],
            "value": [1, 2, 3],  # numbers are stored as text
            "detail": ["CBO", "JSA", None],
        }
    )
    quarantine = pl.DataFrame(
        {
            "source": ["asb"],
            "file": ["asb.csv"],
            "line": [7],
            "record_id": ["X9"],
            "field": ["intervention_date"],
            "value": ["31/02/2026"],
            "reason": ["not a date"],
        }
    )
    quality = pl.DataFrame({"source": ["asb"], "report_json": [json.dumps({"rows_read": 3, "rows_quarantined": 1})]})
    input_files = pl.DataFrame(
        {"source": ["asb"], "path": ["/batch/asb.csv"], "sha256": ["b" * 64], "format": ["csv"], "rows": [3]}
    )
    return {
        "input_files": input_files,
        "quality": quality,
        "quarantine": quarantine,
        "source_records": records,
        "persons": persons,
        "links": links,
        "households": households,
        "candidates": candidates,
        "criteria_evidence": evidence,
    }


def count_rows(engine: Engine, run_id: str) -> dict[str, int]:
    """Rows per run table for one run."""
    return rows_of(engine, run_id, RUN_TABLES)


# ---------------------------------------------------------------------------- migrations


def test_it_creates_every_table_by_migration(bare_engine: Engine) -> None:
    """It migrates an empty database to head, creating every table, and is safe to run again."""
    assert current_revision(bare_engine) is None
    init_db(bare_engine)
    init_db(bare_engine)
    assert current_revision(bare_engine) == head_revision()
    tables = set(sa.inspect(bare_engine).get_table_names())
    assert tables == {*metadata.tables, "alembic_version"}
    expected = {
        "runs",
        "input_files",
        "quality",
        "quarantine",
        "source_records",
        "persons",
        "links",
        "households",
        "candidates",
        "criteria_evidence",
        "identity_events",
        "decisions",
        "link_constraints",
        "users",
        "sessions",
        "audit_log",
        "run_locks",
        "attachments",
        "attachment_members",
        "entry_needs",
        "outcome_observations",
        "claims",
        "claim_families",
        "claim_checks",
        "claim_persons",
    }
    assert set(metadata.tables) == expected


def test_it_migrates_to_exactly_the_declared_tables(engine: Engine) -> None:
    """It leaves no difference between the migrated schema and the declared tables."""
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_it_upgrades_a_database_by_url(store_url: str) -> None:
    """It migrates the database at a URL and reports the revision."""
    assert upgrade(store_url) == head_revision()


def test_it_defaults_to_an_sqlite_file_in_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It uses tfident.db in the working folder when no URL is given."""
    monkeypatch.chdir(tmp_path)
    engine = make_engine(None)
    try:
        init_db(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
    assert (tmp_path / "tfident.db").is_file()


def test_it_rejects_a_malformed_url() -> None:
    """It names the bad --db value."""
    with pytest.raises(StoreError, match="not an SQLAlchemy URL"):
        make_engine("not a url")


# ----------------------------------------------------------------------- write and read


def test_it_reads_back_what_it_wrote(engine: Engine) -> None:
    """It round-trips the run record and every frame."""
    frames = sample_frames()
    write_run(engine, run_record("R20261031-00000001"), frames)
    run_id = "R20261031-00000001"

    info = read_run(engine, run_id)
    assert (info.status, info.month, info.version, info.as_of) == ("published", "2026-10", 1, OCTOBER)
    assert info.summary == {"records": 7, "candidates": 2}
    assert info.stage_timings == {"ingest": 0.5}
    assert info.created_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert info.config_json == '{"criteria": "phase1"}'

    candidates = read_candidates(engine, run_id)
    assert candidates["household_id"].to_list() == ["H1", "H2"]
    expected = frames["candidates"].sort("rank").select(candidates.columns)
    assert_frame_equal(candidates, expected, check_dtypes=False)

    index = read_persons_index(engine, run_id)
    assert index.columns == ["source", "record_id", "person_id", "household_id"]
    assert index.height == 7
    assert index.filter(pl.col("record_id") == "X2")["household_id"].to_list() == [None]
    assert index.rows() == sorted(index.rows(), key=lambda row: (row[0], row[1]))

    assert read_quality(engine, run_id) == {"asb": {"rows_read": 3, "rows_quarantined": 1}}
    quarantine = read_quarantine(engine, run_id)
    assert_frame_equal(quarantine, frames["quarantine"])
    evidence = read_evidence(engine, run_id, "H1")
    assert evidence["value"].to_list() == ["1", "2"]
    assert evidence["event_date"].to_list() == [date(2026, 5, 1), date(2025, 1, 1)]
    assert count_rows(engine, run_id) == {
        "input_files": 1,
        "quality": 1,
        "quarantine": 1,
        "source_records": 7,
        "persons": 6,
        "links": 3,
        "households": 3,
        "candidates": 2,
        "criteria_evidence": 3,
        "identity_events": 0,
    }


def test_it_gives_members_their_best_link_within_the_person(engine: Engine) -> None:
    """It lists candidate households' records with the best same-person link, or 1.0 for none."""
    write_run(engine, run_record("R1"), sample_frames())
    members = read_members(engine, "R1")
    assert members.columns == list(EXPORT_COLUMNS["members"])
    assert members.select("household_id", "person_id", "source", "record_id", "link_probability").rows() == [
        ("H1", "P1", "attendance", "A1", 0.987654321),
        ("H1", "P1", "school_census", "S1", 0.987654321),
        ("H1", "P2", "benefits", "B1", 1.0),  # its links go to other persons' records
        ("H1", "P3", "asb", "X1", 1.0),
        ("H2", "P4", "school_census", "S2", 1.0),
    ]
    one = read_members(engine, "R1", household_ids=["H3"])
    assert one["record_id"].to_list() == ["B2"]


def test_it_rejects_a_frame_without_a_required_column(engine: Engine) -> None:
    """It names the table and the missing column, and writes nothing."""
    frames = sample_frames()
    frames["links"] = frames["links"].drop("match_probability")
    with pytest.raises(StoreError, match=r"links.*match_probability"):
        write_run(engine, run_record("R1"), frames)
    assert list_runs(engine).is_empty()


def test_it_rejects_unknown_frames(engine: Engine) -> None:
    """It names frames that match no run table."""
    with pytest.raises(StoreError, match="unknown tables"):
        write_run(engine, run_record("R1"), {"people": pl.DataFrame()})


def test_it_writes_a_run_id_once(engine: Engine) -> None:
    """It refuses to overwrite a published run."""
    write_run(engine, run_record("R1"), sample_frames())
    with pytest.raises(StoreError, match="already stored"):
        write_run(engine, run_record("R1"), sample_frames())
    assert run_exists(engine, "R1")
    assert not run_exists(engine, "R2")


# ---------------------------------------------------------------------- atomic publish


def test_it_leaves_nothing_visible_when_a_write_fails_part_way(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """It rolls back every row of a run that fails mid-write; readers keep the previous run."""
    write_run(engine, run_record("R-september", SEPTEMBER), sample_frames())
    original = writer_module.write_frame
    written: list[str] = []

    def failing_write_frame(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
        if table.name == "households":
            raise RuntimeError("disk unplugged")
        original(connection, table, frame)
        written.append(table.name)

    monkeypatch.setattr(writer_module, "write_frame", failing_write_frame)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        write_run(engine, run_record("R-october"), sample_frames())

    assert "source_records" in written  # it failed after big tables were written
    assert set(count_rows(engine, "R-october").values()) == {0}
    assert latest_run_id(engine) == "R-september"
    assert resolve_run(engine, "latest") == "R-september"
    assert read_candidates(engine, "R-september").height == 2
    info = read_run(engine, "R-october")
    assert info.status == "failed"
    assert info.error == "RuntimeError: disk unplugged"
    with pytest.raises(NotFound, match="failed and was never published"):
        resolve_run(engine, "R-october")
    with pytest.raises(NotFound, match="failed"):
        read_candidates(engine, "R-october")


def test_it_rolls_back_a_database_error_and_raises_store_error(engine: Engine) -> None:
    """It turns a constraint violation part-way through into StoreError, with nothing kept."""
    frames = sample_frames()
    frames["links"] = pl.concat([frames["links"], frames["links"].head(1)])  # a duplicate key
    with pytest.raises(StoreError, match="cannot write run R1"):
        write_run(engine, run_record("R1"), frames)
    assert set(count_rows(engine, "R1").values()) == {0}
    assert latest_run_id(engine) is None
    assert read_run(engine, "R1").status == "failed"


def test_it_runs_a_failed_run_id_again(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """It lets a run that failed be written again under the same id, keeping its version."""
    start_run(engine, run_record("R1"))
    assert read_run(engine, "R1").status == "running"
    with pytest.raises(NotFound, match="still being written"):
        resolve_run(engine, "R1")
    fail_run(engine, "R1", "linkage did not converge")
    assert read_run(engine, "R1").error == "linkage did not converge"
    write_run(engine, run_record("R1"), sample_frames())
    info = read_run(engine, "R1")
    assert (info.status, info.version, info.error) == ("published", 1, None)
    with pytest.raises(StoreError, match="cannot be marked failed"):
        fail_run(engine, "R1", "too late")
    with pytest.raises(NotFound):
        fail_run(engine, "R-never", "no such run")


# ----------------------------------------------------------------- which run is meant


def test_it_resolves_latest_to_the_newest_published_run(engine: Engine) -> None:
    """It picks the latest batch date, whatever order the runs were written in."""
    with pytest.raises(NotFound, match="no published run"):
        resolve_run(engine, "latest")
    write_run(engine, run_record("R-october", OCTOBER), sample_frames())
    write_run(engine, run_record("R-september", SEPTEMBER), sample_frames())
    assert resolve_run(engine, "latest") == "R-october"
    assert resolve_run(engine, "LATEST") == "R-october"
    assert resolve_run(engine, "R-september") == "R-september"


def test_it_says_which_runs_exist_when_an_id_is_unknown(engine: Engine) -> None:
    """It names the unknown id and the stored runs in the NotFound message."""
    write_run(engine, run_record("R20261031-0badcafe"), sample_frames())
    with pytest.raises(NotFound) as caught:
        resolve_run(engine, "R20261031-deadbeef")
    message = str(caught.value)
    assert "'R20261031-deadbeef' not found" in message
    assert "R20261031-0badcafe" in message
    assert "--run latest" in message


def test_it_supersedes_the_earlier_run_of_the_month(engine: Engine) -> None:
    """It marks the month's earlier published run superseded, numbers versions, and keeps both readable."""
    write_run(engine, run_record("R-oct-1"), sample_frames())
    write_run(engine, run_record("R-sep", SEPTEMBER), sample_frames())
    write_run(engine, run_record("R-oct-2"), sample_frames())
    runs = list_runs(engine).sort("run_id")
    assert runs.select("run_id", "status", "month", "version").rows() == [
        ("R-oct-1", "superseded", "2026-10", 1),
        ("R-oct-2", "published", "2026-10", 2),
        ("R-sep", "published", "2026-09", 1),
    ]
    assert resolve_run(engine, "latest") == "R-oct-2"
    assert resolve_run(engine, "R-oct-1") == "R-oct-1"
    assert read_candidates(engine, "R-oct-1").height == 2
    assert list_runs(engine, statuses=["published"])["run_id"].sort().to_list() == ["R-oct-2", "R-sep"]


# -------------------------------------------------------------------------------- exports


def test_it_exports_exactly_the_contract_columns(engine: Engine, tmp_path: Path) -> None:
    """It writes the three files of contract section 6 with their columns and rows."""
    write_run(engine, run_record("R1"), sample_frames())
    paths = export_run(engine, "latest", tmp_path / "export")
    assert {name: path.name for name, path in paths.items()} == {
        "candidates": "candidates.csv",
        "members": "members.csv",
        "persons": "persons.csv",
    }
    headers = {name: next(csv.reader(path.read_text(encoding="utf-8").splitlines())) for name, path in paths.items()}
    assert headers == {
        "candidates": [
            "run_id",
            "rank",
            "household_id",
            "score",
            "criteria_met",
            "n_members",
            "uprn",
            "address",
            "postcode",
            "estimated_annual_cost",
            "min_link_probability",
        ],
        "members": [
            "household_id",
            "person_id",
            "source",
            "record_id",
            "forename",
            "surname",
            "date_of_birth",
            "link_probability",
        ],
        "persons": ["source", "record_id", "person_id", "household_id"],
    }
    assert paths["candidates"].read_bytes().decode() == (
        "run_id,rank,household_id,score,criteria_met,n_members,uprn,address,postcode,"
        "estimated_annual_cost,min_link_probability\n"
        'R1,1,H1,3.1235,crime_asb;education;work,3,100000000001,"1 HIGH STREET, TOWN",AB1 2CD,12345.68,0.9877\n'
        'R1,2,H2,2.5000,education;work,1,,"2 ""THE COTTAGES"", LOW ROAD",,9000.00,1.0000\n'
    )
    assert paths["members"].read_bytes().decode() == (
        "household_id,person_id,source,record_id,forename,surname,date_of_birth,link_probability\n"
        "H1,P1,attendance,A1,Anne,Smith,2010-03-04,0.9877\n"
        "H1,P1,school_census,S1,Ann,Smith,2010-03-04,0.9877\n"
        "H1,P2,benefits,B1,Bob,Smith,1980-01-01,1.0000\n"
        "H1,P3,asb,X1,,,,1.0000\n"
        'H2,P4,school_census,S2,Émile,"O\'Neil, Jr",2012-12-12,1.0000\n'
    )
    persons = paths["persons"].read_bytes().decode().splitlines()
    assert persons[0] == "source,record_id,person_id,household_id"
    assert persons[1:] == [
        "asb,X1,P3,H1",
        "asb,X2,P6,",
        "attendance,A1,P1,H1",
        "benefits,B1,P2,H1",
        "benefits,B2,P5,H3",
        "school_census,S1,P1,H1",
        "school_census,S2,P4,H2",
    ]


def test_it_exports_byte_identical_files_again(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It writes the same bytes on re-export and audits each export without personal data."""
    monkeypatch.setenv("TFIDENT_USER", "cli")
    write_run(engine, run_record("R1"), sample_frames())
    first = export_run(engine, "R1", tmp_path / "first")
    second = export_run(engine, "R1", tmp_path / "second", user="alice", role="analyst")
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes()
    with engine.connect() as connection:
        audit = metadata.tables["audit_log"]
        rows: list[Any] = connection.execute(
            sa.select(audit.c.username, audit.c.role, audit.c.action, audit.c.object_id, audit.c.detail_json)
            .where(audit.c.action == "export.written")
            .order_by(audit.c.id)
        ).all()
    assert [row[:4] for row in rows] == [
        ("cli", None, "export.written", "R1"),
        ("alice", "analyst", "export.written", "R1"),
    ]
    assert rows[0][4]["files"]["persons.csv"]["rows"] == 7
    assert "Smith" not in json.dumps(rows[0][4])


def test_it_exports_an_empty_run(engine: Engine, tmp_path: Path) -> None:
    """It writes header-only files for a run with no candidates."""
    frames = sample_frames()
    frames["candidates"] = frames["candidates"].clear()
    write_run(engine, run_record("R1"), frames)
    paths = export_run(engine, "R1", tmp_path)
    assert paths["candidates"].read_text(encoding="utf-8").splitlines() == [",".join(EXPORT_COLUMNS["candidates"])]
    assert paths["members"].read_text(encoding="utf-8").splitlines() == [",".join(EXPORT_COLUMNS["members"])]
    assert len(paths["persons"].read_text(encoding="utf-8").splitlines()) == 8


def test_it_refuses_to_export_an_unknown_run(engine: Engine, tmp_path: Path) -> None:
    """It raises NotFound and writes no file."""
    with pytest.raises(NotFound):
        export_run(engine, "R-missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()
