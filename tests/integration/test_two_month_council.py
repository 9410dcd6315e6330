"""The analyst's commands on a two-month synthetic council run through `tfident run` twice.

The second month's extracts carry one canary row per source, which quarantine keeps: the
agencies' feedback workbooks must show each agency its own canaries and no other's.
`tfident diff` says why each family dropped, `tfident evaluate` refuses the other month's
truth, and `tfident runs` stays readable at 80 columns.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from tfident.cli import app
from tfident.store import make_engine, read_candidates, read_identity_events
from tfident.store.diff import DROP_REASONS
from tfident.store.feedback import AGENCY_GROUPS, SHEETS, agency_of
from tfident.synth import synthesise_months

OCTOBER = date(2026, 10, 31)
NOVEMBER = date(2026, 11, 30)


@dataclass(frozen=True)
class Council:
    """Two monthly batches run into one SQLite database."""

    db: str
    folders: list[Path]
    run_ids: list[str]
    canaries: dict[str, str]
    """source -> the value of its canary row (quarantined in November)."""


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run the command line; it must succeed."""
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def add_canaries(folder: Path) -> dict[str, str]:
    """Append to each extract a copy of its first row whose key and date of birth are a canary value
    (the gazetteer's UPRN for the gazetteer), so quarantine keeps one canary row per source.
    """
    canaries = {}
    for path in sorted(folder.glob("*.csv")):
        canary = f"CANARY{path.stem.upper()}"
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
        header, row = rows[0], list(rows[1])
        if "record_id" in header:
            row[header.index("record_id")] = canary
            row[header.index("date_of_birth")] = canary
        else:
            row[header.index("uprn")] = canary
        with path.open("a", newline="", encoding="utf-8") as file:
            csv.writer(file).writerow(row)
        canaries[path.stem] = canary
    return canaries


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> Council:
    """October and November of a 200-household council with 15% churn, each run with `tfident run`."""
    root = tmp_path_factory.mktemp("council")
    folders = synthesise_months(200, 5, OCTOBER, root / "months", 2, churn=0.15)
    canaries = add_canaries(folders[1])
    db = f"sqlite:///{root / 'tfident.db'}"
    run_ids = []
    for folder, as_of in zip(folders, (OCTOBER, NOVEMBER), strict=True):
        result = invoke("run", "--extracts", str(folder), "--as-of", f"{as_of:%Y-%m-%d}", "--db", db, "--no-prefect")
        run_ids.append(result.stdout.strip().splitlines()[-1])
    return Council(db, folders, run_ids, canaries)


# ------------------------------------------------------------------------ agency feedback


def workbook_text(path: Path) -> tuple[list[str], str]:
    """A workbook's sheet names and every cell's text."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        cells = [
            str(value)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        ]
        return list(book.sheetnames), "\n".join(cells)
    finally:
        book.close()


def test_each_agency_gets_only_its_own_rows(council: Council, tmp_path: Path) -> None:
    """It writes one workbook per agency, with the expected sheets, holding its own canaries and no other's."""
    out = tmp_path / "feedback"
    result = invoke("quality", "--run", "latest", "--out", str(out), "--db", council.db)
    assert council.run_ids[1] in result.stdout
    files = sorted(out.glob("*.xlsx"))
    expected_agencies = sorted({agency_of(source) for source in council.canaries})
    assert [f.name for f in files] == [f"feedback_{agency}_2026-11-30.xlsx" for agency in expected_agencies]
    assert "schools" in expected_agencies
    assert len(AGENCY_GROUPS["schools"]) == 3
    for path in files:
        agency = path.name.removeprefix("feedback_").removesuffix("_2026-11-30.xlsx")
        sheets, text = workbook_text(path)
        assert sheets == list(SHEETS)
        for source, canary in council.canaries.items():
            if agency_of(source) == agency:
                assert canary in text, f"{path.name} lacks its own quarantined row from {source}"
            else:
                assert canary not in text, f"{path.name} holds {source}'s row"
                assert source not in text.split(), f"{path.name} names another agency's source {source}"
    assert not list(out.glob(".*partial"))


def test_the_schools_workbook_compares_with_last_month(council: Council, tmp_path: Path) -> None:
    """It shows rows read, accepted and quarantined against October's run, with the change, and the reasons."""
    invoke("quality", "--run", council.run_ids[1], "--out", str(tmp_path), "--db", council.db)
    book = openpyxl.load_workbook(tmp_path / "feedback_schools_2026-11-30.xlsx", read_only=True)
    try:
        summary = [row for row in book["Summary"].iter_rows(values_only=True)]
        assert ("Compared with", council.run_ids[0]) in [tuple(row[:2]) for row in summary]
        header_at = next(i for i, row in enumerate(summary) if row[0] == "source")
        header = list(summary[header_at])
        counts = {row[0]: dict(zip(header, row, strict=True)) for row in summary[header_at + 1 :] if row[0]}
        assert sorted(counts) == ["attendance", "exclusions", "school_census"]
        for row in counts.values():
            assert row["rows quarantined"] == 1
            assert row["previous rows quarantined"] == 0
            assert row["change rows quarantined"] == 1
            assert row["change rows read"] == row["rows read"] - row["previous rows read"]
        quarantined = list(book["Quarantined rows"].iter_rows(values_only=True))
        assert quarantined[0][:7] == ("source", "file", "line", "record id", "field", "value", "reason")
        assert {row[0] for row in quarantined[1:]} == {"attendance", "exclusions", "school_census"}
        assert all(row[4] == "date_of_birth" and row[6] == "unparseable date" for row in quarantined[1:])
        invalid = list(book["Invalid identifiers"].iter_rows(values_only=True))
        assert invalid[0] == ("source", "column", "rows")
        assert ("school_census", "upn") in [row[:2] for row in invalid[1:]]
        history = list(book["History"].iter_rows(values_only=True))
        assert sorted({row[0] for row in history[1:]}) == ["2026-10", "2026-11"]
        assert {row[3] for row in history[1:]} == {"attendance", "exclusions", "school_census"}
        coverage = list(book["Coverage"].iter_rows(values_only=True))
        assert coverage[0] == ("source", "item", "value")
        items = {(row[0], row[1]) for row in coverage[1:]}
        assert ("attendance", "schools.missing") in items
        assert ("exclusions", "schools.present") in items
        assert {row[0] for row in coverage[1:]} <= {"attendance", "exclusions", "school_census"}
    finally:
        book.close()


