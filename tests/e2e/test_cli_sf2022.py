"""`tfident run --criteria sf2022` on a synthetic batch with the sources of contract 1.2, scored against truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tfident.cli import app
from tfident.synth.supporting import HEADLINES, SF_SOURCES

AS_OF = "2026-10-31"


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def sf_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, Path]:
    """A 600-household batch with the new sources, run with sf2022 and phase1 into one database, sf2022 exported."""
    folder = tmp_path_factory.mktemp("sf2022")
    batch = folder / "batch"
    _invoke(
        "synth", "--households", "600", "--seed", "21", "--as-of", AS_OF, "--out", str(batch), "--supporting-families"
    )
    db = f"sqlite:///{folder / 'tfident.db'}"
    run_id = _invoke("run", "--extracts", str(batch), "--as-of", AS_OF, "--db", db, "--criteria", "sf2022")
    sf_id = run_id.strip().splitlines()[-1]
    _invoke("run", "--extracts", str(batch), "--as-of", AS_OF, "--db", db, "--criteria", "phase1")
    _invoke("export", "--run", sf_id, "--out", str(folder / "export"), "--db", db)
    return batch, db, sf_id, folder / "export"


def test_synth_writes_the_new_sources_and_their_truth(sf_run: tuple[Path, str, str, Path]) -> None:
    """It writes every new source and truth/sf2022.csv with some eligible families."""
    batch = sf_run[0]
    assert all((batch / f"{name}.csv").is_file() for name in SF_SOURCES)
    with (batch / "truth" / "sf2022.csv").open(encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    assert sum(r["eligible_sf2022"] == "Y" for r in truth) >= 10


def test_sf2022_candidates_meet_three_headlines(sf_run: tuple[Path, str, str, Path]) -> None:
    """It lists candidates that each meet at least three of the ten headlines, and never 'gate' as a criterion."""
    _, _, run_id, export = sf_run
    with (export / "candidates.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert {r["run_id"] for r in rows} == {run_id}
    for row in rows:
        met = row["criteria_met"].split(";")
        assert len(met) >= 3, row["criteria_met"]
        assert set(met) <= set(HEADLINES), row["criteria_met"]


def test_evaluate_scores_the_sf2022_run_against_its_truth(sf_run: tuple[Path, str, str, Path]) -> None:
    """It scores the sf2022 run against truth/sf2022.csv: families found with high precision and recall."""
    batch, db, run_id, _ = sf_run
    out = _invoke("evaluate", "--extracts", str(batch), "--run", run_id, "--db", db, "--json")
    scores = json.loads(out)
    families = scores["families"]
    assert families["eligible"] >= 10
    assert families["precision"] >= 0.95, families
    assert families["recall"] >= 0.95, families


def test_both_packs_are_published_for_the_month(sf_run: tuple[Path, str, str, Path]) -> None:
    """It keeps the sf2022 and phase1 runs of one month side by side; latest of each pack resolves to its own."""
    batch, db, run_id, _ = sf_run
    out = _invoke("evaluate", "--extracts", str(batch), "--run", "latest", "--criteria", "sf2022", "--db", db, "--json")
    assert json.loads(out)["run_id"] == run_id
    phase1 = json.loads(
        _invoke("evaluate", "--extracts", str(batch), "--run", "latest", "--criteria", "phase1", "--db", db, "--json")
    )
    assert phase1["run_id"] != run_id


def test_evaluate_refuses_an_sf2022_run_without_its_truth(sf_run: tuple[Path, str, str, Path], tmp_path: Path) -> None:
    """It refuses, exit 2, to score an sf2022 run against a batch whose truth has no sf2022.csv."""
    batch, db, run_id, _ = sf_run
    copy = tmp_path / "batch"
    (copy / "truth").mkdir(parents=True)
    for name in ("persons.csv", "households.csv", "batch.json"):
        (copy / "truth" / name).write_bytes((batch / "truth" / name).read_bytes())
    result = CliRunner().invoke(app, ["evaluate", "--extracts", str(copy), "--run", run_id, "--db", db])
    assert result.exit_code == 2
    assert "are scored against it" in " ".join(result.output.replace("│", " ").split())
