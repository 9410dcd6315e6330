"""A family accepted on October's `tfident run` has its outcomes observed by November's run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from tfident.cli import app
from tfident.store import make_engine
from tfident.store.review import DecisionInput, add_decision
from tfident.synth import synthesise_months

OCTOBER = date(2026, 10, 31)
NOVEMBER = date(2026, 11, 30)


def run(folder: Path, as_of: date, db: str) -> str:
    """`tfident run` one month; its run id."""
    args = ["run", "--extracts", str(folder), "--as-of", f"{as_of:%Y-%m-%d}", "--db", db, "--no-prefect"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_the_next_run_observes_each_need_at_entry(tmp_path: Path) -> None:
    """It freezes the top candidate's needs on acceptance and observes each of them, and the employment
    route, in the next month's run; nothing is observed for a month with no attached family.
    """
    folders = synthesise_months(200, 5, OCTOBER, tmp_path / "months", 2, churn=0.15)
    db = f"sqlite:///{tmp_path / 'tfident.db'}"
    october = run(folders[0], OCTOBER, db)
    engine = make_engine(db)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM outcome_observations")).scalar() == 0
            household = connection.execute(
                sa.text("SELECT household_id FROM candidates WHERE run_id = :r ORDER BY rank LIMIT 1"), {"r": october}
            ).scalar_one()
        accept = DecisionInput(
            household_id=household, run_id=october, decision="accept", username="c1", lead_agency="Early Help"
        )
        add_decision(engine, accept)
        november = run(folders[1], NOVEMBER, db)
        with engine.connect() as connection:
            needs = set(
                connection.execute(sa.text("SELECT DISTINCT need FROM entry_needs WHERE need <> 'gate'")).scalars()
            )
            observed = set(
                connection.execute(
                    sa.text("SELECT DISTINCT need FROM outcome_observations WHERE run_id = :r"), {"r": november}
                ).scalars()
            )
    finally:
        engine.dispose()
    assert needs
    assert observed == ({"continuous_employment"} | (needs & {"education", "crime_asb"}))
