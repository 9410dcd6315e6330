"""The ``monthly_identification`` Prefect flow: one task per stage of ``tfident.pipeline.NODES``.

The tasks are made from the declared stages (:func:`stage_task`), and the flow runs them
through the same :func:`tfident.pipeline.run_graph` as a plain run, so it takes the same
checkpoints: a flow run that failed part-way resumes from the stages done.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tfident import pipeline
from tfident.ingest.checks import ChecksConfig, Manifests, PreviousMonth
from tfident.pipeline import PipelineResult, RunConfig, Stage


@cache
def stage_task(stage: Stage) -> Any:
    """The Prefect task of a stage: its function, named after it, with its retries; frames move
    between tasks in memory (no result persistence, no input hashing).
    """
    return task(
        name=stage.name,
        retries=stage.retries,
        retry_delay_seconds=10,
        cache_policy=NO_CACHE,
        persist_result=False,
    )(stage.func)


def run_as_task(stage: Stage, args: tuple[Any, ...]) -> Any:
    """Run a stage as its Prefect task (:data:`tfident.pipeline.Execute`)."""
    return stage_task(stage)(*args)


def summary_markdown(result: PipelineResult) -> str:
    """A markdown summary of a run: counts only (no household ids, no personal data)."""
    summary = result.summary()
    lines = ["# Monthly identification", "", f"Batch date: {result.as_of.isoformat()}", ""]
    lines += ["| source | read | accepted | quarantined |", "| --- | ---: | ---: | ---: |"]
    for name, q in summary["sources"].items():
        lines.append(f"| {name} | {q['rows_read']} | {q['rows_accepted']} | {q['rows_quarantined']} |")
    lines += [
        "",
        f"Persons: {summary['persons']}, households: {summary['households']}, candidates: {summary['candidates']}",
        "",
    ]
    lines += ["| criteria met | candidate households |", "| --- | ---: |"]
    lines += [f"| {criteria} | {count} |" for criteria, count in summary["candidates_by_criteria"].items()]
    return "\n".join(lines)


@flow(name="monthly_identification", log_prints=False)
def monthly_identification(
    extracts_dir: Path,
    as_of: date,
    config: RunConfig,
    constraints: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
    checks: ChecksConfig | None = None,
    last_month: PreviousMonth | None = None,
    manifests: Manifests | None = None,
    start: Any = None,
    progress: Any = None,
    link_cache: Any = None,
    standardise_cache: Any = None,
    households_cache: Any = None,
) -> PipelineResult | None:
    """Run the monthly identification stages as Prefect tasks and return the frames.

    ``constraints`` are reviewers' link rulings and ``previous`` the previous run's
    identity index (ids are carried over from it), both read from the store by the caller.
    With ``checks`` the data checks run right after ingest (against ``last_month`` and the
    batch's ``manifests``): a ``stop`` fails the flow with
    :class:`~tfident.errors.DataCheckFailed` before any other stage. ``start``
    (:data:`tfident.pipeline.StartHook`) gives the run's checkpoints once the extracts are
    read and checked: stages they hold are restored, not run; None when it stopped the run.
    ``progress`` (:data:`tfident.pipeline.ProgressCallback`) is told when each stage starts and ends.
    ``link_cache`` (a ``tfident.link.LinkCache``) makes the linkage incremental, ``standardise_cache``
    (a ``tfident.standardise.incremental.StandardiseCache``) the standardisation, ``households_cache``
    (a ``tfident.households.incremental.HouseholdsCache``) the households stage's address parsing.
    """
    values = pipeline.run_inputs(
        extracts_dir,
        as_of,
        config,
        constraints,
        previous,
        checks,
        last_month,
        manifests,
        link_cache,
        standardise_cache,
        households_cache,
    )
    result = pipeline.execute_pipeline(
        values, execute=run_as_task, start=start, progress=progress or pipeline.no_progress
    )
    if result is not None:
        create_markdown_artifact(summary_markdown(result), key="monthly-identification-summary")
    return result
