"""The tfident database: SQLAlchemy 2 tables, portable across SQLite and PostgreSQL.

Two kinds of table:

* **run tables**, written once per run by :func:`tfident.store.write_run` and keyed by
  ``run_id``: ``runs``, ``input_files``, ``quality``, ``quarantine``, ``source_records``,
  ``persons``, ``links``, ``households``, ``candidates``, ``criteria_evidence``,
  ``identity_events`` (what merged, split or moved since the previous run). Rows of a
  run are deleted with it (``ON DELETE CASCADE``).
* **working tables**, written by people through the review app and kept across runs:
  ``decisions`` (keyed by the stable ``household_id``), ``link_constraints`` (keyed by
  record keys), ``users`` and ``audit_log``; and ``run_locks``, who is running a month.

The user who did something is in a column named ``username`` rather than ``user``:
``user`` is a reserved word in PostgreSQL, where unquoted it silently means
``current_user`` in hand-written SQL.

Dates are ``Date``; times are timezone-aware UTC (:class:`UTCDateTime`); UPRNs are
``BigInteger`` (up to 12 digits); JSON documents use the portable ``JSON`` type, except
``runs.config_json`` which keeps the exact canonical text whose SHA-256 is ``config_hash``.
The Alembic revisions (0001 creates the tables, 0003 adds ``run_locks`` and the
``purged`` status, 0004 ``identity_events``, 0005 the ``closed`` and ``opted_out``
decisions and ``decisions.closure_reason``, 0006 the name search index, 0007
``decisions.carried_from``, 0008 ``households.address_status`` and ``review_reason``, 0009
the review app's server-side ``sessions``, ``users.disabled_at``, ``totp_secret`` and
``areas``, and ``audit_log.client_address`` and ``session_id``; 0010 attachments, outcome
observations and claims) produce exactly these tables; change them only with a new revision.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from tfident.identity import IDENTITY_EVENT_KINDS

RUN_STATUSES: tuple[str, ...] = ("running", "published", "failed", "superseded", "purged")
"""A run is ``running`` while written, ``published`` once readable, ``superseded`` when a
later run of the same month and rule pack (``ruleset_id``) is published, ``failed`` when writing it failed, ``purged``
when ``tfident retention apply`` deleted its personal data (its ``runs`` row is kept)."""

READABLE_STATUSES: tuple[str, ...] = ("published", "superseded")
"""Statuses whose data readers may see: both are complete, committed runs."""

ACCEPT = "accept"
REJECT = "reject"
DEFER = "defer"
KNOWN = "known"
CLOSED = "closed"
OPTED_OUT = "opted_out"
DECISIONS: tuple[str, ...] = (ACCEPT, REJECT, DEFER, KNOWN, CLOSED, OPTED_OUT)
"""``decisions.decision`` values, the one definition of them: ``accept`` (attach to the programme, with lead agency and
worker), ``reject`` (with a reason), ``defer``, ``known`` (already known to social care or
early help), ``closed`` (an attached family whose work has ended, with a closure reason)
and ``opted_out`` (the family declined consent to work with the programme)."""

SETTLED_DECISIONS: tuple[str, ...] = (ACCEPT, CLOSED, OPTED_OUT)
"""Decisions that take a family off the list of new candidates for good: attached, closed
or opted out (see :mod:`tfident.store.review`)."""

STATUS_NEW = "new"
STATUSES: tuple[str, ...] = (STATUS_NEW, *DECISIONS)
"""A candidate's review status: ``new`` (no decision yet) or its latest decision."""

CLOSURE_REASONS: tuple[str, ...] = ("outcomes_achieved", "moved_away", "stepped_down", "other")
"""``decisions.closure_reason`` values, set on ``closed`` decisions only."""
LINK_CONSTRAINT_KINDS: tuple[str, ...] = ("cannot_link", "must_link")
USER_ROLES: tuple[str, ...] = ("coordinator", "analyst", "auditor", "admin")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Named constraints, so later migrations (and SQLite batch mode) can refer to them."""

RUN_ID = sa.String(40)
KEY = sa.String()
"""Record keys (``source:record_id``), record, person and household ids: no length limit."""

SurrogateId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""An auto-incrementing id: BIGINT identity on PostgreSQL, the rowid on SQLite."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """It stores naive values as UTC and aware values converted to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """It returns aware UTC values."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.run_id", ondelete="CASCADE")


class Base(DeclarativeBase):
    """Declarative base of every tfident table."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        str: sa.String(),
        int: sa.Integer(),
        float: sa.Double(),
        date: sa.Date(),
        datetime: UTCDateTime(),
        dict[str, Any]: sa.JSON(),
    }


