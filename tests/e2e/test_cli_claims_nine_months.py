"""The nine-month claims check in small: three months, families followed, claims truth and evaluation agree."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from benchmarks.claims import run_check
from tfident.cli import app

FIRST = date(2026, 3, 31)


def test_claims_on_the_third_month_match_the_truth(tmp_path: Path) -> None:
    """Synth with followed families, run each month, attach as the truth says, prepare claims, evaluate.

    The claim run scores every claim against ``truth/claims.csv``, the counts match the truth
    file, and every family the truth attached was accepted in the store.
    """
    result = run_check(200, 3, FIRST, 3, 0.6, tmp_path)
    final = tmp_path / "months" / "2026-05-31" / "truth" / "claims.csv"
    truth = pl.read_csv(final, infer_schema=False)
    claims = result["claims"]
    assert claims is not None
    assert truth.height == result["truth_attached"] == result["accepted"] > 0
    assert claims["claimable"] == int((truth["claimable"] == "Y").sum()) > 0
    assert claims["claims"] == result["claims_prepared"]
    assert claims["attached_found"] == claims["attached_truth"] == truth.height
    # the misses listed are exactly the claims and claimable families the scores count as wrong
    wrong = (claims["claims"] - claims["claims_valid"]) + (claims["claimable"] - claims["claimable_claimed"])
    assert len(result["misses"]) == wrong
    assert claims["precision"] >= 0.75
    assert claims["recall"] >= 0.75


def test_synth_outcomes_writes_claims_truth_per_month(tmp_path: Path) -> None:
    """``tfident synth --months 2 --outcomes`` writes truth/claims.csv in each month; one month is refused."""
    out = tmp_path / "batch"
    args = ["synth", "--households", "120", "--out", str(out), "--as-of", "2026-03-31", "--months", "2"]
    result = CliRunner().invoke(app, [*args, "--outcomes", "0.5"])
    assert result.exit_code == 0, result.output
    first = pl.read_csv(out / "2026-03-31" / "truth" / "claims.csv", infer_schema=False)
    second = pl.read_csv(out / "2026-04-30" / "truth" / "claims.csv", infer_schema=False)
    assert first.columns == [
        "true_household_id",
        "period",
        "attached_on",
        "needs",
        "route",
        "claimable",
        "reason",
        "education",
        "offending",
        "asb",
        "employment",
    ]
    assert first.height > 0
    assert set(first["true_household_id"]) <= set(second["true_household_id"])
    assert json.loads((out / "2026-04-30" / "truth" / "batch.json").read_text())["as_of"] == "2026-04-30"
    one = ["synth", "--households", "10", "--out", str(tmp_path / "x"), "--as-of", "2026-03-31", "--outcomes", "0.5"]
    refused = CliRunner().invoke(app, one)
    assert refused.exit_code == 2
    assert "follows families over months" in refused.output
