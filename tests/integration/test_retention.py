"""Retention: personal data of old runs is deleted, the runs' records and the audit trail stay."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from test_store import count_rows, run_record, sample_frames
from typer.testing import CliRunner

from tfident.cli import app
from tfident.errors import ConfigError, NotFound
from tfident.store import (
    fail_run,
    latest_run_id,
    list_runs,
    metadata,
    read_candidates,
    read_run,
    resolve_run,
    start_run,
    write_run,
)
from tfident.store.retention import (
    PERSONAL_TABLES,
    RetentionConfig,
    apply_retention,
    cutoff_date,
    load_retention_config,
)
from tfident.store.tables import utc_now

TODAY = date.today()  # the command line purges relative to today
OLDER = cutoff_date(TODAY, 27)
OLD = cutoff_date(TODAY, 26)
RECENT = cutoff_date(TODAY, 1)
CUTOFF = cutoff_date(TODAY, 24)
audit = metadata.tables["audit_log"]


def audit_rows(engine: Engine, action: str) -> list[Any]:
    """(username, object_id, detail) of the audit rows with ``action``, oldest first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(audit.c.username, audit.c.object_id, audit.c.detail_json)
                .where(audit.c.action == action)
                .order_by(audit.c.id)
            ).all()
        )


@pytest.fixture
def three_runs(engine: Engine) -> Engine:
    """Runs of two months more than 24 months ago, and of last month."""
    write_run(engine, run_record("R-older", OLDER), sample_frames())
    write_run(engine, run_record("R-old", OLD), sample_frames())
    write_run(engine, run_record("R-recent", RECENT), sample_frames())
    return engine


def test_it_purges_personal_data_of_old_runs_only(three_runs: Engine) -> None:
    """It deletes old runs' personal rows, keeps their runs rows as purged, and leaves recent runs whole."""
    engine = three_runs
    before = count_rows(engine, "R-old")
    result = apply_retention(engine, 24, today=TODAY, user="dpo")

    assert result.cutoff == CUTOFF
    assert result.run_ids == ["R-older", "R-old"]
    assert result.rows["R-old"] == {name: before[name] for name in PERSONAL_TABLES}
    assert result.totals()["source_records"] == 14
    for run_id in ("R-older", "R-old"):
        counts = count_rows(engine, run_id)
        assert {name: counts[name] for name in PERSONAL_TABLES} == dict.fromkeys(PERSONAL_TABLES, 0)
        assert (counts["input_files"], counts["quality"]) == (1, 1)  # checksums and counts are not personal
        info = read_run(engine, run_id)
        assert info.status == "purged"
        assert info.summary["records"] == 7  # the run's counts stay
        assert info.summary["purged"]["deleted_rows"]["source_records"] == 7
        assert info.summary["purged"]["by"] == "dpo"
        with pytest.raises(NotFound, match="purged"):
            resolve_run(engine, run_id)
    assert count_rows(engine, "R-recent") == before
    assert latest_run_id(engine) == "R-recent"
    assert read_candidates(engine, "R-recent").height == 2
    runs = {row["run_id"]: row for row in list_runs(engine).to_dicts()}
    assert (runs["R-old"]["status"], runs["R-old"]["candidates"]) == ("purged", 0)

    [(username, object_id, detail)] = audit_rows(engine, "retention.purged")
    assert (username, object_id) == ("dpo", CUTOFF.isoformat())
    assert detail["months"] == 24
    assert detail["runs"]["R-old"]["source_records"] == 7
    assert detail["totals"]["candidates"] == 4
    assert "Smith" not in json.dumps(detail)


def test_it_is_idempotent(three_runs: Engine) -> None:
    """It deletes nothing the second time and writes no second audit row."""
    engine = three_runs
    assert len(apply_retention(engine, 24, today=TODAY).run_ids) == 2
    again = apply_retention(engine, 24, today=TODAY)
    assert again.run_ids == []
    assert set(again.totals().values()) == {0}
    assert len(audit_rows(engine, "retention.purged")) == 1


def test_a_dry_run_changes_nothing(three_runs: Engine) -> None:
    """It counts what would go and deletes nothing."""
    engine = three_runs
    before = count_rows(engine, "R-old")
    result = apply_retention(engine, 24, today=TODAY, dry_run=True)
    assert result.run_ids == ["R-older", "R-old"]
    assert result.dry_run
    assert result.rows["R-old"]["source_records"] == 7
    assert count_rows(engine, "R-old") == before
    assert read_run(engine, "R-old").status == "published"
    assert audit_rows(engine, "retention.purged") == []