# --------------------------------------------------------------------------- run tables


class Run(Base):
    """One monthly identification run: what went in, how it was configured, what came out."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        sa.Index(None, "month", "version"),
        sa.Index(None, "status", "as_of"),
    )

    run_id: Mapped[str] = mapped_column(RUN_ID, primary_key=True)
    created_at: Mapped[datetime]
    as_of: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(16))
    ruleset_id: Mapped[str] = mapped_column(sa.String(64))
    ruleset_version: Mapped[str] = mapped_column(sa.String(64))
    linkage_model_version: Mapped[str] = mapped_column(sa.String(64))
    config_json: Mapped[str] = mapped_column(sa.Text())
    config_hash: Mapped[str] = mapped_column(sa.String(64))
    code_version: Mapped[str] = mapped_column(sa.String(64))
    month: Mapped[str] = mapped_column(sa.String(7))
    """``YYYY-MM`` of ``as_of``."""
    version: Mapped[int]
    """The nth run stored for ``month``, from 1."""
    summary_json: Mapped[dict[str, Any]]
    stage_timings_json: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(sa.Text())


class InputFile(Base):
    """One extract file read by a run, with its checksum."""

    __tablename__ = "input_files"

    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk(), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    path: Mapped[str] = mapped_column(sa.Text())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    format: Mapped[str] = mapped_column(sa.String(16))
    rows: Mapped[int]


class Quality(Base):
    """The quality report of one source of a run (counts only, no personal data)."""

    __tablename__ = "quality"

    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk(), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    report_json: Mapped[dict[str, Any]]


class Quarantine(Base):
    """A row of an extract that could not be used, and why."""

    __tablename__ = "quarantine"
    __table_args__ = (sa.Index(None, "run_id", "source", "record_id"),)

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk())
    source: Mapped[str] = mapped_column(sa.String(64))
    file: Mapped[str] = mapped_column(sa.Text())
    line: Mapped[int | None] = mapped_column(sa.BigInteger())
    record_id: Mapped[str | None] = mapped_column(sa.Text())
    field: Mapped[str | None] = mapped_column(sa.Text())
    value: Mapped[str | None] = mapped_column(sa.Text())
    reason: Mapped[str] = mapped_column(sa.Text())


class SourceRecord(Base):
    """One person record of an extract, as read, with the person and household it was placed in."""

    __tablename__ = "source_records"
    __table_args__ = (
        sa.Index(None, "run_id", "source", "record_id", unique=True),
        sa.Index(None, "run_id", "person_id"),
        # Covers the review list's name search (migration 0006).
        sa.Index(None, "run_id", "household_id", "forename", "surname"),
    )

    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk(), primary_key=True)
    record_key: Mapped[str] = mapped_column(KEY, primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[str] = mapped_column(KEY)
    person_id: Mapped[str] = mapped_column(KEY)
    household_id: Mapped[str | None] = mapped_column(KEY)
    forename: Mapped[str | None]
    middle_names: Mapped[str | None]
    surname: Mapped[str | None]
    date_of_birth: Mapped[date | None]
    sex: Mapped[str | None]
    address: Mapped[str | None]
    postcode: Mapped[str | None]
    uprn: Mapped[int | None] = mapped_column(sa.BigInteger())
    """The UPRN the agency sent, if any."""
    uprn_matched: Mapped[int | None] = mapped_column(sa.BigInteger())
    """The gazetteer UPRN the address was matched to, if any."""
    address_match: Mapped[str | None]
    evidence_date: Mapped[date | None]


class Person(Base):
    """A person (a cluster of linked records) and the household they live in at the batch date."""

    __tablename__ = "persons"
    __table_args__ = (sa.Index(None, "run_id", "household_id"),)

    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk(), primary_key=True)
    person_id: Mapped[str] = mapped_column(KEY, primary_key=True)
    household_id: Mapped[str | None] = mapped_column(KEY)
    date_of_birth: Mapped[date | None]
    role: Mapped[str | None] = mapped_column(sa.String(16))


class Link(Base):
    """A pair of records the linkage model joined, with its probability."""

    __tablename__ = "links"
    __table_args__ = (sa.Index(None, "run_id", "record_key_r"),)

    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk(), primary_key=True)
    record_key_l: Mapped[str] = mapped_column(KEY, primary_key=True)
    record_key_r: Mapped[str] = mapped_column(KEY, primary_key=True)
    match_probability: Mapped[float]
    match_rule: Mapped[str | None]
    match_weights_json: Mapped[dict[str, Any] | None]
    """Per-comparison match weights, where the model reports them."""


class Household(Base):
    """A household: the people resident at one address at the batch date."""

    __tablename__ = "households"
    __table_args__ = (sa.Index(None, "run_id", "uprn"),)

    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk(), primary_key=True)
    household_id: Mapped[str] = mapped_column(KEY, primary_key=True)
    uprn: Mapped[int | None] = mapped_column(sa.BigInteger())
    address: Mapped[str | None]
    postcode: Mapped[str | None]
    n_members: Mapped[int]
    address_status: Mapped[str | None] = mapped_column(sa.String(32))
    """Why the household's address has no gazetteer UPRN (``not_in_gazetteer``,
    ``ambiguous``, ``out_of_area``: ``tfident.households.ADDRESS_STATUSES``); null at a UPRN.
    Migration 0008."""
    review_reason: Mapped[str | None] = mapped_column(sa.String(32))
    """Why the household needs a look (``moved_together``, ``kept_together``, ``moved_alone``,
    ``stale_claim``, ``lone_children``, ``left_behind``, ``children_rejoined``, ``children_followed``, ``moved_in``,
    ``flat_from_surname``, ``postcode_only``, ``former_home``: ``tfident.households.REVIEW_REASONS``); null
    otherwise.
    Migration 0008."""


class Candidate(Base):
    """A household that meets the entry criteria, in rank order."""

    __tablename__ = "candidates"
    __table_args__ = (sa.Index(None, "run_id", "rank", unique=True),)

    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk(), primary_key=True)
    household_id: Mapped[str] = mapped_column(KEY, primary_key=True)
    rank: Mapped[int]
    score: Mapped[float]
    criteria_met: Mapped[str]
    """Criterion names joined by ``;``."""
    eligibility: Mapped[str | None] = mapped_column(sa.String(16))
    estimated_annual_cost: Mapped[float | None]
    min_link_probability: Mapped[float | None]
    n_members: Mapped[int]
    uprn: Mapped[int | None] = mapped_column(sa.BigInteger())
    address: Mapped[str | None]
    postcode: Mapped[str | None]


class CriterionEvidence(Base):
    """One piece of evidence that a household meets a criterion: which rule, member and record."""

    __tablename__ = "criteria_evidence"
    __table_args__ = (sa.Index(None, "run_id", "household_id"), sa.Index(None, "run_id", "person_id"))

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk())
    household_id: Mapped[str] = mapped_column(KEY)
    criterion: Mapped[str] = mapped_column(sa.String(64))
    rule_id: Mapped[str] = mapped_column(sa.String(128))
    person_id: Mapped[str | None] = mapped_column(KEY)
    source: Mapped[str | None] = mapped_column(sa.String(64))
    record_id: Mapped[str | None] = mapped_column(KEY)
    event_date: Mapped[date | None]
    value: Mapped[str | None]
    detail: Mapped[str | None]


class IdentityEvent(Base):
    """A person or household of a run that merged, split or moved since the previous run.

    ``kind`` is one of :data:`IDENTITY_EVENT_KINDS`; ``old_ids`` are the previous run's
    ids and ``new_ids`` this run's, each ``;``-joined and sorted (see
    :mod:`tfident.identity`). Ids only, no other personal data.
    """

    __tablename__ = "identity_events"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", IDENTITY_EVENT_KINDS), name="kind"),
        sa.Index(None, "run_id", "kind"),
    )

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(RUN_ID, _run_fk())
    kind: Mapped[str] = mapped_column(sa.String(32))
    old_ids: Mapped[str] = mapped_column(sa.Text())
    new_ids: Mapped[str] = mapped_column(sa.Text())


# ----------------------------------------------------------------------- working tables


class Decision(Base):
    """A coordinator's decision about a household; ``household_id`` is stable across months."""

    __tablename__ = "decisions"
    __table_args__ = (
        sa.CheckConstraint(_in("decision", DECISIONS), name="decision"),
        sa.CheckConstraint(_in("closure_reason", CLOSURE_REASONS), name="closure_reason"),
        sa.Index(None, "household_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(KEY)
    run_id: Mapped[str | None] = mapped_column(RUN_ID, sa.ForeignKey("runs.run_id", ondelete="SET NULL"))
    """The run the decision was made on."""
    decision: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None]
    """Why a family was rejected, or the details of a closure (needed when its reason is ``other``)."""
    lead_agency: Mapped[str | None]
    worker: Mapped[str | None]
    note: Mapped[str | None] = mapped_column(sa.Text())
    username: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    closure_reason: Mapped[str | None] = mapped_column(sa.String(32))
    """Why an attached family's work ended (one of :data:`CLOSURE_REASONS`), on ``closed`` decisions."""
    carried_from: Mapped[str | None] = mapped_column(KEY)
    """The household a decision was copied from when its family merged or split (migration 0007).

    Empty for a coordinator's own decisions; see :mod:`tfident.store.carry`."""


class LinkConstraint(Base):
    """A reviewer's ruling that two records are (``must_link``) or are not (``cannot_link``) one person."""

    __tablename__ = "link_constraints"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", LINK_CONSTRAINT_KINDS), name="kind"),
        sa.Index(None, "record_key_l", "record_key_r"),
        sa.Index(None, "record_key_r"),
    )

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    record_key_l: Mapped[str] = mapped_column(KEY)
    record_key_r: Mapped[str] = mapped_column(KEY)
    kind: Mapped[str] = mapped_column(sa.String(16))
    username: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    reason: Mapped[str | None]


