"""Run a monthly batch end to end: config, pipeline (plain or as the Prefect flow), store.

This is what ``tfident run`` calls; it sits above ``pipeline`` and ``store`` and is the
only place that joins them.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from tfident.ingest import quality_table
from tfident.pipeline import (
    STAGES,
    PipelineResult,
    RunConfig,
    load_run_config,
    run_id_for,
    run_pipeline,
    store_frames,
)
from tfident.store import (
    MonthLock,
    RunRecord,
    acquire_month_lock,
    init_db,
    make_engine,
    read_link_constraints,
    run_exists,
    write_run,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run reports back to the command line."""

    run_id: str
    reused: bool
    summary: dict[str, Any]
    quality_table: Table | None


def prefect_wanted(use_prefect: bool | None) -> bool:
    """Use the Prefect flow when asked, or by default when a Prefect server is configured."""
    if use_prefect is not None:
        return use_prefect
    return bool(os.environ.get("PREFECT_API_URL"))


def compute(
    extracts: Path,
    as_of: date,
    config: RunConfig,
    use_prefect: bool,
    console: Console | None,
    constraints: pl.DataFrame | None = None,
) -> PipelineResult:
    """Run the stages, showing progress per stage on ``console``; ``constraints`` are link rulings."""
    if use_prefect:
        from tfident.flows.monthly import monthly_identification

        started = time.perf_counter()
        result = monthly_identification(extracts, as_of, config, constraints)
        result.timings["total"] = round(time.perf_counter() - started, 3)
        return result

    def progress(stage: str, seconds: float | None) -> None:
        if console is not None:
            step = f"[{STAGES.index(stage) + 1}/{len(STAGES)}] {stage}"
            console.print(f"{step} ..." if seconds is None else f"{step} done in {seconds:.1f}s")

    return run_pipeline(extracts, as_of, config, progress=progress, constraints=constraints)


def execute_run(
    extracts: Path,
    as_of: date,
    db: str | None,
    criteria: str,
    *,
    use_prefect: bool | None = None,
    console: Console | None = None,
) -> RunOutcome:
    """Load config, run the pipeline, store the run, and return its id and summary."""
    config = load_run_config(criteria)
    engine = make_engine(db)
    lock: MonthLock | None = None
    try:
        init_db(engine)
        # one run of a month at a time: a second exits with RunLocked naming this one
        lock = acquire_month_lock(engine, f"{as_of:%Y-%m}")
        constraints = read_link_constraints(engine)
        result = compute(extracts, as_of, config, prefect_wanted(use_prefect), console, constraints)
        run_id = run_id_for(as_of, result.batch, config, criteria, constraints)
        lock.set_run_id(run_id)
        summary = result.summary()
        if run_exists(engine, run_id):
            log.info("run %s already stored with identical inputs and config", run_id)
            reused = True
        else:
            record = RunRecord(
                run_id=run_id,
                as_of=as_of,
                ruleset_id=config.pack.ruleset,
                ruleset_version=config.pack.version,
                linkage_model_version=config.linkage.model_version or config.linkage.version,
                config_json=config.as_json(),
                config_hash=config.hash,
                summary=summary,
                stage_timings=result.timings,
            )
            write_run(engine, record, store_frames(result))
            reused = False
    finally:
        if lock is not None:
            lock.release()
        engine.dispose()
    return RunOutcome(run_id=run_id, reused=reused, summary=summary, quality_table=quality_table(result.batch.quality))
