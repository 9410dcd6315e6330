"""The review app's reads and writes: accounts, audit, decisions, link rulings and review queries.

Working tables (``users``, ``audit_log``, ``decisions``, ``link_constraints``) are written
here and only here. Every statement binds its values as parameters; user input never
becomes SQL text. Decisions are keyed by the stable ``household_id``, so the latest
decision about a family follows it from one month's run to the next.

A family whose latest decision is ``accept`` (attached), ``closed`` or ``opted_out`` is
settled: it is never ``new`` again and the candidate list's default filter
(:data:`STATUS_OPEN`) leaves it out, whichever month it was decided in. Only an attached
family can be closed, and only a new, deferred or attached one can opt out
(:func:`decision_refusal`, checked by :func:`add_decision`).

Accepting a family on a run freezes it and its entry evidence as an attachment, and
closing it records the closure there (:mod:`tfident.store.attachments`), in the same
transaction as the decision.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.errors import DecisionRefused as DecisionRefused  # re-exported: the review app catches it from here
from tfident.errors import StoreError
from tfident.households.roles import age_on
from tfident.store.attachments import close_attachment, freeze_attachment
from tfident.store.carry import carry_forward, later_lineage, lock_decisions
from tfident.store.engine import BEGIN_OPTION
from tfident.store.tables import (
    ACCEPT,
    CLOSED,
    CLOSURE_REASONS,
    DECISIONS,
    DEFER,
    LINK_CONSTRAINT_KINDS,
    OPTED_OUT,
    READABLE_STATUSES,
    SETTLED_DECISIONS,
    USER_ROLES,
    metadata,
    utc_now,
)
from tfident.store.tables import (
    STATUS_NEW as STATUS_NEW,  # re-exported: the review app reads it from here
)
from tfident.store.tables import (
    STATUSES as STATUSES,  # re-exported: the review app reads it from here
)

users = metadata.tables["users"]
audit_log = metadata.tables["audit_log"]
decisions = metadata.tables["decisions"]
link_constraints = metadata.tables["link_constraints"]
runs = metadata.tables["runs"]
candidates = metadata.tables["candidates"]
households = metadata.tables["households"]
persons = metadata.tables["persons"]
source_records = metadata.tables["source_records"]
links = metadata.tables["links"]
evidence = metadata.tables["criteria_evidence"]

STATUS_OPEN = "open"
"""The candidate list's default filter: every family but those attached, closed or opted out
(:data:`~tfident.store.tables.SETTLED_DECISIONS`), whatever run the decision was made on."""

CLOSABLE_FROM: tuple[str, ...] = (ACCEPT,)
"""Only a family attached to the programme (latest decision ``accept``) can be closed."""
OPT_OUT_FROM: tuple[str, ...] = (STATUS_NEW, DEFER, ACCEPT)
"""A family can opt out while new, deferred or attached."""

SORTS: dict[str, tuple[str, bool]] = {
    "rank": ("rank", False),
    "score": ("score", True),
    "members": ("n_members", True),
    "cost": ("estimated_annual_cost", True),
    "postcode": ("postcode", False),
    "link": ("min_link_probability", False),
}
"""Sort keys the candidate list accepts: column and whether it sorts descending by default."""


# ------------------------------------------------------------------------------ users


@dataclass(frozen=True)
class Account:
    """An account of the review app, as stored (the hash and second-factor secret never leave the server)."""

    username: str
    role: str
    password_hash: str
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    disabled_at: datetime | None = None
    totp_secret: str | None = None
    areas: str | None = None

    @property
    def disabled(self) -> bool:
        """Whether an admin disabled the account."""
        return self.disabled_at is not None

    @property
    def area_list(self) -> tuple[str, ...]:
        """The areas the account works in (empty: the whole council)."""
        return tuple(a for a in (self.areas or "").split(";") if a)


def add_user(engine: Engine, username: str, role: str, password_hash: str) -> None:
    """Add an account; raise StoreError when the name is taken or the role unknown."""
    if role not in USER_ROLES:
        raise StoreError(f"role {role!r} is not one of {', '.join(USER_ROLES)}")
    if not username or len(username) > 64:
        raise StoreError(f"username {username!r} must be 1 to 64 characters")
    try:
        with engine.begin() as connection:
            taken = connection.execute(sa.select(users.c.username).where(users.c.username == username)).first()
            if taken is not None:
                raise StoreError(f"user {username!r} already exists; choose another name")
            connection.execute(
                users.insert().values(
                    username=username, role=role, password_hash=password_hash, failed_logins=0, created_at=utc_now()
                )
            )
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot add user {username!r}: {error.__class__.__name__}") from error


def get_user(engine: Engine, username: str) -> Account | None:
    """The account called ``username``, or None."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.username == username)).mappings().first()
    return None if row is None else Account(**dict(row))


def list_users(engine: Engine) -> list[Account]:
    """Every account, by name."""
    with engine.connect() as connection:
        rows = connection.execute(sa.select(users).order_by(users.c.username)).mappings().all()
    return [Account(**dict(row)) for row in rows]


