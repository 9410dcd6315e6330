"""standardise_persons: one frame of every person record, evidence dates, standardised columns."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from tfident.ingest.sources import SOURCES
from tfident.standardise import PERSONS_COLUMNS, standardise_persons

D = date(2026, 10, 31)
TYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "code": pl.String(),
    "identifier": pl.String(),
    "date": pl.Date(),
    "integer": pl.Int64(),
}


def extract(source: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    columns = {}
    for column in SOURCES[source].columns:
        dtype = pl.Int64() if column.name == "uprn" else TYPES[column.type]
        columns[column.name] = pl.Series(column.name, [row.get(column.name) for row in rows], dtype=dtype)
    return pl.DataFrame(columns)


def test_columns_and_keys() -> None:
    extracts = {
        "asb": extract(
            "asb",
            [
                {
                    "record_id": "ASB-1",
                    "forename": "Bob",
                    "surname": "O'Neil-Smith",
                    "date_of_birth": date(1990, 1, 2),
                    "address_line_1": "Flat 2",
                    "address_line_2": "14 High St",
                    "town": "Tenford",
                    "postcode": "tf4 2ba",
                    "uprn": 100,
                    "intervention_date": date(2026, 5, 1),
                }
            ],
        ),
        "gazetteer": pl.DataFrame({"uprn": [1]}),
    }
    persons = standardise_persons(extracts, D)
    assert tuple(persons.columns) == PERSONS_COLUMNS
    row = persons.row(0, named=True)
    assert row["record_key"] == "asb:ASB-1"
    assert row["address"] == "Flat 2, 14 High St, Tenford"
    assert row["forename_std"] == "BOB"
    assert row["forename_canonical"] == "ROBERT"
    assert row["surname_std"] == "ONEILSMITH"
    assert row["surname_tokens"] == ["ONEIL", "SMITH"]
    assert row["forename_metaphone"]
    assert row["surname_metaphone"]
    assert row["postcode_std"] == "TF4 2BA"
    assert row["postcode_outward"] == "TF4"
    assert row["address_std"] == "FLAT 2 14 HIGH STREET"
    assert row["uprn"] == 100
    assert row["evidence_date"] == date(2026, 5, 1)
    assert persons.schema["surname_tokens"] == pl.List(pl.String)


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("school_census", {"census_date": date(2026, 10, 1)}, date(2026, 10, 1)),
        ("attendance", {"term_end": date(2026, 12, 18)}, D),  # capped at D
        ("attendance", {"term_end": date(2026, 7, 22)}, date(2026, 7, 22)),
        ("exclusions", {"start_date": date(2026, 3, 3)}, date(2026, 3, 3)),
        ("youth_offending", {"offence_date": date(2026, 1, 1), "outcome_date": date(2026, 2, 2)}, date(2026, 2, 2)),
        ("youth_offending", {"offence_date": date(2026, 1, 1)}, date(2026, 1, 1)),
        ("asb", {"intervention_date": date(2025, 12, 1)}, date(2025, 12, 1)),
        ("benefits", {"claim_start": date(2020, 1, 1)}, D),  # live claim
        ("benefits", {"claim_start": date(2020, 1, 1), "claim_end": date(2027, 1, 1)}, D),  # ends after D
        ("benefits", {"claim_start": date(2020, 1, 1), "claim_end": date(2025, 6, 30)}, date(2025, 6, 30)),
        ("social_care", {"start_date": date(2025, 1, 1)}, D),
        ("social_care", {"start_date": date(2025, 1, 1), "end_date": date(2025, 9, 9)}, date(2025, 9, 9)),
        ("domestic_abuse", {"incident_date": date(2026, 4, 4)}, date(2026, 4, 4)),
        ("health", {"recorded_date": date(2026, 8, 8)}, date(2026, 8, 8)),
    ],
)
def test_evidence_date(source: str, values: dict[str, Any], expected: date) -> None:
    persons = standardise_persons({source: extract(source, [{"record_id": "R1", **values}])}, D)
    assert persons["evidence_date"][0] == expected


def test_every_person_source_in_one_frame_and_invalid_identifiers_dropped() -> None:
    extracts = {
        "school_census": extract("school_census", [{"record_id": "S1", "upn": "not a upn"}]),
        "benefits": extract("benefits", [{"record_id": "B1", "nino": "ab 12 34 56 c"}, {"record_id": "B2"}]),
        "health": extract("health", [{"record_id": "H1", "nhs_number": "943 476 5919"}]),
    }
    persons = standardise_persons(extracts, D)
    assert persons["record_key"].to_list() == ["school_census:S1", "benefits:B1", "benefits:B2", "health:H1"]
    assert persons["upn"][0] is None
    assert persons["nino"][1] == "AB123456C"
    assert persons["nhs_number"][3] == "9434765919"
    assert persons["surname_tokens"].to_list()[2] == []


def test_no_person_sources() -> None:
    persons = standardise_persons({"gazetteer": pl.DataFrame({"uprn": [1]})}, D)
    assert persons.is_empty()
    assert tuple(persons.columns) == PERSONS_COLUMNS
