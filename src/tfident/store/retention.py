"""Retention: delete the personal data of runs older than the configured number of months.

``tfident retention apply`` calls :func:`apply_retention`. A run whose batch date
(``as_of``) is before the cutoff (today minus ``months``) loses its rows in the tables
that hold personal data (:data:`PERSONAL_TABLES`); its ``runs`` row stays, with status
``purged`` and the deleted row counts added to its summary, and so do its input-file
checksums and quality counts. Everything happens in one transaction together with one
``retention.purged`` row in ``audit_log`` (who, the cutoff, the run ids and row counts).

It is idempotent: purged runs are skipped, so applying it again deletes nothing. Runs
still being written (``running``) are never touched. ``dry_run`` counts what would be
deleted and changes nothing.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from tfident.config import StrictModel, config_path, load_model
from tfident.errors import StoreError
from tfident.store.audit import RETENTION_PURGED, acting_user, write_audit_row
from tfident.store.engine import BEGIN_OPTION, safe_url
from tfident.store.locks import stale_after_default
from tfident.store.tables import metadata, utc_now

log = logging.getLogger(__name__)

runs = metadata.tables["runs"]

RETENTION_FILE = "retention.yaml"
"""The retention file, relative to the config folders."""
PERSONAL_TABLES: tuple[str, ...] = (
    "source_records",
    "persons",
    "links",
    "households",
    "candidates",
    "criteria_evidence",
    "quarantine",
    "identity_events",
)
"""Run tables holding personal data (names, dates of birth, addresses, record ids, raw values)."""
KEPT_STATUSES: tuple[str, ...] = ("purged",)
"""Statuses retention leaves alone: runs already purged. A ``running`` run is purged only once it is
older than the month lock's staleness (``TFIDENT_LOCK_STALE_AFTER``): a run killed part-way stays
``running``, and its stage checkpoints hold personal data too."""


class RetentionConfig(StrictModel):
    """``config/retention.yaml``."""

    months: int = Field(ge=1, le=1200, description="Keep personal data of runs for this many months.")
    claims_months: int = Field(
        default=84,
        ge=1,
        le=1200,
        description="Keep attachments, their outcomes and claims for this many months after their last date "
        "(``tfident claims purge``); not touched by the run retention.",
    )


def load_retention_config(path: Path | None = None) -> RetentionConfig:
    """Read and validate the retention config (default ``config/retention.yaml``)."""
    return load_model(path or config_path(RETENTION_FILE), RetentionConfig)


def cutoff_date(today: date, months: int) -> date:
    """``today`` minus ``months`` calendar months (the 31st becomes the month's last day)."""
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class RetentionResult:
    """What :func:`apply_retention` deleted (or, in a dry run, would delete)."""

    months: int
    cutoff: date
    dry_run: bool
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    """Deleted rows per run id, per table."""

    @property
    def run_ids(self) -> list[str]:
        """The runs purged, oldest batch first."""
        return list(self.rows)

    def totals(self) -> dict[str, int]:
        """Deleted rows per table, over all runs."""
        return {name: sum(counts[name] for counts in self.rows.values()) for name in PERSONAL_TABLES}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (run ids and counts: no personal data)."""
        return {
            "months": self.months,
            "cutoff": self.cutoff.isoformat(),
            "dry_run": self.dry_run,
            "runs": self.rows,
            "totals": self.totals(),
        }


def apply_retention(
    engine: Engine,
    months: int,
    *,
    today: date | None = None,
    dry_run: bool = False,
    user: str | None = None,
) -> RetentionResult:
    """Delete the personal data of every run with ``as_of`` before today minus ``months`` months."""
    if months < 1:
        raise StoreError(f"retention months must be at least 1, got {months}")
    cutoff = cutoff_date(today or date.today(), months)
    rows: dict[str, dict[str, int]] = {}
    try:
        connection = engine.connect().execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
        with connection, connection.begin() as transaction:
            abandoned_before = utc_now() - stale_after_default()
            expired = connection.execute(
                sa.select(runs.c.run_id, runs.c.summary_json)
                .where(
                    runs.c.as_of < cutoff,
                    runs.c.status.not_in(KEPT_STATUSES),
                    sa.or_(runs.c.status != "running", runs.c.created_at < abandoned_before),
                )
                .order_by(runs.c.as_of, runs.c.version, runs.c.run_id)
            ).all()
            for run_id, summary in expired:
                rows[run_id] = _purge(connection, run_id, dict(summary or {}), dry_run, acting_user(user))
            result = RetentionResult(months=months, cutoff=cutoff, dry_run=dry_run, rows=rows)
            if dry_run:
                transaction.rollback()
            elif rows:
                write_audit_row(
                    connection,
                    RETENTION_PURGED,
                    cutoff.isoformat(),
                    {"months": months, "cutoff": cutoff.isoformat(), "runs": rows, "totals": result.totals()},
                    user=user,
                    object_type="retention",
                )
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot apply retention to {safe_url(engine)}: {error.__class__.__name__}") from error
    if rows and not dry_run:
        log.info("retention: purged %d run(s) with batch dates before %s", len(rows), cutoff)
    return result


def _purge(connection: sa.Connection, run_id: str, summary: dict[str, Any], dry_run: bool, user: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in PERSONAL_TABLES:
        table = metadata.tables[name]
        if dry_run:
            counts[name] = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.run_id == run_id)
            ).scalar_one()
        else:
            counts[name] = connection.execute(table.delete().where(table.c.run_id == run_id)).rowcount
    if not dry_run:
        summary["purged"] = {"at": utc_now().isoformat(timespec="seconds"), "by": user, "deleted_rows": counts}
        connection.execute(runs.update().where(runs.c.run_id == run_id).values(status="purged", summary_json=summary))
    return counts
