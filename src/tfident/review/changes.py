"""Month on month: which of a run's families are new, carried over or re-ranked since the previous
month's run, and which dropped off the list and why (from :func:`tfident.store.diff.diff_stored_runs`).

Runs are immutable once readable, so a comparison is kept for a while
(:data:`CACHE_SECONDS`) per pair of runs: comparing two runs of 5,000 candidates takes
100-300 ms on SQLite, too slow for every page. Only a dropped family's "settled" reason
(its latest decision) can go stale meanwhile; the list reads dropped families' current
decisions afresh.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from tfident.store import read_candidates
from tfident.store import review as store
from tfident.store.diff import diff_stored_runs

CHANGE_LABELS = {
    "new": "New this month",
    "carried": "Carried over",
    "reranked": "Re-ranked",
    "dropped": "Dropped",
}
"""The list's change filter and tags, in order."""
CHANGE_TAGS = {"new": "govuk-tag--green", "carried": "govuk-tag--grey", "reranked": "govuk-tag--yellow"}
CACHE_SECONDS = 600.0


@dataclass(frozen=True)
class Change:
    """How one family of the run changed since the previous run."""

    kind: str
    old_rank: int | None = None
    criteria_added: str = ""
    criteria_removed: str = ""

    @property
    def label(self) -> str:
        """A readable line: "New this month", "Carried over (rank 3 last month)", "Re-ranked: 5 to 2"..."""
        if self.kind == "reranked":
            parts = [f"Re-ranked: was {self.old_rank}"]
            if self.criteria_added:
                parts.append(f"now also meets {self.criteria_added.replace(';', ', ')}")
            if self.criteria_removed:
                parts.append(f"no longer meets {self.criteria_removed.replace(';', ', ')}")
            return "; ".join(parts)
        if self.kind == "carried":
            return f"Carried over (rank {self.old_rank} last month too)"
        return CHANGE_LABELS[self.kind]


@dataclass(frozen=True)
class MonthChanges:
    """A run compared with the previous month's run (``previous_run_id`` None: the first run)."""

    run_id: str
    previous_run_id: str | None
    changes: dict[str, Change] = field(default_factory=dict)
    dropped: tuple[dict[str, Any], ...] = ()

    def household_ids(self, kind: str) -> tuple[str, ...]:
        """The run's families of one kind of change (``new``, ``carried``, ``reranked``)."""
        return tuple(household for household, change in self.changes.items() if change.kind == kind)

    def counts(self) -> dict[str, int]:
        """How many families of each kind, dropped included."""
        counts = {kind: 0 for kind in CHANGE_LABELS}
        for change in self.changes.values():
            counts[change.kind] += 1
        counts["dropped"] = len(self.dropped)
        return counts


def compare_with_previous(engine: Engine, run_id: str) -> MonthChanges:
    """The run's families compared with the latest readable run of an earlier batch date."""
    current = read_candidates(engine, run_id).select("household_id", "rank")
    previous_id = store.previous_run_id(engine, run_id)
    if previous_id is None:
        return MonthChanges(run_id, None, {h: Change("new") for h in current["household_id"].to_list()})
    diff = diff_stored_runs(engine, previous_id, run_id)
    changes: dict[str, Change] = {h: Change("new") for h in diff.added["household_id"].to_list()}
    for row in diff.reranked.iter_rows(named=True):
        changes[row["household_id"]] = Change(
            "reranked", row["old_rank"], row["criteria_added"] or "", row["criteria_removed"] or ""
        )
    for household, rank in current.iter_rows():
        changes.setdefault(household, Change("carried", rank))
    return MonthChanges(run_id, previous_id, changes, tuple(diff.dropped.to_dicts()))


class ChangesCache:
    """Comparisons per run, kept :data:`CACHE_SECONDS`."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str | None], tuple[float, MonthChanges]] = {}

    def get(self, engine: Engine, run_id: str) -> MonthChanges:
        """The run's comparison, computed at most once a while."""
        now = time.monotonic()
        key = (run_id, store.previous_run_id(engine, run_id))  # a run written since changes "previous"
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self._seconds:
            return kept[1]
        result = compare_with_previous(engine, run_id)
        with self._lock:
            self._kept[key] = (now, result)
        return result
