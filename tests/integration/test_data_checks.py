"""A bad or stale batch never publishes silently (issue 11): each row of the evaluator's table ends in a clear
stop with nothing published (and the failure recorded in `tfident runs`), or a published run carrying the
warning. Every batch here is the committed sample batch with one fault put in.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tfident.cli import app

AS_OF = "2026-10-31"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def runs(url: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["runs", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def copy_batch(sample_batch: Path, target: Path) -> Path:
    shutil.copytree(sample_batch, target, ignore=shutil.ignore_patterns("truth"))
    return target


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def shift_year(value: str, years: int = -1) -> str:
    return f"{int(value[:4]) + years}{value[4:]}" if value else value


def assert_stopped(url: str, output: str, *expected: str) -> None:
    """Exit 2 was seen by the caller; nothing is published, the failure is recorded with its reason."""
    for text in expected:
        assert text in output, output
    listed = runs(url)
    assert not [r for r in listed if r["status"] == "published"]
    failed = [r for r in listed if r["status"] == "failed"]
    assert len(failed) == 1
    assert "data check" in str(failed[0]["error"])
    for text in expected:
        assert text in " ".join(str(failed[0]["error"]).split())


def run_args(batch: Path, url: str, as_of: str = AS_OF) -> list[str]:
    return ["run", "--extracts", str(batch), "--as-of", as_of, "--db", url, "--no-prefect"]


def test_the_sample_batch_publishes_with_no_stop_and_no_warning(sample_batch: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(sample_batch, url))
    assert code == 0, output
    assert "warning:" not in output
    (run,) = runs(url)
    assert run["status"] == "published"
    assert run["check_warnings"] == []
    code, output = invoke("check", "--extracts", str(sample_batch), "--as-of", AS_OF, "--db", url, "--json")
    assert code == 0


def test_attendance_with_day_month_year_dates_and_no_mapping_stops(sample_batch: Path, tmp_path: Path) -> None:
    batch = copy_batch(sample_batch, tmp_path / "batch")
    header, rows = read_rows(batch / "attendance.csv")
    for row in rows:
        for column in ("term_start", "term_end", "date_of_birth"):
            if row[column]:
                y, m, d = row[column].split("-")
                row[column] = f"{d}/{m}/{y}"
    write_rows(batch / "attendance.csv", header, rows)
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(batch, url))
    assert code == 2, output
    assert_stopped(url, output, "attendance (attendance.csv): quarantine_rate: every row quarantined")


def test_renamed_expected_columns_stop_naming_them_and_the_unknown_columns(sample_batch: Path, tmp_path: Path) -> None:
    batch = copy_batch(sample_batch, tmp_path / "batch")
    path = batch / "attendance.csv"
    lines = path.read_text(encoding="utf-8").split("\n", 1)
    header = lines[0].replace("postcode", "Post Code").replace(",upn,", ",Pupil UPN,")
    path.write_text(header + "\n" + lines[1], encoding="utf-8")
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(batch, url))
    assert code == 2, output
    assert_stopped(url, output, "expected_columns: columns postcode, upn missing from the header")
    result = CliRunner().invoke(app, ["check", "--extracts", str(batch), "--as-of", AS_OF, "--db", url, "--json"])
    assert result.exit_code == 2
    unknown = [r for r in json.loads(result.stdout)["results"] if r["check"] == "unknown_columns" and r["count"]]
    assert [(r["source"], r["outcome"]) for r in unknown] == [("attendance", "warn")]
    assert "Post Code, Pupil UPN" in unknown[0]["message"]
    assert "not loaded" in unknown[0]["message"]


def test_a_file_cut_at_a_row_boundary_stops_on_its_manifest(sample_batch: Path, tmp_path: Path) -> None:
    batch = copy_batch(sample_batch, tmp_path / "batch")
    path = batch / "attendance.csv"
    whole = path.read_bytes()
    lines = whole.decode().splitlines(keepends=True)
    (batch / "manifest.json").write_text(
        json.dumps({"files": {"attendance.csv": {"rows": len(lines) - 1, "sha256": hashlib.sha256(whole).hexdigest()}}})
    )
    path.write_text("".join(lines[:301]), encoding="utf-8")  # 300 rows of the 797, ending at a row boundary
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(batch, url))
    assert code == 2, output
    assert_stopped(url, output, "attendance (attendance.csv): manifest: 300 data rows, the manifest says 797")


def test_last_years_attendance_file_stops(sample_batch: Path, tmp_path: Path) -> None:
    batch = copy_batch(sample_batch, tmp_path / "batch")
    header, rows = read_rows(batch / "attendance.csv")
    for row in rows:
        row["term_start"], row["term_end"] = shift_year(row["term_start"]), shift_year(row["term_end"])
        year = int(row["term"][:4]) - 1
        row["term"] = f"{year}/{(year + 1) % 100:02d}{row['term'][7:]}"
    write_rows(batch / "attendance.csv", header, rows)
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(batch, url))
    assert code == 2, output
    assert_stopped(
        url,
        output,
        "attendance (attendance.csv): recency: no record dated in the 3 months",
        "terms 2025/26-SPR, 2025/26-SUM needed for the batch date 2026-10-31 not in the file",
    )


def test_benefit_claims_all_after_the_batch_date_stop(sample_batch: Path, tmp_path: Path) -> None:
    batch = copy_batch(sample_batch, tmp_path / "batch")
    header, rows = read_rows(batch / "benefits.csv")
    for row in rows:
        row["claim_start"] = "2026-11-15"
        row["claim_end"] = ""
    write_rows(batch / "benefits.csv", header, rows)
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(batch, url))
    assert code == 2, output
    assert_stopped(url, output, "benefits (benefits.csv): future_dates: 192 of 192 rows (100%) with claim_start after")


def test_a_school_sending_no_attendance_stops_saying_what_it_means(sample_batch: Path, tmp_path: Path) -> None:
    batch = copy_batch(sample_batch, tmp_path / "batch")
    header, rows = read_rows(batch / "attendance.csv")
    write_rows(batch / "attendance.csv", header, [r for r in rows if r["school_urn"] != "133474"])
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(batch, url))
    assert code == 2, output
    assert_stopped(
        url,
        output,
        "school_coverage: 1 of 5 schools sent no rows (URN 133474): education (unauthorised absence) not "
        "assessed for 85 children at 1 school",
    )


def test_a_few_future_dated_events_publish_with_the_warning(sample_batch: Path, tmp_path: Path) -> None:
    """A few events after the batch date are a warning: shown by `tfident run`, kept in the run summary and
    listed by `tfident runs`.
    """
    batch = copy_batch(sample_batch, tmp_path / "batch")
    header, rows = read_rows(batch / "asb.csv")
    rows[0]["intervention_date"] = "2026-11-20"
    write_rows(batch / "asb.csv", header, rows)
    url = f"sqlite:///{tmp_path / 't.db'}"
    code, output = invoke(*run_args(batch, url))
    assert code == 0, output
    assert "warning: asb (asb.csv): future_dates: 1 of 56 rows" in output
    (run,) = runs(url)
    assert run["status"] == "published"
    assert any("future_dates" in w for w in run["check_warnings"])  # type: ignore[attr-defined]
    code, listing = invoke("runs", "--db", url)
    assert "Data check warnings of published runs" in listing
    assert "future_dates" in listing


@pytest.fixture(scope="module")
def published(sample_batch: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the sample batch published for October (a template copied per test)."""
    folder = tmp_path_factory.mktemp("published")
    code, output = invoke(*run_args(sample_batch, f"sqlite:///{folder / 't.db'}"))
    assert code == 0, output
    return folder / "t.db"