class User(Base):
    """An account of the review app."""

    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint(_in("role", USER_ROLES), name="role"),)

    username: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    """Unused since 0009 (no account lock-out: sign-in is throttled instead); kept for old rows."""
    locked_until: Mapped[datetime | None]
    """Unused since 0009, as ``failed_logins``."""
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    """Set when an admin disabled the account: it cannot sign in and its sessions are revoked."""
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    """The base32 secret of the account's second factor (RFC 6238 TOTP), when enrolled."""
    areas: Mapped[str | None] = mapped_column(sa.String(1000))
    """The areas (``config/areas.yaml`` names, ``;``-separated) a coordinator works in; null: the whole council."""


class ReviewSession(Base):
    """A signed-in session of the review app: the browser holds only the secret token, the row the rest.

    A session is usable while not revoked (sign-out, an admin, a disabled account, a new
    password) and not idle longer than the timeout nor older than its absolute lifetime.
    """

    __tablename__ = "sessions"
    __table_args__ = (sa.Index(None, "username"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    """A public reference (random, not the token): what audit rows and the admin page name."""
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 of the cookie's token: a copy of the table cannot be used to sign in."""
    username: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))
    client_address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))
    pending_json: Mapped[dict[str, Any] | None]
    """A decision typed when the session timed out, offered again after signing back in."""


