"""Write a run: its record and every frame it produced, published atomically.

:func:`write_run` does everything in one transaction: it claims the run's row (status
``running``), bulk-writes each frame into its table, then marks the run ``published``
and any earlier published run of the same month and rule pack (``ruleset_id``)
``superseded`` (runs of other packs for the month stay published), copies the decisions that
must follow families who merged or split (:mod:`tfident.store.carry`), and records
``run.published`` in ``audit_log`` (row counts, no personal data). Readers only see
published (and superseded) runs, so until the commit nothing of the run is visible,
and if anything fails nothing of it is left but a ``failed`` row in ``runs`` with the
error.

Bulk writes use PostgreSQL ``COPY`` (polars writes the CSV) and, on SQLite, the
driver's ``executemany`` with plain tuples; other databases get SQLAlchemy's
multi-row ``INSERT``.

Frames (keys of ``frames``, each optional) and the columns taken from them; other
columns are ignored, a missing nullable column is stored as null, and ``run_id`` is
filled in:

================== ==================================================================
``input_files``    source, path, sha256, format, rows
``quality``        source, report_json (JSON text)
``quarantine``     source, file, line, record_id, field, value, reason
``source_records`` record_key, source, record_id, person_id, household_id, forename,
                   middle_names, surname, date_of_birth, sex, address, postcode, uprn,
                   uprn_matched, address_match, evidence_date
``persons``        person_id, household_id, date_of_birth, role
``links``          record_key_l, record_key_r, match_probability, match_rule,
                   match_weights_json (JSON text or a struct)
``households``     household_id, uprn, address, postcode, n_members, address_status,
                   review_reason
``candidates``     household_id, rank, score, criteria_met, eligibility,
                   estimated_annual_cost, min_link_probability, n_members, uprn,
                   address, postcode
``criteria_evidence`` household_id, criterion, rule_id, person_id, source, record_id,
                   event_date, value, detail
================== ==================================================================
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident import __version__
from tfident.errors import NotFound, StoreError
from tfident.store.audit import RUN_PUBLISHED, write_audit_row
from tfident.store.carry import carry_decisions
from tfident.store.engine import BEGIN_OPTION, safe_url
from tfident.store.frames import polars_dtype
from tfident.store.tables import READABLE_STATUSES, RUN_TABLES, metadata, utc_now

log = logging.getLogger(__name__)

runs_table = metadata.tables["runs"]

CHUNK_ROWS = 100_000
"""Rows per COPY block or ``executemany`` call: bounds memory on large batches."""

MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class RunRecord:
    """What the store needs to know about a run besides its frames."""

    run_id: str
    as_of: date
    ruleset_id: str
    ruleset_version: str
    linkage_model_version: str
    config_json: str
    config_hash: str
    code_version: str = __version__
    summary: Mapping[str, Any] = field(default_factory=dict)
    """Counts only, never personal data."""
    stage_timings: Mapping[str, float] = field(default_factory=dict)
    created_at: datetime | None = None
    """Defaults to the time the run is written."""
    username: str | None = None
    """Who ran it, for the audit log; defaults to ``TFIDENT_USER`` or the OS user."""

    @property
    def month(self) -> str:
        """``YYYY-MM`` of the batch date."""
        return f"{self.as_of:%Y-%m}"


def start_run(engine: Engine, run: RunRecord) -> None:
    """Record that ``run`` has started (status ``running``), before its frames exist.

    A run id that failed before may be started again; one that was published may not.
    """
    try:
        with _write_connection(engine) as connection, connection.begin():
            _claim_run_row(connection, run)
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot start run {run.run_id} in {safe_url(engine)}: {describe_error(error)}") from error


def write_run(engine: Engine, run: RunRecord, frames: Mapping[str, pl.DataFrame]) -> None:
    """Write ``run`` and its frames in one transaction and publish it.

    On any failure nothing of the run's data is left: the transaction is rolled back,
    the run is recorded as ``failed`` with the error, and :class:`StoreError` is raised
    (other errors propagate as they are).
    """
    unknown = sorted(set(frames) - set(RUN_TABLES))
    if unknown:
        raise StoreError(f"write_run got frames for unknown tables {unknown}; expected some of {list(RUN_TABLES)}")
    prepared = {name: prepare_frame(name, frames[name]) for name in RUN_TABLES if name in frames}
    started = time.perf_counter()
    try:
        with _write_connection(engine) as connection, connection.begin():
            _claim_run_row(connection, run)
            for name, frame in prepared.items():
                table_started = time.perf_counter()
                write_frame(connection, metadata.tables[name], frame.with_columns(run_id=pl.lit(run.run_id)))
                log.debug(
                    "run %s: %s, %d rows in %.2fs", run.run_id, name, frame.height, time.perf_counter() - table_started
                )
            superseded = _publish(connection, run)
            carried = carry_decisions(connection, run.run_id, prepared.get("identity_events"), user=run.username)
            write_audit_row(
                connection,
                RUN_PUBLISHED,
                run.run_id,
                {
                    "month": run.month,
                    "as_of": run.as_of.isoformat(),
                    "rows": {name: frame.height for name, frame in prepared.items()},
                    "superseded": superseded,
                    "decisions_carried": carried,
                    "config_hash": run.config_hash,
                    "code_version": run.code_version,
                },
                user=run.username,
            )
    except Exception as error:
        _record_failure(engine, run, error)
        if isinstance(error, sa.exc.SQLAlchemyError | StoreError):
            raise StoreError(f"cannot write run {run.run_id} to {safe_url(engine)}: {describe_error(error)}") from error
        raise
    _refresh_statistics(engine, prepared)
    log.info(
        "run %s published in %.1fs (%s)",
        run.run_id,
        time.perf_counter() - started,
        ", ".join(f"{name} {frame.height}" for name, frame in prepared.items()),
    )


def _refresh_statistics(engine: Engine, written: Mapping[str, pl.DataFrame]) -> None:
    """Let PostgreSQL's planner see the rows just bulk-loaded (autovacuum may take minutes).

    Without fresh statistics the review app's first queries on a new run can choose scans
    of every record. Best effort: the run is already published when this runs.
    """
    if engine.dialect.name != "postgresql":
        return
    tables = [metadata.tables[name] for name, frame in written.items() if frame.height]
    try:
        with engine.connect() as connection:
            preparer = connection.dialect.identifier_preparer
            for table in tables:
                connection.exec_driver_sql(f"ANALYZE {preparer.format_table(table)}")
            connection.commit()
    except sa.exc.SQLAlchemyError as error:  # pragma: no cover - statistics are an optimisation
        log.warning("could not refresh planner statistics after the run: %s", type(error).__name__)


def fail_run(engine: Engine, run_id: str, error: str) -> None:
    """Mark a ``running`` run as ``failed`` with ``error`` (say what failed, not whose data)."""
    with _write_connection(engine) as connection, connection.begin():
        status = connection.execute(sa.select(runs_table.c.status).where(runs_table.c.run_id == run_id)).scalar()
        if status is None:
            raise NotFound(f"run {run_id!r} not found in {safe_url(engine)}: it was never started")
        if status in READABLE_STATUSES:
            raise StoreError(f"run {run_id} is {status}; a stored run cannot be marked failed")
        connection.execute(
            runs_table.update()
            .where(runs_table.c.run_id == run_id)
            .values(status="failed", error=error[:MAX_ERROR_CHARS])
        )


# ------------------------------------------------------------------------ the run's row


def record_failed_attempt(engine: Engine, run: RunRecord, error: str) -> None:
    """Record a run that failed before its run id could be derived (bad extracts, a config
    error, a month lock held): a ``failed`` row with the reason, so every failure shows in
    ``tfident runs``. ``run.run_id`` is made up by the caller; no frames are written.
    """
    try:
        with _write_connection(engine) as connection, connection.begin():
            _claim_run_row(connection, run, status="failed")
            connection.execute(
                runs_table.update().where(runs_table.c.run_id == run.run_id).values(error=error[:MAX_ERROR_CHARS])
            )
    except sa.exc.SQLAlchemyError as db_error:
        raise StoreError(
            f"cannot record failed run {run.run_id} in {safe_url(engine)}: {describe_error(db_error)}"
        ) from (db_error)


def _write_connection(engine: Engine) -> sa.Connection:
    # On SQLite take the write lock at BEGIN, so two writers queue instead of one failing
    # to upgrade a read lock half-way through.
    return engine.connect().execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})


def _run_values(run: RunRecord) -> dict[str, Any]:
    return {
        "created_at": run.created_at or utc_now(),
        "as_of": run.as_of,
        "ruleset_id": run.ruleset_id,
        "ruleset_version": run.ruleset_version,
        "linkage_model_version": run.linkage_model_version,
        "config_json": run.config_json,
        "config_hash": run.config_hash,
        "code_version": run.code_version,
        "month": run.month,
        "summary_json": dict(run.summary),
        "stage_timings_json": dict(run.stage_timings),
    }


def _claim_run_row(connection: sa.Connection, run: RunRecord, status: str = "running") -> None:
    """Insert the run's row, or take over the row of an earlier failed or unfinished attempt."""
    existing = connection.execute(
        sa.select(runs_table.c.status).where(runs_table.c.run_id == run.run_id)
    ).scalar_one_or_none()
    if existing in READABLE_STATUSES:
        raise StoreError(f"run {run.run_id} is already stored ({existing}); a run id is written once")
    values = {**_run_values(run), "status": status, "error": None}
    if existing is None:
        version = connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(runs_table.c.version), 0) + 1).where(runs_table.c.month == run.month)
        ).scalar_one()
        connection.execute(runs_table.insert().values(run_id=run.run_id, version=version, **values))
        return
    for name in RUN_TABLES:  # rows of an unfinished attempt, should any have been committed
        table = metadata.tables[name]
        connection.execute(table.delete().where(table.c.run_id == run.run_id))
    connection.execute(runs_table.update().where(runs_table.c.run_id == run.run_id).values(**values))