def test_it_counts_months_by_the_calendar() -> None:
    """It subtracts calendar months, clamping to the month's last day."""
    assert cutoff_date(date(2026, 11, 23), 24) == date(2024, 11, 23)
    assert cutoff_date(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert cutoff_date(date(2026, 1, 15), 13) == date(2024, 12, 15)


def test_the_config_file_is_validated(tmp_path: Path) -> None:
    """It reads config/retention.yaml and rejects a bad value, naming the key."""
    assert load_retention_config() == RetentionConfig(months=24)
    bad = tmp_path / "retention.yaml"
    bad.write_text("months: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="months"):
        load_retention_config(bad)
    bad.write_text("months: 12\nkeep_forever: true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="keep_forever"):
        load_retention_config(bad)


def test_tfident_retention_apply(three_runs: Engine, store_url: str) -> None:
    """It purges from the command line, records the given user, and says so when there is nothing left."""
    runner = CliRunner()
    dry = runner.invoke(app, ["retention", "apply", "--db", store_url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "R-old" in dry.stdout
    assert "nothing was deleted" in dry.stdout
    assert read_run(three_runs, "R-old").status == "published"

    first = runner.invoke(app, ["retention", "apply", "--db", store_url, "--user", "dpo", "--json"])
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert sorted(result["runs"]) == ["R-old", "R-older"]
    assert result["totals"]["source_records"] == 14
    assert [row[0] for row in audit_rows(three_runs, "retention.purged")] == ["dpo"]

    second = runner.invoke(app, ["retention", "apply", "--db", store_url, "--months", "24"])
    assert second.exit_code == 0, second.output
    assert "Nothing to delete" in second.stdout
    assert len(audit_rows(three_runs, "retention.purged")) == 1


def test_a_purged_run_id_can_be_written_again(three_runs: Engine) -> None:
    """It lets a purged run be run again (a deliberate re-run of an old batch), keeping its version."""
    apply_retention(three_runs, 24, today=TODAY)
    write_run(three_runs, run_record("R-old", OLD), sample_frames())
    info = read_run(three_runs, "R-old")
    assert (info.status, info.version) == ("published", 1)
    assert count_rows(three_runs, "R-old")["source_records"] == 7


def test_retention_deletes_the_checkpoints_of_an_old_unfinished_run(
    three_runs: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that failed long ago and was never resumed keeps stage checkpoints (personal data) until
    retention purges it; a recent failed run's checkpoints stay, so it can still be resumed, and so do
    another database's checkpoints of a run of the same id (the same batch run into it).
    """
    from tfident.checkpoints import CHECKPOINT_DIR_ENV, StageCheckpoints
    from tfident.runner import _open_checkpoints

    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "checkpoints"))
    frame = pl.DataFrame({"record_key": ["school_census:1"], "surname": ["SYNTHETIC"]})
    folders = {}
    for run_id, as_of in (("R-old-failed", OLD), ("R-recent-failed", RECENT)):
        start_run(three_runs, run_record(run_id, as_of))
        checkpoints = _open_checkpoints(three_runs, run_id)
        checkpoints.save("standardise", {"records": frame})
        folders[run_id] = checkpoints.folder
        fail_run(three_runs, run_id, "stopped in stage link (KeyboardInterrupt)")
    other = StageCheckpoints.open(tmp_path / "checkpoints", "R-old-failed", "0" * 16)  # another database's
    other.save("standardise", {"records": frame})
    old_folder = folders["R-old-failed"]
    assert old_folder.parent == other.folder.parent == tmp_path / "checkpoints" / "R-old-failed"
    assert (old_folder / "standardise.records.parquet").is_file()

    dry = CliRunner().invoke(app, ["retention", "apply", "--db", store_url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert old_folder.is_dir()

    result = CliRunner().invoke(app, ["retention", "apply", "--db", store_url])
    assert result.exit_code == 0, result.output
    assert "checkpoints of 1" in " ".join(result.stdout.split())
    assert not old_folder.exists()
    assert (other.folder / "standardise.records.parquet").is_file()
    assert (folders["R-recent-failed"] / "standardise.records.parquet").is_file()
    assert read_run(three_runs, "R-old-failed").status == "purged"


def test_retention_covers_killed_runs_and_the_inbox(
    three_runs: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed part-way (left ``running``) keeps its checkpoints until retention: purged once older than
    the lock's staleness; a ``running`` run that may still be alive is left alone. With --inbox, processed or
    refused batch folders from before the cutoff are deleted, and a folder never run is kept.
    """
    from tfident.checkpoints import CHECKPOINT_DIR_ENV
    from tfident.runner import _open_checkpoints

    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "checkpoints"))
    frame = pl.DataFrame({"record_key": ["school_census:1"], "surname": ["SYNTHETIC"]})
    from dataclasses import replace

    start_run(three_runs, replace(run_record("R-killed", OLD), created_at=utc_now()))
    _open_checkpoints(three_runs, "R-killed").save("standardise", {"records": frame})
    inbox = tmp_path / "incoming"
    processed, refused, never_run = (inbox / f"{d:%Y-%m-%d}" for d in (OLDER, OLD, cutoff_date(TODAY, 25)))
    for folder in (processed, refused, never_run):
        folder.mkdir(parents=True)
        (folder / "READY").touch()
    (refused / "REFUSED").write_text("refused\n")
    runs_table = metadata.tables["runs"]
    with three_runs.begin() as connection:  # R-older was run from the inbox folder
        connection.execute(
            runs_table.update()
            .where(runs_table.c.run_id == "R-older")
            .values(summary_json={"inputs": {"extracts_dir": str(processed.resolve())}})
        )

    monkeypatch.setenv("TFIDENT_LOCK_STALE_AFTER", "3600")  # the killed run started seconds ago: may be alive
    result = CliRunner().invoke(app, ["retention", "apply", "--db", store_url, "--inbox", str(inbox)])
    assert result.exit_code == 0, result.output
    assert read_run(three_runs, "R-killed").status == "running"
    assert (tmp_path / "checkpoints" / "R-killed").is_dir()
    assert not processed.exists()
    assert not refused.exists()
    assert never_run.is_dir()

    monkeypatch.setenv("TFIDENT_LOCK_STALE_AFTER", "0.001")  # long dead
    result = CliRunner().invoke(app, ["retention", "apply", "--db", store_url, "--inbox", str(inbox), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runs"].keys() == {"R-killed"}
    assert read_run(three_runs, "R-killed").status == "purged"
    assert not (tmp_path / "checkpoints" / "R-killed").exists()
