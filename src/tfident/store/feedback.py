"""Feedback to the agencies: one workbook per agency about the extracts it sent for a run.

Every month each agency gets back what tfident could not use of its own files, so it can
fix them at the source (``tfident quality --run RUN_ID|latest --out DIR``). An agency's
workbook holds only its own sources' rows and counts, never another agency's:

* ``Summary``: the run, its batch date, and per source the rows read, accepted and
  quarantined this run against the published run of the month before (with the change);
* ``Quarantined rows``: every row of its files that went to quarantine, as the quarantine
  table stores it (source, file, line, record id, field, the value at fault, reason);
* ``Reasons``: quarantined rows per source and reason;
* ``Invalid identifiers``: per source and identifier column, accepted rows whose
  identifier failed its format or check (counts only: the rows are not stored);
* ``Coverage``: the coverage gaps the run's summary reports for its sources, when it does;
* ``History``: per source and month, the counts of every published run (one per month).

Agencies are the ``agency`` of each source (:data:`tfident.ingest.sources.SOURCES`), with
the sources one sender provides grouped (their ``sender`` in ``tfident/ingest/sources.yaml``,
:data:`AGENCY_GROUPS`: the schools send the census, attendance and exclusions). A source
with no sender has a workbook of its own.

The workbooks carry the agency's own quarantined rows, which is their purpose, so they
are personal data: writing them is audited (``feedback.written``, counts only), and the
files are written beside their final name and renamed into place.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
import xlsxwriter
from sqlalchemy.engine import Engine

from tfident.errors import StoreError
from tfident.ingest.sources import SOURCES
from tfident.store.audit import write_audit_row
from tfident.store.engine import safe_url
from tfident.store.reader import previous_month_run_id, read_quality, read_quarantine, read_run
from tfident.store.tables import metadata

log = logging.getLogger(__name__)

runs = metadata.tables["runs"]
quality_table = metadata.tables["quality"]

FEEDBACK_WRITTEN = "feedback.written"
"""The audit action of ``tfident quality --out`` (object: the run)."""

AGENCY_GROUPS: dict[str, tuple[str, ...]] = {
    sender: tuple(name for name, s in SOURCES.items() if s.sender == sender)
    for sender in dict.fromkeys(s.sender for s in SOURCES.values() if s.sender is not None)
}
"""Agencies that send several sources (the sources' ``sender``): one workbook for all of them."""

SHEETS: tuple[str, ...] = (
    "Summary",
    "Quarantined rows",
    "Reasons",
    "Invalid identifiers",
    "Coverage",
    "History",
)
"""The sheets of every agency workbook, in order."""

COUNTS: tuple[str, ...] = ("rows_read", "rows_accepted", "rows_quarantined")
HISTORY_COLUMNS: tuple[str, ...] = ("month", "as_of", "run_id", "source", *COUNTS)
EXCEL_MAX_ROWS = 1_048_576


def agency_of(source: str) -> str:
    """The agency (workbook) a source belongs to: its group's name, or the source itself."""
    for agency, members in AGENCY_GROUPS.items():
        if source in members:
            return agency
    return source


def agencies(sources: Iterable[str]) -> dict[str, list[str]]:
    """Group source names by agency, both sorted."""
    grouped: dict[str, list[str]] = {}
    for source in sorted(set(sources)):
        grouped.setdefault(agency_of(source), []).append(source)
    return dict(sorted(grouped.items()))


def agency_description(sources: Sequence[str]) -> str:
    """Who sends these sources, as the contract describes them."""
    names = [SOURCES[s].agency if s in SOURCES else s for s in sources]
    return "; ".join(dict.fromkeys(names))


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class AgencyFeedback:
    """Everything one agency's workbook shows: only that agency's sources."""

    agency: str
    sources: list[str]
    counts: pl.DataFrame
    """source, rows read/accepted/quarantined this run, the previous run's, and the change."""
    quarantine: pl.DataFrame
    reasons: pl.DataFrame
    invalid_identifiers: pl.DataFrame
    coverage: pl.DataFrame | None
    """source, item, value; None when the run's summary reports no coverage."""
    history: pl.DataFrame


def quality_history(engine: Engine, sources: Iterable[str] | None = None) -> pl.DataFrame:
    """Per source and month, the counts of the month's newest published run: ``HISTORY_COLUMNS``, oldest first.

    A month with runs of several rule packs published side by side counts once (the
    extracts are the same whichever pack ran).
    """
    statement = (
        sa.select(runs.c.month, runs.c.as_of, runs.c.run_id, quality_table.c.source, quality_table.c.report_json)
        .join(quality_table, quality_table.c.run_id == runs.c.run_id)
        .where(runs.c.status == "published")
        .order_by(runs.c.month, runs.c.version.desc(), runs.c.created_at.desc(), runs.c.run_id.desc())
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot read the quality history from {safe_url(engine)}: {type(error).__name__}") from error
    wanted = None if sources is None else set(sources)
    chosen: dict[str, str] = {}
    records = []
    for month, as_of, run_id, source, report in rows:
        if chosen.setdefault(month, run_id) != run_id:
            continue  # an older run of the month, or another pack's
        if wanted is not None and source not in wanted:
            continue
        report = dict(report or {})
        records.append((month, as_of, run_id, source, *(int(report.get(name) or 0) for name in COUNTS)))
    schema = {"month": pl.String, "as_of": pl.Date, "run_id": pl.String, "source": pl.String}
    schema |= dict.fromkeys(COUNTS, pl.Int64)
    return pl.DataFrame(records, schema=schema, orient="row").sort("month", "source")


def _counts(
    sources: Sequence[str], quality: Mapping[str, Mapping[str, Any]], previous: Mapping[str, Mapping[str, Any]] | None
) -> pl.DataFrame:
    rows = []
    for source in sources:
        now = quality.get(source, {})
        before = None if previous is None else previous.get(source)
        row: dict[str, Any] = {"source": source}
        for name in COUNTS:
            value = int(now.get(name) or 0)
            last = None if before is None else int(before.get(name) or 0)
            row[name] = value
            row[f"previous_{name}"] = last
            row[f"change_{name}"] = None if last is None else value - last
        rows.append(row)
    schema: dict[str, Any] = {"source": pl.String}
    for name in COUNTS:
        schema |= {name: pl.Int64, f"previous_{name}": pl.Int64, f"change_{name}": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def _coverage(summary: Mapping[str, Any], sources: Sequence[str]) -> pl.DataFrame | None:
    """The run summary's coverage gaps for ``sources`` as (source, item, value) rows, or None.

    Accepts coverage keyed by source (``{"attendance": {...}}``), by topic then source (the data checks'
    ``{"schools": {"attendance": {...}}, "months_without_records": {"asb": [...]}}``), or as a list of
    entries naming their ``source``; anything not attributed to one of ``sources`` is left out.
    """
    coverage = summary.get("coverage")
    if coverage is None:
        return None
    rows: list[tuple[str, str, str]] = []

    def flatten(source: str, prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key in sorted(value, key=str):
                flatten(source, f"{prefix}.{key}" if prefix else str(key), value[key])
        elif isinstance(value, list) and all(not isinstance(item, Mapping | list) for item in value):
            rows.append((source, prefix, ", ".join(map(str, value))))
        elif isinstance(value, list):
            for index, item in enumerate(value, start=1):
                flatten(source, f"{prefix}[{index}]", item)
        else:
            rows.append((source, prefix, "" if value is None else str(value)))

    if isinstance(coverage, Mapping):
        for source in sources:
            if source in coverage:
                flatten(source, "", coverage[source])
            for topic, entries in sorted(coverage.items(), key=lambda item: str(item[0])):
                # coverage grouped by topic, then source: {"schools": {"attendance": {...}}, ...}
                if isinstance(entries, Mapping) and source in entries:
                    flatten(source, str(topic), entries[source])
    elif isinstance(coverage, list):
        for entry in coverage:
            if isinstance(entry, Mapping) and entry.get("source") in sources:
                flatten(str(entry["source"]), "", {k: v for k, v in entry.items() if k != "source"})
    return pl.DataFrame(rows, schema={"source": pl.String, "item": pl.String, "value": pl.String}, orient="row")


def read_feedback(engine: Engine, run_id: str) -> dict[str, AgencyFeedback]:
    """Each agency's feedback for a readable run (id resolved), by agency name."""
    info = read_run(engine, run_id)
    quality = read_quality(engine, run_id)
    quarantine = read_quarantine(engine, run_id)
    previous_id = previous_month_run_id(engine, info.as_of, info.ruleset_id)
    previous = read_quality(engine, previous_id) if previous_id else None
    sources = set(quality) | set(quarantine["source"].unique().to_list())
    history = quality_history(engine, sources)
    feedback = {}
    for agency, members in agencies(sources).items():
        own = quarantine.filter(pl.col("source").is_in(members))
        reasons = (
            own.group_by("source", "reason")
            .len("rows")
            .sort(["source", "rows", "reason"], descending=[False, True, False])
        )
        invalid = [
            (source, column, int(n))
            for source in members
            for column, n in sorted(dict(quality.get(source, {}).get("invalid_identifiers") or {}).items())
        ]
        feedback[agency] = AgencyFeedback(
            agency=agency,
            sources=members,
            counts=_counts(members, quality, previous),
            quarantine=own,
            reasons=reasons,
            invalid_identifiers=pl.DataFrame(
                invalid, schema={"source": pl.String, "column": pl.String, "rows": pl.Int64}, orient="row"
            ),
            coverage=_coverage(info.summary, members),
            history=history.filter(pl.col("source").is_in(members)),
        )
    return feedback


# ----------------------------------------------------------------------------- writing


def _write_table(
    book: xlsxwriter.Workbook, sheet: Any, frame: pl.DataFrame, first_row: int = 0, empty: str = ""
) -> int:
    """Write ``frame`` with a bold header from ``first_row``; return the next free row."""
    bold = book.add_format({"bold": True})
    for column, name in enumerate(frame.columns):
        sheet.write_string(first_row, column, name.replace("_", " "), bold)
        sheet.set_column(column, column, max(12, min(60, len(name) + 2)))
    row = first_row + 1
    if frame.is_empty() and empty:
        sheet.write_string(row, 0, empty)
        return row + 1
    limit = EXCEL_MAX_ROWS - row - 1
    for values in frame.head(limit).iter_rows():
        for column, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(row, column, value)
            elif isinstance(value, int | float):
                sheet.write_number(row, column, value)
            else:
                # text as text: a value such as "=1+1" from an agency's file is never a formula
                sheet.write_string(row, column, value.isoformat() if isinstance(value, date) else str(value))
        row += 1
    if frame.height > limit:
        sheet.write_string(row, 0, f"... {frame.height - limit:,} more rows not shown (Excel's row limit)")
        row += 1
    return row


def write_workbook(feedback: AgencyFeedback, run: Mapping[str, Any], path: Path) -> None:
    """Write one agency's workbook to ``path`` (sheets :data:`SHEETS`)."""
    partial = path.with_name(f".{path.name}.partial")
    book = xlsxwriter.Workbook(
        str(partial), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    try:
        bold = book.add_format({"bold": True})
        summary = book.add_worksheet("Summary")
        about = [
            ("Agency", agency_description(feedback.sources)),
            ("Sources", ", ".join(feedback.sources)),
            ("Run", str(run["run_id"])),
            ("Batch date", f"{run['as_of']:%Y-%m-%d}"),
            ("Compared with", str(run["previous_run_id"] or "no published run of an earlier month")),
        ]
        for row, (label, value) in enumerate(about):
            summary.write_string(row, 0, label, bold)
            summary.write_string(row, 1, value)
        summary.write_string(len(about) + 1, 0, "Rows this run, the previous month's run, and the change", bold)
        _write_table(book, summary, feedback.counts, first_row=len(about) + 2)
        _write_table(
            book,
            book.add_worksheet("Quarantined rows"),
            feedback.quarantine,
            empty="No rows of these files were quarantined.",
        )
        _write_table(book, book.add_worksheet("Reasons"), feedback.reasons, empty="No rows were quarantined.")
        _write_table(
            book,
            book.add_worksheet("Invalid identifiers"),
            feedback.invalid_identifiers,
            empty="No identifier columns in these files.",
        )
        coverage = book.add_worksheet("Coverage")
        if feedback.coverage is None:
            coverage.write_string(0, 0, "This run's summary reports no coverage.")
        else:
            _write_table(book, coverage, feedback.coverage, empty="No coverage gaps reported for these files.")
        _write_table(book, book.add_worksheet("History"), feedback.history, empty="No published runs.")
    finally:
        book.close()
    os.replace(partial, path)


def write_feedback(engine: Engine, run_id: str, out_dir: Path | str, *, user: str | None = None) -> dict[str, Path]:
    """Write one workbook per agency for a readable run (id resolved) to ``out_dir``; return them by agency.

    Files are ``feedback_<agency>_<batch date>.xlsx``. The writing is audited (counts only).
    """
    info = read_run(engine, run_id)
    feedback = read_feedback(engine, run_id)
    previous_id = previous_month_run_id(engine, info.as_of, info.ruleset_id)
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create feedback folder {folder}: {error.strerror or error}") from error
    run = {"run_id": run_id, "as_of": info.as_of, "previous_run_id": previous_id}
    paths: dict[str, Path] = {}
    for agency, item in feedback.items():
        path = folder / f"feedback_{agency}_{info.as_of:%Y-%m-%d}.xlsx"
        try:
            write_workbook(item, run, path)
        except OSError as error:
            raise StoreError(f"cannot write {path}: {error.strerror or error}") from error
        paths[agency] = path
    files = {
        path.name: {"sources": feedback[agency].sources, "quarantined_rows": feedback[agency].quarantine.height}
        for agency, path in paths.items()
    }
    try:
        with engine.begin() as connection:
            write_audit_row(
                connection, FEEDBACK_WRITTEN, run_id, {"folder": str(folder.resolve()), "files": files}, user=user
            )
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(
            f"wrote feedback for run {run_id} but cannot record it in {safe_url(engine)}'s audit log"
        ) from error
    log.info("run %s: feedback for %d agencies written to %s", run_id, len(paths), folder)
    return paths
