"""The Prefect flow produces exactly what the plain pipeline produces."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("prefect")

from polars.testing import assert_frame_equal
from prefect.testing.utilities import prefect_test_harness

from tfident.flows.monthly import monthly_identification
from tfident.pipeline import load_run_config, run_pipeline


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    """One Prefect test server for the module's flow runs (each start costs seconds)."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.mark.usefixtures("harness")
def test_it_equals_the_plain_pipeline(sample_batch: Path, as_of: date) -> None:
    """It runs every stage as a task under Prefect's test harness, with identical frames."""
    config = load_run_config("phase1")
    plain = run_pipeline(sample_batch, as_of, config)
    flowed = monthly_identification(sample_batch, as_of, config)
    for name in ("records", "links", "persons", "households", "evidence", "household_criteria", "candidates"):
        assert_frame_equal(getattr(flowed, name), getattr(plain, name))
    assert flowed.batch.quarantine.equals(plain.batch.quarantine)


def test_the_flow_has_one_task_per_declared_stage() -> None:
    """It makes each stage's Prefect task from the declared list: its function, its name, its retries."""
    from tfident.flows.monthly import stage_task
    from tfident.pipeline import NODES, STAGES

    tasks = [stage_task(stage) for stage in NODES]
    assert [t.name for t in tasks] == list(STAGES)
    assert [t.fn for t in tasks] == [stage.func for stage in NODES]
    assert {t.name: t.retries for t in tasks if t.retries} == {"ingest": 2}


def test_the_deployments_carry_their_schedules_and_parameters(tmp_path: Path) -> None:
    """The monthly run reads an inbox on a cron in the council's time zone, with no database URL among its
    parameters; retention is served beside it.
    """
    from tfident.flows.deployment import DEFAULT_CRON, DEFAULT_RETENTION_CRON, build_deployments

    monthly, retention = build_deployments(name="monthly", inbox=str(tmp_path), timezone="Europe/London")
    assert monthly.parameters == {"inbox": str(tmp_path), "criteria": "phase1", "retries": 3, "retry_delay": 60.0}
    assert [(s.schedule.cron, s.schedule.timezone) for s in monthly.schedules] == [(DEFAULT_CRON, "Europe/London")]
    assert [s.schedule.cron for s in retention.schedules] == [DEFAULT_RETENTION_CRON]
    assert retention.parameters == {"inbox": str(tmp_path)}
    assert monthly.entrypoint == "tfident.flows.deployment.monthly_run"
    (every,) = build_deployments(inbox=str(tmp_path), interval=10, retention_cron=None)[0].schedules
    assert every.schedule.interval.total_seconds() == 10


def test_the_run_summary_holds_counts_only() -> None:
    """The artifact of a run shows counts per source and criteria, never a household id."""
    from tfident.flows.deployment import run_summary_markdown

    summary = {
        "sources": {"attendance": {"rows_read": 10, "rows_accepted": 9, "rows_quarantined": 1}},
        "persons": 5,
        "households": 2,
        "candidates": 1,
        "candidates_by_criteria": {"crime,education": 1},
        "inputs": {"extracts_dir": "/data/inbox/2026-10-31"},
    }
    text = run_summary_markdown("r1", summary)
    assert "| attendance | 10 | 9 | 1 |" in text
    assert "Candidates: 1" in text
    assert "2026-10-31" in text


@pytest.mark.usefixtures("harness")
def test_a_stop_check_fails_the_flow_before_any_later_stage(sample_batch: Path, as_of: date, tmp_path: Path) -> None:
    """Under Prefect the data checks run right after ingest: benefits all dated after the batch date stop it
    (DataCheckFailed, exit 2); the sample batch passes and its report comes back with the result.
    """
    import csv
    import shutil

    from tfident.errors import DataCheckFailed
    from tfident.ingest.checks import Manifests, load_checks_config

    bad = tmp_path / "batch"
    shutil.copytree(sample_batch, bad, ignore=shutil.ignore_patterns("truth"))
    with (bad / "benefits.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with (bad / "benefits.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "claim_start": "2027-01-01", "claim_end": ""} for row in rows)
    config = load_run_config("phase1")
    with pytest.raises(DataCheckFailed, match="benefits"):
        monthly_identification(bad, as_of, config, None, None, load_checks_config(), None, Manifests())
    good = monthly_identification(sample_batch, as_of, config, None, None, load_checks_config(), None, Manifests())
    assert good.checks is not None
    assert not good.checks.stops


