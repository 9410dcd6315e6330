"""Agency layouts through a mapping, XLSX and Parquet files, and the committed config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from ingest_builders import BatchBuilder, row, rows

from tfident.config import CONFIG_DIR
from tfident.errors import ConfigError
from tfident.ingest import SourcesMapping, load_sources_mapping
from tfident.ingest.dates import excel_serial

AGENCY_BENEFITS = {
    "sources": {
        "benefits": {
            "file": "dwp_match.csv",
            "encoding": "cp1252",
            "date_format": "DD/MM/YYYY",
            "null_values": ["NULL"],
            "columns": {
                "Claim Ref": "record_id",
                "First Name": "forename",
                "Last Name": "surname",
                "DOB": "date_of_birth",
                "NI Number": "nino",
                "Benefit": "benefit_type",
                "Start": "claim_start",
                "End": "claim_end",
            },
            "codes": {"benefit_type": {"Universal Credit": "UC", "housing benefit": "HB"}},
        }
    }
}


def test_committed_sources_config_loads_and_is_canonical() -> None:
    mapping = load_sources_mapping(CONFIG_DIR / "sources.yaml")
    assert mapping.sources == {}


def test_bad_mapping_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  benefits:\n    columns:\n      Ref: reference\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'reference' is not a column of benefits"):
        load_sources_mapping(path)


def test_cp1252_dd_mm_yyyy_renamed_columns_and_codes(builder: BatchBuilder) -> None:
    mapping = SourcesMapping.model_validate(AGENCY_BENEFITS)
    text = (
        "Claim Ref,First Name,Last Name,DOB,NI Number,Benefit,Start,End,Office\r\n"
        "D1,Zoë,Brontë,06/05/1985,ab 12 34 56 c,Universal Credit,01/02/2024,NULL,Tenford\r\n"
        "D2,José,Núñez,31/12/1990,,HOUSING BENEFIT ,15/03/2023,20/04/2024,Tenford\r\n"
        "D3,Ann,Lee,1990-12-31,,Jobseekers,15/03/2023,,Tenford\r\n"
    )
    builder.write("benefits", text.encode("cp1252"), name="dwp_match.csv")
    batch = builder.read(mapping)
    frame = batch.extracts["benefits"]
    assert frame["forename"].to_list() == ["Zoë", "José"]
    assert frame["surname"].to_list() == ["Brontë", "Núñez"]
    assert frame["date_of_birth"].to_list() == [dt.date(1985, 5, 6), dt.date(1990, 12, 31)]
    assert frame["claim_end"].to_list() == [None, dt.date(2024, 4, 20)]
    assert frame["nino"].to_list() == ["AB123456C", None]
    assert frame["benefit_type"].to_list() == ["UC", "HB"]
    assert "Office" not in frame.columns  # a column the contract does not define: reported, not loaded
    assert batch.files["benefits"].unknown_columns == ("Office",)
    fault = batch.quarantine.row(0, named=True)
    assert (fault["file"], fault["line"], fault["field"], fault["value"]) == (
        "dwp_match.csv",
        4,
        "benefit_type",
        "Jobseekers",
    )
    assert batch.files["benefits"].path.endswith("dwp_match.csv")


def test_utf8_bom_is_allowed(builder: BatchBuilder) -> None:
    text = (builder.folder / "asb.csv").read_text(encoding="utf-8")
    builder.write("asb", "\ufeff".encode() + text.encode())
    assert builder.read().extracts["asb"].columns[0] == "record_id"


def test_header_names_ignore_case_and_spaces(builder: BatchBuilder) -> None:
    text = (builder.folder / "asb.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    builder.write("asb", " RECORD_ID , Forename," + header.split(",", 2)[2] + "\n" + rest)
    assert builder.read().extracts["asb"]["record_id"].to_list() == ["ASB-1-0", "ASB-1-1"]


def test_semicolon_delimiter(builder: BatchBuilder) -> None:
    text = (builder.folder / "asb.csv").read_text(encoding="utf-8").replace(",", ";")
    builder.write("asb", text)
    mapping = SourcesMapping.model_validate({"sources": {"asb": {"delimiter": ";"}}})
    assert builder.read(mapping).extracts["asb"].height == 2


def test_excel_serials_in_csv_when_configured(builder: BatchBuilder) -> None:
    serial = str(excel_serial(dt.date(2025, 3, 1)))
    builder.rows("asb", [row("asb", intervention_date=serial)])
    assert builder.read().quarantine["reason"].to_list() == ["unparseable date"]
    mapping = SourcesMapping.model_validate({"sources": {"asb": {"excel_dates": True}}})
    assert builder.read(mapping).extracts["asb"]["intervention_date"].to_list() == [dt.date(2025, 3, 1)]


def test_xlsx_with_date_cells_serials_and_numbers(builder: BatchBuilder) -> None:
    data = rows("attendance", 4)
    frame = pl.DataFrame(data).with_columns(
        term_start=pl.Series([dt.date(2025, 9, 3)] * 4),
        term_end=pl.Series([dt.datetime(2025, 12, 19, 0, 0)] * 4),
        date_of_birth=pl.Series(["2012-03-04", str(excel_serial(dt.date(2012, 3, 5))), "04/03/2012", "not a date"]),
        sessions_possible=pl.Series([120, 120, 120, 120]),
    )
    path = builder.folder / "attendance.xlsx"
    (builder.folder / "attendance.csv").unlink()
    frame.write_excel(path)
    batch = builder.read()
    accepted = batch.extracts["attendance"]
    assert batch.files["attendance"].format == "xlsx"
    assert accepted["line"].to_list() == [2, 3]
    assert accepted["date_of_birth"].to_list() == [dt.date(2012, 3, 4), dt.date(2012, 3, 5)]
    assert accepted["term_start"].to_list() == [dt.date(2025, 9, 3)] * 2
    assert accepted["term_end"].to_list() == [dt.date(2025, 12, 19)] * 2
    assert accepted["sessions_possible"].to_list() == [120, 120]
    assert accepted.schema["term_start"] == pl.Date
    faults = batch.quarantine.sort("line")
    assert faults["line"].to_list() == [4, 5]
    assert faults["reason"].to_list() == ["unparseable date", "unparseable date"]


def test_xlsx_blank_rows_keep_row_numbers(builder: BatchBuilder) -> None:
    import xlsxwriter

    (builder.folder / "asb.csv").unlink()
    path = builder.folder / "asb.xlsx"
    data = rows("asb", 2)
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, list(data[0]))
    sheet.write_row(1, 0, list(data[0].values()))
    sheet.write_row(3, 0, [*list(data[1].values())[:-1], 45717])  # row 4, serial date 2025-03-01
    workbook.close()
    frame = builder.read().extracts["asb"]
    assert frame["line"].to_list() == [2, 4]
    assert frame["intervention_date"].to_list() == [dt.date(2025, 3, 1)] * 2


def test_parquet_keeps_native_dates_and_casts_the_rest(builder: BatchBuilder) -> None:
    (builder.folder / "exclusions.csv").unlink()
    frame = pl.DataFrame(rows("exclusions", 3)).with_columns(
        start_date=pl.Series([dt.date(2026, 1, 10), dt.date(1800, 1, 1), dt.date(2026, 1, 12)]),
        sessions=pl.Series([2, 3, -1]),
        date_of_birth=pl.Series([dt.datetime(2012, 3, 4, 10, 30)] * 3),
    )
    frame.write_parquet(builder.folder / "exclusions.parquet")
    batch = builder.read()
    accepted = batch.extracts["exclusions"]
    assert batch.files["exclusions"].format == "parquet"
    assert accepted["line"].to_list() == [2]
    assert accepted["start_date"].to_list() == [dt.date(2026, 1, 10)]
    assert accepted["date_of_birth"].to_list() == [dt.date(2012, 3, 4)]
    assert accepted["sessions"].to_list() == [2]
    faults = batch.quarantine.sort("line")
    assert faults.select("line", "field", "value", "reason").rows() == [
        (3, "start_date", "1800-01-01", "date out of range"),
        (4, "sessions", "-1", "negative integer"),
    ]
