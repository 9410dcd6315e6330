"""Six months of one council, each run incrementally into one database and fully into another.

Issue 16: an incremental month must give exactly the persons, households, candidates and
evidence of a full run on the same inputs, over churn, moves, agencies' corrections of
earlier records and reviewers' link rulings made between months.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from tfident import runner
from tfident.checkpoints import load_run_cache
from tfident.runner import IDENTITY_INDEX_FRAME, execute_run
from tfident.store import make_engine, read_identity_index
from tfident.store.review import add_link_constraint
from tfident.synth import synthesise_months

FIRST = date(2026, 1, 31)
MONTHS = 6
TABLES: dict[str, tuple[str, ...]] = {
    "source_records": ("record_key",),
    "persons": ("person_id",),
    "households": ("household_id",),
    "candidates": ("household_id",),
    "criteria_evidence": ("household_id", "criterion", "rule_id", "person_id", "source", "record_id"),
    "links": ("record_key_l", "record_key_r"),
}
"""The run's frames compared, and a key to sort each by."""


JSON_COLUMNS = ("match_weights_json", "detail")


def _text(column: str, value: object) -> str | None:
    """A stored value as text that is the same on SQLite and PostgreSQL (dates, JSON as canonical JSON)."""
    if value is None:
        return None
    if isinstance(value, str) and column in JSON_COLUMNS:
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def run_frame(db: str, table: str, run_id: str) -> pl.DataFrame:
    """One run's rows of a store table, without the store's own ids, in a stable order."""
    engine = make_engine(db)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(f"SELECT * FROM {table} WHERE run_id = :r"), {"r": run_id})
            frame = pl.DataFrame(
                [{k: _text(k, v) for k, v in row.items()} for row in rows.mappings()], infer_schema_length=None
            )
    finally:
        engine.dispose()
    frame = frame.drop([c for c in ("id", "run_id") if c in frame.columns])
    return frame.sort(pl.all())


def run_mode(db: str, run_id: str) -> str:
    """The mode the run recorded in its summary."""
    engine = make_engine(db)
    try:
        with engine.connect() as connection:
            text = connection.execute(
                sa.text("SELECT summary_json FROM runs WHERE run_id = :r"), {"r": run_id}
            ).scalar_one()
    finally:
        engine.dispose()
    summary = json.loads(text) if isinstance(text, str) else text
    return str(summary["mode"]["mode"])


def corrected_records(before: Path, after: Path) -> int:
    """How many records of ``before`` come back in ``after`` with the same id but other text."""
    changed = 0
    for path in sorted(before.glob("*.csv")):
        if path.name == "gazetteer.csv":
            continue
        with path.open(newline="", encoding="utf-8") as file:
            old = {row["record_id"]: row for row in csv.DictReader(file)}
        with (after / path.name).open(newline="", encoding="utf-8") as file:
            new = {row["record_id"]: row for row in csv.DictReader(file)}
        changed += sum(
            1
            for key, row in old.items()
            if key in new and any(row[c] != new[key][c] for c in ("forename", "surname", "date_of_birth"))
        )
    return changed


def reused(caplog: pytest.LogCaptureFixture, what: str) -> int:
    """The count the run's ``what: N of M ... reused`` log line gave (-1 when there was none)."""
    counts = [int(r.args[0]) for r in caplog.records if r.msg.startswith(what) and isinstance(r.args, tuple)]
    return counts[-1] if counts else -1


QUIET_CHECKS = "defaults:\n  same_file: {level: off}\n  volume: {level: off}\n"
"""A council config folder's checks.yaml: the month-on-month volume and same-file checks off (a small council)."""


@dataclass(frozen=True)
class FullMonth:
    """One month's batch folder and its full run's id, with the reviewer's ruling recorded after that run."""

    folder: Path
    run_id: str
    ruling: tuple[str, str, str] | None
    """(left record key, right record key, kind) of the ruling made after this month, or None."""


