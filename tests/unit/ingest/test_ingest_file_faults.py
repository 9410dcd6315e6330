"""File faults stop the batch with one message naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from ingest_builders import BatchBuilder, canonical_csv, csv_text, row, rows

from tfident.errors import (
    DuplicateHeader,
    ExtractError,
    MissingColumn,
    MissingFile,
    TruncatedFile,
    UnreadableFile,
)
from tfident.ingest import SourcesMapping, read_batch


def test_a_valid_batch_reads(builder: BatchBuilder) -> None:
    batch = builder.read()
    assert set(batch.extracts) == {
        "school_census",
        "attendance",
        "exclusions",
        "youth_offending",
        "asb",
        "benefits",
        "gazetteer",
    }
    assert batch.quarantine.is_empty()


def test_missing_required_file_names_file_and_folder(builder: BatchBuilder) -> None:
    (builder.folder / "asb.csv").unlink()
    with pytest.raises(MissingFile) as caught:
        builder.read()
    assert "asb.csv" in str(caught.value)
    assert str(builder.folder) in str(caught.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(MissingFile, match="batch folder not found"):
        read_batch(tmp_path / "nowhere", SourcesMapping())


def test_optional_source_is_read_only_when_present(builder: BatchBuilder) -> None:
    assert "social_care" not in builder.read().extracts
    builder.rows("social_care", [row("social_care")])
    assert builder.read().extracts["social_care"].height == 1


def test_two_formats_for_one_source(builder: BatchBuilder) -> None:
    (builder.folder / "asb.parquet").write_bytes(b"PAR1")
    with pytest.raises(ExtractError, match=r"asb\.csv and asb\.parquet"):
        builder.read()


def test_missing_required_column_names_file_column_and_columns_found(builder: BatchBuilder) -> None:
    text = csv_text(
        ["record_id", "forename", "surname", "date_of_birth", "intervention_date"], [["A1", "x", "y", "", ""]]
    )
    builder.write("asb", text)
    with pytest.raises(MissingColumn) as caught:
        builder.read()
    message = str(caught.value)
    assert message.startswith("asb.csv:")
    assert "'intervention_type'" in message
    assert "columns found: 'record_id', 'forename'" in message
    assert caught.value.file == "asb.csv"


def test_duplicate_header_names_the_column(builder: BatchBuilder) -> None:
    header = [*row("asb").keys(), "Surname "]
    builder.write("asb", csv_text(header, [[*row("asb").values(), "x"]]))
    with pytest.raises(DuplicateHeader) as caught:
        builder.read()
    assert "asb.csv" in str(caught.value)
    assert "'Surname'" in str(caught.value)


def test_rename_onto_an_existing_column_is_a_duplicate(builder: BatchBuilder) -> None:
    mapping = SourcesMapping.model_validate({"sources": {"asb": {"columns": {"family_name": "surname"}}}})
    header = [*row("asb").keys(), "family_name"]
    builder.write("asb", csv_text(header, [[*row("asb").values(), "x"]]))
    with pytest.raises(DuplicateHeader, match="'family_name' both give column 'surname'"):
        builder.read(mapping)


def test_binary_file_is_unreadable(builder: BatchBuilder) -> None:
    builder.write("benefits", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UnreadableFile, match=r"benefits\.csv: contains NUL bytes.*expected comma-separated text"):
        builder.read()


def test_wrongly_encoded_file_names_line_and_encoding(builder: BatchBuilder) -> None:
    text = canonical_csv("benefits", [row("benefits"), row("benefits", record_id="DWP2", surname="Zoë")])
    builder.write("benefits", text.encode("cp1252"))
    with pytest.raises(UnreadableFile) as caught:
        builder.read()
    message = str(caught.value)
    assert "benefits.csv: line 3 is not valid utf-8 text" in message
    assert "cp1252" in message


def test_empty_file_is_unreadable(builder: BatchBuilder) -> None:
    builder.write("asb", "\n\n")
    with pytest.raises(UnreadableFile, match=r"asb\.csv: the file is empty"):
        builder.read()


def test_truncated_last_line_names_the_line(builder: BatchBuilder) -> None:
    text = canonical_csv("asb", rows("asb", 3))
    builder.write("asb", text[: text.rindex(",", 0, len(text) - 20)])
    with pytest.raises(TruncatedFile) as caught:
        builder.read()
    assert "asb.csv: line 4 has" in str(caught.value)
    assert "truncated" in str(caught.value)


def test_truncated_slow_path_names_the_line(builder: BatchBuilder) -> None:
    data = rows("asb", 3)
    data[0]["address_line_1"] = "Flat 1\n2 High Street"  # a quoted line break: the csv module path
    text = canonical_csv("asb", data)
    builder.write("asb", text[: text.rindex(",", 0, len(text) - 20)])
    with pytest.raises(TruncatedFile, match=r"asb\.csv: line 5 has"):
        builder.read()


def test_unterminated_quote_is_truncated(builder: BatchBuilder) -> None:
    text = canonical_csv("asb", rows("asb", 3)) + 'ASB-9,"Ann\n'
    builder.write("asb", text)
    with pytest.raises(TruncatedFile, match=r"asb\.csv: line 5 opens a quoted field"):
        builder.read()


def test_complete_last_line_without_newline_is_fine(builder: BatchBuilder) -> None:
    builder.write("asb", canonical_csv("asb", rows("asb", 3)).rstrip("\n"))
    assert builder.read().extracts["asb"].height == 3


def test_corrupt_xlsx_and_parquet_are_unreadable(builder: BatchBuilder) -> None:
    builder.write("asb", b"not a zip", name="asb.xlsx")
    with pytest.raises(UnreadableFile, match=r"asb\.xlsx: not a readable \.xlsx workbook"):
        builder.read()
    (builder.folder / "asb.xlsx").unlink()
    builder.write("asb", b"not parquet", name="asb.parquet")
    with pytest.raises(UnreadableFile, match=r"asb\.parquet: not a readable Parquet file"):
        builder.read()


def test_header_only_file_gives_an_empty_extract(builder: BatchBuilder) -> None:
    builder.write("asb", canonical_csv("asb", []))
    batch = builder.read()
    assert batch.extracts["asb"].height == 0
    assert batch.quality["asb"].rows_read == 0


def test_xlsx_duplicate_header_and_missing_column(builder: BatchBuilder) -> None:
    (builder.folder / "asb.csv").unlink()
    data = pl.DataFrame(rows("asb", 2))
    data.with_columns(pl.col("surname").alias("SURNAME ")).write_excel(builder.folder / "asb.xlsx")
    with pytest.raises(DuplicateHeader, match=r"asb\.xlsx: the header names column 'SURNAME' twice"):
        builder.read()
    data.drop("intervention_type").write_excel(builder.folder / "asb.xlsx")
    with pytest.raises(MissingColumn, match=r"asb\.xlsx: missing required column 'intervention_type'"):
        builder.read()
