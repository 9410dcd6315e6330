"""`prefect server start` with Prefect's causal-ordering lookback shortened, for tests.

Runs the scheduler creates emit no event for their first (Scheduled) state, yet each later
state event declares that it follows the one before: Prefect's automations hold those
events back until their leader arrives or ``PRECEDING_EVENT_LOOKBACK`` (a fixed 15
minutes, not a setting) passes. A real server therefore notifies a scheduled run's
failure about 15 minutes late. The test shortens the wait, as it shortens the scheduler's
loop, so that it can see the notification arrive: nothing else of the server changes.

Usage: python prefect_server_short_lookback.py SECONDS [prefect server start options...]
"""

from __future__ import annotations

import sys
from datetime import timedelta


def main() -> None:
    lookback = timedelta(seconds=float(sys.argv[1]))
    import prefect.server.events.ordering as ordering
    import prefect.server.events.ordering.db as ordering_db
    import prefect.server.events.ordering.memory as ordering_memory

    for module in (ordering, ordering_db, ordering_memory):
        if hasattr(module, "PRECEDING_EVENT_LOOKBACK"):
            module.PRECEDING_EVENT_LOOKBACK = lookback  # type: ignore[attr-defined]
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", *sys.argv[2:]]
    app()


if __name__ == "__main__":
    main()
