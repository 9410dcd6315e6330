"""The command line on a synthetic batch, end to end, scored against truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tfident.cli import app

CANDIDATE_COLUMNS = [
    "run_id",
    "rank",
    "household_id",
    "score",
    "criteria_met",
    "n_members",
    "uprn",
    "address",
    "postcode",
    "estimated_annual_cost",
    "min_link_probability",
]
MEMBER_COLUMNS = [
    "household_id",
    "person_id",
    "source",
    "record_id",
    "forename",
    "surname",
    "date_of_birth",
    "link_probability",
]
PERSON_COLUMNS = ["source", "record_id", "person_id", "household_id"]


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


@pytest.fixture(scope="module")
def run_5000(batch_5000: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """Run, then export, the 5,000-household batch into a fresh SQLite database."""
    folder = tmp_path_factory.mktemp("run5000")
    db = f"sqlite:///{folder / 'tfident.db'}"
    run_id = _invoke("run", "--extracts", str(batch_5000), "--as-of", "2026-10-31", "--db", db).strip().splitlines()[-1]
    _invoke("export", "--run", "latest", "--out", str(folder / "export"), "--db", db)
    return run_id, db, folder / "export"


def test_it_prints_the_run_id_and_exports_the_contract_files(run_5000: tuple[str, str, Path]) -> None:
    """It prints the run id alone on stdout and writes the three export files with contract columns."""
    run_id, _, export = run_5000
    assert run_id.startswith("R20261031-")
    assert _header(export / "candidates.csv") == CANDIDATE_COLUMNS
    assert _header(export / "members.csv") == MEMBER_COLUMNS
    assert _header(export / "persons.csv") == PERSON_COLUMNS
    with (export / "candidates.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "a 5,000-household council has candidate families"
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert {r["run_id"] for r in rows} == {run_id}


def test_it_traces_every_record_of_the_batch(run_5000: tuple[str, str, Path], batch_5000: Path) -> None:
    """It lists every source record of the truth file in persons.csv, so exports trace back to agencies."""
    _, _, export = run_5000
    with (batch_5000 / "truth" / "persons.csv").open(encoding="utf-8") as handle:
        truth = {(r["source"], r["record_id"]) for r in csv.DictReader(handle)}
    with (export / "persons.csv").open(encoding="utf-8") as handle:
        exported = {(r["source"], r["record_id"]) for r in csv.DictReader(handle)}
    assert truth == exported


def test_it_meets_the_family_precision_and_recall_of_exact_matching(
    run_5000: tuple[str, str, Path], batch_5000: Path
) -> None:
    """It reaches candidate-family precision >= 0.9 and recall >= 0.6 on 5,000 households."""
    _, db, _ = run_5000
    scores = json.loads(_invoke("evaluate", "--extracts", str(batch_5000), "--run", "latest", "--db", db, "--json"))
    assert scores["families"]["precision"] >= 0.9, scores["families"]
    assert scores["families"]["recall"] >= 0.6, scores["families"]
    assert scores["persons"]["precision"] >= 0.95, scores["persons"]


def test_it_reuses_the_stored_run_for_identical_inputs(run_5000: tuple[str, str, Path], batch_5000: Path) -> None:
    """It gives the same run id for the same inputs and config, without duplicating the run."""
    run_id, db, _ = run_5000
    again = _invoke("run", "--extracts", str(batch_5000), "--as-of", "2026-10-31", "--db", db).strip().splitlines()[-1]
    assert again == run_id


def test_it_exits_2_naming_the_folder_when_a_required_extract_is_missing(tmp_path: Path) -> None:
    """It refuses a batch without its required files, with a message naming the missing file."""
    (tmp_path / "batch").mkdir()
    result = CliRunner().invoke(
        app,
        ["run", "--extracts", str(tmp_path / "batch"), "--as-of", "2026-10-31", "--db", f"sqlite:///{tmp_path}/x.db"],
    )
    assert result.exit_code == 2
    assert "school_census" in result.output


def test_a_bad_batch_writes_nothing_and_keeps_the_stored_run(sample_batch: Path, tmp_path: Path) -> None:
    """A file fault stops the run with a message naming file and column; the run stored before stays latest,
    and the failure is recorded beside it with no data.
    """
    import shutil

    from tfident.store import latest_run_id, list_runs, make_engine

    db = f"sqlite:///{tmp_path / 'tfident.db'}"
    good = _invoke("run", "--extracts", str(sample_batch), "--as-of", "2026-10-31", "--db", db).strip().splitlines()[-1]

    bad = tmp_path / "bad"
    shutil.copytree(sample_batch, bad)
    benefits = bad / "benefits.csv"
    lines = benefits.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    drop = header.index("claim_start")
    benefits.write_text(
        "".join(",".join(v for i, v in enumerate(line.rstrip("\n").split(",")) if i != drop) + "\n" for line in lines),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["run", "--extracts", str(bad), "--as-of", "2026-10-31", "--db", db])
    assert result.exit_code == 2, result.output
    assert "benefits.csv" in result.output
    assert "claim_start" in result.output

    engine = make_engine(db)
    try:
        assert latest_run_id(engine) == good
        runs = list_runs(engine)
        assert runs.height == 2
        failed = runs.filter(runs["status"] == "failed")
        assert failed["candidates"].to_list() == [0]
        assert "benefits.csv" in failed["error"][0]
        assert "claim_start" in failed["error"][0]
    finally:
        engine.dispose()


def test_a_folder_that_does_not_exist_is_a_usage_error_not_a_bug(tmp_path: Path) -> None:
    """It exits 2 naming the option and folder, never 1 ("internal error")."""
    missing = tmp_path / "no-such-batch"
    result = CliRunner().invoke(app, ["run", "--extracts", str(missing), "--as-of", "2026-10-31"])
    assert result.exit_code == 2, result.output
    assert "--extracts" in result.output
    assert "internal error" not in result.output
