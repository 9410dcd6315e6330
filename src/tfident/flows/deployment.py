r"""tfident's Prefect deployments: the monthly run from an inbox folder, and retention.

Serve them on a council data server: a long-running process that registers both
deployments with the Prefect server named by ``PREFECT_API_URL`` and runs them on their
schedules::

    PREFECT_API_URL=http://prefect.example.internal:4200/api \
    TFIDENT_DATABASE_URL_FILE=/etc/tfident/database-url \
    TFIDENT_INBOX=/data/troubled-families/inbox \
    TFIDENT_PREFECT_NOTIFY_URL=https://hooks.example.internal/tfident \
    .venv/bin/python -m tfident.flows.deployment

* ``tfident-monthly-run`` (06:00 on the 5th by default) takes the oldest complete
  unprocessed folder ``INBOX/YYYY-MM-DD/`` (one with a ``READY`` marker; the folder name
  is the batch date) and runs it plainly (checkpointed and resumable) with
  :func:`tfident.runner.execute_inbox_run`; with nothing to run it ends Completed.
* ``tfident-retention`` (05:30 daily by default) does what ``tfident retention apply``
  does.

No secret is a Prefect parameter: the serving process (and the flow runs it starts)
read the database URL from ``TFIDENT_DATABASE_URL`` or ``TFIDENT_DATABASE_URL_FILE``.
Bad data is never retried; database outages and month locks
(:data:`tfident.errors.TRANSIENT`) are retried inside the run with backoff. A flow run
that fails, crashes (its process killed) or is cancelled leaves no tfident run
``running``: its hooks mark it ``failed`` (``tfident run --resume`` finishes it). The
script also creates, idempotently by name, two Prefect automations: one marks flow runs
whose heartbeats stopped (the machine died) as Crashed, and, given a notification URL,
one posts to it when a run of these deployments fails or crashes.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import flow, serve
from prefect.artifacts import create_markdown_artifact
from prefect.automations import Automation
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.deployments.runner import RunnerDeployment
from prefect.events.actions import ChangeFlowRunState, SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.schedules import Cron, Interval, Schedule
from prefect.settings import get_current_settings
from prefect.types.entrypoint import EntrypointType

from tfident import runner
from tfident.config import config_names
from tfident.errors import RunLocked
from tfident.inbox import DEFAULT_TIMEZONE, TIMEZONE_ENV
from tfident.store import acquire_month_lock, fail_run, list_runs, make_engine, prepare_database, read_run
from tfident.store.retention import PERSONAL_TABLES

log = logging.getLogger(__name__)

MONTHLY_FLOW = "tfident-monthly-run"
RETENTION_FLOW = "tfident-retention"
DEFAULT_CRON = "0 6 5 * *"
"""06:00 on the 5th: extracts for a month arrive in the first days of the next."""
DEFAULT_RETENTION_CRON = "30 5 * * *"
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 60.0

INBOX_ENV = "TFIDENT_INBOX"
NOTIFY_URL_ENV = "TFIDENT_PREFECT_NOTIFY_URL"

NOTIFY_BLOCK = "tfident-failure-webhook"
ZOMBIE_AUTOMATION = "tfident: crash flow runs whose heartbeats stopped"
SUMMARY_KEY = "tfident-monthly-run-summary"


def inbox_folder(inbox: str | None) -> Path:
    """The inbox folder: the parameter, else ``TFIDENT_INBOX``."""
    folder = inbox or os.environ.get(INBOX_ENV)
    if not folder:
        raise ValueError(f"no inbox folder: give the `inbox` parameter or set {INBOX_ENV}")
    return Path(folder)


# ------------------------------------------------------------------------ failure hooks


def fail_abandoned_runs(inbox: Path, why: str, db: str | None = None) -> list[str]:
    """Mark ``failed`` every tfident run of ``inbox`` still ``running`` that nobody is running.

    A run is abandoned when its month lock can be taken: on PostgreSQL the lock went
    with the dead process's connection; on SQLite a lock whose process is gone is taken
    over. A run another process holds the lock for is left alone. Returns the run ids.
    """
    root = inbox.resolve()
    failed: list[str] = []
    engine = make_engine(db)
    try:
        prepare_database(engine)
        for run_id in list_runs(engine, statuses=["running"])["run_id"].to_list():
            info = read_run(engine, run_id)
            extracts = (info.summary.get("inputs") or {}).get("extracts_dir")
            if not extracts or not Path(extracts).resolve().is_relative_to(root):
                continue
            try:
                lock = acquire_month_lock(engine, info.month, run_id)
            except RunLocked:
                continue  # still being run by someone
            try:
                if read_run(engine, run_id).status == "running":
                    fail_run(engine, run_id, f"{why}; `tfident run --resume {run_id}` carries on from the stages done")
                    failed.append(run_id)
            finally:
                lock.release()
    finally:
        engine.dispose()
    for run_id in failed:
        log.warning("run %s was left running by a stopped flow run: recorded as failed", run_id)
    return failed


def record_stopped_run(flow: Any, flow_run: FlowRun, state: State) -> None:
    """Flow hook (failed, crashed, cancelled): no tfident run of this inbox is left ``running``."""
    try:
        inbox = inbox_folder(flow_run.parameters.get("inbox"))
        fail_abandoned_runs(inbox, f"the Prefect flow run {flow_run.name} ended {state.name}")
    except Exception:  # a hook must not hide the run's own failure
        log.exception("could not record the stopped flow run's tfident run as failed")


# ------------------------------------------------------------------------ the flows


def run_summary_markdown(run_id: str, summary: dict[str, Any], reused: bool = False) -> str:
    """A markdown summary of a stored run: counts only (no household ids, no names)."""
    inputs = summary.get("inputs") or {}
    folder = Path(inputs["extracts_dir"]).name if inputs.get("extracts_dir") else "?"
    lines = ["# tfident monthly run", "", f"Run: `{run_id}`{' (reused: identical inputs)' if reused else ''}"]
    lines += [f"Batch folder: {folder}", ""]
    lines += ["| source | read | accepted | quarantined |", "| --- | ---: | ---: | ---: |"]
    for name, q in (summary.get("sources") or {}).items():
        lines.append(f"| {name} | {q['rows_read']} | {q['rows_accepted']} | {q['rows_quarantined']} |")
    lines += [""]
    lines += [f"{what.capitalize()}: {summary.get(what, '?')}" for what in ("records", "persons", "households")]
    lines += [f"Candidates: {summary.get('candidates', '?')}", ""]
    by_criteria = summary.get("candidates_by_criteria") or {}
    if by_criteria:
        lines += ["| criteria met | candidate households |", "| --- | ---: |"]
        lines += [f"| {criteria} | {count} |" for criteria, count in by_criteria.items()]
    return "\n".join(lines)


@flow(
    name=MONTHLY_FLOW,
    log_prints=False,
    retries=0,  # bad data is never retried; transient faults are, inside execute_inbox_run
    on_failure=[record_stopped_run],
    on_crashed=[record_stopped_run],
    on_cancellation=[record_stopped_run],
)
def monthly_run(
    inbox: str | None = None,
    criteria: str = "phase1",
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
) -> str | None:
    """Run the oldest complete unprocessed batch folder of ``inbox``; its run id, or None with nothing to run."""
    outcome = runner.execute_inbox_run(
        inbox_folder(inbox), None, criteria, use_prefect=False, retries=retries, retry_delay=retry_delay
    )
    if outcome is None:
        create_markdown_artifact("# tfident monthly run\n\nNo complete unprocessed batch folder.", key=SUMMARY_KEY)
        return None
    create_markdown_artifact(run_summary_markdown(outcome.run_id, outcome.summary, outcome.reused), key=SUMMARY_KEY)
    return outcome.run_id


@flow(name=RETENTION_FLOW, log_prints=False, retries=0)
def retention_run(inbox: str | None = None, months: int | None = None, dry_run: bool = False) -> dict[str, int]:
    """``tfident retention apply --inbox INBOX``: delete the personal data of runs older than ``months``, the
    checkpoints of failed or killed runs among them, and the inbox folders they were run from; counts deleted.
    """
    folder = inbox or os.environ.get(INBOX_ENV)
    outcome = runner.execute_retention(None, months, inbox=Path(folder) if folder else None, dry_run=dry_run)
    result = outcome.result
    totals = result.totals()
    verb = "would delete" if dry_run else "deleted"
    lines = [f"# tfident retention ({result.months} months)", ""]
    lines += [f"Runs with batch dates before {result.cutoff:%Y-%m-%d}:"]
    lines += [f"{len(result.rows)} run(s) {'would be ' if dry_run else ''}purged", ""]
    lines += [f"| table | rows {verb} |", "| --- | ---: |"]
    lines += [f"| {name} | {totals[name]} |" for name in PERSONAL_TABLES]
    lines += [
        "",
        f"Checkpoints deleted: {len(outcome.checkpoints)}",
        f"Inbox folders {verb}: {len(outcome.inbox_folders)}",
    ]
    create_markdown_artifact("\n".join(lines), key="tfident-retention-summary")
    return {
        "runs": len(result.rows),
        "checkpoints": len(outcome.checkpoints),
        "inbox_folders": len(outcome.inbox_folders),
        **{name: totals[name] for name in PERSONAL_TABLES},
    }


# ------------------------------------------------------------------------ deployments


def schedule(cron: str | None, interval: float | None, timezone: str) -> Schedule:
    """A cron schedule in ``timezone`` or, given ``interval`` seconds, an interval schedule."""
    if interval is not None:
        return Interval(timedelta(seconds=interval), timezone=timezone)
    return Cron(cron or DEFAULT_CRON, timezone=timezone)


def build_deployments(
    *,
    name: str = "monthly",
    inbox: str | None = None,
    criteria: str = "phase1",
    cron: str = DEFAULT_CRON,
    interval: float | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    retention_cron: str | None = DEFAULT_RETENTION_CRON,
) -> list[RunnerDeployment]:
    """The monthly run's deployment and (unless ``retention_cron`` is None) the retention one."""
    deployments: list[Any] = [
        monthly_run.to_deployment(
            name=name,
            schedules=[schedule(cron, interval, timezone)],
            parameters={"inbox": inbox, "criteria": criteria, "retries": retries, "retry_delay": retry_delay},
            entrypoint_type=EntrypointType.MODULE_PATH,
            concurrency_limit=1,
            tags=["tfident"],
        )
    ]
    if retention_cron:
        deployments.append(
            retention_run.to_deployment(
                name=name,
                schedules=[Cron(retention_cron, timezone=timezone)],
                parameters={"inbox": inbox},
                entrypoint_type=EntrypointType.MODULE_PATH,
                concurrency_limit=1,
                tags=["tfident"],
            )
        )
    return cast(list[RunnerDeployment], deployments)