def with_october(published: Path, tmp_path: Path) -> str:
    shutil.copy(published, tmp_path / "t.db")
    return f"sqlite:///{tmp_path / 't.db'}"


def failed_and_published(url: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    listed = runs(url)
    return [r for r in listed if r["status"] == "failed"], [r for r in listed if r["status"] == "published"]


def test_files_unchanged_since_last_month_stop(sample_batch: Path, published: Path, tmp_path: Path) -> None:
    url = with_october(published, tmp_path)
    code, output = invoke(*run_args(sample_batch, url, "2026-11-30"))
    assert code == 2, output
    assert "attendance (attendance.csv): same_file: identical (SHA-256) to the file of run" in output
    assert "gazetteer (gazetteer.csv): same_file" not in output  # the council's own address base: off
    failed, done = failed_and_published(url)
    assert len(failed) == 1
    assert len(done) == 1
    assert str(done[0]["as_of"]).startswith(AS_OF)
    result = CliRunner().invoke(
        app, ["check", "--extracts", str(sample_batch), "--as-of", "2026-11-30", "--db", url, "--json"]
    )
    assert result.exit_code == 2
    assert str(json.loads(result.stdout)["previous_run"]).startswith("R20261031-")


def test_a_file_cut_short_stops_against_last_month_without_a_manifest(
    sample_batch: Path, published: Path, tmp_path: Path
) -> None:
    batch = copy_batch(sample_batch, tmp_path / "batch")
    lines = (batch / "attendance.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (batch / "attendance.csv").write_text("".join(lines[:301]), encoding="utf-8")
    url = with_october(published, tmp_path)
    code, output = invoke(*run_args(batch, url, "2026-11-30"))
    assert code == 2, output
    assert "attendance (attendance.csv): volume: against run R20261031-" in output
    assert "rows 797 -> 300 (-62%)" in output


@pytest.mark.usefixtures("engine")  # migrated: on PostgreSQL only the owner migrates
def test_previous_month_is_read_from_the_store(store_url: str, sample_batch: Path) -> None:
    """On SQLite and PostgreSQL: last month's quality counts and file hashes come back for the checks."""
    from datetime import date

    from tfident.store import make_engine, read_previous_month

    code, output = invoke(*run_args(sample_batch, store_url))
    assert code == 0, output
    engine = make_engine(store_url)
    try:
        assert read_previous_month(engine, date(2026, 10, 31)) is None  # never the month's own run
        previous = read_previous_month(engine, date(2026, 11, 30))
    finally:
        engine.dispose()
    assert previous is not None
    assert previous.as_of == date(2026, 10, 31)
    attendance = previous.sources["attendance"]
    assert attendance.rows_accepted == 797
    assert attendance.file == "attendance.csv"
    assert attendance.sha256 == hashlib.sha256((sample_batch / "attendance.csv").read_bytes()).hexdigest()
    assert attendance.people is not None
    assert 0 < attendance.people <= 797