class AuditEntry(Base):
    """Who did what to which object, and when (no personal data in ``detail_json``)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "object_type", "object_id"), sa.Index(None, "at"))

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    username: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str | None] = mapped_column(sa.String(16))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(KEY)
    detail_json: Mapped[dict[str, Any] | None]
    client_address: Mapped[str | None] = mapped_column(sa.String(64))
    """The address the request came from (null for command-line actions)."""
    session_id: Mapped[str | None] = mapped_column(sa.String(32))
    """The public id of the review session (``sessions.id``) the action was done in."""


class RunLock(Base):
    """Who is running a month now: one row per locked month (see :mod:`tfident.store.locks`).

    On SQLite the row is the lock; on PostgreSQL an advisory lock is, and the row only
    says who holds it.
    """

    __tablename__ = "run_locks"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(RUN_ID)
    """The holder's run id, once it is known (it is derived from the inputs)."""
    token: Mapped[str] = mapped_column(sa.String(32))
    """Random, per acquisition: only the holder releases the lock."""
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    acquired_at: Mapped[datetime]


# ------------------------------------------------------- attachments, outcomes, claims

CLAIM_STATUSES: tuple[str, ...] = ("draft", "audited", "submitted", "paid", "rejected", "withdrawn")
"""``claims.status`` values: a claim is prepared as ``draft``, signed off by internal audit
(``audited``), sent (``submitted``) and then ``paid`` or ``rejected``; a draft or audited
claim can be ``withdrawn``."""

