"""Read runs back: which run is meant, and its candidates, members, person index and quality.

Only complete runs are readable: ``published`` ones and the ``superseded`` runs they
replaced. Each month has one published run per rule pack (``ruleset_id``).
``"latest"`` means the published run with the latest batch date (and, for a month run
more than once, the latest version), whatever its pack unless one is asked for. Asking for a run that does not exist,
failed or is still being written raises :class:`~tfident.errors.NotFound` with a
message that says which and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.errors import NotFound, StoreError
from tfident.ingest.checks import PreviousMonth, previous_facts
from tfident.store.engine import safe_url
from tfident.store.frames import frame_schema
from tfident.store.tables import READABLE_STATUSES, metadata

runs = metadata.tables["runs"]
candidates_table = metadata.tables["candidates"]
source_records = metadata.tables["source_records"]
links_table = metadata.tables["links"]
quality_table = metadata.tables["quality"]
evidence_table = metadata.tables["criteria_evidence"]
quarantine_table = metadata.tables["quarantine"]
link_constraints_table = metadata.tables["link_constraints"]
households_table = metadata.tables["households"]
identity_events_table = metadata.tables["identity_events"]
input_files_table = metadata.tables["input_files"]

NOT_SAME_PERSON_RULES: tuple[str, ...] = ("uncertain", "held_apart")
"""``links.match_rule`` values of pairs kept for clerical review, not inside one person
(``tfident.link.NOT_SAME_PERSON_RULES``)."""

LATEST = "latest"

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "rank",
    "household_id",
    "score",
    "criteria_met",
    "eligibility",
    "n_members",
    "uprn",
    "address",
    "postcode",
    "estimated_annual_cost",
    "min_link_probability",
)
RUN_LIST_COLUMNS: tuple[str, ...] = (
    "run_id",
    "created_at",
    "as_of",
    "month",
    "version",
    "status",
    "ruleset_id",
    "ruleset_version",
    "linkage_model_version",
    "code_version",
    "config_hash",
    "error",
)


@dataclass(frozen=True)
class RunInfo:
    """Everything stored about a run in the ``runs`` table."""

    run_id: str
    created_at: datetime
    as_of: date
    status: str
    ruleset_id: str
    ruleset_version: str
    linkage_model_version: str
    config_json: str
    config_hash: str
    code_version: str
    month: str
    version: int
    summary: dict[str, Any]
    stage_timings: dict[str, Any]
    error: str | None

    @property
    def readable(self) -> bool:
        """Whether the run is complete (published or superseded)."""
        return self.status in READABLE_STATUSES


def _frame(connection: sa.Connection, statement: sa.Select[Any]) -> pl.DataFrame:
    """Run a select and return its rows as a frame typed from the selected columns."""
    schema = frame_schema(list(statement.selected_columns))
    rows = connection.execute(statement).all()
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def _sorted(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Sort in polars, not SQL: byte order whatever the database's collation, nulls last."""
    return frame.sort(by, nulls_last=True, maintain_order=True)


def _guard(engine: Engine, error: sa.exc.SQLAlchemyError) -> StoreError:
    return StoreError(
        f"cannot read database {safe_url(engine)}: {error.__class__.__name__}; "
        "is it a tfident database? (`tfident run` or `tfident db upgrade` creates the tables)"
    )


def run_exists(engine: Engine, run_id: str) -> bool:
    """Whether a complete (published or superseded) run with this id is stored."""
    try:
        with engine.connect() as connection:
            status = connection.execute(sa.select(runs.c.status).where(runs.c.run_id == run_id)).scalar()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    return status in READABLE_STATUSES


def latest_run_id(engine: Engine, ruleset_id: str | None = None) -> str | None:
    """The id of the latest published run (of rule pack ``ruleset_id`` when given), or None when none is.

    Without a pack it is the newest published run overall, whichever pack it ran: the
    contract's ``latest``. Runs of several packs may be published for one month.
    """
    statement = (
        sa.select(runs.c.run_id)
        .where(runs.c.status == "published")
        .order_by(runs.c.as_of.desc(), runs.c.version.desc(), runs.c.created_at.desc(), runs.c.run_id.desc())
        .limit(1)
    )
    if ruleset_id is not None:
        statement = statement.where(runs.c.ruleset_id == ruleset_id)
    try:
        with engine.connect() as connection:
            return connection.execute(statement).scalar()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error


