"""No personal data in any message: canary values in bad files never reach an error, a log or the CLI.

Each case writes a file an agency might really send (no header row, the wrong
encoding, bad dates or codes, duplicate headers, a truncated row, a broken or
headerless workbook, ...) whose cells carry unmistakable canaries: a forename,
surname, street, postcode, date of birth, NHS number, NI number and record id. The
batch is read; the canaries must not appear in the exception (its whole rendered
traceback, chained exceptions included, as Prefect would log it), in any log record
(tfident's at DEBUG, everyone's at INFO and above), or in the quarantine *reasons*.
The quarantine table's ``value`` column does hold raw values: it is stored personal
data, not a message. The same files through ``tfident run --no-prefect`` must keep the
canaries out of everything the command prints.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from ingest_builders import BatchBuilder, canonical_csv, csv_text, row
from typer.testing import CliRunner

from tfident.cli import app
from tfident.errors import ExtractError
from tfident.ingest import SourcesMapping
from tfident.ingest.sources import SOURCES

FORENAME = "CANARYFORENAME"
SURNAME = "CANARYSURNAME"
STREET = "13 CANARYSTREET ROAD"
POSTCODE = "ZZ99 9ZZ"
NHS = "4010232137"
NINO = "JZ918273C"
RECORD_ID = "CANARYREC7"
BAD_DATE = "CANARYDATE"
BAD_CODE = "CANARYCODE"
BAD_TERM = "CANARYTERM"
DOB = "1911-11-11"
CANARIES = (FORENAME, SURNAME, STREET, "CANARYSTREET", POSTCODE, "ZZ999ZZ", NHS, NINO, RECORD_ID, BAD_DATE, BAD_CODE)
CANARIES += (BAD_TERM, DOB, "11/11/1911", "CANARY")

PERSON = {
    "record_id": RECORD_ID,
    "forename": FORENAME,
    "surname": SURNAME,
    "date_of_birth": DOB,
    "address_line_1": STREET,
    "postcode": POSTCODE,
}


def canary_row(source: str, **changes: str) -> dict[str, str]:
    """The valid row of ``source`` with the canary person (and ``changes``)."""
    return row(source, **{**PERSON, **changes})


def headerless(source: str, **changes: str) -> str:
    """A canonical file of ``source`` without its header row: the first line is a child's record."""
    text = canonical_csv(source, [canary_row(source, **changes), canary_row(source, record_id="X2", **changes)])
    return text.split("\n", 1)[1]


def write_xlsx(path: Path, lines: list[list[str]]) -> None:
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    for i, values in enumerate(lines):
        sheet.write_row(i, 0, values)
    workbook.close()


def case_headerless_csv(b: BatchBuilder) -> SourcesMapping | None:
    b.write("asb", headerless("asb"))
    return None


def case_headerless_social_care(b: BatchBuilder) -> SourcesMapping | None:
    b.write("social_care", headerless("social_care", nhs_number=NHS))
    return None


def case_headerless_benefits_cp1252(b: BatchBuilder) -> SourcesMapping | None:
    b.write("benefits", headerless("benefits", nino=NINO, town="CANARYTÖWN").encode("cp1252"))
    return SourcesMapping.model_validate({"sources": {"benefits": {"encoding": "cp1252", "delimiter": "auto"}}})


def case_header_row_wrong(b: BatchBuilder) -> SourcesMapping | None:
    b.write("asb", canonical_csv("asb", [canary_row("asb"), canary_row("asb", record_id="X2")]))
    return SourcesMapping.model_validate({"sources": {"asb": {"header_row": 2}}})


def case_header_partly_data(b: BatchBuilder) -> SourcesMapping | None:
    """A first row of data whose one cell happens to be a column name (the town "Town")."""
    b.write("asb", headerless("asb", town="Town"))
    return None


def case_wrong_encoding(b: BatchBuilder) -> SourcesMapping | None:
    b.write("benefits", canonical_csv("benefits", [canary_row("benefits", forename=FORENAME + "É")]).encode("cp1252"))
    return None


def case_duplicate_headers(b: BatchBuilder) -> SourcesMapping | None:
    header = [*SOURCES["asb"].column_names, POSTCODE, POSTCODE]
    values = canary_row("asb")
    b.write("asb", csv_text(header, [[values.get(c, "") for c in SOURCES["asb"].column_names] + ["a", "b"]]))
    return None