CLAIM_ROUTES: tuple[str, ...] = ("tf1_results", "tf1_ce", "tf2_ssp", "tf2_ce", "sf_outcome")
"""``claims.route`` values (``tfident.outcomes.ROUTES``)."""


class Attachment(Base):
    """A family attached to the programme: made by an ``accept`` decision, frozen then.

    Attachment tables are kept for the claims retention period, not the run retention:
    ``run_id`` names the run the decision was made on but has no foreign key, so deleting
    or purging the run leaves the frozen evidence in place (migration 0010).
    """

    __tablename__ = "attachments"
    __table_args__ = (sa.Index(None, "household_id"),)

    attachment_id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(KEY)
    decision_id: Mapped[int] = mapped_column(sa.BigInteger())
    run_id: Mapped[str] = mapped_column(RUN_ID)
    ruleset_id: Mapped[str] = mapped_column(sa.String(64))
    ruleset_version: Mapped[str] = mapped_column(sa.String(64))
    attached_on: Mapped[date]
    """The batch date of the run the family was accepted on."""
    attached_at: Mapped[datetime]
    username: Mapped[str] = mapped_column(sa.String(64))
    lead_agency: Mapped[str | None]
    worker: Mapped[str | None]
    closed_on: Mapped[date | None]
    closure_reason: Mapped[str | None] = mapped_column(sa.String(32))


def _attachment_fk() -> sa.ForeignKey:
    return sa.ForeignKey("attachments.attachment_id", ondelete="CASCADE")


class AttachmentMember(Base):
    """A member of an attached family, frozen at attachment (the family is followed, not the address)."""

    __tablename__ = "attachment_members"

    attachment_id: Mapped[int] = mapped_column(SurrogateId, _attachment_fk(), primary_key=True)
    person_id: Mapped[str] = mapped_column(KEY, primary_key=True)
    role: Mapped[str | None] = mapped_column(sa.String(16))
    date_of_birth: Mapped[date | None]


class EntryNeed(Base):
    """A frozen copy of one ``criteria_evidence`` row of the run a family was accepted on."""

    __tablename__ = "entry_needs"
    __table_args__ = (sa.Index(None, "attachment_id"),)

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    attachment_id: Mapped[int] = mapped_column(SurrogateId, _attachment_fk())
    need: Mapped[str] = mapped_column(sa.String(64))
    rule_id: Mapped[str] = mapped_column(sa.String(128))
    person_id: Mapped[str | None] = mapped_column(KEY)
    source: Mapped[str | None] = mapped_column(sa.String(64))
    record_id: Mapped[str | None] = mapped_column(KEY)
    event_date: Mapped[date | None]
    value: Mapped[str | None]
    detail: Mapped[str | None]
    source_file_sha256: Mapped[str | None] = mapped_column(sa.String(64))


class OutcomeObservation(Base):
    """What one run saw of one need of an attached family (``tfident.outcomes.OBSERVATIONS_SCHEMA``).

    ``run_id`` has no foreign key: a claim's evidence pack is rebuilt from the observations
    of the run it was prepared on, which outlive that run's personal data.
    """

    __tablename__ = "outcome_observations"

    run_id: Mapped[str] = mapped_column(RUN_ID, primary_key=True)
    attachment_id: Mapped[int] = mapped_column(SurrogateId, _attachment_fk(), primary_key=True)
    need: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    as_of: Mapped[date]
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    value: Mapped[str | None]
    met: Mapped[bool | None] = mapped_column(sa.Boolean())
    reason: Mapped[str] = mapped_column(sa.String(32))
    evidence: Mapped[str] = mapped_column(sa.Text())
    """Canonical JSON (sorted keys), kept as text so a pack rebuilt from it is byte-identical."""