def previous_month_run_id(engine: Engine, as_of: date, ruleset_id: str | None = None) -> str | None:
    """The published run of the latest month before ``as_of``'s month, or None.

    Ids are carried over from it (:mod:`tfident.identity`). A run of an earlier month,
    never the month's own published run: re-running a month carries from the same run
    as the first time, so it gives the same ids (and the same run id).

    With ``ruleset_id``, the run of that pack is preferred: a Phase 2 run carries from
    last month's Phase 2 run even when a Phase 1 run of that month was published after
    it. When the pack has no earlier published run (its first month), the latest
    earlier run of any pack is used, so household ids (and the decisions keyed by them)
    stay those the council already knows.
    """
    order = (runs.c.as_of.desc(), runs.c.version.desc(), runs.c.created_at.desc(), runs.c.run_id.desc())
    earlier = sa.select(runs.c.run_id).where(runs.c.status == "published", runs.c.month < f"{as_of:%Y-%m}")
    try:
        with engine.connect() as connection:
            if ruleset_id is not None:
                same_pack = connection.execute(
                    earlier.where(runs.c.ruleset_id == ruleset_id).order_by(*order).limit(1)
                ).scalar()
                if same_pack is not None:
                    return str(same_pack)
            return connection.execute(earlier.order_by(*order).limit(1)).scalar()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error


def read_previous_month(engine: Engine, as_of: date) -> PreviousMonth | None:
    """What the data checks compare a batch with: the published run of the latest month before ``as_of``'s
    (:func:`previous_month_run_id`), its stored quality reports and input file hashes; None when there is none.
    """
    run_id = previous_month_run_id(engine, as_of)
    if run_id is None:
        return None
    files = sa.select(input_files_table.c.source, input_files_table.c.sha256, input_files_table.c.path).where(
        input_files_table.c.run_id == run_id
    )
    try:
        with engine.connect() as connection:
            run_as_of = connection.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar_one()
            stored = connection.execute(files).all()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    quality = read_quality(engine, run_id)
    hashes = {source: sha for source, sha, _path in stored}
    names = {source: path.replace("\\", "/").rsplit("/", 1)[-1] for source, _sha, path in stored}
    return PreviousMonth(run_id=run_id, as_of=run_as_of, sources=previous_facts(quality, hashes, names))


def read_check_warnings(engine: Engine, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """The data-check warnings stored in the summaries of ``run_ids`` (runs with none left out)."""
    if not run_ids:
        return {}
    statement = sa.select(runs.c.run_id, runs.c.summary_json).where(runs.c.run_id.in_(list(run_ids)))
    try:
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    found = {}
    for run_id, summary in rows:
        checks = summary.get("checks") if isinstance(summary, dict) else None
        warnings = checks.get("warnings") if isinstance(checks, dict) else None
        if isinstance(warnings, list) and warnings:
            found[run_id] = [str(w) for w in warnings]
    return found


PROCESSED_STATUSES: tuple[str, ...] = ("published", "superseded", "purged")
"""Runs whose extracts folder counts as processed: published once (a failed or unfinished run's does not)."""


def inbox_history(engine: Engine) -> tuple[list[str], date | None]:
    """What the monthly inbox needs from the store: the extracts folders of runs that were
    published (and since superseded or purged), and the batch date of the newest published run.
    """
    statement = sa.select(runs.c.status, runs.c.as_of, runs.c.summary_json).where(runs.c.status.in_(PROCESSED_STATUSES))
    try:
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    folders = []
    for _status, _as_of, summary in rows:
        inputs = summary.get("inputs") if isinstance(summary, dict) else None
        if isinstance(inputs, dict) and isinstance(inputs.get("extracts_dir"), str):
            folders.append(inputs["extracts_dir"])
    published = [as_of for status, as_of, _summary in rows if status == "published"]
    return folders, max(published, default=None)


def resolve_run(engine: Engine, run: str = LATEST, ruleset_id: str | None = None) -> str:
    """Turn ``"latest"`` or a run id into the id of a readable run, or raise NotFound saying why not.

    With ``ruleset_id`` (a rule pack, as ``--criteria`` names it), ``"latest"`` is the
    newest published run of that pack, and a run id must be a run of that pack.
    """
    if run.strip().lower() == LATEST:
        run_id = latest_run_id(engine, ruleset_id)
        if run_id is None:
            if ruleset_id is not None:
                raise NotFound(
                    f"no published run of rule pack {ruleset_id!r} in {safe_url(engine)}: "
                    f"run `tfident run --criteria {ruleset_id} ...` with this --db first"
                )
            raise NotFound(
                f"no published run in {safe_url(engine)}: "
                "run `tfident run --extracts DIR --as-of YYYY-MM-DD` with this --db first"
            )
        return run_id
    _require_readable(engine, run.strip())
    if ruleset_id is not None:
        pack = read_run(engine, run.strip()).ruleset_id
        if pack != ruleset_id:
            raise NotFound(f"run {run.strip()} ran rule pack {pack!r}, not {ruleset_id!r}")
    return run.strip()


def require_readable(engine: Engine, run_id: str) -> None:
    """Raise NotFound, saying why, unless ``run_id`` is a complete (published or superseded) run."""
    _require_readable(engine, run_id)


def _require_readable(engine: Engine, run_id: str) -> None:
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.select(runs.c.status, runs.c.error).where(runs.c.run_id == run_id)).first()
            if row is None:
                known = (
                    connection.execute(
                        sa.select(runs.c.run_id)
                        .where(runs.c.status.in_(READABLE_STATUSES))
                        .order_by(runs.c.as_of.desc(), runs.c.version.desc())
                        .limit(5)
                    )
                    .scalars()
                    .all()
                )
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    if row is None:
        hint = f"newest stored runs: {', '.join(known)}" if known else "the database holds no published run yet"
        raise NotFound(f"run {run_id!r} not found in {safe_url(engine)} ({hint}); use --run latest for the newest")
    status, error_text = row
    if status == "failed":
        first_line = (error_text or "no error recorded").splitlines()[0]
        raise NotFound(f"run {run_id} failed and was never published ({first_line}); run the batch again")
    if status == "running":
        raise NotFound(f"run {run_id} is still being written (or stopped part-way); it has no results yet")
    if status == "purged":
        raise NotFound(
            f"run {run_id} was purged: its personal data was deleted under the retention policy "
            "(its record stays in `tfident runs` and the audit log)"
        )