def _publish(connection: sa.Connection, run: RunRecord) -> list[str]:
    """Publish the run, superseding the published run of its month and rule pack; return the ids superseded.

    Runs of different packs for one month (a Phase 1 and a Phase 2 run, say) are both
    published side by side: each is the current run of its pack for the month.
    """
    same_month_and_pack = (
        runs_table.c.month == run.month,
        runs_table.c.ruleset_id == run.ruleset_id,
        runs_table.c.status == "published",
        runs_table.c.run_id != run.run_id,
    )
    superseded = list(
        connection.execute(
            sa.select(runs_table.c.run_id).where(*same_month_and_pack).order_by(runs_table.c.run_id)
        ).scalars()
    )
    connection.execute(runs_table.update().where(*same_month_and_pack).values(status="superseded"))
    connection.execute(runs_table.update().where(runs_table.c.run_id == run.run_id).values(status="published"))
    return superseded


def _record_failure(engine: Engine, run: RunRecord, error: BaseException) -> None:
    message = f"{type(error).__name__}: {describe_error(error)}"[:MAX_ERROR_CHARS]
    try:
        with _write_connection(engine) as connection, connection.begin():
            _claim_run_row(connection, run, status="failed")
            connection.execute(runs_table.update().where(runs_table.c.run_id == run.run_id).values(error=message))
    except Exception:  # the original error matters more; this one is only logged
        log.exception("could not record run %s as failed", run.run_id)