def case_missing_column_with_data_like_names(b: BatchBuilder) -> SourcesMapping | None:
    header = ["record_id", "forename", SURNAME, FORENAME, "intervention_date"]
    b.write("asb", csv_text(header, [["A1", "x", "y", "z", "2025-01-01"]]))
    return None


def case_truncated_row(b: BatchBuilder) -> SourcesMapping | None:
    text = canonical_csv("asb", [row("asb"), canary_row("asb")])
    b.write("asb", text[: text.index(POSTCODE) + len(POSTCODE)])
    return None


def case_unclosed_quote(b: BatchBuilder) -> SourcesMapping | None:
    b.write("asb", canonical_csv("asb", [row("asb")]) + f'{RECORD_ID},"{FORENAME}\n{SURNAME},{POSTCODE}')
    return None


def case_binary(b: BatchBuilder) -> SourcesMapping | None:
    b.write("asb", f"{FORENAME}\x00{SURNAME}\x00{POSTCODE}".encode())
    return None


def case_bad_xlsx(b: BatchBuilder) -> SourcesMapping | None:
    b.write("asb", f"{FORENAME},{SURNAME},{POSTCODE}".encode(), name="asb.xlsx")
    return None


def case_damaged_xlsx(b: BatchBuilder) -> SourcesMapping | None:
    b.write("asb", b"PK\x03\x04" + f"{FORENAME},{SURNAME},{POSTCODE}".encode() * 10, name="asb.xlsx")
    return None


def case_headerless_xlsx(b: BatchBuilder) -> SourcesMapping | None:
    (b.folder / "asb.csv").unlink()
    write_xlsx(b.folder / "asb.xlsx", [list(canary_row("asb").values())] * 2)
    return None


def case_bad_parquet(b: BatchBuilder) -> SourcesMapping | None:
    b.write("asb", f"PAR1{FORENAME},{SURNAME},{POSTCODE}PAR1".encode(), name="asb.parquet")
    return None


def case_missing_sheet(b: BatchBuilder) -> SourcesMapping | None:
    (b.folder / "asb.csv").unlink()
    write_xlsx(b.folder / "asb.xlsx", [list(canary_row("asb")), list(canary_row("asb").values())])
    return SourcesMapping.model_validate({"sources": {"asb": {"sheet": "Data"}}})


FILE_FAULTS: dict[str, Callable[[BatchBuilder], SourcesMapping | None]] = {
    name.removeprefix("case_"): case for name, case in globals().items() if name.startswith("case_")
}


def row_faults(b: BatchBuilder) -> None:
    """Rows that go to quarantine: bad dates, codes, terms, a ragged row, a duplicate record id."""
    b.rows(
        "asb",
        [
            canary_row("asb", intervention_date=BAD_DATE),
            canary_row("asb", record_id="A2", intervention_type=BAD_CODE),
            canary_row("asb", record_id="A3", date_of_birth="11/11/1911"),
            canary_row("asb", record_id="A4", sex=BAD_CODE),
            canary_row("asb", record_id="A5", uprn=NHS),
            canary_row("asb", record_id="A5"),
        ],
    )
    text = (b.folder / "asb.csv").read_text(encoding="utf-8")
    b.write("asb", text + f"{RECORD_ID}8,{FORENAME},{SURNAME},{POSTCODE}\n")  # a ragged row
    b.rows(
        "attendance",
        [
            canary_row("attendance", term=BAD_TERM),
            canary_row("attendance", record_id="T2", sessions_possible=BAD_CODE),
            canary_row("attendance", record_id="T3", sessions_unauthorised="999"),
        ],
    )
    b.rows("social_care", [canary_row("social_care", nhs_number=NHS, category=BAD_CODE)])
    b.rows("benefits", [canary_row("benefits", nino=NINO, claim_end="1900-01-01")])
    b.rows("gazetteer", [{"uprn": BAD_CODE, "address_line_1": STREET, "postcode": POSTCODE}])


def leaks(text: str) -> list[str]:
    """The canaries found in ``text`` (compared without case)."""
    upper = text.upper()
    return [canary for canary in CANARIES if canary.upper() in upper]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: tfident's at any level, the rest at INFO and above, with tracebacks."""
    kept = [r for r in caplog.records if r.name.startswith("tfident") or r.levelno >= logging.INFO]
    return "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in kept)


