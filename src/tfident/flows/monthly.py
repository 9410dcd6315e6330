"""The ``monthly_identification`` Prefect flow: one task per stage, over pure functions."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tfident import pipeline
from tfident.ingest.checks import ChecksConfig, Manifests, PreviousMonth
from tfident.pipeline import PipelineResult, RunConfig


def _stage_task(name: str, retries: int = 0) -> Any:
    """A task decorator for a stage: frames move between tasks in memory (no result
    persistence, no input hashing)."""
    return task(name=name, retries=retries, retry_delay_seconds=10, cache_policy=NO_CACHE, persist_result=False)


# Retries only where a fault can be transient (a file share that is briefly unreachable);
# bad data fails at once and is never retried.
ingest_task = _stage_task("ingest", retries=2)(pipeline.ingest_stage)
check_task = _stage_task("checks")(pipeline.check_stage)
standardise_task = _stage_task("standardise")(pipeline.standardise_stage)
link_task = _stage_task("link")(pipeline.link_stage)
households_task = _stage_task("households")(pipeline.households_stage)
identity_task = _stage_task("identity")(pipeline.identity_stage)
criteria_task = _stage_task("criteria")(pipeline.criteria_stage)
rank_task = _stage_task("rank")(pipeline.rank_stage)


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
) -> PipelineResult:
    """Run the monthly identification stages as Prefect tasks and return the frames.

    ``constraints`` are reviewers' link rulings and ``previous`` the previous run's
    identity index (ids are carried over from it), both read from the store by the caller.
    With ``checks`` the data checks run right after ingest (against ``last_month`` and the
    batch's ``manifests``): a ``stop`` fails the flow with
    :class:`~tfident.errors.DataCheckFailed` before any other stage.
    """
    batch = ingest_task(extracts_dir, config.sources)
    report = check_task(batch, as_of, checks, last_month, manifests) if checks is not None else None
    standardised = standardise_task(batch, as_of, config.addresses)
    person_index, links = link_task(standardised, config.linkage, constraints)
    records, persons, households = households_task(
        standardised, person_index, batch.extracts["gazetteer"], as_of, config.households
    )
    records, persons, households, identity_events = identity_task(records, persons, households, previous, as_of)
    evidence, household_criteria = criteria_task(batch, records, persons, config.pack, as_of)
    candidates = rank_task(household_criteria, evidence, households, records, links, config.ranking)
    result = PipelineResult(
        as_of=as_of,
        batch=batch,
        records=records,
        links=links,
        persons=persons,
        households=households,
        evidence=evidence,
        household_criteria=household_criteria,
        candidates=candidates,
        identity_events=identity_events,
        checks=report,
    )
    create_markdown_artifact(summary_markdown(result), key="monthly-identification-summary")
    return result
