"""Operating commands on both databases: `db upgrade`, `runs`, and the audit of runs and exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from test_store import OCTOBER, SEPTEMBER, run_record, sample_frames
from typer.testing import CliRunner

from tfident.cli import app
from tfident.store import head_revision, make_engine, metadata, write_run

audit = metadata.tables["audit_log"]


def invoke(*args: str) -> Any:
    """Run the command line; it must succeed."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def audit_rows(engine: Engine) -> list[Any]:
    """(username, action, object_id, detail) of every audit row, oldest first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(audit.c.username, audit.c.action, audit.c.object_id, audit.c.detail_json).order_by(audit.c.id)
            ).all()
        )


def test_tfident_db_upgrade(store_url: str) -> None:
    """It migrates an empty database to head, printing from and to, then says it is up to date."""
    first = invoke("db", "upgrade", "--db", store_url)
    assert f"upgraded from revision (empty) to {head_revision()}" in " ".join(first.stdout.split())
    again = invoke("db", "upgrade", "--db", store_url)
    assert f"already at revision {head_revision()}" in again.stdout


def test_tfident_runs(engine: Engine, store_url: str) -> None:
    """It lists runs newest first with version, status, ruleset, model and candidate count; --month filters."""
    assert "No runs stored" in invoke("runs", "--db", store_url).stdout
    write_run(engine, run_record("R-sep", SEPTEMBER), sample_frames())
    write_run(engine, run_record("R-oct-1", OCTOBER), sample_frames())
    write_run(engine, run_record("R-oct-2", OCTOBER), sample_frames())

    rows = json.loads(invoke("runs", "--db", store_url, "--json").stdout)
    assert [(r["run_id"], r["month"], r["version"], r["status"]) for r in rows] == [
        ("R-sep", "2026-09", 1, "published"),
        ("R-oct-2", "2026-10", 2, "published"),
        ("R-oct-1", "2026-10", 1, "superseded"),
    ]  # the same created_at: newest first falls back to run id order
    by_id = {r["run_id"]: r for r in rows}
    assert by_id["R-oct-2"]["candidates"] == 2
    assert by_id["R-oct-2"]["as_of"] == "2026-10-31"
    assert by_id["R-oct-1"]["linkage_model_version"] == "linkage-1"

    october = json.loads(invoke("runs", "--db", store_url, "--month", "2026-10", "--json").stdout)
    assert sorted(r["run_id"] for r in october) == ["R-oct-1", "R-oct-2"]

    table = invoke("runs", "--db", store_url).stdout
    for text in ("R-oct-2", "2026-10-31", "superseded", "phase1"):
        assert text in table
    assert "linkage-1" not in table
    assert "--wide" in table
    wide = invoke("runs", "--db", store_url, "--wide").stdout
    for text in ("2026-10 v2", "TF1_2012", "linkage-1", "2026-11-01 09:00:00"):
        assert text in wide

    bad = CliRunner().invoke(app, ["runs", "--db", store_url, "--month", "October"])
    assert bad.exit_code == 2


def test_write_run_records_run_published_in_the_audit_log(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """It audits each publish with the user, counts and superseded run, in the publishing transaction."""
    monkeypatch.setenv("TFIDENT_USER", "scheduler")
    write_run(engine, run_record("R-oct-1", OCTOBER), sample_frames())
    write_run(engine, run_record("R-oct-2", OCTOBER), sample_frames())
    rows = [row for row in audit_rows(engine) if row[1] == "run.published"]
    assert [(r[0], r[2]) for r in rows] == [("scheduler", "R-oct-1"), ("scheduler", "R-oct-2")]
    assert rows[0][3]["rows"]["source_records"] == 7
    assert rows[1][3]["superseded"] == ["R-oct-1"]
    assert rows[1][3]["month"] == "2026-10"
    assert "Smith" not in json.dumps([r[3] for r in rows])


@pytest.mark.usefixtures("engine")  # migrated first: on PostgreSQL `tfident run` does not migrate
def test_tfident_run_and_export_are_audited(
    store_url: str, sample_batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It records who ran and who exported a run, with counts and paths but no personal data."""
    monkeypatch.setenv("TFIDENT_USER", "night-batch")
    run_id = (
        invoke("run", "--extracts", str(sample_batch), "--as-of", "2026-10-31", "--db", store_url, "--no-prefect")
        .stdout.strip()
        .splitlines()[-1]
    )
    monkeypatch.setenv("TFIDENT_USER", "analyst-amy")
    invoke("export", "--run", "latest", "--out", str(tmp_path / "export"), "--db", store_url)

    engine = make_engine(store_url)
    try:
        rows = audit_rows(engine)
        runs = json.loads(invoke("runs", "--db", store_url, "--json").stdout)
    finally:
        engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("night-batch", "run.published", run_id),
        ("analyst-amy", "export.written", run_id),
    ]
    published, exported = rows[0][3], rows[1][3]
    assert published["rows"]["source_records"] > 0
    assert exported["folder"] == str((tmp_path / "export").resolve())
    assert exported["files"]["candidates.csv"]["rows"] == runs[0]["candidates"]
    with (tmp_path / "export" / "members.csv").open(encoding="utf-8", newline="") as handle:
        surnames = {row["surname"] for row in csv.DictReader(handle)} - {""}
    details = json.dumps([published, exported])
    assert surnames
    assert not any(surname in details for surname in surnames)