class Claim(Base):
    """A payment-by-results claim for one attached family in one programme period.

    ``uq_claims_attachment_id_period_open`` allows one claim per attachment and period that
    is not ``withdrawn``; the ``claim_families`` rows extend that to every household id of
    the family's lineage (a withdrawal releases them, so the family can be claimed again,
    while ``lineage`` keeps the ids the withdrawn claim's evidence pack lists).
    """

    __tablename__ = "claims"
    __table_args__ = (
        sa.CheckConstraint(_in("status", CLAIM_STATUSES), name="status"),
        sa.CheckConstraint(_in("route", CLAIM_ROUTES), name="route"),
        sa.Index(
            "uq_claims_attachment_id_period_open",
            "attachment_id",
            "period",
            unique=True,
            sqlite_where=sa.text("status <> 'withdrawn'"),
            postgresql_where=sa.text("status <> 'withdrawn'"),
        ),
    )

    claim_id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(sa.String(16))
    attachment_id: Mapped[int] = mapped_column(SurrogateId, sa.ForeignKey("attachments.attachment_id"))
    household_id: Mapped[str] = mapped_column(KEY)
    route: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[int]
    run_id: Mapped[str] = mapped_column(RUN_ID)
    """The run whose observations the claim rests on (no foreign key, as for observations)."""
    as_of: Mapped[date]
    prepared_by: Mapped[str] = mapped_column(sa.String(64))
    prepared_at: Mapped[datetime]
    audited_by: Mapped[str | None] = mapped_column(sa.String(64))
    audited_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime]
    pack_html_sha256: Mapped[str] = mapped_column(sa.String(64))
    pack_xlsx_sha256: Mapped[str] = mapped_column(sa.String(64))
    lineage: Mapped[str] = mapped_column(sa.Text())
    """The household ids of the family's lineage when the claim was prepared, sorted and
    ``;``-separated: what its evidence pack lists, also once a withdrawal has released them."""


class ClaimFamily(Base):
    """A household id a claim covers in its period: the family's whole lineage (merges and splits).

    The primary key (``period``, ``household_id``) is the database's guard against a second
    claim for a family that merged with, or split from, one already claimed.
    """

    __tablename__ = "claim_families"

    period: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    household_id: Mapped[str] = mapped_column(KEY, primary_key=True)
    claim_id: Mapped[int] = mapped_column(SurrogateId, sa.ForeignKey("claims.claim_id", ondelete="CASCADE"))


class ClaimPerson(Base):
    """A member of a claimed family in its period: a person may not be in two claimed attachments of one period."""

    __tablename__ = "claim_persons"

    period: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    person_id: Mapped[str] = mapped_column(KEY, primary_key=True)
    claim_id: Mapped[int] = mapped_column(SurrogateId, sa.ForeignKey("claims.claim_id", ondelete="CASCADE"))


class ClaimCheck(Base):
    """A claim drawn into an internal-audit sample (``sample_seed`` reproduces the draw)."""

    __tablename__ = "claim_checks"
    __table_args__ = (sa.Index(None, "claim_id"),)

    id: Mapped[int] = mapped_column(SurrogateId, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(SurrogateId, sa.ForeignKey("claims.claim_id", ondelete="CASCADE"))
    sample: Mapped[str] = mapped_column(sa.String(32))
    sample_seed: Mapped[int]
    username: Mapped[str] = mapped_column(sa.String(64))
    checked_at: Mapped[datetime]
    result: Mapped[str | None] = mapped_column(sa.String(16))
    notes: Mapped[str | None] = mapped_column(sa.Text())


metadata = Base.metadata
"""Every tfident table."""

RUN_TABLES: tuple[str, ...] = (
    "input_files",
    "quality",
    "quarantine",
    "source_records",
    "persons",
    "links",
    "households",
    "candidates",
    "criteria_evidence",
    "identity_events",
)
"""Tables :func:`tfident.store.write_run` fills from frames, in the order it writes them."""