def read_run(engine: Engine, run_id: str) -> RunInfo:
    """Everything stored about one run, whatever its status."""
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    if row is None:
        raise NotFound(f"run {run_id!r} not found in {safe_url(engine)}")
    return RunInfo(
        run_id=row["run_id"],
        created_at=row["created_at"],
        as_of=row["as_of"],
        status=row["status"],
        ruleset_id=row["ruleset_id"],
        ruleset_version=row["ruleset_version"],
        linkage_model_version=row["linkage_model_version"],
        config_json=row["config_json"],
        config_hash=row["config_hash"],
        code_version=row["code_version"],
        month=row["month"],
        version=row["version"],
        summary=dict(row["summary_json"] or {}),
        stage_timings=dict(row["stage_timings_json"] or {}),
        error=row["error"],
    )


def list_runs(engine: Engine, statuses: Iterable[str] | None = None, month: str | None = None) -> pl.DataFrame:
    """Every run (or those with the given statuses, or of one ``YYYY-MM`` month), newest first.

    Columns are ``RUN_LIST_COLUMNS`` and ``candidates``, the number of candidate
    households stored for the run (0 for a run that failed, is running or was purged);
    no config or summaries.
    """
    counts = (
        sa.select(candidates_table.c.run_id, sa.func.count().label("candidates"))
        .group_by(candidates_table.c.run_id)
        .subquery("candidate_counts")
    )
    statement = (
        sa.select(
            *(runs.c[name] for name in RUN_LIST_COLUMNS),
            sa.func.coalesce(counts.c.candidates, 0).label("candidates"),
        )
        .select_from(runs)
        .outerjoin(counts, counts.c.run_id == runs.c.run_id)
        .order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
    )
    if statuses is not None:
        statement = statement.where(runs.c.status.in_(list(statuses)))
    if month is not None:
        statement = statement.where(runs.c.month == month)
    return _read(engine, statement)


def _read(engine: Engine, statement: sa.Select[Any], run_id: str | None = None) -> pl.DataFrame:
    if run_id is not None:
        _require_readable(engine, run_id)
    try:
        with engine.connect() as connection:
            return _frame(connection, statement)
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error


def read_candidates(engine: Engine, run_id: str) -> pl.DataFrame:
    """The run's candidate households, best first: ``CANDIDATE_COLUMNS``."""
    statement = sa.select(*(candidates_table.c[name] for name in CANDIDATE_COLUMNS)).where(
        candidates_table.c.run_id == run_id
    )
    return _sorted(_read(engine, statement, run_id), ["rank", "household_id"])


_same_person = sa.or_(links_table.c.match_rule.is_(None), links_table.c.match_rule.not_in(NOT_SAME_PERSON_RULES))