def describe_error(error: BaseException) -> str:
    """A database error's main message, without the row values some drivers add as detail."""
    original = getattr(error, "orig", None) or error
    diag = getattr(original, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary:
        return str(primary)
    return str(original).splitlines()[0] if str(original) else type(original).__name__


# ------------------------------------------------------------------------- the frames


def _written_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """Columns the writer fills: all but auto-incrementing surrogate ids."""
    return [column for column in table.columns if column.name != "id"]


def prepare_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast a frame's columns for table ``name`` (``run_id`` excepted), checking required ones."""
    table = metadata.tables[name]
    expressions: list[pl.Expr] = []
    missing: list[str] = []
    for column in _written_columns(table):
        if column.name == "run_id":
            continue
        dtype = polars_dtype(column)
        if column.name not in frame.columns:
            if not column.nullable:
                missing.append(column.name)
            expressions.append(pl.lit(None, dtype=dtype).alias(column.name))
            continue
        source = frame.schema[column.name]
        if isinstance(column.type, sa.JSON) and source != pl.String:
            expressions.append(_json_text(frame, column.name))
        else:
            expressions.append(pl.col(column.name).cast(dtype))
    if missing:
        raise StoreError(f"cannot store {name}: the frame lacks required column(s) {missing}; it has {frame.columns}")
    try:
        prepared = frame.select(expressions)
    except pl.exceptions.PolarsError as error:
        types = {c: str(t) for c, t in frame.schema.items()}
        raise StoreError(f"cannot store {name}: a column does not convert to its database type ({types})") from error
    null_required = [
        column.name
        for column in _written_columns(table)
        if column.name != "run_id" and not column.nullable and prepared[column.name].null_count()
    ]
    if null_required:
        raise StoreError(f"cannot store {name}: required column(s) {null_required} have blank values")
    return prepared


def _json_text(frame: pl.DataFrame, name: str) -> pl.Expr:
    if isinstance(frame.schema[name], pl.Struct):
        return pl.col(name).struct.json_encode().alias(name)
    texts = [None if value is None else json.dumps(value, sort_keys=True) for value in frame[name].to_list()]
    return pl.lit(pl.Series(name, texts, dtype=pl.String)).alias(name)


def write_frame(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Bulk-write a prepared frame (all written columns, ``run_id`` included) into ``table``."""
    if frame.is_empty():
        return
    frame = frame.select([column.name for column in _written_columns(table)])
    dialect = connection.dialect.name
    if dialect == "postgresql" and connection.dialect.driver == "psycopg":
        try:
            _copy_postgres(connection, table, frame)
        except connection.dialect.loaded_dbapi.Error as error:
            # COPY runs on the driver's cursor, so SQLAlchemy has not wrapped its errors
            raise StoreError(f"cannot write {table.name}: {describe_error(error)}") from error
    elif dialect == "sqlite":
        _insert_sqlite(connection, table, frame)
    else:
        _insert_generic(connection, table, frame)


def _copy_postgres(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    preparer = connection.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(name) for name in frame.columns)
    statement = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN WITH (FORMAT csv)"
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for chunk in frame.iter_slices(CHUNK_ROWS):
            buffer = io.BytesIO()
            # polars writes null as an unquoted empty field and "" as a quoted one,
            # which is exactly how COPY's CSV format tells NULL from an empty string
            chunk.write_csv(buffer, include_header=False, date_format="%Y-%m-%d")
            copy.write(buffer.getvalue())


def _insert_sqlite(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    # Dates as ISO text is how SQLAlchemy's SQLite Date type stores them; converting here
    # also keeps the driver's deprecated default date adapter out of it.
    frame = frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d"))
    # Rows in primary-key order append to the table's B-tree instead of splitting pages
    # all over it (measured: 486,703 source records 101 s unsorted with the default
    # cache, 31 s sorted with a larger one).
    keys = [column.name for column in table.primary_key.columns if column.name in frame.columns]
    if keys and frame.height > 1:
        frame = frame.sort(keys)
    placeholders = ", ".join("?" for _ in frame.columns)
    preparer = connection.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(name) for name in frame.columns)
    statement = f"INSERT INTO {preparer.format_table(table)} ({columns}) VALUES ({placeholders})"
    with _sqlite_cache(connection, SQLITE_WRITE_CACHE_KIB):
        for chunk in frame.iter_slices(CHUNK_ROWS):
            connection.exec_driver_sql(statement, chunk.rows())


SQLITE_WRITE_CACHE_KIB = 512 * 1024
"""SQLite page cache while bulk-writing (KiB; allocated only as used). The default, 2 MiB,
is far smaller than the indexes of a large run, so every insert into a secondary index
went to the operating system for its page."""


@contextmanager
def _sqlite_cache(connection: sa.Connection, kib: int) -> Iterator[None]:
    """SQLite's page cache at least ``kib`` KiB for the statements inside, then as it was."""
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    # positive values count pages, negative ones KiB
    connection.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def _insert_generic(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    json_columns = [column.name for column in table.columns if isinstance(column.type, sa.JSON)]
    for chunk in frame.iter_slices(CHUNK_ROWS):
        rows = chunk.to_dicts()
        for row in rows:
            for name in json_columns:
                if row.get(name) is not None:
                    row[name] = json.loads(row[name])
        connection.execute(table.insert(), rows)
