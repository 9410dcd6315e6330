"""Attachments and outcome observations: a family accepted onto the programme, frozen, then followed.

An ``accept`` decision made on a run (:func:`~tfident.store.review.add_decision`) calls
:func:`freeze_attachment` in the decision's transaction: it copies the household's
members (person id, role, date of birth) and every ``criteria_evidence`` row of that run
(with the checksum of the extract file each came from) into ``attachments``,
``attachment_members`` and ``entry_needs``. Those rows have no foreign key to the run, so
the run retention (``tfident retention apply``) that deletes the run's personal data
leaves them: they are kept for the claims retention period. A ``closed`` decision sets
the attachment's ``closed_on`` (the batch date of the run it was made on) and reason.

After a run is published the runner calls :func:`record_outcomes`: every attachment's
observations for that run (:func:`tfident.outcomes.evaluate_outcomes`), replacing any
earlier ones of the same run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.outcomes import AttachedFamily, EntryNeed, Member, OutcomesConfig, evaluate_outcomes
from tfident.store.tables import metadata, utc_now

log = logging.getLogger(__name__)

attachments = metadata.tables["attachments"]
attachment_members = metadata.tables["attachment_members"]
entry_needs = metadata.tables["entry_needs"]
observations = metadata.tables["outcome_observations"]
runs = metadata.tables["runs"]
persons = metadata.tables["persons"]
evidence = metadata.tables["criteria_evidence"]
input_files = metadata.tables["input_files"]


def freeze_attachment(
    connection: sa.Connection,
    *,
    household_id: str,
    run_id: str,
    decision_id: int,
    username: str,
    lead_agency: str | None,
    worker: str | None,
) -> int | None:
    """Freeze an accepted family and its entry evidence; the new ``attachment_id`` (None: the run is gone)."""
    run = connection.execute(
        sa.select(runs.c.as_of, runs.c.ruleset_id, runs.c.ruleset_version).where(runs.c.run_id == run_id)
    ).first()
    if run is None:
        return None
    attachment_id = connection.execute(
        attachments.insert().values(
            household_id=household_id,
            decision_id=decision_id,
            run_id=run_id,
            ruleset_id=run.ruleset_id,
            ruleset_version=run.ruleset_version,
            attached_on=run.as_of,
            attached_at=utc_now(),
            username=username,
            lead_agency=lead_agency,
            worker=worker,
        )
    ).inserted_primary_key[0]  # type: ignore[index]  # an insert always has a primary key
    members = connection.execute(
        sa.select(persons.c.person_id, persons.c.role, persons.c.date_of_birth)
        .where(persons.c.run_id == run_id, persons.c.household_id == household_id)
        .order_by(persons.c.person_id)
    ).all()
    if members:
        connection.execute(
            attachment_members.insert(),
            [{"attachment_id": attachment_id, **m._mapping} for m in members],
        )
    hashes: dict[str, str] = {
        row.source: row.sha256
        for row in connection.execute(
            sa.select(input_files.c.source, input_files.c.sha256).where(input_files.c.run_id == run_id)
        )
    }
    rows = connection.execute(
        sa.select(evidence)
        .where(evidence.c.run_id == run_id, evidence.c.household_id == household_id)
        .order_by(
            evidence.c.criterion, evidence.c.rule_id, evidence.c.person_id, evidence.c.source, evidence.c.record_id
        )
    ).mappings()
    needs = [
        {
            "attachment_id": attachment_id,
            "need": r["criterion"],
            "rule_id": r["rule_id"],
            "person_id": r["person_id"],
            "source": r["source"],
            "record_id": r["record_id"],
            "event_date": r["event_date"],
            "value": r["value"],
            "detail": r["detail"],
            "source_file_sha256": hashes.get(r["source"]),
        }
        for r in rows
    ]
    if needs:
        connection.execute(entry_needs.insert(), needs)
    return int(attachment_id)


def close_attachment(connection: sa.Connection, *, household_id: str, run_id: str | None, reason: str | None) -> None:
    """Record the closure of the household's open attachments (``closed_on``: the run's batch date, else today)."""
    closed_on = None
    if run_id is not None:
        closed_on = connection.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar()
    connection.execute(
        attachments.update()
        .where(attachments.c.household_id == household_id, attachments.c.closed_on.is_(None))
        .values(closed_on=closed_on or utc_now().date(), closure_reason=reason)
    )


def read_attached_families(connection: sa.Connection, as_of: date | None = None) -> list[AttachedFamily]:
    """Every attachment (made on or before ``as_of`` when given) with its frozen members and needs."""
    statement = sa.select(attachments).order_by(attachments.c.attachment_id)
    if as_of is not None:
        statement = statement.where(attachments.c.attached_on <= as_of)
    heads = list(connection.execute(statement).mappings())
    if not heads:
        return []
    ids = [h["attachment_id"] for h in heads]
    members: dict[int, list[Member]] = defaultdict(list)
    for m in connection.execute(
        sa.select(attachment_members)
        .where(attachment_members.c.attachment_id.in_(ids))
        .order_by(attachment_members.c.attachment_id, attachment_members.c.person_id)
    ).mappings():
        members[m["attachment_id"]].append(Member(m["person_id"], m["role"], m["date_of_birth"]))
    needs: dict[int, list[EntryNeed]] = defaultdict(list)
    for n in connection.execute(
        sa.select(entry_needs).where(entry_needs.c.attachment_id.in_(ids)).order_by(entry_needs.c.id)
    ).mappings():
        needs[n["attachment_id"]].append(
            EntryNeed(n["need"], n["rule_id"], n["person_id"], n["source"], n["record_id"])
        )
    return [
        AttachedFamily(
            attachment_id=int(h["attachment_id"]),
            ruleset_id=h["ruleset_id"],
            attached_on=h["attached_on"],
            closed_on=h["closed_on"],
            members=tuple(members[h["attachment_id"]]),
            needs=tuple(needs[h["attachment_id"]]),
        )
        for h in heads
    ]


def write_observations(connection: sa.Connection, run_id: str, as_of: date, frame: pl.DataFrame) -> int:
    """Replace the run's outcome observations with ``frame`` (``tfident.outcomes.OBSERVATIONS_SCHEMA``)."""
    connection.execute(observations.delete().where(observations.c.run_id == run_id))
    rows = [{"run_id": run_id, "as_of": as_of, **r} for r in frame.to_dicts()]
    if rows:
        connection.execute(observations.insert(), rows)
    return len(rows)


def record_outcomes(
    engine: Engine,
    run_id: str,
    as_of: date,
    extracts: Mapping[str, pl.DataFrame],
    records: pl.DataFrame,
    config: OutcomesConfig,
) -> int:
    """Compute and store the observations of every attached family for a published run; how many rows."""
    with engine.begin() as connection:
        families = read_attached_families(connection, as_of)
        if not families:
            return 0
        columns = ["source", "record_id", "person_id"] + (["household_id"] if "household_id" in records.columns else [])
        index = records.select(columns)
        frame = evaluate_outcomes(extracts, index, families, config, as_of)
        return write_observations(connection, run_id, as_of, frame)


def read_observations(connection: sa.Connection, run_id: str, attachment_id: int | None = None) -> list[dict[str, Any]]:
    """A run's observations (of one attachment when given), sorted."""
    statement = sa.select(observations).where(observations.c.run_id == run_id)
    if attachment_id is not None:
        statement = statement.where(observations.c.attachment_id == attachment_id)
    statement = statement.order_by(observations.c.attachment_id, observations.c.need, observations.c.measure)
    return [dict(r) for r in connection.execute(statement).mappings()]