def _upsert_automation(automation: Automation) -> UUID:
    """Create ``automation``, or replace the one of the same name; its id."""
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(name=automation.name)
    if existing:
        automation.id = existing[0].id
        automation.update()
        return existing[0].id
    created = cast(Automation, automation.create())
    return cast(UUID, created.id)


def ensure_zombie_automation(heartbeat_seconds: int | None = None) -> UUID:
    """The automation that marks a flow run Crashed when its heartbeats stop (Prefect's "detect zombie flows").

    Flow runs send a heartbeat every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (180
    by default); a run silent for three of them is marked Crashed.
    """
    every = heartbeat_seconds or get_current_settings().flows.heartbeat_frequency or 180
    return _upsert_automation(
        Automation(
            name=ZOMBIE_AUTOMATION,
            description="Marks flow runs Crashed when they stop sending heartbeats (their machine or process died).",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={
                    "prefect.flow-run.heartbeat",
                    "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled",
                    "prefect.flow-run.Crashed",
                },
                match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=3 * every),
            ),
            actions=[
                ChangeFlowRunState.model_validate(
                    {"state": StateType.CRASHED, "message": "Marked Crashed: the flow run stopped sending heartbeats."}
                )
            ],
        )
    )


NOTIFY_BODY = (
    "tfident: flow run {{ flow_run.name }} of {{ flow.name }}/{{ deployment.name }} "
    "ended {{ flow_run.state.name }}: {{ flow_run.state.message }}"
)