def quiet_checks(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point ``TFIDENT_CONFIG_DIR`` at a folder holding :data:`QUIET_CHECKS` and run from ``root``."""
    folder = root / "config"
    folder.mkdir(exist_ok=True)
    (folder / "checks.yaml").write_text(QUIET_CHECKS, encoding="utf-8")
    monkeypatch.setenv("TFIDENT_CONFIG_DIR", str(folder))
    monkeypatch.chdir(root)


def first_link(db: str, run_id: str, rule: str) -> tuple[str, str]:
    """The first link of ``rule`` in the run (its record keys)."""
    links = run_frame(db, "links", run_id).filter(pl.col("match_rule") == rule)
    assert links.height, f"no {rule} link to rule on"
    left, right = links.row(0)[:2]
    return str(left), str(right)


def rule(url: str, ruling: tuple[str, str, str]) -> None:
    """Record a reviewer's ruling on a pair of records in the database at ``url``."""
    left, right, kind = ruling
    engine = make_engine(url)
    try:
        add_link_constraint(engine, left, right, kind, "reviewer", "test ruling")
    finally:
        engine.dispose()


RULINGS = {1: ("splink", "cannot_link"), 3: ("uncertain", "must_link")}
"""After month 1 a reviewer splits a person (two records are not one person); after month 3 they join two records
the model left uncertain. Each ruling is on the first such link of that month's full run."""


@pytest.fixture(scope="module")
def full_months(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[FullMonth]]:
    """Six months synthesised once and each run fully into one SQLite database, with the reviewer's rulings made
    between months: the reference every backend's incremental months are compared with (the same for each).
    """
    root = tmp_path_factory.mktemp("incremental_months")
    full_db = f"sqlite:///{root / 'full.db'}"
    months: list[FullMonth] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        quiet_checks(root, monkeypatch)
        folders = synthesise_months(300, 16, FIRST, root / "months", MONTHS, churn=0.1, corrections=0.4)
        for month, folder in enumerate(folders):
            as_of = date.fromisoformat(folder.name)
            full = execute_run(folder, as_of, full_db, "phase1", use_prefect=False, mode="full")
            ruling = None
            if month in RULINGS:
                match_rule, kind = RULINGS[month]
                ruling = (*first_link(full_db, full.run_id, match_rule), kind)
                rule(full_db, ruling)
            months.append(FullMonth(folder, full.run_id, ruling))
    return full_db, months


@pytest.mark.usefixtures("engine")
def test_incremental_months_match_full_runs(
    tmp_path: Path,
    store_url: str,
    full_months: tuple[str, list[FullMonth]],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every month run incrementally (into SQLite, or a migrated PostgreSQL schema) stores exactly what the full run
    of the same month (into SQLite) stores, and each incremental month reused standardised records, clusters and
    address parses, and carried ids over from the identity index its cache kept (the full runs read theirs from the
    store), which is exactly the one the store reads back.
    """
    quiet_checks(tmp_path, monkeypatch)
    caplog.set_level(logging.INFO, logger="tfident")
    full_db, months = full_months
    assert corrected_records(months[0].folder, months[1].folder) > 0
    assert full_db != store_url
    incremental_db = store_url
    store_reads: list[str] = []

    def counted(engine: sa.Engine, run_id: str) -> pl.DataFrame:
        store_reads.append(run_id)
        return read_identity_index(engine, run_id)

    monkeypatch.setattr(runner, "read_identity_index", counted)
    for month, full in enumerate(months):
        as_of = date.fromisoformat(full.folder.name)
        caplog.clear()
        inc = execute_run(full.folder, as_of, incremental_db, "phase1", use_prefect=False)
        assert store_reads == []  # month 0 has no previous run; every later one took its cache's index
        engine = make_engine(incremental_db)
        try:
            cache = load_run_cache(runner._cache_root(engine), runner._database_key(engine), inc.run_id)
            assert cache is not None
            assert_frame_equal(cache[IDENTITY_INDEX_FRAME], read_identity_index(engine, inc.run_id), check_exact=True)
        finally:
            engine.dispose()
        if month:
            assert reused(caplog, "incremental standardisation") > 0
            assert reused(caplog, "incremental clustering") > 0
            assert reused(caplog, "incremental households") > 0
        assert inc.run_id == full.run_id
        assert run_mode(incremental_db, inc.run_id) == ("full" if month == 0 else "incremental")
        assert run_mode(full_db, full.run_id) == "full"
        for table, _key in TABLES.items():
            assert_frame_equal(
                run_frame(incremental_db, table, inc.run_id),
                run_frame(full_db, table, full.run_id),
                check_exact=True,
            )
        assert (full.ruling is not None) == (month in RULINGS)
        if full.ruling is not None:  # the ruling made between the full runs of this month and the next
            rule(incremental_db, full.ruling)
