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


def test_the_scheduled_run_defaults_to_the_end_of_last_month() -> None:
    """A run on the 5th of November judges the batch as of 31 October; January looks back a year."""
    from flows.monthly_deployment import default_as_of

    assert default_as_of(date(2026, 11, 5)) == date(2026, 10, 31)
    assert default_as_of(date(2027, 1, 5)) == date(2026, 12, 31)
    assert default_as_of(date(2028, 3, 1)) == date(2028, 2, 29)


def test_the_deployment_carries_its_schedule_and_parameters(tmp_path: Path) -> None:
    """The deployment a council server serves runs monthly with the folder and database it was given."""
    from flows.monthly_deployment import DEFAULT_CRON, monthly_run

    deployment = monthly_run.to_deployment(
        name="monthly", cron=DEFAULT_CRON, parameters={"extracts": str(tmp_path), "db": None, "criteria": "phase1"}
    )
    assert deployment.parameters["extracts"] == str(tmp_path)
    assert [s.schedule.cron for s in deployment.schedules] == [DEFAULT_CRON]
