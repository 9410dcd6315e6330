"""Decisions that follow a family whose household id changed in a merge or a split.

Decisions are keyed by the stable household id (:mod:`tfident.identity`), which carries
a family from one month to the next. When a family's members come to live with another
household (``household_merge``) or a household's members come to live apart
(``household_split``), at least one part of the family has a different id in the new run,
and without this step that part would lose its decisions: an attached family could come
back to the panel as new.

Publishing a run therefore copies, in the same transaction, the decision that must follow
each such part onto its new id (:func:`carry_decisions`). For a new household ``X`` whose
members came from the previous households ``P`` (the event's ``old_ids`` other than
``X``), with ``current`` the latest decision about ``X`` itself:

* when some household in ``P`` is settled (attached, closed or opted out) and ``X`` is
  not, ``X`` gets the latest of those settled decisions: a family the programme works
  with, or that declined it, is never proposed as new because it moved in with others;
* otherwise, when ``X`` has no decision yet, it gets the latest decision about any
  household in ``P`` (a split-off part of a rejected or deferred family stays so);
* otherwise nothing is copied: ``X``'s own decision stands.

A copied decision is an ordinary decision row (so the list, its filters and the next
month's carry-over treat it as any other) by the user :data:`CARRY_USER`, with
``carried_from`` naming the household it came from, a note saying why, and an audit row
``decision.carried``. Coordinators see it in the family's decision history and can
decide again. Running it twice for a run copies nothing more.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import polars as pl
import sqlalchemy as sa

from tfident.store.audit import write_audit_row
from tfident.store.review import lock_decisions
from tfident.store.tables import SETTLED_DECISIONS, metadata, utc_now

log = logging.getLogger(__name__)

decisions = metadata.tables["decisions"]

CARRY_USER = "tfident"
"""The ``username`` of decisions copied by :func:`carry_decisions`."""
DECISION_CARRIED = "decision.carried"
"""The audit action of a copied decision (object: the household it was copied to)."""
CARRYING_EVENTS: tuple[str, ...] = ("household_merge", "household_split")
CHUNK = 500
"""Household ids per query (SQLite binds at most 32,766 parameters per statement)."""
COPIED_FIELDS: tuple[str, ...] = ("decision", "reason", "lead_agency", "worker", "closure_reason")

EVENT_WORDS = {
    "household_merge": "its members came to live in this household",
    "household_split": "some of its members came to live apart, in this household",
}


def lineage(events: pl.DataFrame | None) -> dict[str, dict[str, str]]:
    """``new household id -> {previous household id: event kind}`` from a run's identity events.

    Only merges and splits carry decisions; a household's own previous id (the part that
    kept it) is left out, as its decisions are already its own.
    """
    parents: dict[str, dict[str, str]] = defaultdict(dict)
    if events is None or events.is_empty():
        return {}
    for kind, old_ids, new_ids in events.select("kind", "old_ids", "new_ids").iter_rows():
        if kind not in CARRYING_EVENTS:
            continue
        olds = [old for old in old_ids.split(";") if old]
        for new in (new for new in new_ids.split(";") if new):
            for old in olds:
                if old != new:
                    parents[new].setdefault(old, kind)
    return dict(parents)


def choose(current: Mapping[str, Any] | None, inherited: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The decision to copy onto a household whose latest is ``current``, from its parents' latest, or None."""

    def newest(rows: list[Mapping[str, Any]]) -> Mapping[str, Any]:
        return max(rows, key=lambda row: (row["created_at"], row["id"]))

    settled = [row for row in inherited if row["decision"] in SETTLED_DECISIONS]
    if settled and (current is None or current["decision"] not in SETTLED_DECISIONS):
        return newest(settled)
    if current is None and inherited:
        return newest(inherited)
    return None


def carry_decisions(connection: sa.Connection, run_id: str, events: pl.DataFrame | None, *, user: str | None) -> int:
    """Copy onto each merged or split household of ``run_id`` the decision that must follow it.

    Runs in the caller's transaction (the run's publish); returns how many were copied.
    ``user`` is the person publishing the run, recorded on the audit rows.
    """
    parents = lineage(events)
    if not parents:
        return 0
    involved = set(parents) | {old for olds in parents.values() for old in olds}
    lock_decisions(connection, involved)
    latest = _latest(connection, involved)
    copied = 0
    for household_id in sorted(parents):
        inherited = [latest[old] for old in sorted(parents[household_id]) if old in latest]
        chosen = choose(latest.get(household_id), inherited)
        if chosen is None:
            continue
        source = str(chosen["household_id"])
        kind = parents[household_id][source]
        connection.execute(
            decisions.insert().values(
                household_id=household_id,
                run_id=run_id,
                **{name: chosen[name] for name in COPIED_FIELDS},
                note=f"Carried over from household {source}: {EVENT_WORDS[kind]} ({kind}, run {run_id}).",
                username=CARRY_USER,
                created_at=utc_now(),
                carried_from=source,
            )
        )
        write_audit_row(
            connection,
            DECISION_CARRIED,
            household_id,
            {"run_id": run_id, "from": source, "event": kind, "decision": chosen["decision"]},
            user=user,
            object_type="household",
        )
        copied += 1
    log.info("run %s: %d decision(s) carried over through merges and splits", run_id, copied)
    return copied


def _latest(connection: sa.Connection, household_ids: set[str]) -> dict[str, Mapping[str, Any]]:
    """The latest decision about each of ``household_ids`` that has one."""
    found: dict[str, Mapping[str, Any]] = {}
    ordered = sorted(household_ids)
    for start in range(0, len(ordered), CHUNK):
        latest_ids = (
            sa.select(sa.func.max(decisions.c.id))
            .where(decisions.c.household_id.in_(ordered[start : start + CHUNK]))
            .group_by(decisions.c.household_id)
        )
        for row in connection.execute(sa.select(decisions).where(decisions.c.id.in_(latest_ids))).mappings():
            found[str(row["household_id"])] = dict(row)
    return found