def test_quality_history(council: Council) -> None:
    """It lists per-source counts per month across published runs, as a table and as JSON."""
    rows = json.loads(invoke("quality", "--history", "--db", council.db, "--json").stdout)
    months = {(row["month"], row["source"]): row for row in rows}
    assert {month for month, _source in months} == {"2026-10", "2026-11"}
    assert months[("2026-10", "asb")]["rows_quarantined"] == 0
    assert months[("2026-11", "asb")]["rows_quarantined"] == 1
    assert months[("2026-11", "asb")]["run_id"] == council.run_ids[1]
    table = invoke("quality", "--history", "--db", council.db, env={"COLUMNS": "80"}).stdout
    assert "2026-11" in table
    assert "youth_offending" in table
    assert "+1" in table
    assert "…" not in table

    neither = CliRunner().invoke(app, ["quality", "--db", council.db])
    assert neither.exit_code == 2
    no_out = CliRunner().invoke(app, ["quality", "--run", "latest", "--db", council.db])
    assert no_out.exit_code == 2
    assert "--out" in no_out.output


# ---------------------------------------------------------------------------------- diff


def test_diff_says_why_each_family_dropped(council: Council) -> None:
    """It gives every dropped family a reason from the stored tables, in JSON and in the table."""
    october, november = council.run_ids
    data = json.loads(invoke("diff", october, november, "--db", council.db, "--json").stdout)
    dropped = data["dropped"]
    assert dropped, "the churn should drop some family"
    engine = make_engine(council.db)
    try:
        events = read_identity_events(engine, november)
        still = set(read_candidates(engine, november)["household_id"])
    finally:
        engine.dispose()
    merged_or_split = {
        old: kind
        for kind, olds in events.select("kind", "old_ids").iter_rows()
        if kind in ("household_merge", "household_split")
        for old in olds.split(";")
    }
    for row in dropped:
        assert row["household_id"] not in still
        kinds = row["reasons"].split(";")
        assert kinds, row
        assert all(kind in DROP_REASONS for kind in kinds), row
        assert row["why"]
        if row["household_id"] in merged_or_split:
            expected = "merged" if merged_or_split[row["household_id"]] == "household_merge" else "split"
            assert expected in kinds, row
        if "criteria_not_met" in kinds:
            lost = row["why"].split("no longer meets ")[1].split(";")[0].split(", ")
            assert set(lost) <= set(row["criteria_met"].split(";"))
    table = invoke("diff", october, november, "--db", council.db, env={"COLUMNS": "200"}).stdout
    assert "Dropped from A, and why" in table
    assert dropped[0]["household_id"] in table


# ------------------------------------------------------------------------------ evaluate


def test_evaluate_refuses_truth_of_another_batch_date(council: Council) -> None:
    """It exits 2 naming both dates when the truth was judged at another batch date; the same date scores."""
    october, november = council.run_ids
    assert json.loads((council.folders[0] / "truth" / "batch.json").read_text()) == {"as_of": "2026-10-31"}
    wrong = CliRunner().invoke(
        app, ["evaluate", "--extracts", str(council.folders[0]), "--run", november, "--db", council.db]
    )
    assert wrong.exit_code == 2
    message = " ".join(wrong.output.split())
    assert "2026-11-30" in message
    assert "2026-10-31" in message
    right = invoke("evaluate", "--extracts", str(council.folders[0]), "--run", october, "--db", council.db, "--json")
    assert json.loads(right.stdout)["run_id"] == october


def test_evaluate_scores_truth_without_a_recorded_date(council: Council, tmp_path: Path) -> None:
    """It still scores a batch whose truth records no date (made before truth/batch.json)."""
    folder = tmp_path / "old"
    (folder / "truth").mkdir(parents=True)
    for name in ("persons.csv", "households.csv"):
        (folder / "truth" / name).write_bytes((council.folders[1] / "truth" / name).read_bytes())
    invoke("evaluate", "--extracts", str(folder), "--run", council.run_ids[0], "--db", council.db, "--json")


# ---------------------------------------------------------------------------------- runs


def test_runs_is_readable_at_80_columns(council: Council) -> None:
    """It prints whole run ids, batch dates, statuses and packs in 80 columns, and more with --wide."""
    table = invoke("runs", "--db", council.db, env={"COLUMNS": "80"}).stdout
    assert "…" not in table
    assert max(len(line) for line in table.splitlines()) <= 80
    for run_id, as_of in zip(council.run_ids, ("2026-10-31", "2026-11-30"), strict=True):
        line = next(line for line in table.splitlines() if run_id in line)
        assert as_of in line
        assert "published" in line
        assert "phase1" in line
    wide = invoke("runs", "--db", council.db, "--wide", env={"COLUMNS": "200"}).stdout
    assert "…" not in wide
    assert "TF1_2012" in wide
    assert "2026-11 v1" in wide
    unset = invoke("runs", "--db", council.db, env={"COLUMNS": ""}).stdout  # a scheduled job's log
    assert "…" not in unset
    assert council.run_ids[0] in unset
