"""Run a monthly batch end to end: config, pipeline (plain or as the Prefect flow), store.

This is what ``tfident run`` calls; it sits above ``pipeline`` and ``store`` and is the
only place that joins them.

Crash recovery (plain runs and the Prefect flow alike: both run the stages declared in
``tfident.pipeline.NODES`` through ``pipeline.run_graph``): once ``ingest`` has read the
extracts and the data checks passed, the run id is known, and the run is recorded as
``running`` in the store (with its extracts folder, rule pack and input file hashes in
``summary_json["inputs"]``); after each later stage its frames are saved as checkpoints
(:mod:`tfident.checkpoints`). A run killed part-way leaves nothing readable, and
:func:`execute_resume` (``tfident run --resume RUN_ID``) or a re-run of the same inputs
finishes it from its checkpoints, with the same output as an uninterrupted run.

Failures an operator can act on: every failure is recorded in the store (``tfident
runs`` shows it with its reason), also one that stops before the run id is known (bad
extracts, a config error, a month lock held) and one under Prefect, except when the
database itself cannot be reached; the configured notification channels are told
(:mod:`tfident.notify`). Only transient faults (:data:`tfident.errors.TRANSIENT`: the
database unreachable, the month's lock held) are retried, with exponential backoff, when
``retries`` is given; bad data never is. :func:`execute_inbox_run` takes the next batch
folder from the monthly inbox (:mod:`tfident.inbox`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from tfident import __version__
from tfident.checkpoints import (
    StageCheckpoints,
    checkpoint_root,
    discard_run_caches,
    file_sha256,
    load_run_cache,
    save_run_cache,
)
from tfident.config import config_path
from tfident.errors import (
    TRANSIENT,
    BatchRefused,
    CannotResume,
    ConfigError,
    DatabaseUnavailable,
    ExtractError,
    NotFound,
    RunStopped,
    SchemaOutOfDate,
    StopRun,
    TfidentError,
    exit_code,
)
from tfident.households.incremental import HouseholdsCache, households_fingerprint
from tfident.identity import PREVIOUS_INDEX_SCHEMA
from tfident.inbox import InboxFolder, choose, scan
from tfident.inbox import expired as expired_folders
from tfident.ingest import Batch, quality_table
from tfident.ingest.checks import (
    CheckReport,
    ChecksConfig,
    Manifests,
    PreviousMonth,
    load_checks_config,
    read_manifests,
)
from tfident.link import LinkCache
from tfident.link.incremental import mapped
from tfident.notify import load_settings as load_notify_settings
from tfident.outcomes import load_outcomes_config
from tfident.pipeline import (
    STAGES,
    PipelineResult,
    ProgressCallback,
    RunConfig,
    StartHook,
    execute_pipeline,
    ingest_stage,
    load_run_config,
    no_progress,
    run_id_for,
    run_inputs,
    store_frames,
    timed,
)
from tfident.standardise.incremental import StandardiseCache, next_cache
from tfident.store import (
    MonthLock,
    RunInfo,
    RunRecord,
    acquire_month_lock,
    fail_run,
    identity_index_of,
    inbox_history,
    make_engine,
    previous_month_run_id,
    read_identity_index,
    read_link_constraints,
    read_previous_month,
    read_run,
    record_failed_attempt,
    run_exists,
    start_run,
    write_run,
)
from tfident.store.attachments import record_outcomes
from tfident.store.engine import prepare_database, safe_url
from tfident.store.retention import RetentionResult, apply_retention, load_retention_config

log = logging.getLogger(__name__)

RESUMABLE_STATUSES = ("running", "failed")
"""Statuses of a run that checkpoints can finish."""


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run reports back to the command line."""

    run_id: str
    reused: bool
    summary: dict[str, Any]
    quality_table: Table | None
    resumed: tuple[str, ...] = ()
    """Stages restored from checkpoints rather than computed."""
    warnings: tuple[str, ...] = ()
    """What an operator should look at although the run was published (counts only)."""


def prefect_wanted(use_prefect: bool | None) -> bool:
    """Use the Prefect flow when asked, or by default when a Prefect server is configured."""
    if use_prefect is not None:
        return use_prefect
    return bool(os.environ.get("PREFECT_API_URL"))


RUN_STEPS: tuple[str, ...] = (*STAGES, "store")
"""What a run shows progress for: the pipeline's stages, then writing and publishing the run."""


def _console_progress(console: Console | None, also: ProgressCallback | None = None) -> ProgressCallback:
    """Progress per step on ``console`` (if any), passed on to ``also`` (if any)."""

    def progress(stage: str, seconds: float | None) -> None:
        if console is not None:
            step = f"[{RUN_STEPS.index(stage) + 1}/{len(RUN_STEPS)}] {stage}"
            console.print(f"{step} ..." if seconds is None else f"{step} done in {seconds:.1f}s")
        if also is not None:
            also(stage, seconds)

    return progress


