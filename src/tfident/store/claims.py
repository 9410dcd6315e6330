"""Payment-by-results claims: prepare, follow through statuses, evidence packs, audit samples, period summary.

**One claim per family per programme period, enforced by the database.** A claim row is
unique on (``attachment_id``, ``period``) among claims not withdrawn, and with it the claim writes one
``claim_families`` row per household id of the family's *lineage*: the connected
household ids of every stored ``household_merge`` and ``household_split`` identity event
reaching its household. ``claim_families`` has the primary key (``period``,
``household_id``), so a second claim for a family that merged with, or split from, a
claimed one fails on insert (an ``IntegrityError``, raised as :class:`ClaimRefused`),
whichever order the claims and the merge came in: a claim made before the merge holds
the old id, which the later family's lineage reaches. Likewise ``claim_persons`` (primary
key ``period``, ``person_id``) holds the frozen members: a person may not be in two
claimed attachments of one period.

**Statuses** (:data:`TRANSITIONS`): ``draft`` -> ``audited`` (internal audit signs off)
-> ``submitted`` -> ``paid`` or ``rejected``; a draft or audited claim can be
``withdrawn``. Every step writes an audit row (object type ``claim``). **Separation of duties**:
the user who prepared a claim cannot sign it off (``audited``); another must. Withdrawing a
claim releases its family: its ``claim_families`` and ``claim_persons`` rows are deleted and
the claims' unique index leaves withdrawn claims out, so the family can be claimed again in
the period (a rejected claim keeps them). The withdrawn claim stays, with its lineage in
``claims.lineage``, so its evidence pack is unchanged.

**Evidence pack** (:func:`evidence_pack`): a printable HTML page and an XLSX workbook
built only from what is frozen by the time the claim is prepared (the attachment, its
members and entry evidence, the observations of the claim's run, the family's decisions
up to the claim's preparation), never from a later run, so it regenerates byte for byte
however many months are published after; the SHA-256 of each is stored on the claim.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import random
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.errors import ClaimRefused, NotFound
from tfident.identity import HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT
from tfident.outcomes import ROUTES, ProgrammePeriod, claim_route
from tfident.store.attachments import read_observations
from tfident.store.audit import AuditOrigin, acting_user, write_audit_row
from tfident.store.tables import metadata, utc_now

claims = metadata.tables["claims"]
claim_families = metadata.tables["claim_families"]
claim_checks = metadata.tables["claim_checks"]
claim_persons = metadata.tables["claim_persons"]
attachments = metadata.tables["attachments"]
attachment_members = metadata.tables["attachment_members"]
entry_needs = metadata.tables["entry_needs"]
decisions = metadata.tables["decisions"]
identity_events = metadata.tables["identity_events"]
runs = metadata.tables["runs"]
candidates = metadata.tables["candidates"]
audit_log = metadata.tables["audit_log"]

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("audited", "withdrawn"),
    "audited": ("submitted", "withdrawn"),
    "submitted": ("paid", "rejected"),
    "paid": (),
    "rejected": (),
    "withdrawn": (),
}
"""The statuses a claim can move to from each status."""

COUNTED_STATUSES: tuple[str, ...] = ("draft", "audited", "submitted", "paid")
"""Claims that count towards a period's amount (not rejected or withdrawn)."""


@dataclass(frozen=True)
class Proposal:
    """A claimable family of a period, as ``tfident claims prepare`` lists it."""

    attachment_id: int
    household_id: str
    route: str
    amount: int
    claim_id: int | None
    """The draft claim made, or None when refused (``refused`` says why) or on a dry run."""
    refused: str | None = None


def family_lineage(connection: sa.Connection, household_id: str) -> list[str]:
    """Every household id connected to ``household_id`` by stored merges and splits (itself included), sorted."""
    edges: dict[str, set[str]] = defaultdict(set)
    rows = connection.execute(
        sa.select(identity_events.c.old_ids, identity_events.c.new_ids).where(
            identity_events.c.kind.in_([HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT])
        )
    )
    for old_ids, new_ids in rows:
        ids = [x for x in f"{old_ids};{new_ids}".split(";") if x]
        for a in ids:
            edges[a].update(ids)
    seen, todo = {household_id}, [household_id]
    while todo:
        for other in edges.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return sorted(seen)


