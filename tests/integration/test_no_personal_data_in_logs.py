"""No personal data in logs: canary names and identifiers go through a run and never reach a log.

A copy of the sample batch gets unmistakable canaries: one person's forename, surname,
NI number and street (in both of their benefits records), and an ASB record whose
unreadable date will be quarantined (quarantine keeps the raw value in the database,
never in a log). The batch is run, listed, diffed and exported with logging at INFO
(DEBUG off); every log record at INFO and above, and everything the commands print
(progress and the summary tables on standard error), must be free of the canaries.
"""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tfident.cli import app
from tfident.store import make_engine, metadata

FORENAME = "ZQXCANARYFORE"
SURNAME = "ZQXCANARYSURN"
NINO = "JZ918273C"
STREET = "7 ZQXCANARY ROAD"
BAD_DATE = "ZQXCANARYDATE"
ASB_SURNAME = "ZQXCANARYASB"
CANARIES = (FORENAME, SURNAME, NINO, STREET, BAD_DATE, ASB_SURNAME, "Zqxcanary", "zqxcanary")


def rewrite(path: Path, change: dict[str, dict[str, str]], key: str) -> int:
    """Set fields of the rows whose ``key`` column is in ``change``; return how many rows changed."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    changed = 0
    for row in rows:
        if row[key] in change:
            row.update(change[row[key]])
            changed += 1
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return changed


@pytest.fixture
def canary_batch(sample_batch: Path, tmp_path: Path) -> Path:
    """The sample batch with canaries in one person's benefits records and one ASB record."""
    batch = tmp_path / "batch"
    shutil.copytree(sample_batch, batch)
    person = {"forename": FORENAME, "surname": SURNAME, "nino": NINO, "address_line_1": STREET}
    assert rewrite(batch / "benefits.csv", {"HS237968C": person}, "nino") == 2
    with (batch / "asb.csv").open(encoding="utf-8", newline="") as handle:
        first_asb = next(csv.DictReader(handle))["record_id"]
    asb = {"surname": ASB_SURNAME, "intervention_date": BAD_DATE}
    assert rewrite(batch / "asb.csv", {first_asb: asb}, "record_id") == 1
    return batch


def test_no_canary_reaches_the_logs_or_the_printed_output(
    canary_batch: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It keeps canaries out of INFO+ log records and out of the commands' output, though they are stored."""
    caplog.set_level(logging.INFO)  # INFO on, DEBUG off: on the root logger every tfident logger reports to
    db = f"sqlite:///{tmp_path / 'tfident.db'}"
    runner = CliRunner()
    outputs: list[str] = []

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args))
        outputs.append(result.output)  # standard output and standard error
        assert result.exit_code == 0, result.output
        return result.stdout

    run_id = invoke("run", "--extracts", str(canary_batch), "--as-of", "2026-10-31", "--db", db, "--no-prefect")
    run_id = run_id.strip().splitlines()[-1]
    invoke("runs", "--db", db)
    invoke("diff", run_id, "latest", "--db", db)
    invoke("export", "--run", run_id, "--out", str(tmp_path / "export"), "--db", db)

    # the canaries went through the run: they are in the database (where personal data belongs)
    engine = make_engine(db)
    try:
        with engine.connect() as connection:
            records = metadata.tables["source_records"]
            stored = connection.execute(sa.select(records.c.surname).where(records.c.surname == SURNAME)).all()
            quarantine = metadata.tables["quarantine"]
            quarantined = connection.execute(sa.select(quarantine.c.value)).scalars().all()
    finally:
        engine.dispose()
    assert len(stored) == 2
    assert any(BAD_DATE in (value or "") for value in quarantined), "the unreadable date is quarantined"

    records_logged = [record for record in caplog.records if record.levelno >= logging.INFO]
    assert any(record.name.startswith("tfident") for record in records_logged), "INFO logging was captured"
    log_text = "\n".join(
        f"{record.name} {record.levelname} {record.getMessage()} {record.exc_text or ''}" for record in records_logged
    )
    printed = "\n".join(outputs)
    assert "Run summary" in printed  # the summary tables were printed and checked
    for canary in CANARIES:
        assert canary not in log_text, f"{canary} logged"
        assert canary not in printed, f"{canary} printed"
