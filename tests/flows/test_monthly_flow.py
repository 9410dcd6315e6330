"""The Prefect flow produces exactly what the plain pipeline produces."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("prefect")

from polars.testing import assert_frame_equal
from prefect.testing.utilities import prefect_test_harness

from tfident.flows.monthly import monthly_identification
from tfident.pipeline import load_run_config, run_pipeline


def test_it_equals_the_plain_pipeline(sample_batch: Path, as_of: date) -> None:
    """It runs every stage as a task under Prefect's test harness, with identical frames."""
    config = load_run_config("phase1")
    plain = run_pipeline(sample_batch, as_of, config)
    with prefect_test_harness(server_startup_timeout=120):
        flowed = monthly_identification(sample_batch, as_of, config)
    for name in ("records", "links", "persons", "households", "evidence", "household_criteria", "candidates"):
        assert_frame_equal(getattr(flowed, name), getattr(plain, name))
    assert flowed.batch.quarantine.equals(plain.batch.quarantine)


def test_the_deployments_carry_their_schedules_and_parameters(tmp_path: Path) -> None:
    """The monthly run reads an inbox on a cron in the council's time zone, with no database URL among its
    parameters; retention is served beside it."""
    from tfident.flows.deployment import DEFAULT_CRON, DEFAULT_RETENTION_CRON, build_deployments

    monthly, retention = build_deployments(name="monthly", inbox=str(tmp_path), timezone="Europe/London")
    assert monthly.parameters == {"inbox": str(tmp_path), "criteria": "phase1", "retries": 3, "retry_delay": 60.0}
    assert [(s.schedule.cron, s.schedule.timezone) for s in monthly.schedules] == [(DEFAULT_CRON, "Europe/London")]
    assert [s.schedule.cron for s in retention.schedules] == [DEFAULT_RETENTION_CRON]
    assert retention.parameters == {"inbox": str(tmp_path)}
    assert monthly.entrypoint == "tfident.flows.deployment.monthly_run"
    (every,) = build_deployments(inbox=str(tmp_path), interval=10, retention_cron=None)[0].schedules
    assert every.schedule.interval.total_seconds() == 10


def test_the_run_summary_holds_counts_only() -> None:
    """The artifact of a run shows counts per source and criteria, never a household id."""
    from tfident.flows.deployment import run_summary_markdown

    summary = {
        "sources": {"attendance": {"rows_read": 10, "rows_accepted": 9, "rows_quarantined": 1}},
        "persons": 5,
        "households": 2,
        "candidates": 1,
        "candidates_by_criteria": {"crime,education": 1},
        "inputs": {"extracts_dir": "/data/inbox/2026-10-31"},
    }
    text = run_summary_markdown("r1", summary)
    assert "| attendance | 10 | 9 | 1 |" in text and "Candidates: 1" in text and "2026-10-31" in text


def test_a_stop_check_fails_the_flow_before_any_later_stage(sample_batch: Path, as_of: date, tmp_path: Path) -> None:
    """Under Prefect the data checks run right after ingest: benefits all dated after the batch date stop it
    (DataCheckFailed, exit 2); the sample batch passes and its report comes back with the result."""
    import csv
    import shutil

    from tfident.errors import DataCheckFailed
    from tfident.ingest.checks import Manifests, load_checks_config

    bad = tmp_path / "batch"
    shutil.copytree(sample_batch, bad, ignore=shutil.ignore_patterns("truth"))
    with (bad / "benefits.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with (bad / "benefits.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "claim_start": "2027-01-01", "claim_end": ""} for row in rows)
    config = load_run_config("phase1")
    with prefect_test_harness(server_startup_timeout=120):
        with pytest.raises(DataCheckFailed, match="benefits"):
            monthly_identification(bad, as_of, config, None, None, load_checks_config(), None, Manifests())
        good = monthly_identification(sample_batch, as_of, config, None, None, load_checks_config(), None, Manifests())
    assert good.checks is not None and not good.checks.stops
