"""The Prefect flow produces exactly what the plain pipeline produces."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("prefect")

from polars.testing import assert_frame_equal  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from tfident.flows.monthly import monthly_identification  # noqa: E402
from tfident.pipeline import load_run_config, run_pipeline  # noqa: E402


def test_it_equals_the_plain_pipeline(sample_batch: Path, as_of: date) -> None:
    """It runs every stage as a task under Prefect's test harness, with identical frames."""
    config = load_run_config("phase1")
    plain = run_pipeline(sample_batch, as_of, config)
    with prefect_test_harness(server_startup_timeout=120):
        flowed = monthly_identification(sample_batch, as_of, config)
    for name in ("records", "links", "persons", "households", "evidence", "household_criteria", "candidates"):
        assert_frame_equal(getattr(flowed, name), getattr(plain, name))
    assert flowed.batch.quarantine.equals(plain.batch.quarantine)
