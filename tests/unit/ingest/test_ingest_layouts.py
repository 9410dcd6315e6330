"""Files as agencies really send them: byte order marks, title blocks, footers, sheets, separators, term labels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
import yaml
from ingest_builders import BatchBuilder, canonical_csv, row, rows

from tfident.config import CONFIG_DIR, parse_model
from tfident.criteria.engine import last_complete_terms
from tfident.errors import ConfigError, ExtractError, UnreadableFile
from tfident.ingest import SourcesMapping
from tfident.ingest.readers import decode, sniff_delimiter
from tfident.ingest.sources import SOURCES
from tfident.ingest.validate import UNRECOGNISED_TERM

NAMES = [("Zoë", "Brontë"), ("José", "Núñez")]


def mapping(**sources: dict[str, object]) -> SourcesMapping:
    return SourcesMapping.model_validate({"sources": sources})


def accented_asb() -> str:
    data = [row("asb", record_id=f"ASB-{i}", forename=f, surname=s) for i, (f, s) in enumerate(NAMES)]
    return canonical_csv("asb", data)


# --- byte order marks -------------------------------------------------------------


def test_cp1252_text_with_a_utf8_bom_and_cp1252_declared(builder: BatchBuilder) -> None:
    builder.write("asb", b"\xef\xbb\xbf" + accented_asb().encode("cp1252"))
    frame = builder.read(mapping(asb={"encoding": "cp1252"})).extracts["asb"]
    assert list(zip(frame["forename"], frame["surname"], strict=True)) == NAMES


def test_utf8_text_with_a_bom_and_cp1252_declared_is_read_as_utf8(builder: BatchBuilder) -> None:
    builder.write("asb", accented_asb().encode("utf-8-sig"))
    for encoding in ("cp1252", "latin-1", "utf-8", "utf-8-sig"):
        frame = builder.read(mapping(asb={"encoding": encoding})).extracts["asb"]
        assert list(zip(frame["forename"], frame["surname"], strict=True)) == NAMES, encoding


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_bom_whatever_is_declared(builder: BatchBuilder, encoding: str) -> None:
    data = accented_asb().encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    builder.write("asb", data)
    frame = builder.read(mapping(asb={"encoding": "cp1252"})).extracts["asb"]
    assert list(zip(frame["forename"], frame["surname"], strict=True)) == NAMES


def test_decode_keeps_line_numbers_in_errors_after_a_bom() -> None:
    data = b"\xef\xbb\xbfrecord_id\nA1\n\xff\xfe\xfd\n"
    with pytest.raises(UnreadableFile, match=r"f\.csv: line 3 is not valid"):
        decode(data, "utf-8", "f.csv")


# --- title blocks, footers, sheets --------------------------------------------------


def test_csv_title_block_and_totals_footer_keep_real_line_numbers(builder: BatchBuilder) -> None:
    data = rows("asb", 3)
    data[1]["intervention_date"] = "not a date"
    body = canonical_csv("asb", data)
    width = len(SOURCES["asb"].columns)
    text = "Anti-social behaviour extract\nRun on 2026-10-31,,,\n\n" + body + "Total,3" + "," * (width - 2) + "\n"
    builder.write("asb", text)
    with pytest.raises(ExtractError, match="does not look like a header row"):
        builder.read()
    batch = builder.read(mapping(asb={"header_row": 4, "footer_rows": 1}))
    assert batch.extracts["asb"]["line"].to_list() == [5, 7]
    assert batch.quarantine.select("line", "reason").rows() == [(6, "unparseable date")]
    assert batch.quality["asb"].rows_read == 3


def test_blank_lines_above_the_header_are_skipped(builder: BatchBuilder) -> None:
    builder.write("asb", "\n\n" + canonical_csv("asb", rows("asb", 2)))
    assert builder.read().extracts["asb"]["line"].to_list() == [4, 5]


def write_title_block_workbook(path: Path, sheet_name: str = "Extract") -> None:
    """A workbook: a cover sheet, then the data sheet with a 3-row title block and a totals row."""
    data = rows("attendance", 3)
    data[2]["term"] = "Summer 2026"
    header = list(data[0])
    workbook = xlsxwriter.Workbook(path)
    workbook.add_worksheet("Cover").write(0, 0, "Notes")
    sheet = workbook.add_worksheet(sheet_name)
    sheet.write(0, 0, "Attendance return")
    sheet.write(1, 0, "Tenford Council")
    sheet.write(2, 0, "Produced 2026-10-31")
    sheet.write_row(3, 0, header)
    for i, record in enumerate(data):
        sheet.write_row(4 + i, 0, list(record.values()))
    sheet.write_row(8, 0, ["Total", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", 360])
    workbook.close()


def test_xlsx_title_block_footer_and_sheet(builder: BatchBuilder) -> None:
    (builder.folder / "attendance.csv").unlink()
    write_title_block_workbook(builder.folder / "attendance.xlsx")
    layout = {"sheet": "Extract", "header_row": 4, "footer_rows": 1}
    batch = builder.read(mapping(attendance=layout))
    frame = batch.extracts["attendance"]
    assert frame["line"].to_list() == [5, 6, 7]  # the spreadsheet's own row numbers
    assert frame["term"].to_list() == ["2025/26-AUT", "2025/26-AUT", "2025/26-SUM"]
    assert batch.quarantine.is_empty()
    with pytest.raises(ExtractError, match="does not look like a header row"):  # header_row 1: the title
        builder.read(mapping(attendance={"sheet": "Extract"}))


def test_header_is_the_first_non_blank_row_at_or_below_header_row(builder: BatchBuilder) -> None:
    (builder.folder / "asb.csv").unlink()
    data = rows("asb", 2)
    workbook = xlsxwriter.Workbook(builder.folder / "asb.xlsx")
    sheet = workbook.add_worksheet()
    sheet.write(0, 0, "ASB extract")  # row 1; rows 2 and 3 blank
    sheet.write_row(3, 0, list(data[0]))
    for i, record in enumerate(data):
        sheet.write_row(4 + i, 0, list(record.values()))
    workbook.close()
    with pytest.raises(ExtractError, match=r"asb\.xlsx: row 1 does not look like a header row"):
        builder.read()
    assert builder.read(mapping(asb={"header_row": 2})).extracts["asb"]["line"].to_list() == [5, 6]


def test_xlsx_leading_blank_rows_keep_spreadsheet_row_numbers(builder: BatchBuilder) -> None:
    (builder.folder / "asb.csv").unlink()
    data = rows("asb", 2)
    workbook = xlsxwriter.Workbook(builder.folder / "asb.xlsx")
    sheet = workbook.add_worksheet()
    sheet.write_row(2, 0, list(data[0]))
    for i, record in enumerate(data):
        sheet.write_row(3 + i, 0, list(record.values()))
    workbook.close()
    assert builder.read().extracts["asb"]["line"].to_list() == [4, 5]


def test_missing_sheet_names_the_sheets(builder: BatchBuilder) -> None:
    (builder.folder / "attendance.csv").unlink()
    write_title_block_workbook(builder.folder / "attendance.xlsx")
    with pytest.raises(UnreadableFile, match=r"no sheet named 'Data'.*'Cover', 'Extract'"):
        builder.read(mapping(attendance={"sheet": "Data"}))


def test_layout_keys_for_the_wrong_format_are_errors(builder: BatchBuilder) -> None:
    with pytest.raises(ExtractError, match=r"asb\.csv: `sheet:` is set .* only to XLSX"):
        builder.read(mapping(asb={"sheet": "Data"}))
    (builder.folder / "asb.csv").unlink()
    pl.DataFrame(rows("asb", 2)).write_parquet(builder.folder / "asb.parquet")
    with pytest.raises(ExtractError, match=r"asb\.parquet: `header_row:` is set .* only to CSV and XLSX"):
        builder.read(mapping(asb={"header_row": 2}))


def test_footer_rows_more_than_the_rows(builder: BatchBuilder) -> None:
    builder.write("asb", canonical_csv("asb", rows("asb", 1)))
    with pytest.raises(UnreadableFile, match=r"footer_rows: 2.*only 1 data row"):
        builder.read(mapping(asb={"footer_rows": 2}))


def test_header_row_below_the_end_of_the_file(builder: BatchBuilder) -> None:
    with pytest.raises(UnreadableFile, match=r"asb\.csv: the file has 4 lines, but `header_row: 9`"):
        builder.read(mapping(asb={"header_row": 9}))


# --- separators ---------------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", "\t", "|", ","])
def test_delimiter_auto(builder: BatchBuilder, separator: str) -> None:
    data = rows("asb", 2)
    data[0]["address_line_1"] = "Flat 1, 2 High Street"  # a comma inside a quoted field
    text = canonical_csv("asb", data).replace(",", separator).replace(f'"Flat 1{separator} 2', '"Flat 1, 2')
    builder.write("asb", text)
    frame = builder.read(mapping(asb={"delimiter": "auto"})).extracts["asb"]
    assert frame["address_line_1"].to_list() == ["Flat 1, 2 High Street", "1 Orchard Street"]


def test_sniffing_prefers_the_separator_that_is_steady_on_the_next_lines() -> None:
    assert sniff_delimiter("a;b,c;d\n1;2,3;4\n") == ";"
    assert sniff_delimiter("a;b,c\n1;2,3,4\n") == ";"  # tie; ; is steady, , is not
    assert sniff_delimiter("only\n1\n") == ","
    assert sniff_delimiter('"a;b",c\n') == ","


def test_named_delimiters() -> None:
    assert mapping(asb={"delimiter": "tab"}).for_source("asb").delimiter == "\t"
    assert mapping(asb={"delimiter": "AUTO"}).for_source("asb").delimiter == "auto"


# --- codes and term labels ------------------------------------------------------------


def attendance_rows(labels: list[str]) -> list[dict[str, str]]:
    return [row("attendance", record_id=f"ATT{i}", term=label) for i, label in enumerate(labels)]


def test_codes_remap_term_labels(builder: BatchBuilder) -> None:
    builder.rows("attendance", attendance_rows(["T1 25/26", "t3 25/26 ", "2025/26-SPR"]))
    batch = builder.read()
    assert batch.quarantine["reason"].to_list() == [UNRECOGNISED_TERM] * 2
    remap = {"codes": {"term": {"T1 25/26": "2025/26-AUT", "T3 25/26": "Summer 2026"}}}
    batch = builder.read(mapping(attendance=remap))
    assert batch.quarantine.is_empty()
    assert batch.extracts["attendance"]["term"].to_list() == ["2025/26-AUT", "2025/26-SUM", "2025/26-SPR"]


def test_codes_remap_other_text_columns(builder: BatchBuilder) -> None:
    builder.rows("youth_offending", [row("youth_offending", outcome_type="Youth Caution ")])
    remap = {"codes": {"outcome_type": {"youth caution": "YOUTH_CAUTION"}}}
    assert builder.read(mapping(youth_offending=remap)).extracts["youth_offending"]["outcome_type"].to_list() == [
        "YOUTH_CAUTION"
    ]


def test_other_term_formats_do_not_shift_the_three_term_window(builder: BatchBuilder) -> None:
    terms = [
        ("2024/25-SUM", "2025-04-16", "2025-07-22"),
        ("Autumn 2025", "2025-09-03", "2025-12-19"),
        ("2025/26-AUT", "2025-09-03", "2025-12-19"),
        ("2025-26 Spring", "2026-01-05", "2026-04-02"),
        ("Summer 2026", "2026-04-16", "2026-07-22"),
        ("2025/26-SUM", "2026-04-16", "2026-07-22"),
    ]
    data = [
        row("attendance", record_id=f"ATT{i}", term=label, term_start=start, term_end=end)
        for i, (label, start, end) in enumerate(terms)
    ]
    builder.rows("attendance", data)
    batch = builder.read()
    assert batch.quarantine.is_empty()
    window = last_complete_terms(batch.extracts["attendance"], dt.date(2026, 10, 31), 3)
    assert window["term"].to_list() == ["2025/26-SUM", "2025/26-SPR", "2025/26-AUT"]


def test_unrecognised_term_label_is_quarantined_with_a_reason(builder: BatchBuilder) -> None:
    builder.rows("attendance", attendance_rows(["Summer 2026", "Term 3", "2026 Summer"]))
    batch = builder.read()
    assert batch.extracts["attendance"]["term"].to_list() == ["2025/26-SUM"]
    faults = batch.quarantine.select("line", "field", "value", "reason").rows()
    assert faults == [(3, "term", "Term 3", UNRECOGNISED_TERM), (4, "term", "2026 Summer", UNRECOGNISED_TERM)]
    assert batch.quality["attendance"].quarantined_by_reason == {UNRECOGNISED_TERM: 2}


# --- configuration errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "settings", "message"),
    [
        ("asb", {"header_row": 0}, r"sources\.asb\.header_row: Input should be greater than or equal to 1"),
        ("asb", {"footer_rows": -1}, r"sources\.asb\.footer_rows: Input should be greater than or equal to 0"),
        ("asb", {"delimiter": ";;"}, r"sources\.asb\.delimiter: .*not a field separator"),
        ("asb", {"sheet": ""}, r"sources\.asb\.sheet: String should have at least 1 character"),
        ("asb", {"codes": {"intervention_date": {"x": "y"}}}, r"intervention_date is a date column"),
        ("asb", {"codes": {"intervention_type": {"Injunction": "INJ"}}}, r"'INJ' is not a code of intervention_type"),
        ("attendance", {"codes": {"term": {"T3": "Term three"}}}, r"codes\.term\.T3: 'Term three' is not a term label"),
    ],
)
def test_bad_layout_keys_are_one_config_error_each(source: str, settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_model({"sources": {source: settings}}, SourcesMapping, "sources.yaml")


def test_the_commented_example_in_sources_yaml_is_valid() -> None:
    text = (CONFIG_DIR / "sources.yaml").read_text(encoding="utf-8").split("# Example (commented out):", 1)[1]
    lines = [line.removeprefix("#").removeprefix(" ") for line in text.splitlines() if line.startswith("#")]
    example = parse_model(yaml.safe_load("\n".join(lines)), SourcesMapping, "sources.yaml example")
    assert {"benefits", "school_census", "attendance"} <= set(example.sources)
    assert example.for_source("attendance").code_map("term", keep_case=True)["T3 2025/26"] == "2025/26-SUM"
