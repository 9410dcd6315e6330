"""Row faults go to quarantine with their reason and physical line; the rest of the file goes on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
from ingest_builders import BatchBuilder, canonical_csv, row, rows

from tfident.ingest.batch import Batch
from tfident.ingest.sources import SOURCES

ReadSource = Callable[[str, list[dict[str, str]]], Batch]


def only_fault(batch: Batch) -> dict[str, Any]:
    """The single quarantined row of the batch."""
    assert batch.quarantine.height == 1, batch.quarantine
    return batch.quarantine.row(0, named=True)


def with_bad(source: str, bad: dict[str, str], n: int = 3, at: int = 1) -> list[dict[str, str]]:
    """``n`` valid rows of ``source`` with ``bad`` changes applied to row ``at`` (0-based)."""
    data = rows(source, n)
    data[at] = {**data[at], **bad}
    return data


@pytest.mark.parametrize(
    ("source", "bad", "field", "reason"),
    [
        ("asb", {"record_id": ""}, "record_id", "missing record_id"),
        ("asb", {"record_id": "   "}, "record_id", "missing record_id"),
        ("asb", {"intervention_date": ""}, "intervention_date", "missing value"),
        ("asb", {"intervention_date": "31/02/2025"}, "intervention_date", "unparseable date"),
        ("asb", {"date_of_birth": "2025-02-30"}, "date_of_birth", "unparseable date"),
        ("asb", {"date_of_birth": "1850-01-01"}, "date_of_birth", "date out of range"),
        ("asb", {"intervention_type": "SHOUTING"}, "intervention_type", "code not allowed"),
        ("asb", {"sex": "X"}, "sex", "code not allowed"),
        ("school_census", {"provision": "HOME"}, "provision", "code not allowed"),
        ("youth_offending", {"proven": "maybe"}, "proven", "code not allowed"),
        ("exclusions", {"sessions": "-2"}, "sessions", "negative integer"),
        ("exclusions", {"sessions": "2.5"}, "sessions", "not an integer"),
        ("exclusions", {"sessions": "two"}, "sessions", "not an integer"),
        ("attendance", {"sessions_unauthorised": "200"}, "sessions_possible", "sessions exceed possible"),
        ("attendance", {"term_end": "2025-09-01"}, "term_end", "end before start"),
        ("benefits", {"claim_end": "2023-12-31"}, "claim_end", "end before start"),
        ("social_care", {"end_date": "2024-12-31"}, "end_date", "end before start"),
        ("gazetteer", {"uprn": ""}, "uprn", "missing value"),
        ("gazetteer", {"uprn": "12AB"}, "uprn", "invalid uprn"),
        ("gazetteer", {"uprn": "100090000001"}, "uprn", "duplicate uprn"),
    ],
)
def test_row_fault_is_quarantined_with_reason_and_line(
    read_source: ReadSource, source: str, bad: dict[str, str], field: str, reason: str
) -> None:
    batch = read_source(source, with_bad(source, bad))
    fault = only_fault(batch)
    assert fault["source"] == source
    assert fault["file"] == f"{source}.csv"
    assert fault["line"] == 3
    assert fault["field"] == field
    assert fault["reason"] == reason
    assert batch.extracts[source].height == 2
    assert batch.extracts[source]["line"].to_list() == [2, 4]
    quality = batch.quality[source]
    assert quality.rows_read == 3
    assert quality.rows_accepted + quality.rows_quarantined == quality.rows_read
    assert quality.quarantined_by_reason == {reason: 1}


def test_fault_value_and_record_id_are_quoted_back(read_source: ReadSource) -> None:
    fault = only_fault(read_source("asb", with_bad("asb", {"intervention_date": " 2025-13-01 "})))
    assert fault["record_id"] == "ASB-1-1"
    assert fault["value"] == "2025-13-01"


def test_gazetteer_fault_is_keyed_by_uprn(read_source: ReadSource) -> None:
    fault = only_fault(read_source("gazetteer", with_bad("gazetteer", {"uprn": "0"})))
    assert fault["record_id"] == "0"
    assert fault["reason"] == "invalid uprn"


def test_duplicate_record_id_keeps_the_first(read_source: ReadSource) -> None:
    data = rows("asb", 3)
    data[2]["record_id"] = data[0]["record_id"]
    batch = read_source("asb", data)
    fault = only_fault(batch)
    assert (fault["line"], fault["reason"], fault["record_id"]) == (4, "duplicate record_id", "ASB-1-0")
    assert batch.extracts["asb"]["line"].to_list() == [2, 3]
    assert batch.quality["asb"].duplicate_record_ids == 1


def test_first_fault_in_column_order_is_reported(read_source: ReadSource) -> None:
    fault = only_fault(read_source("asb", with_bad("asb", {"date_of_birth": "soon", "intervention_type": "??"})))
    assert (fault["field"], fault["reason"]) == ("date_of_birth", "unparseable date")


def test_ragged_row_in_the_middle_is_a_row_fault(builder: BatchBuilder) -> None:
    lines = canonical_csv("asb", rows("asb", 3)).splitlines(keepends=True)
    lines[2] = "ASB-X,Ann,Smith\n"
    lines.insert(3, lines[3].rstrip("\n") + ",extra\n")
    builder.write("asb", "".join(lines))
    batch = builder.read()
    faults = batch.quarantine.sort("line")
    assert faults["line"].to_list() == [3, 4]
    assert faults["reason"].to_list() == ["ragged row", "ragged row"]
    assert faults["record_id"].to_list() == ["ASB-X", "ASB-1-2"]
    width = len(SOURCES["asb"].columns)
    assert faults["value"].to_list() == [f"3 fields, expected {width}", f"{width + 1} fields, expected {width}"]
    assert batch.extracts["asb"]["line"].to_list() == [2, 5]


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(builder: BatchBuilder) -> None:
    data = rows("asb", 4)
    data[0]["address_line_1"] = "Flat 1\n2 High Street"  # spans lines 2-3
    data[2]["intervention_type"] = "BAD"  # line 6: after the blank line 4 and the row on line 5
    lines = canonical_csv("asb", data).splitlines(keepends=True)
    lines.insert(3, "\n")
    builder.write("asb", "".join(lines))
    batch = builder.read()
    assert batch.extracts["asb"]["line"].to_list() == [2, 5, 7]
    assert batch.extracts["asb"]["address_line_1"][0] == "Flat 1\n2 High Street"
    assert only_fault(batch)["line"] == 6


def test_crlf_and_quoted_commas(builder: BatchBuilder) -> None:
    data = with_bad("asb", {"address_line_1": 'Flat 1, "The Oaks"', "sex": "Q"})
    builder.write("asb", canonical_csv("asb", data).replace("\n", "\r\n"))
    batch = builder.read()
    assert batch.extracts["asb"]["line"].to_list() == [2, 4]
    assert only_fault(batch)["line"] == 3
    builder.write("asb", canonical_csv("asb", with_bad("asb", {"address_line_1": 'Flat 1, "The Oaks"'})))
    assert builder.read().extracts["asb"]["address_line_1"][1] == 'Flat 1, "The Oaks"'


def test_stray_quote_inside_a_field_is_text(read_source: ReadSource) -> None:
    batch = read_source("asb", with_bad("asb", {"surname": 'O"Brien'}))
    assert batch.quarantine.is_empty()
    assert batch.extracts["asb"]["surname"][1] == 'O"Brien'


def test_invalid_identifiers_become_null_and_are_counted(builder: BatchBuilder) -> None:
    builder.rows("school_census", with_bad("school_census", {"upn": "A801200005001", "uprn": "12x"}))
    builder.rows("benefits", with_bad("benefits", {"nino": "BG123456A"}))
    builder.rows("youth_offending", with_bad("youth_offending", {"pnc_id": "2020/0000009A"}))
    builder.rows("social_care", with_bad("social_care", {"nhs_number": "9434765918"}))
    batch = builder.read()
    assert batch.quarantine.is_empty()
    census = batch.extracts["school_census"]
    assert census["upn"].to_list() == ["B801200005001", None, "B801200005001"]
    assert census["uprn"].null_count() == 3
    assert batch.quality["school_census"].invalid_identifiers == {"uprn": 1, "upn": 1}
    assert batch.quality["benefits"].invalid_identifiers == {"uprn": 0, "nino": 1}
    assert batch.quality["youth_offending"].invalid_identifiers["pnc_id"] == 1
    assert batch.quality["social_care"].invalid_identifiers["nhs_number"] == 1


def test_accepted_frame_types_and_normalisation(builder: BatchBuilder) -> None:
    builder.write(
        "exclusions",
        canonical_csv(
            "exclusions",
            [
                row(
                    "exclusions",
                    forename="  Ann ",
                    middle_names=" ",
                    exclusion_type=" fixed ",
                    upn="b801 2000 05001",
                    uprn="100090000001",
                    sessions="+3",
                )
            ],
        ).replace("\n", ",kept \n", 2),  # an extra column "kept" in the header and the row
    )
    batch = builder.read()
    frame = batch.extracts["exclusions"]
    assert frame.columns == [*SOURCES["exclusions"].column_names, "line"]  # an unknown column is not loaded
    assert batch.files["exclusions"].unknown_columns == ("kept",)
    first = frame.row(0, named=True)
    assert first["forename"] == "Ann"
    assert first["middle_names"] is None
    assert first["exclusion_type"] == "FIXED"
    assert first["upn"] == "B801200005001"
    assert first["uprn"] == 100090000001
    assert first["sessions"] == 3
    assert frame.schema["start_date"] == pl.Date
    assert frame.schema["sessions"] == pl.Int64
    assert frame.schema["uprn"] == pl.Int64
    assert frame.schema["line"] == pl.Int64


def test_absent_optional_columns_are_typed_nulls(builder: BatchBuilder) -> None:
    header = ["record_id", "forename", "surname", "date_of_birth", "intervention_type", "intervention_date"]
    builder.write("asb", ",".join(header) + "\nA1,Ann,Smith,2010-01-01,xyz,2025-01-01\nA2,Bo,Li,,CPN,2025-02-01\n")
    batch = builder.read()
    frame = batch.extracts["asb"]
    assert frame.columns == [*SOURCES["asb"].column_names, "line"]
    assert frame.schema["uprn"] == pl.Int64
    assert frame.height == 1
    assert frame["postcode"].null_count() == 1
    assert only_fault(batch)["reason"] == "code not allowed"


def test_extra_column_named_line_is_kept_under_another_name(builder: BatchBuilder) -> None:
    text = canonical_csv("asb", rows("asb", 1))
    header, body = text.splitlines()
    builder.write("asb", f"{header},line\n{body},99\n")
    batch = builder.read()
    assert batch.extracts["asb"]["line"].to_list() == [2]
    assert batch.files["asb"].unknown_columns == ("extra_line",)  # reported, not loaded


def test_quarantine_frame_schema(read_source: ReadSource) -> None:
    batch = read_source("asb", with_bad("asb", {"sex": "?"}))
    assert batch.quarantine.schema == pl.Schema(
        {
            "source": pl.String,
            "file": pl.String,
            "line": pl.Int64,
            "record_id": pl.String,
            "field": pl.String,
            "value": pl.String,
            "reason": pl.String,
        }
    )


def test_quality_report(read_source: ReadSource) -> None:
    data = rows("asb", 4)
    data[3]["intervention_date"] = "nope"
    data[1]["postcode"] = ""
    batch = read_source("asb", data)
    quality = batch.quality["asb"]
    assert (quality.rows_read, quality.rows_accepted, quality.rows_quarantined) == (4, 3, 1)
    assert quality.nulls["postcode"] == 1
    assert quality.date_ranges["intervention_date"].model_dump() == {"min": "2025-03-01", "max": "2025-03-01"}
    assert quality.possible_duplicate_persons == 2  # the same name and birth date three times
    assert quality.model_dump(mode="json")["quarantined_by_reason"] == {"unparseable date": 1}
    assert batch.files["asb"].rows == 4
    assert batch.files["asb"].format == "csv"
    assert len(batch.files["asb"].sha256) == 64