def update_user(engine: Engine, username: str, **values: Any) -> None:
    """Change an account's ``role``, ``password_hash``, ``disabled_at``, ``totp_secret`` or ``areas``."""
    allowed = {"role", "password_hash", "disabled_at", "totp_secret", "areas"}
    unknown = set(values) - allowed
    if unknown:
        raise StoreError(f"cannot change {', '.join(sorted(unknown))} of an account")
    if "role" in values and values["role"] not in USER_ROLES:
        raise StoreError(f"role {values['role']!r} is not one of {', '.join(USER_ROLES)}")
    with engine.begin() as connection:
        connection.execute(users.update().where(users.c.username == username).values(**values))


# ------------------------------------------------------------------------------ audit


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit log page; blank means any."""

    username: str = ""
    action: str = ""
    object_id: str = ""
    client_address: str = ""
    session_id: str = ""
    page: int = 1
    page_size: int = 100


MAX_AUDIT_PAGE = 1_000_000
"""Pages beyond this are never asked of the database (an offset that large overflows SQLite's integers)."""


def write_audit(
    engine: Engine,
    username: str,
    role: str | None,
    action: str,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    client_address: str | None = None,
    session_id: str | None = None,
) -> None:
    """Append an audit row (no personal data in ``detail`` but the search terms an investigator needs)."""
    values: dict[str, Any] = {
        "at": utc_now(),
        "username": username[:64],
        "role": role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "detail_json": detail,
    }
    if client_address:
        values["client_address"] = client_address[:64]
    if session_id:
        values["session_id"] = session_id
    with engine.begin() as connection:
        connection.execute(audit_log.insert().values(**values))


def _audit_filtered(query: AuditQuery) -> sa.Select[Any]:
    statement = sa.select(audit_log)
    if query.username:
        statement = statement.where(audit_log.c.username == query.username)
    if query.action:
        statement = statement.where(audit_log.c.action == query.action)
    if query.object_id:
        statement = statement.where(audit_log.c.object_id == query.object_id)
    if query.client_address:
        statement = statement.where(audit_log.c.client_address == query.client_address)
    if query.session_id:
        statement = statement.where(audit_log.c.session_id == query.session_id)
    return statement


def read_audit(engine: Engine, query: AuditQuery) -> tuple[list[dict[str, Any]], int]:
    """Audit rows matching ``query``, newest first, and how many match in all.

    A page past the last (or below the first) is clamped to the last (first), so any
    ``page`` a browser sends gives a page, never an error.
    """
    statement = _audit_filtered(query)
    counted = sa.select(sa.func.count()).select_from(statement.subquery())
    with engine.connect() as connection:
        total = connection.execute(counted).scalar_one()
        pages = max(1, -(-total // query.page_size))
        page_number = min(max(1, query.page), pages, MAX_AUDIT_PAGE)
        page = (
            statement.order_by(audit_log.c.id.desc()).limit(query.page_size).offset((page_number - 1) * query.page_size)
        )
        rows = [dict(row) for row in connection.execute(page).mappings().all()]
    return rows, total


FAMILY_ACCESS_ACTIONS: tuple[str, ...] = (
    "family.view",
    "family.print",
    "family.out_of_area",
    "pair.view",
    "decision",
    "link.cannot_link",
    "link.must_link",
    "family.opt_out_override",
)
"""Audit actions about one family, for "who saw this family"."""


def family_access(engine: Engine, household_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Who saw, printed, decided on or exported a family: its audit rows and the exports listing it, newest first."""
    with engine.connect() as connection:
        rows = [
            dict(row)
            for row in connection.execute(
                sa.select(audit_log)
                .where(audit_log.c.object_type == "household", audit_log.c.object_id == household_id)
                .order_by(audit_log.c.id.desc())
                .limit(limit)
            ).mappings()
        ]
        exports = connection.execute(
            sa.select(audit_log).where(audit_log.c.action.startswith("export.")).order_by(audit_log.c.id.desc())
        ).mappings()
        for row in exports:
            detail = row["detail_json"] or {}
            if household_id in (detail.get("household_ids") or ()):
                rows.append(dict(row))
    rows.sort(key=lambda row: row["id"], reverse=True)
    return rows[:limit]


def audit_actions(engine: Engine) -> list[str]:
    """The actions present in the audit log, for the filter."""
    with engine.connect() as connection:
        return list(connection.execute(sa.select(audit_log.c.action).distinct().order_by(audit_log.c.action)).scalars())


OPT_OUT_OVERRIDE = "family.opt_out_override"
"""The audit action that lifts an opted-out family's suppression (see :func:`opt_out_override`)."""


def opt_out_override(engine: Engine, household_id: str) -> dict[str, Any] | None:
    """The audited override (an :data:`OPT_OUT_OVERRIDE` audit row) written since the family's latest decision, or None.

    An opted-out family is shown in full, and can be decided on, only after one.
    """
    with engine.connect() as connection:
        latest = _latest_decision(connection, household_id)
        statement = sa.select(audit_log).where(
            audit_log.c.action == OPT_OUT_OVERRIDE,
            audit_log.c.object_type == "household",
            audit_log.c.object_id == household_id,
        )
        if latest is not None:
            statement = statement.where(audit_log.c.at >= latest["created_at"])
        row = connection.execute(statement.order_by(audit_log.c.id.desc()).limit(1)).mappings().first()
    return None if row is None else dict(row)


# -------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class DecisionInput:
    """A coordinator's decision about a household, as submitted."""

    household_id: str
    run_id: str
    decision: str
    username: str
    reason: str | None = None
    lead_agency: str | None = None
    worker: str | None = None
    note: str | None = None
    closure_reason: str | None = None
    """Why an attached family was closed (one of :data:`CLOSURE_REASONS`); ``closed`` only."""
    seen_decision_id: int | None = None
    """The id of the latest decision the coordinator saw when deciding (0: none yet).

    When given, the decision is refused if another was recorded since, so two coordinators
    deciding about one family at the same moment cannot silently overwrite each other.
    None skips the check (scripts and tests)."""


def decision_refusal(current: str | None, decision: DecisionInput) -> str | None:
    """Why ``decision`` cannot be recorded for a family whose latest decision is ``current``, or None.

    ``current`` is None (or ``new``) for a family without a decision. Accepting (attaching) a
    family needs its lead agency, whoever records it (the app, a script). A family can be closed
    only while attached (``accept``), with a closure reason (and details when the reason is
    ``other``); it can opt out while new, deferred or attached.
    """
    status = current or STATUS_NEW
    if decision.decision not in DECISIONS:
        return f"decision {decision.decision!r} is not one of {', '.join(DECISIONS)}"
    if decision.decision == CLOSED:
        if status not in CLOSABLE_FROM:
            return f"only a family attached to the programme can be closed; this family's status is {status}"
        if decision.closure_reason not in CLOSURE_REASONS:
            return f"closure reason {decision.closure_reason!r} is not one of {', '.join(CLOSURE_REASONS)}"
        if decision.closure_reason == "other" and not decision.reason:
            return "a closure for another reason needs the reason written down"
    elif decision.closure_reason is not None:
        return "a closure reason is only recorded when a family is closed"
    if decision.decision == ACCEPT and not (decision.lead_agency or "").strip():
        return "an accepted family needs its lead agency"
    if decision.decision == OPTED_OUT and status not in OPT_OUT_FROM:
        return f"a family can opt out only while new, deferred or attached; this family's status is {status}"
    return None


def current_status(engine: Engine, household_id: str) -> str:
    """A household's status now: its latest decision from any run, or ``new``."""
    with engine.connect() as connection:
        return _current_status(connection, household_id)


def _current_status(connection: sa.Connection, household_id: str) -> str:
    latest = _latest_decision(connection, household_id)
    return str(latest["decision"]) if latest is not None else STATUS_NEW


def _latest_decision(connection: sa.Connection, household_id: str) -> sa.RowMapping | None:
    return (
        connection.execute(
            sa.select(decisions.c.id, decisions.c.decision, decisions.c.username, decisions.c.created_at)
            .where(decisions.c.household_id == household_id)
            .order_by(decisions.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )


def latest_decision_id(engine: Engine, household_id: str) -> int:
    """The id of a household's latest decision, or 0 when it has none (the family page's ``seen`` value)."""
    with engine.connect() as connection:
        latest = _latest_decision(connection, household_id)
    return int(latest["id"]) if latest is not None else 0


def add_decision(engine: Engine, decision: DecisionInput) -> None:
    """Store a decision (who and when are recorded); the latest one about a household counts.

    The family's latest decision is read and the new one written under a lock on the
    family (:func:`lock_decisions`). Raises :class:`DecisionRefused` when the decision
    cannot follow the household's latest decision (see :func:`decision_refusal`), e.g.
    closing a family that is not attached, or when another decision was recorded since
    the one the coordinator saw (``seen_decision_id``). A decision made on an older run
    also follows the family into the households it merged or split into in later
    published runs (:func:`~tfident.store.carry.carry_forward`).
    """
    with (
        engine.connect().execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"}) as connection,
        connection.begin(),
    ):
        later = later_lineage(connection, decision.household_id, decision.run_id)
        lock_decisions(connection, [decision.household_id, *(x for _, parents in later for x in parents)])
        latest = _latest_decision(connection, decision.household_id)
        if decision.seen_decision_id is not None and (latest["id"] if latest else 0) != decision.seen_decision_id:
            if latest is None:  # pragma: no cover - decisions are never deleted while the app runs
                raise DecisionRefused("the decision this page showed has since been removed; reload the page")
            raise DecisionRefused(
                f"{latest['username']} recorded another decision about this family "
                f"({latest['decision']}, {latest['created_at']:%d %b %Y %H:%M}) after this page was loaded; "
                "check the decision history and decide again"
            )
        refusal = decision_refusal(str(latest["decision"]) if latest else None, decision)
        if refusal is not None:
            raise DecisionRefused(refusal)
        inserted = connection.execute(
            decisions.insert().values(
                household_id=decision.household_id,
                run_id=decision.run_id,
                decision=decision.decision,
                reason=decision.reason,
                lead_agency=decision.lead_agency,
                worker=decision.worker,
                note=decision.note,
                closure_reason=decision.closure_reason,
                username=decision.username,
                created_at=utc_now(),
            )
        )
        if decision.decision == ACCEPT and decision.run_id is not None:
            freeze_attachment(
                connection,
                household_id=decision.household_id,
                run_id=decision.run_id,
                decision_id=int(inserted.inserted_primary_key[0]),  # type: ignore[index]
                username=decision.username,
                lead_agency=decision.lead_agency,
                worker=decision.worker,
            )
        elif decision.decision == CLOSED:
            close_attachment(
                connection, household_id=decision.household_id, run_id=decision.run_id, reason=decision.closure_reason
            )
        carry_forward(connection, later, user=decision.username)


def _latest_decision_ids() -> sa.Subquery:
    return (
        sa.select(decisions.c.household_id, sa.func.max(decisions.c.id).label("id"))
        .group_by(decisions.c.household_id)
        .subquery("latest_ids")
    )


def _latest_decisions() -> sa.Subquery:
    latest = _latest_decision_ids()
    return sa.select(decisions).join(latest, sa.and_(latest.c.id == decisions.c.id)).subquery("latest_decisions")


def latest_decisions(engine: Engine, household_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The latest decision about each of ``household_ids`` that has one, from any run."""
    if not household_ids:
        return {}
    latest = _latest_decisions()
    statement = sa.select(latest).where(latest.c.household_id.in_(list(household_ids)))
    with engine.connect() as connection:
        return {row["household_id"]: dict(row) for row in connection.execute(statement).mappings()}


def decision_history(engine: Engine, household_id: str) -> list[dict[str, Any]]:
    """Every decision about a household, newest first."""
    statement = sa.select(decisions).where(decisions.c.household_id == household_id).order_by(decisions.c.id.desc())
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(statement).mappings()]


# ----------------------------------------------------------------------- link rulings


def add_link_constraint(
    engine: Engine, record_key_l: str, record_key_r: str, kind: str, username: str, reason: str | None = None
) -> None:
    """Record that two records are (``must_link``) or are not (``cannot_link``) one person; the next run respects it."""
    if kind not in LINK_CONSTRAINT_KINDS:
        raise StoreError(f"link ruling {kind!r} is not one of {', '.join(LINK_CONSTRAINT_KINDS)}")
    left, right = sorted((record_key_l, record_key_r))
    with engine.begin() as connection:
        connection.execute(
            link_constraints.insert().values(
                record_key_l=left, record_key_r=right, kind=kind, username=username, reason=reason, created_at=utc_now()
            )
        )


def read_link_constraints(engine: Engine, record_keys: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest ruling on each pair touching ``record_keys``, keyed by the sorted pair."""
    keys = list(record_keys)
    if not keys:
        return {}
    statement = (
        sa.select(link_constraints)
        .where(sa.or_(link_constraints.c.record_key_l.in_(keys), link_constraints.c.record_key_r.in_(keys)))
        .order_by(link_constraints.c.id)
    )
    rulings: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as connection:
        for row in connection.execute(statement).mappings():
            pair = tuple(sorted((row["record_key_l"], row["record_key_r"])))
            rulings[(pair[0], pair[1])] = dict(row)
    return rulings


def link_constraint_history(engine: Engine, record_key_a: str, record_key_b: str) -> list[dict[str, Any]]:
    """Every ruling on one pair of records, newest first (the first one counts)."""
    left, right = sorted((record_key_a, record_key_b))
    statement = (
        sa.select(link_constraints)
        .where(link_constraints.c.record_key_l == left, link_constraints.c.record_key_r == right)
        .order_by(link_constraints.c.id.desc())
    )
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(statement).mappings()]


# --------------------------------------------------------------------- candidate list


@dataclass(frozen=True)
class CandidateQuery:
    """Filters, sort and page of the candidate list; values are checked against allowed sets by the caller."""

    criterion: str = ""
    status: str = ""
    """Blank for every family, :data:`STATUS_OPEN` for all but the settled ones, or one of :data:`STATUSES`."""
    area: str = ""
    search: str = ""
    sort: str = "rank"
    descending: bool = False
    page: int = 1
    page_size: int = 50
    household_ids: tuple[str, ...] | None = None
    area_scope: AreaScope | None = None
    """Only families whose postcode is in these areas (None: the whole council)."""


@dataclass(frozen=True)
class AreaScope:
    """The postcodes of a user's areas, as the database sees them: postcodes in one of ``sectors``
    (``LS9 7``) or ``districts`` (``LS8``), but not in ``excluded`` sectors (of other areas, inside
    those districts). Built by :meth:`tfident.review.areas.AreaMap.scope`.
    """

    sectors: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


@dataclass
class CandidatePage:
    """One page of the candidate list."""

    rows: list[dict[str, Any]]
    total: int
    criteria: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)


def postcode_area(postcode: str | None) -> str:
    """The outward code (postcode district) of a postcode, the list's "area"."""
    return (postcode or "").strip().upper().split(" ")[0]


def _candidate_statement(run_id: str, query: CandidateQuery) -> tuple[sa.Select[Any], sa.FromClause]:
    # Each candidate's latest decision, found through the decisions' household index: a
    # join to a grouped subquery would make SQLite compare every candidate with every
    # decision when the list is sorted by anything but rank.
    latest = decisions.alias("latest_decision")
    newer = decisions.alias("newest_decision")
    latest_id = (
        sa.select(sa.func.max(newer.c.id))
        .where(newer.c.household_id == candidates.c.household_id)
        .correlate(candidates)
        .scalar_subquery()
    )
    statement = (
        sa.select(
            candidates.c.rank,
            candidates.c.household_id,
            candidates.c.score,
            candidates.c.criteria_met,
            candidates.c.eligibility,
            candidates.c.n_members,
            candidates.c.address,
            candidates.c.postcode,
            candidates.c.estimated_annual_cost,
            candidates.c.min_link_probability,
            latest.c.decision,
            latest.c.run_id.label("decision_run_id"),
            latest.c.created_at.label("decided_at"),
            latest.c.username.label("decided_by"),
            latest.c.lead_agency,
            latest.c.worker,
            latest.c.reason,
            latest.c.closure_reason,
            latest.c.note,
        )
        .select_from(candidates)
        .outerjoin(latest, latest.c.id == latest_id)
        .where(candidates.c.run_id == run_id)
    )
    if query.criterion:
        padded = sa.literal(";") + candidates.c.criteria_met + sa.literal(";")
        statement = statement.where(padded.contains(f";{query.criterion};", autoescape=True))
    if query.status == STATUS_NEW:
        statement = statement.where(latest.c.decision.is_(None))
    elif query.status == STATUS_OPEN:
        # Attached, closed and opted-out families never come back as candidates to consider,
        # whichever month's run the decision was made on (decisions follow the stable id).
        # The settled households are found once (a hashed NOT IN), not per candidate through
        # the correlated latest decision: that would stop PostgreSQL dropping the join from
        # the count, ~30 ms at 5,000 candidates.
        newest = decisions.alias("newest_per_household")
        latest_ids = sa.select(sa.func.max(newest.c.id)).group_by(newest.c.household_id)
        settled = sa.select(decisions.c.household_id).where(
            decisions.c.id.in_(latest_ids), decisions.c.decision.in_(list(SETTLED_DECISIONS))
        )
        statement = statement.where(candidates.c.household_id.not_in(settled))
    elif query.status:
        statement = statement.where(latest.c.decision == query.status)
    if query.area:
        statement = statement.where(
            sa.or_(
                candidates.c.postcode == query.area, candidates.c.postcode.startswith(f"{query.area} ", autoescape=True)
            )
        )
    if query.search:
        needle = query.search.strip().lower()
        compact = needle.replace(" ", "")
        # Correlated on the candidate, so the (run_id, household_id, forename, surname)
        # index finds a family's few records and their names without reading the table.
        # It is a LIMIT 1 scalar subquery rather than EXISTS: PostgreSQL turns an EXISTS
        # under OR into a hashed scan of every record in the table (~0.3 s at 660,000
        # records); a LIMITed subquery it must run per candidate, through the index.
        # "forename surname" contains any part of either name, so one LIKE serves all three.
        full_name = (
            sa.func.coalesce(source_records.c.forename, "") + " " + sa.func.coalesce(source_records.c.surname, "")
        )
        first_match = (
            sa.select(sa.literal(1))
            .where(
                source_records.c.run_id == candidates.c.run_id,
                source_records.c.household_id == candidates.c.household_id,
                sa.func.lower(full_name).contains(needle, autoescape=True),
            )
            .limit(1)
            .correlate(candidates)
            .scalar_subquery()
        )
        by_name = first_match.is_not(None)
        statement = statement.where(
            sa.or_(  # cheapest first: SQLite stops at the first true term
                candidates.c.household_id == query.search.strip(),
                sa.func.lower(sa.func.replace(candidates.c.postcode, " ", "")).contains(compact, autoescape=True),
                by_name,
            )
        )
    if query.household_ids is not None:
        statement = statement.where(candidates.c.household_id.in_(list(query.household_ids)))
    if query.area_scope is not None:
        statement = statement.where(_within(query.area_scope))
    return statement, latest


def _within(scope: AreaScope) -> sa.ColumnElement[bool]:
    """Whether a candidate's postcode is in the scope's areas (a household without a postcode is in none)."""
    postcode = sa.func.upper(sa.func.coalesce(candidates.c.postcode, ""))
    inside = [postcode.startswith(f"{sector}", autoescape=True) for sector in scope.sectors]
    for district in scope.districts:
        inside += [postcode == district, postcode.startswith(f"{district} ", autoescape=True)]
    if not inside:
        return sa.false()
    condition = sa.or_(*inside)
    if scope.excluded:
        condition = sa.and_(condition, *[sa.not_(postcode.startswith(s, autoescape=True)) for s in scope.excluded])
    return condition


def query_candidates(engine: Engine, run_id: str, query: CandidateQuery) -> CandidatePage:
    """One page of a run's candidates with their latest decisions, filtered, searched and sorted."""
    statement, _ = _candidate_statement(run_id, query)
    column_name, _default_desc = SORTS.get(query.sort, SORTS["rank"])
    column = statement.selected_columns[column_name]
    order = column.desc() if query.descending else column.asc()
    counted = sa.select(sa.func.count()).select_from(statement.subquery())
    # A search looks into every candidate's records, so its total comes with the page (a
    # window count) and the search runs once; without one, a separate count is cheaper,
    # as the page itself then stops after page_size rows of an index.
    windowed = bool(query.search)
    if windowed:
        statement = statement.add_columns(sa.func.count().over().label("total_rows"))
    ordered = statement.order_by(order.nulls_last(), candidates.c.rank)
    if query.page_size > 0:
        ordered = ordered.limit(query.page_size).offset((max(query.page, 1) - 1) * query.page_size)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(ordered).mappings()]
        total = int(rows[0]["total_rows"]) if windowed and rows else connection.execute(counted).scalar_one()
        for row in rows:
            row.pop("total_rows", None)
        surnames = _surnames(connection, run_id, [row["household_id"] for row in rows])
        combinations = connection.execute(
            sa.select(candidates.c.criteria_met).where(candidates.c.run_id == run_id).distinct()
        ).scalars()
        postcodes = connection.execute(
            sa.select(candidates.c.postcode).where(candidates.c.run_id == run_id).distinct()
        ).scalars()
        criteria = sorted({c for met in combinations for c in (met or "").split(";") if c})
        areas = sorted({postcode_area(postcode) for postcode in postcodes if postcode})
    for row in rows:
        row["surnames"] = surnames.get(row["household_id"], [])
        row["criteria"] = [c for c in (row["criteria_met"] or "").split(";") if c]
        row["status"] = row["decision"] or STATUS_NEW
        row["carried_over"] = row["decision"] is not None and row["decision_run_id"] != run_id
    return CandidatePage(rows=rows, total=total, criteria=criteria, areas=areas)


def _surnames(connection: sa.Connection, run_id: str, household_ids: list[str]) -> dict[str, list[str]]:
    if not household_ids:
        return {}
    statement = sa.select(source_records.c.household_id, source_records.c.surname).where(
        source_records.c.run_id == run_id,
        source_records.c.household_id.in_(household_ids),
        source_records.c.surname.is_not(None),
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for household_id, surname in connection.execute(statement).all():
        counts[household_id][surname] += 1
    return {household_id: [name for name, _ in counter.most_common(3)] for household_id, counter in counts.items()}


def household_members(engine: Engine, run_id: str, household_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each household's members in a run, oldest first: ``name`` (the most common forename and surname
    of their records), ``role`` and ``date_of_birth`` (for the panel export).
    """
    if not household_ids:
        return {}
    ids = list(dict.fromkeys(household_ids))
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    names: dict[str, tuple[Counter[str], Counter[str]]] = defaultdict(lambda: (Counter(), Counter()))
    with engine.connect() as connection:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in connection.execute(
                sa.select(persons.c.person_id, persons.c.household_id, persons.c.role, persons.c.date_of_birth)
                .where(persons.c.run_id == run_id, persons.c.household_id.in_(chunk))
                .order_by(persons.c.date_of_birth.asc().nulls_last(), persons.c.person_id)
            ).mappings():
                members[row["household_id"]].append(dict(row))
            for person_id, forename, surname in connection.execute(
                sa.select(source_records.c.person_id, source_records.c.forename, source_records.c.surname).where(
                    source_records.c.run_id == run_id, source_records.c.household_id.in_(chunk)
                )
            ).all():
                if forename:
                    names[person_id][0][forename] += 1
                if surname:
                    names[person_id][1][surname] += 1
    for household in members.values():
        for member in household:
            forenames, surnames = names.get(member["person_id"], (Counter(), Counter()))
            parts = [c.most_common(1)[0][0] for c in (forenames, surnames) if c]
            member["name"] = " ".join(parts) or member["person_id"]
    return dict(members)


# ------------------------------------------------------------------------ family page


@dataclass
class Family:
    """Everything the family page shows about one candidate household of one run."""

    run_id: str
    as_of: date
    candidate: dict[str, Any]
    household: dict[str, Any] | None
    members: list[dict[str, Any]]
    links: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    addresses: list[dict[str, Any]]


def readable_run(engine: Engine, run_id: str) -> dict[str, Any] | None:
    """The run row when the run is complete (published or superseded), else None."""
    with engine.connect() as connection:
        row = (
            connection.execute(sa.select(runs).where(runs.c.run_id == run_id, runs.c.status.in_(READABLE_STATUSES)))
            .mappings()
            .first()
        )
    return None if row is None else dict(row)


def read_family(engine: Engine, run_id: str, household_id: str) -> Family | None:
    """The family page's data, or None when the household is not a candidate of that readable run."""
    run = readable_run(engine, run_id)
    if run is None:
        return None
    with engine.connect() as connection:
        candidate = (
            connection.execute(
                sa.select(candidates).where(candidates.c.run_id == run_id, candidates.c.household_id == household_id)
            )
            .mappings()
            .first()
        )
        if candidate is None:
            return None
        household = (
            connection.execute(
                sa.select(households).where(households.c.run_id == run_id, households.c.household_id == household_id)
            )
            .mappings()
            .first()
        )
        member_rows = connection.execute(
            sa.select(persons)
            .where(persons.c.run_id == run_id, persons.c.household_id == household_id)
            .order_by(persons.c.date_of_birth.asc().nulls_last(), persons.c.person_id)
        ).mappings()
        members = [dict(row) for row in member_rows]
        person_ids = [member["person_id"] for member in members]
        # One query per index rather than an OR, which SQLite would answer by scanning the run.
        found: dict[str, dict[str, Any]] = {}
        for condition in (source_records.c.household_id == household_id, source_records.c.person_id.in_(person_ids)):
            for row in connection.execute(
                sa.select(source_records).where(source_records.c.run_id == run_id, condition)
            ).mappings():
                found[row["record_key"]] = dict(row)
        records = sorted(found.values(), key=lambda record: (record["source"], record["record_id"]))
        keys = [record["record_key"] for record in records]
        found_links: dict[tuple[str, str], dict[str, Any]] = {}
        for column in (links.c.record_key_l, links.c.record_key_r):
            for row in connection.execute(
                sa.select(links).where(links.c.run_id == run_id, column.in_(keys))
            ).mappings():
                found_links[(row["record_key_l"], row["record_key_r"])] = dict(row)
        link_list = sorted(
            found_links.values(),
            key=lambda link: (link["match_probability"], link["record_key_l"], link["record_key_r"]),
        )
        evidence_rows = connection.execute(
            sa.select(evidence)
            .where(evidence.c.run_id == run_id, evidence.c.household_id == household_id)
            .order_by(evidence.c.criterion, evidence.c.event_date, evidence.c.source, evidence.c.record_id)
        ).mappings()
        evidence_list = [dict(row) for row in evidence_rows]
    by_key = {record["record_key"]: record for record in records}
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_person[record["person_id"]].append(record)
    known = {member["person_id"] for member in members}
    for record in records:
        if record["person_id"] not in known:
            members.append(
                {"person_id": record["person_id"], "household_id": household_id, "date_of_birth": None, "role": None}
            )
            known.add(record["person_id"])
    for member in members:
        member_records = by_person.get(member["person_id"], [])
        member["records"] = member_records
        member["forename"] = _most_common(r["forename"] for r in member_records)
        member["surname"] = _most_common(r["surname"] for r in member_records)
        if member["date_of_birth"] is None:
            member["date_of_birth"] = _most_common(r["date_of_birth"] for r in member_records)
        member["age"] = age_on(member["date_of_birth"], run["as_of"])
    names = {m["person_id"]: f"{m['forename'] or ''} {m['surname'] or ''}".strip() for m in members}
    for link in link_list:
        left, right = by_key.get(link["record_key_l"]), by_key.get(link["record_key_r"])
        link["left"] = left
        link["right"] = right
        link["same_person"] = left is not None and right is not None and left["person_id"] == right["person_id"]
        link["person_name"] = names.get((left or right or {}).get("person_id", ""), "")
    addresses: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in records:
        key = (record["address"], record["postcode"])
        entry = addresses.setdefault(
            key, {"address": record["address"], "postcode": record["postcode"], "sources": set(), "latest": None}
        )
        entry["sources"].add(record["source"])
        if record["evidence_date"] and (entry["latest"] is None or record["evidence_date"] > entry["latest"]):
            entry["latest"] = record["evidence_date"]
    address_list = sorted(addresses.values(), key=lambda a: a["latest"] or date.min, reverse=True)
    for entry in address_list:
        entry["sources"] = sorted(entry["sources"])
    return Family(
        run_id=run_id,
        as_of=run["as_of"],
        candidate=dict(candidate),
        household=None if household is None else dict(household),
        members=members,
        links=link_list,
        evidence=evidence_list,
        addresses=address_list,
    )


def _most_common(values: Iterable[Any]) -> Any:
    counts = Counter(v for v in values if v is not None)
    return counts.most_common(1)[0][0] if counts else None


def household_record_keys(engine: Engine, run_id: str, household_id: str) -> set[str]:
    """The record keys of a household's members in a run (to check a link ruling is about this family)."""
    member_ids = sa.select(persons.c.person_id).where(
        persons.c.run_id == run_id, persons.c.household_id == household_id
    )
    keys: set[str] = set()
    with engine.connect() as connection:
        for condition in (source_records.c.household_id == household_id, source_records.c.person_id.in_(member_ids)):
            statement = sa.select(source_records.c.record_key).where(source_records.c.run_id == run_id, condition)
            keys.update(connection.execute(statement).scalars())
    return keys


def candidate_postcode(engine: Engine, run_id: str, household_id: str) -> tuple[bool, str | None]:
    """Whether a household is a candidate of a run, and its postcode (for area scoping)."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(candidates.c.postcode).where(
                candidates.c.run_id == run_id, candidates.c.household_id == household_id
            )
        ).first()
    return (row is not None, row[0] if row is not None else None)


def candidate_in_run(engine: Engine, run_id: str, household_id: str) -> bool:
    """Whether a household is a candidate of a run."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(candidates.c.rank).where(candidates.c.run_id == run_id, candidates.c.household_id == household_id)
        ).first()
    return row is not None


@dataclass
class RecordPair:
    """A stored link of a run between two records, with both records and the candidate families they touch."""

    run_id: str
    link: dict[str, Any]
    left: dict[str, Any]
    right: dict[str, Any]
    households: list[str]
    """Candidate households of the run that either record belongs to (by record or by person)."""


def read_pair(engine: Engine, run_id: str, record_key_a: str, record_key_b: str) -> RecordPair | None:
    """A link of a readable run between two records, in the order asked, or None.

    None also when neither record belongs to a candidate family of the run: the review app
    shows people only as members of a family on the list.
    """
    if record_key_a == record_key_b or readable_run(engine, run_id) is None:
        return None
    keys = [record_key_a, record_key_b]
    with engine.connect() as connection:
        link = (
            connection.execute(
                sa.select(links).where(
                    links.c.run_id == run_id,
                    sa.or_(
                        sa.and_(links.c.record_key_l == record_key_a, links.c.record_key_r == record_key_b),
                        sa.and_(links.c.record_key_l == record_key_b, links.c.record_key_r == record_key_a),
                    ),
                )
            )
            .mappings()
            .first()
        )
        if link is None:
            return None
        records = {
            row["record_key"]: dict(row)
            for row in connection.execute(
                sa.select(source_records).where(
                    source_records.c.run_id == run_id, source_records.c.record_key.in_(keys)
                )
            ).mappings()
        }
        if len(records) != 2:
            return None
        person_households = sa.select(persons.c.household_id).where(
            persons.c.run_id == run_id, persons.c.person_id.in_([r["person_id"] for r in records.values()])
        )
        record_households = [r["household_id"] for r in records.values() if r["household_id"] is not None]
        households = list(
            connection.execute(
                sa.select(candidates.c.household_id)
                .where(
                    candidates.c.run_id == run_id,
                    sa.or_(
                        candidates.c.household_id.in_(record_households),
                        candidates.c.household_id.in_(person_households),
                    ),
                )
                .order_by(candidates.c.rank)
            ).scalars()
        )
    if not households:
        return None
    return RecordPair(
        run_id=run_id,
        link=dict(link),
        left=records[record_key_a],
        right=records[record_key_b],
        households=households,
    )


# -------------------------------------------------------------------------- run stats


def link_probabilities(engine: Engine, run_id: str) -> list[float]:
    """Every stored link probability of a run."""
    with engine.connect() as connection:
        return list(connection.execute(sa.select(links.c.match_probability).where(links.c.run_id == run_id)).scalars())


def link_rates(engine: Engine, run_id: str) -> dict[str, tuple[int, int]]:
    """Per source: records, and records whose person has a record from another source too."""
    sources_per_person = (
        sa.select(source_records.c.person_id, sa.func.count(sa.distinct(source_records.c.source)).label("n_sources"))
        .where(source_records.c.run_id == run_id)
        .group_by(source_records.c.person_id)
        .subquery("sources_per_person")
    )
    statement = (
        sa.select(
            source_records.c.source,
            sa.func.count(),
            sa.func.sum(sa.case((sources_per_person.c.n_sources > 1, 1), else_=0)),
        )
        .join(sources_per_person, sources_per_person.c.person_id == source_records.c.person_id)
        .where(source_records.c.run_id == run_id)
        .group_by(source_records.c.source)
        .order_by(source_records.c.source)
    )
    with engine.connect() as connection:
        return {source: (int(n), int(linked or 0)) for source, n, linked in connection.execute(statement).all()}


def previous_run_id(engine: Engine, run_id: str) -> str | None:
    """The latest readable run of an earlier batch date than ``run_id``'s, for month-on-month comparison."""
    run = readable_run(engine, run_id)
    if run is None:
        return None
    statement = (
        sa.select(runs.c.run_id)
        .where(runs.c.status.in_(READABLE_STATUSES), runs.c.as_of < run["as_of"])
        .order_by(runs.c.as_of.desc(), runs.c.version.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(statement).scalar()
