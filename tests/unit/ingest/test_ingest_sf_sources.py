"""Reading the optional sources of contract 1.2 and health's new end_date: valid rows, row faults, and
version 1 batches that lack them.
"""

from __future__ import annotations

import pytest
from ingest_builders import PERSON, BatchBuilder, csv_text

from tfident.ingest.sources import SOURCES, VERSION_1_SOURCES

ADULT = {**PERSON, "date_of_birth": "1988-02-03"}

NEW_ROWS: dict[str, dict[str, str]] = {
    "housing": {
        "record_id": "HSG-1",
        **ADULT,
        "event_type": "RENT_ARREARS",
        "start_date": "2026-02-01",
        "amount": "850",
    },
    "early_years": {
        "record_id": "EY1",
        **ADULT,
        "indicator": "EXPECTANT_PARENT",
        "recorded_date": "2026-07-01",
        "expected_date": "2027-01-20",  # after the batch date: allowed
    },
    "neet": {"record_id": "CCIS1", **PERSON, "status": "NEET", "status_date": "2026-09-01"},
    "early_help": {
        "record_id": "EH-1",
        **ADULT,
        "episode_id": "E1",
        "factor": "PARENTAL_CONFLICT",
        "lead_practitioner": "Family worker 3",
        "lead_agency": "Early Help Service",
        "assessment_date": "2026-05-01",
        "plan_date": "2026-05-20",
    },
    "missing_exploitation": {
        "record_id": "MEX1",
        **PERSON,
        "event_type": "MISSING_EPISODE",
        "start_date": "2026-08-01",
        "end_date": "2026-08-03",
    },
    "probation": {
        "record_id": "PRB/1",
        **ADULT,
        "pnc_id": "2020/0000009N",
        "event_type": "CUSTODY",
        "start_date": "2025-11-01",
        "end_date": "2027-05-01",
        "release_date": "2026-12-01",
    },
    "employment": {
        "record_id": "EMP1",
        **ADULT,
        "nino": "AB123456C",
        "employment_type": "EMPLOYED",
        "start_date": "2024-03-01",
        "hours_per_week": "30",
    },
}


def write(builder: BatchBuilder, source: str, rows: list[dict[str, str]]) -> None:
    header = list(SOURCES[source].column_names)
    builder.write(source, csv_text(header, [[r.get(c, "") for c in header] for r in rows]))


@pytest.mark.parametrize("source", list(NEW_ROWS))
def test_a_valid_row_of_each_new_source_is_read(builder: BatchBuilder, source: str) -> None:
    """It reads each new source's canonical file without a quarantined row, in the contract's columns."""
    write(builder, source, [NEW_ROWS[source], {**NEW_ROWS[source], "record_id": "second"}])
    batch = builder.read()
    assert batch.quarantine.is_empty()
    assert batch.extracts[source].height == 2
    assert batch.extracts[source].columns[: len(SOURCES[source].columns)] == list(SOURCES[source].column_names)


def test_a_batch_without_the_new_sources_is_valid(builder: BatchBuilder) -> None:
    """It reads a version 1 batch (no new source) as before."""
    batch = builder.read()
    assert set(batch.extracts) <= set(VERSION_1_SOURCES)
    assert batch.quarantine.is_empty()


@pytest.mark.parametrize(
    ("source", "bad", "field", "reason"),
    [
        ("housing", {"end_date": "2026-01-31"}, "end_date", "end before start"),
        ("housing", {"event_type": "SOFA_SURFING"}, "event_type", "code not allowed"),
        ("early_help", {"closure_date": "2026-04-30"}, "closure_date", "end before start"),
        ("neet", {"status": "UNKNOWN"}, "status", "code not allowed"),
        ("probation", {"start_date": ""}, "start_date", "missing value"),
        ("employment", {"hours_per_week": "-1"}, "hours_per_week", "negative integer"),
    ],
)
def test_row_faults_of_the_new_sources_are_quarantined(
    builder: BatchBuilder, source: str, bad: dict[str, str], field: str, reason: str
) -> None:
    """It quarantines a bad row of a new source with its field and reason, keeping the good one."""
    write(builder, source, [NEW_ROWS[source], {**NEW_ROWS[source], "record_id": "bad", **bad}])
    batch = builder.read()
    assert batch.quarantine.height == 1
    fault = batch.quarantine.row(0, named=True)
    assert (fault["source"], fault["field"], fault["reason"], fault["line"]) == (source, field, reason, 3)
    assert batch.extracts[source].height == 1


HEALTH = {**ADULT, "indicator": "MENTAL_HEALTH", "recorded_date": "2026-03-01"}


def test_health_without_end_date_reads_it_as_blank(builder: BatchBuilder) -> None:
    """It reads a version 1 health.csv (no end_date column) with end_date blank."""
    header = [c for c in SOURCES["health"].column_names if c != "end_date"]
    builder.write("health", csv_text(header, [[{"record_id": "H1", **HEALTH}.get(c, "") for c in header]]))
    batch = builder.read()
    assert batch.quarantine.is_empty()
    assert batch.extracts["health"]["end_date"].to_list() == [None]


def test_health_end_date_before_recorded_date_is_a_row_fault(builder: BatchBuilder) -> None:
    """It quarantines a health episode that ends before it was recorded, and reads one that ends after."""
    write(
        builder,
        "health",
        [
            {"record_id": "H1", **HEALTH, "end_date": "2026-09-01"},
            {"record_id": "H2", **HEALTH, "end_date": "2026-02-01"},
        ],
    )
    batch = builder.read()
    assert batch.quarantine.select("record_id", "reason").rows() == [("H2", "end before start")]
    assert str(batch.extracts["health"]["end_date"].item()) == "2026-09-01"