def compute(
    extracts: Path,
    as_of: date,
    config: RunConfig,
    use_prefect: bool,
    *,
    constraints: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
    checks: DataCheckInputs | None = None,
    start: StartHook | None = None,
    progress: ProgressCallback = no_progress,
    link_cache: LinkCache | None = None,
    standardise_cache: StandardiseCache | None = None,
    households_cache: HouseholdsCache | None = None,
) -> PipelineResult | None:
    """Run every stage of ``tfident.pipeline.NODES``, plainly or as the Prefect flow (one task per stage).

    ``constraints`` are link rulings, ``previous`` the previous run's identity index; with ``checks`` the data
    checks run after ingest (a ``stop`` raises :class:`~tfident.errors.DataCheckFailed` before any other stage).
    ``start`` derives the run id and gives its checkpoints once the extracts are read and checked
    (:data:`tfident.pipeline.StartHook`); None when it stopped the run (:class:`~tfident.errors.StopRun`).
    """
    if use_prefect:
        from tfident.flows.monthly import monthly_identification

        return monthly_identification(
            extracts,
            as_of,
            config,
            constraints,
            previous,
            checks.config if checks else None,
            checks.previous if checks else None,
            checks.manifests if checks else None,
            start=start,
            progress=progress,
            link_cache=link_cache,
            standardise_cache=standardise_cache,
            households_cache=households_cache,
        )
    values = run_inputs(
        extracts,
        as_of,
        config,
        constraints,
        previous,
        checks.config if checks else None,
        checks.previous if checks else None,
        checks.manifests if checks else None,
        link_cache,
        standardise_cache,
        households_cache,
    )
    return execute_pipeline(values, start=start, progress=progress)


@dataclass(frozen=True)
class DataCheckInputs:
    """What the data checks need besides the batch: the council's expectations, last month's published run
    (as the store knows it) and the agencies' manifests.
    """

    config: ChecksConfig
    previous: PreviousMonth | None
    manifests: Manifests


def data_check_inputs(engine: Engine, extracts: Path, as_of: date, config: ChecksConfig) -> DataCheckInputs:
    """Read last month's published run from the store and the batch folder's manifests."""
    return DataCheckInputs(config, read_previous_month(engine, as_of), read_manifests(extracts))


def checks_summary(report: CheckReport | None) -> dict[str, Any]:
    """The run summary's ``checks`` and ``coverage`` (counts, names and dates only)."""
    if report is None:
        return {}
    return {"checks": report.summary(), "coverage": report.coverage}


def previous_identities(
    engine: Engine, as_of: date, ruleset_id: str | None = None
) -> tuple[str | None, pl.DataFrame | None]:
    """The published run of the latest earlier month (of the same rule pack when there is one)
    and its identity index, to carry ids over from.
    """
    run_id = previous_month_run_id(engine, as_of, ruleset_id)
    if run_id is None:
        return None, None
    return run_id, read_identity_index(engine, run_id)


def _run_record(run_id: str, as_of: date, config: RunConfig, **extra: Any) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        as_of=as_of,
        ruleset_id=config.pack.ruleset,
        ruleset_version=config.pack.version,
        linkage_model_version=config.linkage.model_version or config.linkage.version,
        config_json=config.as_json(),
        config_hash=config.hash,
        **extra,
    )


def _inputs(extracts: Path, criteria: str, batch: Batch) -> dict[str, Any]:
    """What ``--resume`` needs to read the run's extracts again (paths and hashes, no personal data)."""
    return {
        "extracts_dir": str(extracts.resolve()),
        "criteria": criteria,
        "files": {name: {"path": info.path, "sha256": info.sha256} for name, info in sorted(batch.files.items())},
    }


def _database_key(engine: Engine) -> str:
    return hashlib.sha256(safe_url(engine).encode()).hexdigest()[:16]


def _open_checkpoints(engine: Engine, run_id: str) -> StageCheckpoints:
    sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
    return StageCheckpoints.open(checkpoint_root(sqlite_file), run_id, _database_key(engine))


LINK_CACHE_FRAMES: tuple[str, ...] = ("link_profiles", "link_pairs", "link_clusters")
"""The link stage's outputs that are its cache (:class:`tfident.link.LinkCache`), as the run cache names them."""

RUN_MODES: tuple[str, ...] = ("incremental", "full")
"""How a run links: reusing the previous published run's linkage (``incremental``) or not (``full``)."""


def _cache_root(engine: Engine) -> Path:
    return checkpoint_root(engine.url.database if engine.dialect.name == "sqlite" else None)


def _same_linkage(previous: RunInfo, config: RunConfig) -> str | None:
    """Why the previous run's linkage cannot be reused by a run with ``config`` (None when it can)."""
    try:
        before = json.loads(previous.config_json or "{}")
    except ValueError:
        return "its configuration cannot be read"
    now = json.loads(config.as_json())
    if before.get("linkage") != now["linkage"]:
        return "the linkage configuration or model changed since"
    if before.get("criteria") != now["criteria"]:
        return "the criteria pack changed since"
    return None