def ensure_failure_notification(url: str, deployment_ids: Sequence[UUID], name: str = "monthly") -> UUID:
    """The automation that posts to ``url`` when a flow run of ``deployment_ids`` fails or crashes.

    The URL is kept in the webhook block's secret values (not shown by the API or UI).
    """
    block = CustomWebhookNotificationBlock.model_validate(
        {
            "name": NOTIFY_BLOCK,
            "url": "{{ notify_url }}",
            "method": "POST",
            "json_data": {"subject": "{{subject}}", "body": "{{body}}"},
            "secrets": {"notify_url": url},
        }
    )
    block_id = cast(UUID, block.save(NOTIFY_BLOCK, overwrite=True))
    return _upsert_automation(
        Automation(
            name=f"tfident {name}: notify when a run fails or crashes",
            description="Posts to the tfident notification webhook when a tfident flow run fails or crashes.",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
                match_related=ResourceSpecification(
                    {
                        "prefect.resource.role": "deployment",
                        "prefect.resource.id": [f"prefect.deployment.{i}" for i in deployment_ids],
                    }
                ),
                posture=Posture.Reactive,
                threshold=1,
                within=timedelta(0),
            ),
            actions=[SendNotification(block_document_id=block_id, subject="tfident run failed", body=NOTIFY_BODY)],
        )
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the deployment command line (``sys.argv`` when ``argv`` is None): inbox, criteria and schedules."""
    parser = argparse.ArgumentParser(description="Serve tfident's Prefect deployments (monthly run and retention).")
    parser.add_argument(
        "--inbox", default=None, help=f"inbox folder of batch folders YYYY-MM-DD (default ${INBOX_ENV})"
    )
    parser.add_argument("--criteria", default="phase1", choices=config_names("criteria"), help="the rule pack")
    parser.add_argument("--cron", default=DEFAULT_CRON, help=f"monthly run schedule (default {DEFAULT_CRON!r})")
    parser.add_argument("--interval", type=float, default=None, help="run every SECONDS instead of --cron (tests)")
    parser.add_argument(
        "--timezone",
        default=os.environ.get(TIMEZONE_ENV, DEFAULT_TIMEZONE),
        help=f"time zone of the schedules (default ${TIMEZONE_ENV} or {DEFAULT_TIMEZONE})",
    )
    parser.add_argument("--name", default="monthly", help="deployment name (default monthly)")
    parser.add_argument(
        "--notify-url",
        default=os.environ.get(NOTIFY_URL_ENV),
        help=f"webhook Prefect posts to when a run fails or crashes (default ${NOTIFY_URL_ENV})",
    )
    parser.add_argument(
        "--retention-cron",
        default=DEFAULT_RETENTION_CRON,
        help=f"retention schedule (default {DEFAULT_RETENTION_CRON!r}); '' serves no retention deployment",
    )
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, help="retries of a transient fault")
    parser.add_argument("--retry-delay", type=float, default=DEFAULT_RETRY_DELAY, help="first retry delay, seconds")
    parser.add_argument("--no-automations", action="store_true", help="create no Prefect automations")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Register the deployments and automations, then serve (blocks until interrupted)."""
    args = parse_args(argv)
    inbox = args.inbox or os.environ.get(INBOX_ENV)
    if not inbox:
        raise SystemExit(f"give --inbox or set {INBOX_ENV}")
    deployments = build_deployments(
        name=args.name,
        inbox=str(Path(inbox).resolve()),
        criteria=args.criteria,
        cron=args.cron,
        interval=args.interval,
        timezone=args.timezone,
        retries=args.retries,
        retry_delay=args.retry_delay,
        retention_cron=args.retention_cron or None,
    )
    if not args.no_automations:
        ids = [cast(UUID, deployment.apply()) for deployment in deployments]
        ensure_zombie_automation()
        if args.notify_url:
            ensure_failure_notification(args.notify_url, ids, args.name)
    serve(*deployments)


if __name__ == "__main__":
    # run as `python -m tfident.flows.deployment`: serve the flows of the imported module, not of
    # __main__, so that the flow runs' entrypoint (tfident.flows.deployment.monthly_run) can be loaded
    from tfident.flows.deployment import main as serve_main

    serve_main()