@pytest.mark.usefixtures("harness")
def test_no_personal_data_reaches_prefects_run_state_or_logs(
    sample_batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A headerless school census whose first row carries canary values fails the deployment's flow run
    (exit 2 kind): the failed state's message, the flow run's logs in Prefect and the failure recorded in
    `tfident runs` name the file and the problem, never a value.
    """
    import shutil

    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from tfident.flows.deployment import monthly_run
    from tfident.store import list_runs, make_engine

    canaries = ("CANARYFORENAME", "CANARYSURNAME", "CANARYSTREET", "ZZ99 9ZZ", "CANARYREC7")
    folder = tmp_path / "inbox" / "2026-10-31"
    shutil.copytree(sample_batch, folder, ignore=shutil.ignore_patterns("truth"))
    census = folder / "school_census.csv"
    header, first, *rest = census.read_text(encoding="utf-8").splitlines()
    names = header.split(",")
    values = first.split(",")
    for column, canary in zip(
        ("forename", "surname", "address_line_1", "postcode", "record_id"), canaries, strict=True
    ):
        values[names.index(column)] = canary
    census.write_text("\n".join([",".join(values), *rest]) + "\n", encoding="utf-8")  # no header row
    (folder / "READY").touch()
    db = f"sqlite:///{tmp_path / 't.db'}"
    monkeypatch.setenv("TFIDENT_DATABASE_URL", db)

    state = monthly_run(inbox=str(tmp_path / "inbox"), retries=0, return_state=True)
    assert state.is_failed()
    assert "school_census.csv" in (state.message or "")

    async def logs() -> list[str]:
        async with get_client() as client:
            found = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])),
                limit=200,
                offset=0,
            )
        return [log.message for log in found]

    import asyncio
    import time

    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs reach the API in batches
    deadline = time.monotonic() + 20
    while not (messages := asyncio.run(logs())) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert any("school_census.csv" in m for m in messages)  # the flow run did log its failure
    engine = make_engine(db)
    try:
        errors = [str(e) for e in list_runs(engine)["error"].to_list()]
    finally:
        engine.dispose()
    assert len(errors) == 1
    assert "school_census.csv" in errors[0]
    for text in [state.message or "", *messages, *errors]:
        for canary in canaries:
            assert canary not in text


@pytest.mark.usefixtures("harness")
def test_a_prefect_run_that_failed_part_way_resumes_to_the_same_exports(
    sample_batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Prefect a run that fails in a stage keeps the checkpoints of the stages before it: run again (and
    with `--resume`), the flow restores them instead of running their tasks, and publishes exports
    byte-identical to an uninterrupted plain run's.
    """
    from dataclasses import replace

    from tfident import pipeline
    from tfident.flows import monthly
    from tfident.runner import execute_resume, execute_run
    from tfident.store import export_run, list_runs, make_engine, read_run

    def exports(db: str, run_id: str, out: Path) -> dict[str, bytes]:
        engine = make_engine(db)
        try:
            export_run(engine, run_id, out)
        finally:
            engine.dispose()
        return {path.name: path.read_bytes() for path in sorted(out.iterdir())}

    monkeypatch.setenv("TFIDENT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    as_of = date(2026, 10, 31)
    plain_db = f"sqlite:///{tmp_path / 'plain.db'}"
    plain = execute_run(sample_batch, as_of, plain_db, "phase1", use_prefect=False)

    failures: list[str] = []

    def rank_fails_once(*args: object) -> object:
        if not failures:
            failures.append("rank")
            raise RuntimeError("the file share went away")
        return pipeline.rank_stage(*args)  # type: ignore[arg-type]

    ran: list[str] = []
    real_task = monthly.run_as_task

    def counting(stage: pipeline.Stage, args: tuple[object, ...]) -> object:
        ran.append(stage.name)
        return real_task(stage, args)

    nodes = tuple(replace(n, func=rank_fails_once) if n.name == "rank" else n for n in pipeline.NODES)
    monkeypatch.setattr(pipeline, "NODES", nodes)
    monkeypatch.setattr(monthly, "run_as_task", counting)

    db = f"sqlite:///{tmp_path / 'flow.db'}"
    with pytest.raises(RuntimeError, match="file share"):
        execute_run(sample_batch, as_of, db, "phase1", use_prefect=True)
    engine = make_engine(db)
    try:
        run_id = list_runs(engine)["run_id"].item()
        info = read_run(engine, run_id)
    finally:
        engine.dispose()
    assert run_id == plain.run_id
    assert info.status == "failed"
    assert info.error is not None
    assert "stopped in stage rank" in info.error
    assert ran == ["ingest", "checks", "standardise", "link", "households", "identity", "criteria", "rank"]

    ran.clear()
    resumed = execute_resume(run_id, db, use_prefect=True)
    assert resumed.run_id == run_id
    assert not resumed.reused
    assert resumed.resumed == ("standardise", "link", "households", "identity", "criteria")
    assert ran == ["ingest", "checks", "rank"]  # the restored stages ran no task
    assert exports(db, run_id, tmp_path / "resumed") == exports(plain_db, plain.run_id, tmp_path / "plain")
    assert not (tmp_path / "checkpoints" / run_id).exists()

    ran.clear()
    again = execute_run(sample_batch, as_of, db, "phase1", use_prefect=True)
    assert again.reused
    assert again.run_id == run_id
    assert ran == ["ingest", "checks"]  # a stored run is reused once its id is known: nothing is computed
