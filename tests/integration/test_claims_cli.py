"""``tfident claims``: prepare, status, pack, sample and summary through the command line (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration.test_claims import MONTHS, decide, publish
from tests.unit.review.review_data import OCTOBER, frames, run_record
from tfident.cli import app
from tfident.store import init_db, make_engine, write_run

OUTCOMES = """
periods:
  - id: TFX
    ruleset_id: phase1
    valid_from: 2026-01-01
    valid_to: 2027-12-31
    rates: {tf1_results: 4000, tf1_ce: 3000}
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database with H1 accepted in October and November's outcomes; a council config with period TFX."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "outcomes.yaml").write_text(OUTCOMES, encoding="utf-8")
    monkeypatch.setenv("TFIDENT_CONFIG_DIR", str(config))
    url = f"sqlite:///{tmp_path / 'tfident.db'}"
    engine = make_engine(url)
    init_db(engine)
    write_run(engine, run_record("R-OCT", OCTOBER), frames())
    decide(engine, "H1", "accept", lead_agency="Early Help", worker="J Bloggs")
    publish(engine, "R-NOV", MONTHS[0])
    engine.dispose()
    return url


def cli(*args: str) -> str:
    """Run tfident; its output (exit code 0 required)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_claims_through_the_command_line(db: str, tmp_path: Path) -> None:
    """It prepares one draft, refuses it a second time, writes a matching pack, audits, samples and sums up."""
    (proposal,) = json.loads(cli("claims", "prepare", "--period", "TFX", "--db", db, "--user", "c1", "--json"))
    assert (proposal["household_id"], proposal["route"], proposal["claim_id"]) == ("H1", "tf1_results", 1)
    (again,) = json.loads(cli("claims", "prepare", "--period", "TFX", "--db", db, "--json"))
    assert again["claim_id"] is None
    assert "already has a claim" in again["refused"]
    written = cli("claims", "pack", "1", "--out", str(tmp_path / "pack"), "--db", db)
    assert "SHA-256" in " ".join(written.split())
    assert (tmp_path / "pack" / "claim-1.xlsx").read_bytes()[:2] == b"PK"
    assert "now audited" in cli("claims", "status", "1", "audited", "--db", db, "--user", "auditor1")
    assert "claims 1" in cli("claims", "sample", "--period", "TFX", "--seed", "3", "--db", db)
    summary = json.loads(cli("claims", "summary", "--period", "TFX", "--db", db))
    assert summary["families_attached"] == 1
    assert summary["claims_by_status"] == {"audited": 1}
    assert summary["amount_claimed"] == 4000
    assert summary["amount_paid"] == 0


def test_an_unknown_period_is_a_clear_error(db: str) -> None:
    """It exits 2 naming the periods it knows."""
    result = CliRunner().invoke(app, ["claims", "prepare", "--period", "NOPE", "--db", db])
    assert result.exit_code == 2
    assert "TFX" in result.output


def test_a_step_out_of_order_exits_2(db: str) -> None:
    """It refuses paying a draft."""
    cli("claims", "prepare", "--period", "TFX", "--db", db)
    result = CliRunner().invoke(app, ["claims", "status", "1", "paid", "--db", db])
    assert result.exit_code == 2
    assert "can become audited, withdrawn" in result.output


def test_the_preparer_cannot_sign_off_on_the_command_line(db: str) -> None:
    """It exits 2 when the user who prepared the claim marks it audited (separation of duties)."""
    cli("claims", "prepare", "--period", "TFX", "--db", db, "--user", "c1")
    result = CliRunner().invoke(app, ["claims", "status", "1", "audited", "--db", db, "--user", "c1"])
    assert result.exit_code == 2
    assert "another user must sign it off" in result.output
    assert "now audited" in cli("claims", "status", "1", "audited", "--db", db, "--user", "auditor1")