@dataclass(frozen=True)
class RunMode:
    """How a run links (:func:`choose_mode`) and, for an incremental run, the previous published run's caches."""

    mode: str
    """``incremental`` or ``full``."""
    reason: str
    link_cache: LinkCache | None = None
    standardise_cache: StandardiseCache | None = None
    """The previous run's standardised records (None when its cache has none: an older run's)."""
    households_cache: HouseholdsCache | None = None
    """The previous run's households stage's address parses and gazetteer index (None when its cache has none)."""
    identity_index: pl.DataFrame | None = None
    """The previous run's identity index (``tfident.store.identity_index_of``) as its cache keeps it, or None
    (then the run reads it from the store: ``tfident.store.read_identity_index``)."""


def choose_mode(engine: Engine, previous_id: str | None, config: RunConfig, asked: str | None) -> RunMode:
    """Whether the run is incremental, why, and the previous run's caches (its standardised records, households
    stage's parses and identity index only when they were kept: an older run's cache has none).

    Incremental by default when the previous published run (``previous_id``) used the same linkage
    configuration and model and the same criteria pack, and its cache is kept; ``asked`` (``full`` or
    ``incremental``) forces the mode: ``incremental`` when it is not possible is a :class:`ConfigError`.
    """
    if asked == "full":
        return RunMode("full", "asked for (--full)")
    why: str | None
    cache: LinkCache | None = None
    standardised: StandardiseCache | None = None
    parses: HouseholdsCache | None = None
    identity_index: pl.DataFrame | None = None
    if previous_id is None:
        why = "there is no earlier published run"
    else:
        why = _same_linkage(read_run(engine, previous_id), config)
        if why is None:
            # every blocked pair's levels (some 19 million rows at a million records, about 2.5 GB at
            # three million) are held for the whole run: memory-mapped from the cache's Arrow file (or, from
            # an older cache's Parquet, written to a private one and mapped), their pages are the kernel's
            # to drop, not the heap's
            frames = load_run_cache(_cache_root(engine), _database_key(engine), previous_id, map_parquet=mapped)
            if frames is None:
                why = f"no cache of run {previous_id} is kept"
            else:
                clusters = frames.get("link_clusters")  # none in the cache of a run before clustering reuse
                pairs = frames.pop("link_pairs")
                cache = (
                    LinkCache(frames["link_profiles"], pairs)
                    if clusters is None
                    else LinkCache(frames["link_profiles"], pairs, clusters)
                )
                standardised = StandardiseCache.from_frames(frames)
                parses = HouseholdsCache.from_frames(frames)
                identity_index = _cached_identity_index(frames)
    if why is not None:
        if asked == "incremental":
            raise ConfigError(f"cannot run incrementally: {why}; run with --full")
        return RunMode("full", why)
    return RunMode("incremental", f"reusing run {previous_id}", cache, standardised, parses, identity_index)


IDENTITY_INDEX_FRAME = "identity_index"
"""The run cache's frame holding the run's identity index (what the next month carries ids over from)."""