def _best_links(run_id: str, household_ids: Sequence[str] | None) -> sa.Subquery:
    """Each candidate-household record's strongest link to another record of the same person."""
    ends = sa.union_all(
        sa.select(
            links_table.c.record_key_l.label("record_key"),
            links_table.c.record_key_r.label("other_key"),
            links_table.c.match_probability,
        ).where(links_table.c.run_id == run_id, _same_person),
        sa.select(
            links_table.c.record_key_r.label("record_key"),
            links_table.c.record_key_l.label("other_key"),
            links_table.c.match_probability,
        ).where(links_table.c.run_id == run_id, _same_person),
    ).subquery("ends")
    record = source_records.alias("record")
    other = source_records.alias("other")
    statement = (
        sa.select(ends.c.record_key, sa.func.max(ends.c.match_probability).label("link_probability"))
        .join(record, sa.and_(record.c.run_id == run_id, record.c.record_key == ends.c.record_key))
        .join(other, sa.and_(other.c.run_id == run_id, other.c.record_key == ends.c.other_key))
        .where(record.c.person_id == other.c.person_id)
        .group_by(ends.c.record_key)
    )
    statement = _in_households(statement, record, run_id, household_ids)
    return statement.subquery("best_links")


def _in_households(
    statement: sa.Select[Any], records: sa.FromClause, run_id: str, household_ids: Sequence[str] | None
) -> sa.Select[Any]:
    if household_ids is not None:
        return statement.where(records.c.household_id.in_(list(household_ids)))
    return statement.join(
        candidates_table,
        sa.and_(candidates_table.c.run_id == run_id, candidates_table.c.household_id == records.c.household_id),
    )


