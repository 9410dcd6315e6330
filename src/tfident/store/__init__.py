"""tfident.store: the database (SQLAlchemy 2, SQLite or PostgreSQL) and the contract exports.

* :mod:`~tfident.store.tables`: the tables; the first Alembic revision creates them all.
* :mod:`~tfident.store.engine`: ``make_engine``, ``prepare_database``, ``init_db``, ``upgrade``.
* :mod:`~tfident.store.writer`: ``write_run`` publishes a run atomically.
* :mod:`~tfident.store.reader`: ``resolve_run`` and the ``read_*`` functions.
* :mod:`~tfident.store.export`: ``export_run`` writes contract section 6.
* :mod:`~tfident.store.locks`: ``acquire_month_lock``, one run of a month at a time.
* :mod:`~tfident.store.diff`: ``diff_runs``, families added, dropped, re-ranked.

No engine is created at import time.
"""

from tfident.store.engine import current_revision, head_revision, init_db, make_engine, prepare_database, upgrade
from tfident.store.export import EXPORT_COLUMNS, export_run
from tfident.store.locks import MonthLock, acquire_month_lock
from tfident.store.reader import (
    RunInfo,
    identity_index_of,
    inbox_history,
    latest_run_id,
    list_runs,
    previous_month_run_id,
    read_candidates,
    read_check_warnings,
    read_evidence,
    read_identity_events,
    read_identity_index,
    read_link,
    read_link_constraints,
    read_members,
    read_persons_index,
    read_previous_month,
    read_quality,
    read_quarantine,
    read_run,
    read_source_records,
    resolve_run,
    run_exists,
)
from tfident.store.tables import RUN_STATUSES, RUN_TABLES, metadata
from tfident.store.writer import RunRecord, fail_run, record_failed_attempt, start_run, write_run

__all__ = [
    "EXPORT_COLUMNS",
    "RUN_STATUSES",
    "RUN_TABLES",
    "MonthLock",
    "RunInfo",
    "RunRecord",
    "acquire_month_lock",
    "current_revision",
    "export_run",
    "fail_run",
    "head_revision",
    "identity_index_of",
    "inbox_history",
    "init_db",
    "latest_run_id",
    "list_runs",
    "make_engine",
    "metadata",
    "prepare_database",
    "previous_month_run_id",
    "read_candidates",
    "read_check_warnings",
    "read_evidence",
    "read_identity_events",
    "read_identity_index",
    "read_link",
    "read_link_constraints",
    "read_members",
    "read_persons_index",
    "read_previous_month",
    "read_quality",
    "read_quarantine",
    "read_run",
    "read_source_records",
    "record_failed_attempt",
    "resolve_run",
    "run_exists",
    "start_run",
    "upgrade",
    "write_run",
]