def _cached_identity_index(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame | None:
    """The identity index a run cache keeps, or None when it keeps none (an older run's cache) or one
    of other columns or types (then the store's is read).
    """
    index = frames.get(IDENTITY_INDEX_FRAME)
    if index is None or index.schema != pl.Schema(PREVIOUS_INDEX_SCHEMA):
        return None
    return index


def discard_checkpoints(engine: Engine, run_ids: Iterable[str]) -> list[str]:
    """Delete the stage checkpoints (personal data) of ``run_ids`` in this database; the ids that had any.

    Retention calls it for the runs it purges: a run that failed and was never resumed
    keeps its checkpoints until then.
    """
    sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
    root = checkpoint_root(sqlite_file)
    database = _database_key(engine)
    found = []
    for run_id in run_ids:
        if not StageCheckpoints.exist(root, run_id, database):  # another database's are not this one's to delete
            continue
        _open_checkpoints(engine, run_id).discard()
        found.append(run_id)
    if found:
        log.info("deleted the checkpoints of %d run(s)", len(found))
    return found


@dataclass(frozen=True)
class RetentionOutcome:
    """What retention deleted: run rows (``result``), checkpoint folders and inbox folders."""

    result: RetentionResult
    checkpoints: list[str]
    """Run ids whose stage checkpoints were deleted (runs that failed or were killed, never resumed)."""
    inbox_folders: list[str]
    """Inbox folders deleted (processed or refused, with batch dates before the cutoff)."""


def execute_retention(
    db: str | None,
    months: int | None = None,
    *,
    inbox: Path | None = None,
    dry_run: bool = False,
    user: str | None = None,
) -> RetentionOutcome:
    """``tfident retention apply`` and the scheduled retention flow: purge the personal data of runs with
    batch dates older than the retention period (``retention.yaml`` unless ``months``), the checkpoints of
    purged runs (failed, or killed and left ``running``), and the inbox's processed or refused folders from
    before the cutoff. Safe to re-run after restoring a backup: it deletes again what the backup brought back.
    """
    keep = months if months is not None else load_retention_config().months
    engine = make_engine(db)
    try:
        prepare_database(engine)
        result = apply_retention(engine, keep, dry_run=dry_run, user=user)
        checkpoints = [] if dry_run else discard_checkpoints(engine, result.run_ids)
        if not dry_run:  # an incremental run's cache of a purged run (personal data) goes with it
            discard_run_caches(_cache_root(engine), _database_key(engine), result.run_ids)
        folders: list[str] = []
        if inbox is not None:
            processed, _last = inbox_history(engine)
            for folder in expired_folders(scan(inbox), processed, result.cutoff):
                folders.append(str(folder.path))
                if not dry_run:
                    shutil.rmtree(folder.path)
            if folders and not dry_run:
                log.info("retention: deleted %d inbox folder(s) from before %s", len(folders), result.cutoff)
    finally:
        engine.dispose()
    return RetentionOutcome(result, checkpoints, folders)


def _run_status(engine: Engine, run_id: str) -> str | None:
    try:
        return read_run(engine, run_id).status
    except NotFound:
        return None


def execute_run(
    extracts: Path,
    as_of: date,
    db: str | None,
    criteria: str,
    *,
    use_prefect: bool | None = None,
    console: Console | None = None,
    progress: ProgressCallback | None = None,
    retries: int = 0,
    retry_delay: float = 30.0,
    mode: str | None = None,
) -> RunOutcome:
    """Load config, run the pipeline, store the run, and return its id and summary.

    ``mode`` (``incremental`` or ``full``; by default incremental when possible, :func:`choose_mode`)
    says whether linkage reuses the previous published run's; the results are the same either way.

    A plain run of inputs whose run is ``running`` or ``failed`` in the store (killed or
    stopped part-way) carries on from that run's checkpoints. ``progress`` is called at
    the start (``seconds`` None) and end of each step of :data:`RUN_STEPS` (not under
    Prefect), as the console's progress lines are. Transient faults are tried again up to
    ``retries`` times, waiting ``retry_delay`` seconds, doubled each time. A failure is
    recorded in the store and notified, then raised.
    """
    if mode is not None and mode not in RUN_MODES:
        raise ValueError(f"mode must be one of {RUN_MODES}")
    attempt = _Attempt(extracts=extracts, as_of=as_of, criteria=criteria, mode=mode)

    def once() -> RunOutcome:
        return _execute_run_once(attempt, db, use_prefect, console, progress)

    try:
        with _stop_on_sigterm():
            outcome = retry_transient(once, retries, retry_delay, console)
    except BaseException as error:
        _after_failure(db, attempt, error)
        raise
    outcome = _with_warnings(outcome)
    _notify_outcome(outcome, as_of)
    return outcome


@dataclass
class _Attempt:
    """What is known of a run so far, to record it should it fail."""

    extracts: Path | None
    as_of: date
    criteria: str
    config: RunConfig | None = None
    run_id: str | None = None
    """Set once the run id is derived (after ingest); until then a failure gets an id of its own."""
    mode: str | None = None
    """``incremental``, ``full`` or None (incremental when possible)."""


def _execute_run_once(
    attempt: _Attempt,
    db: str | None,
    use_prefect: bool | None,
    console: Console | None,
    progress: ProgressCallback | None,
) -> RunOutcome:
    extracts, as_of, criteria = attempt.extracts, attempt.as_of, attempt.criteria
    assert extracts is not None
    attempt.run_id = None
    config = attempt.config = load_run_config(criteria)
    checks_config = load_checks_config()
    load_notify_settings()  # a broken notifications.yaml stops the run now, not silently at its end
    load_outcomes_config()  # likewise a broken outcomes.yaml, before anything is written
    engine = make_engine(db)
    lock: MonthLock | None = None
    try:
        prepare_database(engine)
        # one run of a month at a time: a second exits with RunLocked naming this one
        lock = acquire_month_lock(engine, f"{as_of:%Y-%m}")
        constraints = read_link_constraints(engine)
        previous_id = previous_month_run_id(engine, as_of, config.pack.ruleset)
        check_inputs = data_check_inputs(engine, extracts, as_of, checks_config)
        chosen = choose_mode(engine, previous_id, config, attempt.mode)
        log.info("run mode %s: %s", chosen.mode, chosen.reason)
        # the previous run's identity index: kept in its run cache (an incremental run), else read from
        # the store (1.8 CPU s at 300k records, from SQLite); the same frame either way
        previous = chosen.identity_index
        if previous is None and previous_id is not None:
            previous = read_identity_index(engine, previous_id)
        return _compute_and_publish(
            _Start(
                engine,
                lock,
                attempt,
                config,
                criteria,
                extracts,
                as_of,
                constraints,
                previous_id,
                console,
                mode=chosen.mode,
                mode_reason=chosen.reason,
                link_cache=chosen.link_cache,
                standardise_cache=chosen.standardise_cache,
                households_cache=chosen.households_cache,
            ),
            prefect_wanted(use_prefect),
            previous,
            check_inputs,
            _console_progress(console, progress),
        )
    finally:
        if lock is not None:
            lock.release()
        engine.dispose()


# ---------------------------------------------------------------------- failures, retries


T = TypeVar("T")


def retry_transient(
    call: Callable[[], T],
    retries: int,
    delay: float,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again up to ``retries`` times on a transient fault (:data:`TRANSIENT`), waiting
    ``delay`` seconds, then twice as long each time; any other error (bad data, a bug) is raised at once.
    """
    for attempt in range(retries + 1):
        try:
            return call()
        except TRANSIENT as error:
            if attempt >= retries:
                raise
            wait = delay * 2**attempt
            log.warning("%s (try %d of %d); trying again in %.0f s", error, attempt + 1, retries + 1, wait)
            if console is not None:
                console.print(f"{error}\n(try {attempt + 1} of {retries + 1}; trying again in {wait:.0f} s)")
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`RunStopped` while a run is under way, so that it is recorded as failed (and
    resumable) rather than left ``running``; only in the main thread, and only where nobody else (Prefect's
    engine) handles SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise RunStopped("the run was stopped by SIGTERM before it finished")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def failure_reason(error: BaseException) -> str:
    """What an operator reads in ``tfident runs`` and notifications: the kind of fault and tfident's own
    message (which names files, lines, columns and checks, never values). A bug's own message may quote
    data, so only its type is given.
    """
    code = exit_code(error)
    if isinstance(error, KeyboardInterrupt):
        return "environment (exit 3): interrupted before it finished"
    if code == 1:
        return f"bug (exit 1): internal error {type(error).__name__}; run again with --debug for the traceback"
    kind = "environment (exit 3)" if code == 3 else "bad input (exit 2)"
    return f"{kind}: {error}"


def _failed_run_id(as_of: date) -> str:
    """An id for a run that failed before its own id could be derived (``F`` for failed)."""
    return f"F{as_of:%Y%m%d}-{secrets.token_hex(5)}"


def _after_failure(db: str | None, attempt: _Attempt, error: BaseException) -> None:
    """Record the failure in the store (unless the database is the problem: unreachable, or at a schema this
    tfident does not write) and notify; never raises.
    """
    reason = failure_reason(error)
    run_id = attempt.run_id
    if not isinstance(error, (DatabaseUnavailable, SchemaOutOfDate)):  # not a database this code may write to
        try:
            run_id = _record_failure(db, attempt, reason)
        except Exception:  # the run's own error matters more
            log.warning("could not record the failed run in the store", exc_info=_debugging())
    _notify(
        "failed",
        message=reason,
        run_id=run_id,
        as_of=attempt.as_of,
        exit_code=1 if isinstance(error, KeyboardInterrupt) else exit_code(error),
    )


def _debugging() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def _record_failure(db: str | None, attempt: _Attempt, reason: str) -> str:
    """The failed run's id: the run's own when the store already has it as failed, else a new ``failed`` row."""
    engine = make_engine(db)
    try:
        prepare_database(engine)  # a failure before the run reached the database (SQLite migrates itself)
        if attempt.run_id is not None:
            status = _run_status(engine, attempt.run_id)
            if status == "running":
                fail_run(engine, attempt.run_id, reason)
                return attempt.run_id
            if status == "failed":  # the stage or the store recorded it, with the stage it stopped in
                return attempt.run_id
        config = attempt.config
        run_id = _failed_run_id(attempt.as_of)
        inputs = {"extracts_dir": str(attempt.extracts.resolve()) if attempt.extracts else None}
        record = RunRecord(
            run_id=run_id,
            as_of=attempt.as_of,
            ruleset_id=config.pack.ruleset if config else attempt.criteria,
            ruleset_version=config.pack.version if config else "",
            linkage_model_version=(config.linkage.model_version or config.linkage.version) if config else "",
            config_json=config.as_json() if config else "{}",
            config_hash=config.hash if config else "",
            summary={"inputs": {**inputs, "criteria": attempt.criteria}},
        )
        record_failed_attempt(engine, record, reason)
        return run_id
    finally:
        engine.dispose()


def run_warnings(summary: dict[str, Any]) -> tuple[str, ...]:
    """What an operator should look at in a published run: sources with quarantined rows, then the data checks'
    warnings (``summary["checks"]["warnings"]``).
    """
    found = []
    for source, quality in sorted(summary.get("sources", {}).items()):
        quarantined = int(quality.get("rows_quarantined", 0))
        if quarantined:
            found.append(f"{source}: {quarantined:,} of {int(quality.get('rows_read', 0)):,} rows quarantined")
    checks = summary.get("checks")
    if isinstance(checks, dict):
        found.extend(str(warning) for warning in checks.get("warnings", []))
    return tuple(found)


def _with_warnings(outcome: RunOutcome) -> RunOutcome:
    if outcome.reused or outcome.warnings:
        return outcome
    return replace(outcome, warnings=run_warnings(outcome.summary))


def _notify_outcome(outcome: RunOutcome, as_of: date) -> None:
    if outcome.reused:
        return
    counts = {
        key: int(outcome.summary[key])
        for key in ("records", "persons", "households", "candidates")
        if key in outcome.summary
    }
    if outcome.warnings:
        _notify(
            "warning",
            message="run published with warnings: " + "; ".join(outcome.warnings),
            run_id=outcome.run_id,
            as_of=as_of,
            counts=counts,
        )
    _notify("published", message="run published", run_id=outcome.run_id, as_of=as_of, counts=counts)


def _notify(kind: str, **details: Any) -> None:
    """Tell the configured channels (:mod:`tfident.notify`); a notification problem never changes the run's outcome."""
    try:
        from tfident.notify import notify_run

        notify_run(kind, **details)
    except Exception:
        log.warning("could not send the %s notification", kind, exc_info=_debugging())


# ------------------------------------------------------------------------------- the inbox


def execute_inbox_run(
    inbox: Path,
    db: str | None,
    criteria: str,
    *,
    use_prefect: bool | None = None,
    console: Console | None = None,
    progress: ProgressCallback | None = None,
    retries: int = 0,
    retry_delay: float = 30.0,
) -> RunOutcome | None:
    """Run the next batch of the monthly inbox (:mod:`tfident.inbox`): the oldest complete folder no stored
    run has processed, with its name as the batch date. None when no folder is ready; :class:`BatchRefused`
    (recorded and notified) for a folder not after the last published run.
    """

    def pick() -> InboxFolder | None:
        engine = make_engine(db)
        try:
            prepare_database(engine)
            processed, last_published = inbox_history(engine)
        finally:
            engine.dispose()
        return choose(scan(inbox), processed, last_published)

    try:
        folder = retry_transient(pick, retries, retry_delay, console)
    except BatchRefused as error:
        refused = Path(error.file) if error.file else None
        if refused is not None:
            _after_failure(
                db, _Attempt(extracts=refused, as_of=date.fromisoformat(refused.name), criteria=criteria), error
            )
        raise
    if folder is None:
        log.info("inbox %s: no complete batch folder waiting", inbox)
        if console is not None:
            console.print(f"Nothing to run: no complete, unprocessed batch folder in {inbox}")
        return None
    if console is not None:
        console.print(f"Batch folder {folder.path} (batch date {folder.as_of:%Y-%m-%d})")
    return execute_run(
        folder.path,
        folder.as_of,
        db,
        criteria,
        use_prefect=use_prefect,
        console=console,
        progress=progress,
        retries=retries,
        retry_delay=retry_delay,
    )


@dataclass
class _Start:
    """What a run does once its extracts are read and checked (:data:`tfident.pipeline.StartHook`): derive the
    run id, reuse a run already stored (:class:`~tfident.errors.StopRun`), record the run as running, and open
    its checkpoints (those of a run the store knows as unfinished are used, so the run resumes).
    """

    engine: Engine
    lock: MonthLock
    attempt: _Attempt
    config: RunConfig
    criteria: str
    extracts: Path
    as_of: date
    constraints: pl.DataFrame
    previous_id: str | None
    console: Console | None
    resuming: str | None = None
    """The id of the run ``--resume`` finishes: the run id derived must be that one."""
    files: dict[str, dict[str, str]] | None = None
    """The extracts the resumed run started with (path and SHA-256 by source)."""
    code_version: str | None = None
    """The tfident version that started the resumed run."""
    mode: str = "full"
    """``incremental`` or ``full`` (:func:`choose_mode`)."""
    mode_reason: str = ""
    link_cache: LinkCache | None = None
    """The previous published run's link cache, for an incremental run."""
    standardise_cache: StandardiseCache | None = None
    """The previous published run's standardised records, for an incremental run."""
    households_cache: HouseholdsCache | None = None
    """The previous published run's parses of address texts (households stage), for an incremental run."""
    run_id: str | None = None
    batch: Batch | None = None
    report: CheckReport | None = None
    inputs: dict[str, Any] | None = None
    checkpoints: StageCheckpoints | None = None

    def __call__(self, values: Mapping[str, Any], timings: Mapping[str, float]) -> StageCheckpoints:
        batch = self.batch = values["batch"]
        report = self.report = values.get("check_report")
        if report is not None:
            for result in report.warnings:
                log.warning("data check warning: %s", result.line())
        if self.resuming is not None and self.files is not None:
            _check_same_files(self.resuming, self.files, batch)
        run_id = run_id_for(self.as_of, batch, self.config, self.criteria, self.constraints, self.previous_id)
        if self.resuming is not None and run_id != self.resuming:
            if self.code_version != __version__:
                why = f"tfident changed from version {self.code_version} to {__version__}"
            else:
                why = "reviewers' link rulings (or the earlier month's published run) changed"
            raise CannotResume(
                f"run {self.resuming} cannot be resumed: {why} since it started, so it would not give the same "
                "results; start a new run"
            )
        self.run_id = self.attempt.run_id = run_id
        self.lock.set_run_id(run_id)
        if run_exists(self.engine, run_id):
            log.info("run %s already stored with identical inputs and config", run_id)
            _open_checkpoints(self.engine, run_id).discard()
            raise StopRun(run_id)

        status = _run_status(self.engine, run_id)
        checkpoints = _open_checkpoints(self.engine, run_id)
        if status not in RESUMABLE_STATUSES and checkpoints.completed:
            # the store does not know this run as unfinished: its checkpoints are not trusted
            checkpoints.discard()
            checkpoints = _open_checkpoints(self.engine, run_id)
        if checkpoints.completed and self.console is not None:
            self.console.print(
                f"Resuming run {run_id} ({status}): stages {', '.join(checkpoints.completed)} "
                "restored from checkpoints, the rest computed"
            )
        if checkpoints.completed:
            log.info("run %s resumed from checkpoints of stages %s", run_id, ", ".join(checkpoints.completed))
        self.inputs = _inputs(self.extracts, self.criteria, batch)
        start_run(
            self.engine,
            _run_record(run_id, self.as_of, self.config, summary={"inputs": self.inputs}, stage_timings=dict(timings)),
        )
        self.checkpoints = checkpoints
        return checkpoints


def _compute_and_publish(
    start: _Start,
    use_prefect: bool,
    previous: pl.DataFrame | None,
    checks: DataCheckInputs | None,
    show: ProgressCallback,
) -> RunOutcome:
    """Run the stages (plainly or as the Prefect flow), with ``start`` recording the run and opening its
    checkpoints once the extracts are read and checked, then publish the run.

    A failure after the run was recorded as running marks it ``failed`` with the stage it stopped in (its
    checkpoints are kept for ``--resume``); one before is left to :func:`execute_run`'s failure record.
    """
    current: list[str] = []

    def progress(stage: str, seconds: float | None) -> None:
        if seconds is None:
            current.append(stage)
        show(stage, seconds)

    try:
        result = compute(
            start.extracts,
            start.as_of,
            start.config,
            use_prefect,
            constraints=start.constraints,
            previous=previous,
            checks=checks,
            start=start,
            progress=progress,
            link_cache=start.link_cache,
            standardise_cache=start.standardise_cache,
            households_cache=start.households_cache,
        )
    except BaseException as error:
        if start.checkpoints is not None and start.run_id is not None:
            stage = current[-1] if current else "ingest"
            try:
                fail_run(
                    start.engine,
                    start.run_id,
                    f"stopped in stage {stage}: {failure_reason(error)}; "
                    f"`tfident run --resume {start.run_id}` carries on from the stages done",
                )
            except Exception:  # the stage's error matters more
                log.exception("could not record run %s as failed", start.run_id)
        raise
    assert start.run_id is not None
    assert start.batch is not None
    table = quality_table(start.batch.quality)
    if result is None:  # already stored with identical inputs
        summary = read_run(start.engine, start.run_id).summary
        return RunOutcome(run_id=start.run_id, reused=True, summary=summary, quality_table=table)
    assert start.checkpoints is not None
    assert start.inputs is not None
    timings = result.timings
    summary = {
        **result.summary(),
        "inputs": start.inputs,
        **checks_summary(result.checks),
        "mode": {"mode": start.mode, "reason": start.mode_reason},
    }
    record = _run_record(start.run_id, start.as_of, start.config, summary=summary, stage_timings=dict(timings))
    with timed(timings, "store", show):
        write_run(start.engine, record, store_frames(result))
        # the attached families' outcomes as this run sees them (tfident.store.attachments)
        record_outcomes(
            start.engine, start.run_id, start.as_of, result.batch.extracts, result.records, load_outcomes_config()
        )
    if result.link_cache is not None:
        # what the next month's incremental run reuses; only the latest published run's is kept. The link
        # stage's checkpoint files hold exactly its cache's frames: the cache takes them by hard links
        save_run_cache(
            _cache_root(start.engine),
            _database_key(start.engine),
            start.run_id,
            {
                "link_profiles": result.link_cache.profiles,
                "link_pairs": result.link_cache.pairs,
                "link_clusters": result.link_cache.clusters,
                IDENTITY_INDEX_FRAME: identity_index_of(result.records, result.households),
                **(
                    {}
                    if result.standardised is None
                    else next_cache(
                        result.batch.extracts["gazetteer"],
                        start.config.addresses,
                        result.standardised,
                        start.standardise_cache,
                    ).frames()
                ),
                **(
                    {}
                    if result.household_parses is None
                    else HouseholdsCache(
                        households_fingerprint(), result.household_parses, result.household_index
                    ).frames()
                ),
            },
            saved={name: start.checkpoints.saved_file(name) for name in LINK_CACHE_FRAMES},
        )
    start.checkpoints.discard()
    return RunOutcome(
        run_id=start.run_id,
        reused=False,
        summary=summary,
        quality_table=table,
        resumed=tuple(start.checkpoints.loaded),
    )


# ------------------------------------------------------------------------------ check


@dataclass(frozen=True)
class CheckOutcome:
    """What ``tfident check`` reports: the quality of each extract, the checks and coverage."""

    report: CheckReport
    quality: dict[str, Any]
    previous_run: str | None


def execute_check(extracts: Path, as_of: date, db: str | None) -> CheckOutcome:
    """``tfident check``: ingest and every data check, nothing linked or written.

    Last month's run comes from the database when one is given or configured and can be read (a missing SQLite file is
    not created).
    """
    from tfident.ingest.checks import run_checks
    from tfident.pipeline import load_sources_mapping

    if not extracts.is_dir():
        raise ExtractError(f"{extracts}: batch folder not found", file=str(extracts))
    checks_config = load_checks_config()
    batch = ingest_stage(extracts, load_sources_mapping(config_path("sources.yaml")))
    previous = _previous_month_if_reachable(db, as_of)
    report = run_checks(batch, as_of, checks_config, previous, read_manifests(extracts))
    return CheckOutcome(report, dict(batch.quality), previous.run_id if previous else None)


def _previous_month_if_reachable(db: str | None, as_of: date) -> PreviousMonth | None:
    try:
        engine = make_engine(db)
    except TfidentError:
        return None
    try:
        if engine.dialect.name == "sqlite" and not Path(engine.url.database or "").is_file():
            return None  # nothing stored there yet (and reading must not create the file)
        return read_previous_month(engine, as_of)
    except (TfidentError, OSError) as error:
        log.info("tfident check: last month's run not read (%s)", type(error).__name__)
        return None
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ resume


def execute_resume(
    run_id: str, db: str | None, *, console: Console | None = None, use_prefect: bool | None = None
) -> RunOutcome:
    """Finish a run that was killed or failed part-way: ``tfident run --resume RUN_ID``.

    It reads the run's extracts folder, batch date and rule pack from the store, checks
    every extract still has the SHA-256 the run started with (else an error naming the
    file: start a new run) and the configuration still has the stored hash, restores
    the stages its checkpoints hold, computes the rest (as the Prefect flow when ``use_prefect``, by default
    when a Prefect server is configured), and publishes it.
    """
    engine = make_engine(db)
    lock: MonthLock | None = None
    try:
        prepare_database(engine)
        try:
            info = read_run(engine, run_id)
        except NotFound:
            raise CannotResume(
                f"run {run_id!r} not found in {safe_url(engine)}: there is nothing to resume "
                "(`tfident runs` lists the stored runs)"
            ) from None
        if info.readable:
            log.info("run %s is already %s: nothing to resume", run_id, info.status)
            if console is not None:
                console.print(f"Run {run_id} is already {info.status}: nothing to resume")
            return RunOutcome(run_id=run_id, reused=True, summary=info.summary, quality_table=None)
        if info.status not in RESUMABLE_STATUSES:
            raise CannotResume(f"run {run_id} is {info.status}: it cannot be resumed; start a new run")
        inputs = info.summary.get("inputs")
        if not isinstance(inputs, dict) or not {"extracts_dir", "criteria", "files"} <= set(inputs):
            raise CannotResume(
                f"run {run_id} did not record its inputs (started by another version of tfident?): "
                "start a new run with `tfident run --extracts DIR --as-of YYYY-MM-DD`"
            )
        extracts = Path(inputs["extracts_dir"])
        _check_inputs_unchanged(run_id, inputs["files"])
        config = load_run_config(inputs["criteria"])
        if config.hash != info.config_hash:
            raise CannotResume(
                f"run {run_id} cannot be resumed: the configuration (config/ or the linkage model) changed "
                "since it started, so it would not give the same results; start a new run"
            )

        checks_config = load_checks_config()
        lock = acquire_month_lock(engine, info.month)
        constraints = read_link_constraints(engine)
        previous_id, previous = previous_identities(engine, info.as_of, config.pack.ruleset)
        check_inputs = data_check_inputs(engine, extracts, info.as_of, checks_config)
        attempt = _Attempt(extracts=extracts, as_of=info.as_of, criteria=inputs["criteria"], config=config)
        start = _Start(
            engine,
            lock,
            attempt,
            config,
            inputs["criteria"],
            extracts,
            info.as_of,
            constraints,
            previous_id,
            console,
            resuming=run_id,
            files=inputs["files"],
            code_version=info.code_version,
        )
        return _compute_and_publish(
            start, prefect_wanted(use_prefect), previous, check_inputs, _console_progress(console)
        )
    finally:
        if lock is not None:
            lock.release()
        engine.dispose()


def _changed(run_id: str, path: str, what: str) -> ExtractError:
    return ExtractError(
        f"input file {path} {what} since run {run_id} started: the inputs changed, so the run cannot be "
        "resumed; start a new run with `tfident run --extracts DIR --as-of YYYY-MM-DD`",
        file=path,
    )


def _check_inputs_unchanged(run_id: str, files: dict[str, dict[str, str]]) -> None:
    """Every extract the run read is still there with the same SHA-256 (before reading any of them)."""
    for _source, file in sorted(files.items()):
        path = Path(file["path"])
        if not path.is_file():
            raise _changed(run_id, file["path"], "is gone")
        if file_sha256(path) != file["sha256"]:
            raise _changed(run_id, file["path"], "has changed")


def _check_same_files(run_id: str, files: dict[str, dict[str, str]], batch: Batch) -> None:
    """The batch read now has the same files as the run (an extract added since would change it)."""
    for name, info in sorted(batch.files.items()):
        before = files.get(name)
        if before is None:
            raise _changed(run_id, info.path, "was added")
        if before["sha256"] != info.sha256:
            raise _changed(run_id, info.path, "has changed")
