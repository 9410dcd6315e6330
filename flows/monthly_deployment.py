"""Prefect deployment of tfident's monthly run, for a council data server.

Serve it: a long-running process that registers the deployment with the Prefect
server named by ``PREFECT_API_URL`` and runs the batch on its schedule::

    PREFECT_API_URL=http://prefect.example.internal:4200/api \\
    .venv/bin/python flows/monthly_deployment.py \\
        --extracts /data/troubled-families/incoming \\
        --db postgresql+psycopg://tfident@db.example.internal/tfident

By default it runs at 06:00 on the 5th of each month, with the batch date the last
day of the month before (extracts for October arrive in early November). Each run is
the ``monthly_identification`` flow (one task per stage) as a subflow, then the store;
a re-run on identical extracts and configuration reuses the stored run.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

from prefect import flow

from tfident.runner import execute_run

DEFAULT_CRON = "0 6 5 * *"


def default_as_of(today: date) -> date:
    """The last day of the month before ``today``: the batch date of a scheduled run."""
    return today.replace(day=1) - timedelta(days=1)


@flow(name="tfident-monthly-run", log_prints=False)
def monthly_run(extracts: str, as_of: str | None = None, db: str | None = None, criteria: str = "phase1") -> str:
    """Run and store one monthly batch; return its run id."""
    batch_date = date.fromisoformat(as_of) if as_of else default_as_of(date.today())
    outcome = execute_run(Path(extracts), batch_date, db, criteria, use_prefect=True)
    return outcome.run_id


def main(argv: list[str] | None = None) -> None:
    """Serve the deployment (blocks until interrupted)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extracts", required=True, help="folder where each month's extracts arrive")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the tfident database")
    parser.add_argument("--criteria", default="phase1", choices=["phase1", "phase2"])
    parser.add_argument("--cron", default=DEFAULT_CRON, help=f"schedule (default {DEFAULT_CRON!r})")
    parser.add_argument("--name", default="monthly", help="deployment name")
    args = parser.parse_args(argv)
    monthly_run.serve(
        name=args.name,
        cron=args.cron,
        parameters={"extracts": args.extracts, "db": args.db, "criteria": args.criteria},
    )


if __name__ == "__main__":
    main()