def claim_run(engine: Engine, period: ProgrammePeriod) -> tuple[str, date] | None:
    """The latest published run of the period's pack with a batch date inside the period."""
    statement = (
        sa.select(runs.c.run_id, runs.c.as_of)
        .where(
            runs.c.status == "published",
            runs.c.ruleset_id == period.ruleset_id,
            runs.c.as_of >= period.valid_from,
            runs.c.as_of <= period.valid_to,
        )
        .order_by(runs.c.as_of.desc(), runs.c.version.desc(), runs.c.run_id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(statement).first()
    return (row.run_id, row.as_of) if row else None


def prepare_claims(
    engine: Engine,
    period: ProgrammePeriod,
    username: str,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    attachment_ids: Collection[int] | None = None,
    origin: AuditOrigin | None = None,
) -> list[Proposal]:
    """Propose a claim for every family of the period's pack whose observations in the claim run allow a route;
    unless ``dry_run``, record each as a ``draft`` with its evidence pack (a family already claimed is refused).

    ``attachment_ids`` limits it to those attachments (the review app: a coordinator's areas).
    """
    if run_id is None:
        found = claim_run(engine, period)
        if found is None:
            raise NotFound(f"no published {period.ruleset_id} run with a batch date in period {period.id}")
        run_id, as_of = found
    else:
        with engine.connect() as connection:
            found_as_of = connection.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar()
        if found_as_of is None:
            raise NotFound(f"run {run_id} not found")
        as_of = found_as_of
    with engine.connect() as connection:
        heads = list(
            connection.execute(
                sa.select(attachments)
                .where(
                    attachments.c.ruleset_id == period.ruleset_id,
                    attachments.c.attached_on >= period.valid_from,
                    attachments.c.attached_on <= period.valid_to,
                )
                .order_by(attachments.c.attachment_id)
            ).mappings()
        )
        observed = defaultdict(list)
        for o in read_observations(connection, run_id):
            observed[o["attachment_id"]].append(o)
    proposals: list[Proposal] = []
    for head in heads:
        if attachment_ids is not None and head["attachment_id"] not in attachment_ids:
            continue
        route = claim_route(head["ruleset_id"], observed.get(head["attachment_id"], []))
        if route is None:
            continue
        amount = period.rates.get(route, 0)
        claim_id, refused = None, None
        if not dry_run:
            try:
                claim_id = add_claim(
                    engine, period.id, head["attachment_id"], route, amount, run_id, as_of, username, origin=origin
                )
            except ClaimRefused as error:
                refused = str(error)
        proposals.append(Proposal(head["attachment_id"], head["household_id"], route, amount, claim_id, refused))
    return proposals


def add_claim(
    engine: Engine,
    period: str,
    attachment_id: int,
    route: str,
    amount: int,
    run_id: str,
    as_of: date,
    username: str,
    *,
    prepared_at: datetime | None = None,
    origin: AuditOrigin | None = None,
) -> int:
    """Record a draft claim, its lineage keys and its evidence pack's checksums; :class:`ClaimRefused` when the
    database refuses it (the family already has a claim in ``period``).
    """
    prepared_at = (prepared_at or utc_now()).astimezone(UTC).replace(microsecond=0)
    try:
        with engine.begin() as connection:
            household_id = connection.execute(
                sa.select(attachments.c.household_id).where(attachments.c.attachment_id == attachment_id)
            ).scalar_one()
            lineage = family_lineage(connection, household_id)
            claim_id = int(
                connection.execute(
                    claims.insert().values(
                        period=period,
                        attachment_id=attachment_id,
                        household_id=household_id,
                        route=route,
                        status="draft",
                        amount=amount,
                        run_id=run_id,
                        as_of=as_of,
                        prepared_by=username,
                        prepared_at=prepared_at,
                        status_changed_at=prepared_at,
                        pack_html_sha256="",
                        pack_xlsx_sha256="",
                        lineage=";".join(lineage),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]  # an insert always has a primary key
            )
            connection.execute(
                claim_families.insert(),
                [{"period": period, "household_id": h, "claim_id": claim_id} for h in lineage],
            )
            members = connection.execute(
                sa.select(attachment_members.c.person_id).where(attachment_members.c.attachment_id == attachment_id)
            ).scalars()
            people = [{"period": period, "person_id": p, "claim_id": claim_id} for p in members]
            if people:
                connection.execute(claim_persons.insert(), people)
            page, workbook = _pack(connection, claim_id)
            connection.execute(
                claims.update()
                .where(claims.c.claim_id == claim_id)
                .values(pack_html_sha256=sha256(page), pack_xlsx_sha256=sha256(workbook))
            )
            write_audit_row(
                connection,
                "claim.prepared",
                str(claim_id),
                {"period": period, "route": route, "attachment_id": attachment_id},
                user=username,
                object_type="claim",
                origin=origin,
            )
    except sa.exc.IntegrityError:
        raise ClaimRefused(
            f"attachment {attachment_id}: its family (or a family it merged with or split from, or one of its "
            f"members) already has a claim in period {period}"
        ) from None
    return claim_id


def set_status(
    engine: Engine,
    claim_id: int,
    status: str,
    username: str,
    *,
    role: str | None = None,
    reason: str | None = None,
    origin: AuditOrigin | None = None,
) -> None:
    """Move a claim to ``status`` (:data:`TRANSITIONS`), audited with ``reason`` when given; :class:`ClaimRefused`
    when out of order, or when the user signing it off (``audited``) is the one who prepared it.
    """
    with engine.begin() as connection:
        row = connection.execute(
            sa.select(claims.c.status, claims.c.prepared_by).where(claims.c.claim_id == claim_id)
        ).first()
        if row is None:
            raise NotFound(f"claim {claim_id} not found")
        current = row.status
        if status not in TRANSITIONS.get(current, ()):
            allowed = ", ".join(TRANSITIONS[current]) or "nothing"
            raise ClaimRefused(f"claim {claim_id} is {current}: it can become {allowed}, not {status!r}")
        if status == "audited" and row.prepared_by == username[:64]:
            raise ClaimRefused(
                f"claim {claim_id} was prepared by {username}: another user must sign it off (separation of duties)"
            )
        now = utc_now()
        values: dict[str, Any] = {"status": status, "status_changed_at": now}
        if status == "audited":
            values |= {"audited_by": username, "audited_at": now}
        connection.execute(claims.update().where(claims.c.claim_id == claim_id).values(**values))
        if status == "withdrawn":
            # release the family and its members for the period: they may be claimed again
            for table in (claim_families, claim_persons):
                connection.execute(table.delete().where(table.c.claim_id == claim_id))
        write_audit_row(
            connection,
            f"claim.{status}",
            str(claim_id),
            {"from": current, "to": status, **({"reason": reason} if reason else {})},
            user=username,
            role=role,
            object_type="claim",
            origin=origin,
        )


def read_claim(engine: Engine, claim_id: int) -> dict[str, Any]:
    """A claim's row; :class:`NotFound` when there is none."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(claims).where(claims.c.claim_id == claim_id)).mappings().first()
    if row is None:
        raise NotFound(f"claim {claim_id} not found")
    return dict(row)


def list_claims(engine: Engine, period: str) -> list[dict[str, Any]]:
    """The claims of a period, by id."""
    with engine.connect() as connection:
        statement = sa.select(claims).where(claims.c.period == period).order_by(claims.c.claim_id)
        return [dict(r) for r in connection.execute(statement).mappings()]


def attachment_postcodes(engine: Engine, attachment_ids: Collection[int]) -> dict[int, str | None]:
    """The postcode of each attachment's family as a candidate of the run it was attached on (None when that
    run's candidates are gone), for the review app's areas.
    """
    ids = sorted(set(attachment_ids))
    found: dict[int, str | None] = dict.fromkeys(ids)
    if not ids:
        return found
    statement = (
        sa.select(attachments.c.attachment_id, candidates.c.postcode)
        .join(
            candidates,
            sa.and_(
                candidates.c.run_id == attachments.c.run_id, candidates.c.household_id == attachments.c.household_id
            ),
        )
        .where(attachments.c.attachment_id.in_(ids))
    )
    with engine.connect() as connection:
        for attachment_id, postcode in connection.execute(statement):
            found[attachment_id] = postcode
    return found


def claim_history(engine: Engine, claim_id: int) -> list[dict[str, Any]]:
    """The claim's audit rows of its steps (prepared, each status change; not views or downloads), oldest first."""
    steps = ["claim.prepared", *(f"claim.{status}" for status in TRANSITIONS)]
    statement = (
        sa.select(audit_log.c.at, audit_log.c.username, audit_log.c.role, audit_log.c.action, audit_log.c.detail_json)
        .where(
            audit_log.c.object_type == "claim",
            audit_log.c.object_id == str(claim_id),
            audit_log.c.action.in_(steps),
        )
        .order_by(audit_log.c.id)
    )
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(statement).mappings()]


def claim_samples(engine: Engine, claim_id: int) -> list[dict[str, Any]]:
    """The internal-audit sample draws that chose the claim, oldest first."""
    statement = (
        sa.select(claim_checks.c.sample, claim_checks.c.sample_seed, claim_checks.c.username, claim_checks.c.checked_at)
        .where(claim_checks.c.claim_id == claim_id)
        .order_by(claim_checks.c.id)
    )
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(statement).mappings()]


# ------------------------------------------------------------------------ evidence pack


def sha256(data: bytes) -> str:
    """The SHA-256 of ``data``, hex."""
    return hashlib.sha256(data).hexdigest()


def pack_sections(engine: Engine, claim_id: int) -> list[tuple[str, list[str], list[list[str]]]]:
    """The evidence pack's sections (title, header, rows), as the review app's claim page shows them."""
    with engine.connect() as connection:
        if connection.execute(sa.select(claims.c.claim_id).where(claims.c.claim_id == claim_id)).scalar() is None:
            raise NotFound(f"claim {claim_id} not found")
        return _sections(connection, claim_id)


def evidence_pack(engine: Engine, claim_id: int) -> tuple[bytes, bytes]:
    """The claim's evidence pack, rebuilt: (printable HTML page, XLSX workbook)."""
    with engine.connect() as connection:
        if connection.execute(sa.select(claims.c.claim_id).where(claims.c.claim_id == claim_id)).scalar() is None:
            raise NotFound(f"claim {claim_id} not found")
        return _pack(connection, claim_id)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _sections(connection: sa.Connection, claim_id: int) -> list[tuple[str, list[str], list[list[str]]]]:
    claim = connection.execute(sa.select(claims).where(claims.c.claim_id == claim_id)).mappings().one()
    head = (
        connection.execute(sa.select(attachments).where(attachments.c.attachment_id == claim["attachment_id"]))
        .mappings()
        .one()
    )
    claim_fields = ("claim_id", "period", "route", "amount", "run_id", "as_of", "prepared_by", "prepared_at")
    attachment_fields = (
        "attachment_id",
        "household_id",
        "ruleset_id",
        "ruleset_version",
        "run_id",
        "attached_on",
        "username",
        "lead_agency",
        "worker",
    )  # not closed_on: a closure after the claim must not change its pack (the decisions show closures)
    members = connection.execute(
        sa.select(attachment_members.c.person_id, attachment_members.c.role, attachment_members.c.date_of_birth)
        .where(attachment_members.c.attachment_id == head["attachment_id"])
        .order_by(attachment_members.c.person_id)
    ).all()
    need_cols = ("need", "rule_id", "person_id", "source", "record_id", "event_date", "value", "source_file_sha256")
    needs = connection.execute(
        sa.select(*(entry_needs.c[c] for c in need_cols))
        .where(entry_needs.c.attachment_id == head["attachment_id"])
        .order_by(entry_needs.c.id)
    ).all()
    obs_cols = ["need", "measure", "period_start", "period_end", "value", "met", "reason", "evidence"]
    observations = [
        [_text(o[c]) for c in obs_cols] for o in read_observations(connection, claim["run_id"], head["attachment_id"])
    ]
    lineage_ids = claim["lineage"].split(";")
    decision_cols = (
        "id",
        "household_id",
        "decision",
        "closure_reason",
        "lead_agency",
        "worker",
        "username",
        "created_at",
    )
    history = connection.execute(
        sa.select(*(decisions.c[c] for c in decision_cols))
        .where(decisions.c.household_id.in_(lineage_ids), decisions.c.created_at <= claim["prepared_at"])
        .order_by(decisions.c.id)
    ).all()
    return [
        ("Claim", ["field", "value"], [[f, _text(claim[f])] for f in claim_fields]),
        ("Attachment", ["field", "value"], [[f, _text(head[f])] for f in attachment_fields]),
        ("Members", ["person_id", "role", "date_of_birth"], [[_text(v) for v in m] for m in members]),
        ("Entry evidence", list(need_cols), [[_text(v) for v in n] for n in needs]),
        ("Outcomes", obs_cols, observations),
        ("Family lineage", ["household_id"], [[h] for h in lineage_ids]),
        ("Decisions", list(decision_cols), [[_text(v) for v in d] for d in history]),
    ]


def _pack(connection: sa.Connection, claim_id: int) -> tuple[bytes, bytes]:
    sections = _sections(connection, claim_id)
    return _html(claim_id, sections), _xlsx(sections)


def _html(claim_id: int, sections: list[tuple[str, list[str], list[list[str]]]]) -> bytes:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Evidence pack: claim {claim_id}</title>",
        "<style>body{font:10pt sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #999;padding:2px 4px;text-align:left;vertical-align:top}"
        "@media print{h2{page-break-after:avoid}}</style>",
        "</head><body>",
        f"<h1>Evidence pack: claim {claim_id}</h1>",
    ]
    for title, header, rows in sections:
        parts.append(f"<h2>{e(title)}</h2><table><thead><tr>")
        parts.extend(f"<th>{e(h)}</th>" for h in header)
        parts.append("</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts).encode("utf-8")


FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DOC_TIME = "2000-01-01T00:00:00Z"


def _xlsx(sections: list[tuple[str, list[str], list[list[str]]]]) -> bytes:
    """The workbook, one sheet per section, with every timestamp fixed so equal content gives equal bytes."""
    from openpyxl import Workbook  # imported only when a pack is built

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in sections:
        sheet = workbook.create_sheet(title[:31])
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    fixed = datetime(2000, 1, 1)
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.properties.creator = "tfident"
    raw = io.BytesIO()
    workbook.save(raw)
    return _normalise_zip(raw.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + FIXED_DOC_TIME.encode() + rb"\g<2>",
                    content,
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            target.writestr(fixed, content)
    return out.getvalue()


# ------------------------------------------------------------------ audit sample, summary


def audit_sample(
    engine: Engine, period: str, percent: float, seed: int, username: str, *, origin: AuditOrigin | None = None
) -> list[int]:
    """Draw a reproducible internal-audit sample of ``percent`` % (at least one) of the period's counted claims,
    recorded in ``claim_checks`` with the seed; the same seed and claims give the same sample. Every draw is
    audited, an empty one (no counted claims) too.
    """
    with engine.begin() as connection:
        ids = list(
            connection.execute(
                sa.select(claims.c.claim_id)
                .where(claims.c.period == period, claims.c.status.in_(COUNTED_STATUSES))
                .order_by(claims.c.claim_id)
            ).scalars()
        )
        size = min(len(ids), max(1, math.ceil(len(ids) * percent / 100)))
        chosen = sorted(random.Random(seed).sample(ids, size))
        now = utc_now()
        if chosen:
            connection.execute(
                claim_checks.insert(),
                [
                    {
                        "claim_id": c,
                        "sample": "internal_audit",
                        "sample_seed": seed,
                        "username": username,
                        "checked_at": now,
                    }
                    for c in chosen
                ],
            )
        write_audit_row(
            connection,
            "claim.sampled",
            period,
            {"seed": seed, "percent": percent, "claims": chosen},
            user=username,
            object_type="claim_period",
            origin=origin,
        )
    return chosen


def period_summary(engine: Engine, period: ProgrammePeriod) -> dict[str, Any]:
    """Families attached in the period, how many meet outcomes in the latest claim run, claims by status and route,
    and the amount claimed (claims not rejected or withdrawn) and paid, from the configured rates.
    """
    found = claim_run(engine, period)
    with engine.connect() as connection:
        attached = list(
            connection.execute(
                sa.select(attachments.c.attachment_id, attachments.c.ruleset_id).where(
                    attachments.c.ruleset_id == period.ruleset_id,
                    attachments.c.attached_on >= period.valid_from,
                    attachments.c.attached_on <= period.valid_to,
                )
            )
        )
        observed: dict[int, list[dict[str, Any]]] = defaultdict(list)
        if found is not None:
            for o in read_observations(connection, found[0]):
                observed[o["attachment_id"]].append(o)
        rows = list(connection.execute(sa.select(claims).where(claims.c.period == period.id)).mappings())
    met = Counter(
        route for a in attached if (route := claim_route(a.ruleset_id, observed.get(a.attachment_id, []))) is not None
    )
    return {
        "period": period.id,
        "ruleset_id": period.ruleset_id,
        "run_id": found[0] if found else None,
        "families_attached": len(attached),
        "outcomes_met": sum(met.values()),
        "outcomes_met_by_route": dict(sorted(met.items())),
        "claims_by_status": dict(sorted(Counter(r["status"] for r in rows).items())),
        "claims_by_route": dict(sorted(Counter(r["route"] for r in rows).items())),
        "amount_claimed": sum(r["amount"] for r in rows if r["status"] in COUNTED_STATUSES),
        "amount_paid": sum(r["amount"] for r in rows if r["status"] == "paid"),
        "routes": list(ROUTES.get(period.ruleset_id, ())),
    }


def summary_json(summary: dict[str, Any]) -> str:
    """A period summary as canonical JSON."""
    return json.dumps(summary, sort_keys=True, indent=2, default=str)


# ---------------------------------------------------------------------- claims retention


def purge_claims(
    engine: Engine, months: int, *, today: date | None = None, dry_run: bool = False, user: str | None = None
) -> list[int]:
    """Delete the attachments (members, entry evidence, observations) and claims whose last date, the latest
    of closure (or attachment, while open) and the batch date of any claim, is more than ``months`` months
    before ``today``; the attachment ids, oldest first. Audited with counts only.
    """
    from tfident.outcomes.rules import add_months

    cutoff = add_months(today or date.today(), -months)
    with engine.begin() as connection:
        latest_claim = (
            sa.select(claims.c.attachment_id, sa.func.max(claims.c.as_of).label("as_of"))
            .group_by(claims.c.attachment_id)
            .subquery()
        )
        last = sa.func.coalesce(attachments.c.closed_on, attachments.c.attached_on)
        rows = connection.execute(
            sa.select(attachments.c.attachment_id, last.label("last"), latest_claim.c.as_of)
            .outerjoin(latest_claim, latest_claim.c.attachment_id == attachments.c.attachment_id)
            .order_by(attachments.c.attachment_id)
        ).all()
        expired = [r.attachment_id for r in rows if max(r.last, r.as_of or r.last) < cutoff]
        if expired and not dry_run:
            claim_ids = list(
                connection.execute(sa.select(claims.c.claim_id).where(claims.c.attachment_id.in_(expired))).scalars()
            )
            for table, column, ids in (
                (claim_families, claim_families.c.claim_id, claim_ids),
                (claim_checks, claim_checks.c.claim_id, claim_ids),
                (claim_persons, claim_persons.c.claim_id, claim_ids),
                (claims, claims.c.claim_id, claim_ids),
                (metadata.tables["outcome_observations"], None, expired),
                (attachment_members, attachment_members.c.attachment_id, expired),
                (entry_needs, entry_needs.c.attachment_id, expired),
                (attachments, attachments.c.attachment_id, expired),
            ):
                where = column if column is not None else table.c.attachment_id
                if ids:
                    connection.execute(table.delete().where(where.in_(ids)))
            write_audit_row(
                connection,
                "claims.purged",
                None,
                {"cutoff": cutoff.isoformat(), "attachments": len(expired), "claims": len(claim_ids)},
                user=acting_user(user),
                object_type="claims",
            )
    return expired


def claim_members_of_run(engine: Engine, run_id: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """For scoring claims (``tfident evaluate``): ``(claim_id, person_id)`` of the frozen members of every claim
    prepared on ``run_id`` (not withdrawn), and ``(attachment_id, person_id)`` of every attachment made on or
    before the run's batch date.
    """
    with engine.connect() as connection:
        as_of = connection.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar()
        claimed = connection.execute(
            sa.select(claims.c.claim_id, attachment_members.c.person_id)
            .join(attachment_members, attachment_members.c.attachment_id == claims.c.attachment_id)
            .where(claims.c.run_id == run_id, claims.c.status != "withdrawn")
            .order_by(claims.c.claim_id, attachment_members.c.person_id)
        ).all()
        attached = (
            connection.execute(
                sa.select(attachments.c.attachment_id, attachment_members.c.person_id)
                .join(attachment_members, attachment_members.c.attachment_id == attachments.c.attachment_id)
                .where(attachments.c.attached_on <= as_of)
                .order_by(attachments.c.attachment_id, attachment_members.c.person_id)
            ).all()
            if as_of is not None
            else []
        )
    return [(int(c), str(p)) for c, p in claimed], [(int(a), str(p)) for a, p in attached]