def read_members(engine: Engine, run_id: str, household_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per source record in the run's candidate households (or in ``household_ids``).

    Columns are those of ``members.csv``. ``link_probability`` is the record's strongest
    link to another record of the same person, and 1.0 for a record linked to no other
    (a person known from one record only, who is certain to be themself). Rows follow
    the candidates' rank, then person, source and record id.
    """
    best = _best_links(run_id, household_ids)
    ranks = (
        sa.select(candidates_table.c.household_id, candidates_table.c.rank)
        .where(candidates_table.c.run_id == run_id)
        .subquery("ranks")
    )
    statement: sa.Select[Any] = (
        sa.select(
            source_records.c.household_id,
            source_records.c.person_id,
            source_records.c.source,
            source_records.c.record_id,
            source_records.c.forename,
            source_records.c.surname,
            source_records.c.date_of_birth,
            sa.func.coalesce(best.c.link_probability, 1.0).label("link_probability"),
            ranks.c.rank,
        )
        .select_from(source_records)
        .outerjoin(best, best.c.record_key == source_records.c.record_key)
        .outerjoin(ranks, ranks.c.household_id == source_records.c.household_id)
        .where(source_records.c.run_id == run_id)
    )
    statement = _in_households(statement, source_records, run_id, household_ids)
    frame = _read(engine, statement, run_id)
    return _sorted(frame, ["rank", "household_id", "person_id", "source", "record_id"]).drop("rank")


def read_persons_index(engine: Engine, run_id: str) -> pl.DataFrame:
    """The person index: ``source, record_id, person_id, household_id`` for every source record, in that order."""
    statement = sa.select(
        source_records.c.source,
        source_records.c.record_id,
        source_records.c.person_id,
        source_records.c.household_id,
    ).where(source_records.c.run_id == run_id)
    return _sorted(_read(engine, statement, run_id), ["source", "record_id"])


_IDENTITY_INDEX_COLUMNS = (
    source_records.c.record_key,
    source_records.c.person_id,
    source_records.c.household_id,
    households_table.c.uprn,
)


def read_identity_index(engine: Engine, run_id: str) -> pl.DataFrame:
    """What the next run carries ids over from: ``record_key, person_id, household_id, uprn``
    for every source record of the run (``uprn`` of the record's household), by record key.
    :func:`identity_index_of` gives the same frame from the run's frames as they are written.
    """
    statement = (
        sa.select(*_IDENTITY_INDEX_COLUMNS)
        .select_from(source_records)
        .outerjoin(
            households_table,
            sa.and_(
                households_table.c.run_id == source_records.c.run_id,
                households_table.c.household_id == source_records.c.household_id,
            ),
        )
        .where(source_records.c.run_id == run_id)
    )
    return _sorted(_read(engine, statement, run_id), ["record_key"])


def identity_index_of(records: pl.DataFrame, households: pl.DataFrame) -> pl.DataFrame:
    """The frame :func:`read_identity_index` reads back once ``records`` (the ``source_records``
    frame) and ``households`` are written as a run (``tfident.store.writer.prepare_frame``
    has cast them to the tables' types): the same columns, types, rows and order, without
    reading the database (an incremental run keeps it in its run cache for the next month).
    """
    schema = frame_schema(list(_IDENTITY_INDEX_COLUMNS))
    uprns = households.select(
        pl.col("household_id").cast(schema["household_id"]), pl.col("uprn").cast(schema["uprn"])
    ).filter(pl.col("household_id").is_not_null())
    index = records.select(
        pl.col(name).cast(schema[name]) for name in ("record_key", "person_id", "household_id")
    ).join(uprns, on="household_id", how="left", maintain_order="left")
    return _sorted(index, ["record_key"])


def read_identity_events(engine: Engine, run_id: str) -> pl.DataFrame:
    """The run's identity events (``kind, old_ids, new_ids``): what merged, split or moved
    since the run it carried ids over from, sorted.
    """
    table = identity_events_table
    statement = sa.select(table.c.kind, table.c.old_ids, table.c.new_ids).where(table.c.run_id == run_id)
    return _sorted(_read(engine, statement, run_id), ["kind", "old_ids", "new_ids"])


def read_evidence(engine: Engine, run_id: str, household_id: str | None = None) -> pl.DataFrame:
    """The run's criteria evidence (for one household when given), in a stable order."""
    columns = [c for c in evidence_table.columns if c.name not in ("id", "run_id")]
    statement = sa.select(*columns).where(evidence_table.c.run_id == run_id)
    if household_id is not None:
        statement = statement.where(evidence_table.c.household_id == household_id)
    order = ["household_id", "criterion", "rule_id", "person_id", "source", "record_id", "event_date", "value"]
    return _sorted(_read(engine, statement, run_id), order)


def read_quarantine(engine: Engine, run_id: str) -> pl.DataFrame:
    """The rows the run quarantined, in the order they were stored."""
    columns = [c for c in quarantine_table.columns if c.name not in ("id", "run_id")]
    statement = sa.select(*columns).where(quarantine_table.c.run_id == run_id).order_by(quarantine_table.c.id)
    return _read(engine, statement, run_id)


def read_quality(engine: Engine, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's quality report per source, as stored."""
    _require_readable(engine, run_id)
    statement = (
        sa.select(quality_table.c.source, quality_table.c.report_json)
        .where(quality_table.c.run_id == run_id)
        .order_by(quality_table.c.source)
    )
    try:
        with engine.connect() as connection:
            return {source: dict(report) for source, report in connection.execute(statement).all()}
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error


def read_link_constraints(engine: Engine) -> pl.DataFrame:
    """Reviewers' link rulings for the next run: ``record_key_l, record_key_r, kind``.

    The latest ruling on each pair wins (a ``must_link`` after a ``cannot_link`` replaces
    it); pairs are sorted (``record_key_l < record_key_r``).
    """
    table = link_constraints_table
    statement = sa.select(table.c.id, table.c.record_key_l, table.c.record_key_r, table.c.kind)
    schema = {"record_key_l": pl.String, "record_key_r": pl.String, "kind": pl.String}
    try:
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    frame = pl.DataFrame(
        [(row[0], *sorted((row[1], row[2])), row[3]) for row in rows],
        schema={"id": pl.Int64, **schema},
        orient="row",
    )
    return (
        frame.sort("id")
        .unique(["record_key_l", "record_key_r"], keep="last", maintain_order=True)
        .filter(pl.col("record_key_l") != pl.col("record_key_r"))
        .sort("record_key_l", "record_key_r")
        .select(list(schema))
    )


def read_source_records(engine: Engine, run_id: str, record_keys: Sequence[str] | None = None) -> pl.DataFrame:
    """The run's source records as stored (all of them, or those of ``record_keys``), by ``record_key``."""
    columns = [c for c in source_records.columns if c.name != "run_id"]
    statement = sa.select(*columns).where(source_records.c.run_id == run_id)
    if record_keys is not None:
        statement = statement.where(source_records.c.record_key.in_(list(record_keys)))
    return _sorted(_read(engine, statement, run_id), ["record_key"])


def read_link(engine: Engine, run_id: str, record_key_a: str, record_key_b: str) -> dict[str, Any] | None:
    """The stored link between two records of a run (either order), or None."""
    left, right = sorted((record_key_a, record_key_b))
    statement = sa.select(links_table).where(
        links_table.c.run_id == run_id, links_table.c.record_key_l == left, links_table.c.record_key_r == right
    )
    _require_readable(engine, run_id)
    try:
        with engine.connect() as connection:
            row = connection.execute(statement).mappings().first()
    except sa.exc.SQLAlchemyError as error:
        raise _guard(engine, error) from error
    return None if row is None else dict(row)