@pytest.mark.parametrize("case", list(FILE_FAULTS))
def test_file_faults_name_the_problem_never_the_values(
    builder: BatchBuilder, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="tfident")
    caplog.set_level(logging.INFO)
    mapping = FILE_FAULTS[case](builder)
    with pytest.raises(ExtractError) as caught:
        builder.read(mapping)
    error = caught.value
    rendered = "".join(traceback.format_exception(error))
    assert error.file is not None, "the message names the file"
    assert error.file in str(error), "the message names the file"
    assert not leaks(rendered), f"{case}: {leaks(rendered)} in the error: {error}"
    assert not leaks(repr(error.args))
    assert not leaks(logged(caplog)), f"{case}: logged"


def test_headerless_csv_says_what_is_wrong(builder: BatchBuilder) -> None:
    case_headerless_csv(builder)
    with pytest.raises(ExtractError) as caught:
        builder.read()
    message = str(caught.value)
    assert message.startswith("asb.csv: line 1 does not look like a header row")
    assert "'intervention_type'" in message
    assert "header_row" in message


def test_row_faults_keep_values_in_quarantine_only(builder: BatchBuilder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tfident")
    caplog.set_level(logging.INFO)
    row_faults(builder)
    batch = builder.read()
    quarantine = batch.quarantine
    assert quarantine.height >= 10
    assert set(quarantine["source"]) >= {"asb", "attendance", "social_care", "benefits", "gazetteer"}
    reasons = "\n".join(quarantine["reason"].to_list() + [q.model_dump_json() for q in batch.quality.values()])
    assert not leaks(reasons), leaks(reasons)
    assert not leaks("\n".join(quarantine["field"].drop_nulls().to_list()))
    assert leaks("\n".join(quarantine["value"].drop_nulls().to_list())), "raw values are stored, as designed"
    assert not leaks(logged(caplog))


def run_cli(folder: Path, tmp_path: Path, mapping: SourcesMapping | None) -> tuple[int, str]:
    """``tfident run`` on ``folder`` (with ``mapping`` as the council's sources.yaml); exit code and all output."""
    args = ["run", "--extracts", str(folder), "--as-of", "2026-10-31"]
    args += ["--db", f"sqlite:///{tmp_path / 'tfident.db'}", "--no-prefect"]
    env = {"TFIDENT_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    if mapping is not None:
        config = tmp_path / "council-config"
        config.mkdir(exist_ok=True)
        (config / "sources.yaml").write_text(mapping.model_dump_json(), encoding="utf-8")  # JSON is YAML
        env["TFIDENT_CONFIG_DIR"] = str(config)
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.output + getattr(result, "stderr", "")


@pytest.mark.parametrize("case", ["headerless_csv", "headerless_benefits_cp1252", "wrong_encoding", "bad_xlsx"])
def test_cli_prints_no_values_for_file_faults(
    builder: BatchBuilder, tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.INFO)
    mapping = FILE_FAULTS[case](builder)
    code, output = run_cli(builder.folder, tmp_path, mapping)
    assert code == 2, output
    assert "error:" in output
    assert not leaks(output), f"{case}: {leaks(output)} printed: {output}"
    assert not leaks(logged(caplog))


def test_cli_prints_no_values_for_row_faults(
    builder: BatchBuilder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    row_faults(builder)
    code, output = run_cli(builder.folder, tmp_path, None)
    assert code == 2, output  # the data checks stop a batch this faulty (quarantine rate): their message too
    assert "quarantine" in output.lower()
    assert not leaks(output), f"{leaks(output)} printed: {output}"
    assert not leaks(logged(caplog))


def file_text(path: Path) -> str:
    """A file's content as text: a workbook's cells, else its bytes (undecodable ones dropped)."""
    if path.suffix == ".xlsx":
        try:
            return pl.read_excel(path, has_header=False, infer_schema_length=0).write_csv()
        except Exception:  # the deliberately broken workbooks
            pass
    return path.read_bytes().decode("latin-1")


@pytest.mark.parametrize("case", list(FILE_FAULTS))
def test_canaries_are_really_in_the_files(tmp_path: Path, case: str) -> None:
    """Each case's files do carry canaries (so the assertions above are not vacuous)."""
    fresh = BatchBuilder(tmp_path / "batch")
    FILE_FAULTS[case](fresh)
    assert leaks("\n".join(file_text(p) for p in fresh.folder.iterdir())), case
