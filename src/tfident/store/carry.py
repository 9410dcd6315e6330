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

A household whose latest decision is itself a copy from one of its parents takes the
parent's newer decisions too: a decision made on an older month's run after the next
month was published follows the family forward (:func:`carry_forward`, called by
:func:`~tfident.store.review.add_decision` through each later published run's events).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from tfident.identity import HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT
from tfident.store.audit import write_audit_row
from tfident.store.tables import SETTLED_DECISIONS, metadata, utc_now

log = logging.getLogger(__name__)

decisions = metadata.tables["decisions"]
runs = metadata.tables["runs"]
identity_events = metadata.tables["identity_events"]

Parents = dict[str, dict[str, str]]
"""``new household id -> {previous household id: event kind}``."""

CARRY_USER = "tfident"
"""The ``username`` of decisions copied by :func:`carry_decisions`."""
DECISION_CARRIED = "decision.carried"
"""The audit action of a copied decision (object: the household it was copied to)."""
CARRYING_EVENTS: tuple[str, ...] = (HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT)
CHUNK = 500
"""Household ids per query (SQLite binds at most 32,766 parameters per statement)."""
COPIED_FIELDS: tuple[str, ...] = ("decision", "reason", "lead_agency", "worker", "closure_reason")

EVENT_WORDS = {
    HOUSEHOLD_MERGE: "its members came to live in this household",
    HOUSEHOLD_SPLIT: "some of its members came to live apart, in this household",
}


def lineage(events: pl.DataFrame | None) -> Parents:
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

    # a household whose latest decision was copied from a parent takes that parent's newer ones
    copied = current is not None and current.get("carried_from") in {row["household_id"] for row in inherited}
    own = None if copied else current
    settled = [row for row in inherited if row["decision"] in SETTLED_DECISIONS]
    chosen: Mapping[str, Any] | None = None
    if settled and (own is None or own["decision"] not in SETTLED_DECISIONS):
        chosen = newest(settled)
    elif own is None and inherited:
        chosen = newest(inherited)
    if (
        chosen is not None
        and current is not None
        and current.get("carried_from") == chosen["household_id"]
        and current["created_at"] >= chosen["created_at"]
    ):
        return None  # already copied
    return chosen


def lock_decisions(connection: sa.Connection, household_ids: Iterable[str]) -> None:
    """Hold, until the transaction ends, the right to decide about ``household_ids``.

    On PostgreSQL a transaction-scoped advisory lock per household, taken in sorted order
    (so two lockers never wait on each other in a cycle); on SQLite the caller's
    ``BEGIN IMMEDIATE`` already holds the database's single write lock.
    """
    if connection.dialect.name != "postgresql":
        return
    for household_id in sorted(set(household_ids)):
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext('tfident.decision.' || :household_id))"),
            {"household_id": household_id},
        )


def carry_decisions(connection: sa.Connection, run_id: str, events: pl.DataFrame | None, *, user: str | None) -> int:
    """Copy onto each merged or split household of ``run_id`` the decision that must follow it.

    Runs in the caller's transaction (the run's publish); returns how many were copied.
    ``user`` is the person publishing the run, recorded on the audit rows.
    """
    parents = lineage(events)
    if not parents:
        return 0
    lock_decisions(connection, set(parents) | {old for olds in parents.values() for old in olds})
    copied = _carry(connection, run_id, parents, user)
    log.info("run %s: %d decision(s) carried over through merges and splits", run_id, copied)
    return copied


def later_lineage(connection: sa.Connection, household_id: str, run_id: str | None) -> list[tuple[str, Parents]]:
    """The households that ``household_id``, as decided on ``run_id``, became in later published runs.

    One ``(run id, parents)`` per published run after ``run_id``'s batch date whose merges
    or splits involve the family (``parents`` as :func:`lineage` gives it, restricted to
    those households), oldest first. Empty for the latest run, which is the usual case.
    """
    if run_id is None:
        return []
    as_of: date | None = connection.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar()
    if as_of is None:
        return []
    later = connection.execute(
        sa.select(runs.c.run_id)
        .where(runs.c.status == "published", runs.c.as_of > as_of)
        .order_by(runs.c.as_of, runs.c.run_id)
    ).scalars()
    family = {household_id}
    steps: list[tuple[str, Parents]] = []
    for later_run in later:
        rows = connection.execute(
            sa.select(identity_events.c.kind, identity_events.c.old_ids, identity_events.c.new_ids).where(
                identity_events.c.run_id == later_run, identity_events.c.kind.in_(CARRYING_EVENTS)
            )
        ).all()
        events = pl.DataFrame(rows, schema=["kind", "old_ids", "new_ids"], orient="row")
        parents = {new: olds for new, olds in lineage(events).items() if family & set(olds)}
        if parents:
            steps.append((later_run, parents))
            family |= set(parents)
    return steps


def carry_forward(connection: sa.Connection, steps: list[tuple[str, Parents]], *, user: str | None) -> int:
    """After a decision on an older run, copy it along ``steps`` (from :func:`later_lineage`).

    The caller holds the locks of every household in ``steps``; returns how many were copied.
    """
    return sum(_carry(connection, run_id, parents, user) for run_id, parents in steps)


def _carry(connection: sa.Connection, run_id: str, parents: Parents, user: str | None) -> int:
    """Copy :func:`choose`'s decision onto each household of ``parents``; return how many were copied."""
    latest = _latest(connection, set(parents) | {old for olds in parents.values() for old in olds})
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
