"""Compare the candidate lists of two runs: families added, dropped and re-ranked.

Families are matched by their stable ``household_id``, so two versions of a month (or
two months) can be compared. :func:`diff_runs` is pure: it takes two candidate frames
(as :func:`tfident.store.read_candidates` returns them; ``household_id``, ``rank`` and
``criteria_met`` are needed) and returns frames, sorted for a stable display:

* ``added``: in B, not in A (by B's rank);
* ``dropped``: in A, not in B (by A's rank);
* ``reranked``: in both, with a different rank or different criteria met (by B's rank),
  with ``old_rank``, ``new_rank``, ``rank_change`` (positive: moved up the list),
  ``old_criteria``, ``new_criteria``, ``criteria_added`` and ``criteria_removed``
  (criterion names joined by ``;``).

``dropped`` also says why each family left the list, in ``reasons`` (kinds joined by
``;``, the main one first) and ``why`` (one readable line), when :func:`diff_stored_runs`
compares two stored runs (:func:`drop_reasons` works it out from both runs' tables):

* ``merged``: the household's members came to live with another household, whose id it
  now shares (a ``household_merge`` identity event of run B);
* ``split``: its members came to live apart (a ``household_split`` event of run B);
* ``member_moved_out``: a person of the household in A is in another household in B;
* ``no_household``: none of its members is in any household in B (left the area or the
  data, or no address at the batch date);
* ``criteria_not_met``: the household is still there in B but no longer meets a criterion
  it met in A (which, in ``why``);
* ``settled``: its latest decision settles it (attached, closed or opted out);
* ``unexplained``: none of these (say, another rule pack or ranking configuration).

No names or addresses are in any of the frames: household ids, person ids, ranks, scores,
criterion names and decisions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tfident.errors import StoreError
from tfident.identity import HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT
from tfident.store.reader import read_candidates, require_readable
from tfident.store.tables import SETTLED_DECISIONS, metadata

REQUIRED_COLUMNS: tuple[str, ...] = ("household_id", "rank", "criteria_met")
ADDED_COLUMNS: tuple[str, ...] = ("household_id", "rank", "score", "criteria_met")
DROPPED_COLUMNS: tuple[str, ...] = (*ADDED_COLUMNS, "reasons", "why")
DROP_REASONS: tuple[str, ...] = (
    "merged",
    "split",
    "member_moved_out",
    "no_household",
    "criteria_not_met",
    "settled",
    "unexplained",
)
"""Why a family dropped off the list, most telling first (see the module docstring)."""
REASON_COLUMNS: tuple[str, ...] = ("household_id", "reasons", "why")
RERANKED_COLUMNS: tuple[str, ...] = (
    "household_id",
    "old_rank",
    "new_rank",
    "rank_change",
    "old_criteria",
    "new_criteria",
    "criteria_added",
    "criteria_removed",
)


@dataclass(frozen=True)
class RunDiff:
    """What changed between the candidates of run A and run B."""

    added: pl.DataFrame
    dropped: pl.DataFrame
    reranked: pl.DataFrame
    unchanged: int
    """Families in both runs with the same rank and criteria."""

    def counts(self) -> dict[str, int]:
        """How many families are in each part."""
        return {
            "added": self.added.height,
            "dropped": self.dropped.height,
            "reranked": self.reranked.height,
            "unchanged": self.unchanged,
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the counts and every row of each part."""
        return {
            "counts": self.counts(),
            "added": self.added.to_dicts(),
            "dropped": self.dropped.to_dicts(),
            "reranked": self.reranked.to_dicts(),
        }


def _normalised(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise StoreError(f"cannot compare runs: the candidates of {name} lack column(s) {missing}")
    if frame["household_id"].is_duplicated().any():
        raise StoreError(f"cannot compare runs: the candidates of {name} list a household more than once")
    score = pl.col("score").cast(pl.Float64) if "score" in frame.columns else pl.lit(None, dtype=pl.Float64)
    return frame.select(
        pl.col("household_id").cast(pl.String),
        pl.col("rank").cast(pl.Int64),
        score.alias("score"),
        pl.col("criteria_met").cast(pl.String).fill_null(""),
    )


def _criteria_set(column: str) -> pl.Expr:
    return pl.col(column).str.split(";").list.eval(pl.element().filter(pl.element() != "")).list.unique().list.sort()


def diff_runs(candidates_a: pl.DataFrame, candidates_b: pl.DataFrame, reasons: pl.DataFrame | None = None) -> RunDiff:
    """Families added to, dropped from and re-ranked in B's candidates compared with A's.

    ``reasons`` (``REASON_COLUMNS``, from :func:`drop_reasons`) fills the dropped families'
    ``reasons`` and ``why``; without it they are null.
    """
    a = _normalised(candidates_a, "run A")
    b = _normalised(candidates_b, "run B")
    added = b.join(a.select("household_id"), on="household_id", how="anti").sort("rank", "household_id")
    dropped = a.join(b.select("household_id"), on="household_id", how="anti").sort("rank", "household_id")
    both = a.join(b, on="household_id", how="inner", suffix="_new").select(
        "household_id",
        pl.col("rank").alias("old_rank"),
        pl.col("rank_new").alias("new_rank"),
        (pl.col("rank") - pl.col("rank_new")).alias("rank_change"),
        _criteria_set("criteria_met").alias("old_set"),
        _criteria_set("criteria_met_new").alias("new_set"),
    )
    both = both.with_columns(
        pl.col("old_set").list.join(";").alias("old_criteria"),
        pl.col("new_set").list.join(";").alias("new_criteria"),
        pl.col("new_set").list.set_difference(pl.col("old_set")).list.sort().list.join(";").alias("criteria_added"),
        pl.col("old_set").list.set_difference(pl.col("new_set")).list.sort().list.join(";").alias("criteria_removed"),
    )
    changed = (pl.col("rank_change") != 0) | (pl.col("old_criteria") != pl.col("new_criteria"))
    reranked = both.filter(changed).sort("new_rank", "household_id").select(RERANKED_COLUMNS)
    if reasons is None:
        reasons = pl.DataFrame(schema={"household_id": pl.String, "reasons": pl.String, "why": pl.String})
    dropped = dropped.join(reasons.select(REASON_COLUMNS), on="household_id", how="left", maintain_order="left")
    return RunDiff(
        added=added.select(ADDED_COLUMNS),
        dropped=dropped.select(DROPPED_COLUMNS),
        reranked=reranked,
        unchanged=both.height - reranked.height,
    )


# ------------------------------------------------------------------- why families dropped

CHUNK = 900
"""Ids per ``IN (...)`` list: well under SQLite's limit on bound parameters."""

persons_table = metadata.tables["persons"]
households_table = metadata.tables["households"]
evidence_table = metadata.tables["criteria_evidence"]
events_table = metadata.tables["identity_events"]
decisions_table = metadata.tables["decisions"]


def _rows_in(
    connection: sa.Connection, statement: sa.Select[Any], column: sa.ColumnElement[Any], ids: Sequence[str]
) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        found += [tuple(row) for row in connection.execute(statement.where(column.in_(ordered[start : start + CHUNK])))]
    return found


@dataclass(frozen=True)
class DropContext:
    """What :func:`drop_reasons` needs from the two runs, for the dropped households only (ids, no personal data)."""

    members_a: dict[str, list[str]]
    """Dropped household id -> its person ids in run A."""
    household_b: dict[str, str | None]
    """Person id (of those members) -> their household in run B (None: in no household; absent: not in B)."""
    households_b: set[str]
    """Which of the dropped household ids are households in run B."""
    criteria_b: dict[str, set[str]]
    """Dropped household id -> the criteria it meets in run B (its criteria evidence)."""
    events_b: list[tuple[str, list[str], list[str]]]
    """Run B's household merges and splits that involve a dropped household: (kind, old ids, new ids)."""
    decisions: dict[str, str]
    """Dropped household id -> its latest decision, where it has one."""


def read_drop_context(engine: Engine, run_a: str, run_b: str, household_ids: Sequence[str]) -> DropContext:
    """Read what explains the drop of ``household_ids`` (candidates of ``run_a`` that ``run_b`` lacks)."""
    require_readable(engine, run_a)
    require_readable(engine, run_b)
    ids = sorted(set(household_ids))
    try:
        with engine.connect() as connection:
            members = _rows_in(
                connection,
                sa.select(persons_table.c.household_id, persons_table.c.person_id).where(
                    persons_table.c.run_id == run_a
                ),
                persons_table.c.household_id,
                ids,
            )
            members_a: dict[str, list[str]] = {}
            for household_id, person_id in members:
                members_a.setdefault(household_id, []).append(person_id)
            person_ids = [person for _household, person in members]
            household_b = dict(
                _rows_in(
                    connection,
                    sa.select(persons_table.c.person_id, persons_table.c.household_id).where(
                        persons_table.c.run_id == run_b
                    ),
                    persons_table.c.person_id,
                    person_ids,
                )
            )
            households_b = {
                row[0]
                for row in _rows_in(
                    connection,
                    sa.select(households_table.c.household_id).where(households_table.c.run_id == run_b),
                    households_table.c.household_id,
                    ids,
                )
            }
            criteria_b: dict[str, set[str]] = {}
            for household_id, criterion in _rows_in(
                connection,
                sa.select(evidence_table.c.household_id, evidence_table.c.criterion)
                .where(evidence_table.c.run_id == run_b)
                .distinct(),
                evidence_table.c.household_id,
                ids,
            ):
                criteria_b.setdefault(household_id, set()).add(criterion)
            wanted = set(ids)
            events_b = []
            for kind, old_ids, new_ids in connection.execute(
                sa.select(events_table.c.kind, events_table.c.old_ids, events_table.c.new_ids)
                .where(
                    events_table.c.run_id == run_b,
                    events_table.c.kind.in_((HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT)),
                )
                .order_by(events_table.c.kind, events_table.c.old_ids, events_table.c.new_ids)
            ):
                olds = [i for i in str(old_ids).split(";") if i]
                if wanted & set(olds):
                    events_b.append((str(kind), olds, [i for i in str(new_ids).split(";") if i]))
            latest_ids = (
                sa.select(sa.func.max(decisions_table.c.id))
                .where(decisions_table.c.household_id.in_(sa.bindparam("ids", expanding=True)))
                .group_by(decisions_table.c.household_id)
            )
            decisions: dict[str, str] = {}
            for start in range(0, len(ids), CHUNK):
                rows = connection.execute(
                    sa.select(decisions_table.c.household_id, decisions_table.c.decision).where(
                        decisions_table.c.id.in_(latest_ids)
                    ),
                    {"ids": ids[start : start + CHUNK]},
                )
                decisions.update({str(h): str(d) for h, d in rows})
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"cannot read runs {run_a} and {run_b} to explain dropped families: {error}") from error
    return DropContext(members_a, household_b, households_b, criteria_b, events_b, decisions)


def _criteria(text: str | None) -> list[str]:
    return [name for name in (text or "").split(";") if name]


def drop_reasons(dropped: pl.DataFrame, context: DropContext) -> pl.DataFrame:
    """Why each dropped family (``household_id``, ``criteria_met`` as in run A) left the list:
    ``REASON_COLUMNS``, one row per family. Pure: everything comes from ``context``.
    """
    rows: list[tuple[str, str, str]] = []
    for household_id, criteria_met in dropped.select("household_id", "criteria_met").iter_rows():
        found: list[tuple[str, str]] = []
        explained: set[str] = {household_id}
        for kind, olds, news in context.events_b:
            if household_id not in olds:
                continue
            if kind == HOUSEHOLD_MERGE:
                others = [i for i in olds if i != household_id]
                if len(news) == 1 and news[0] in others:
                    found.append(("merged", f"merged into {news[0]}"))
                else:
                    found.append(("merged", f"merged with {', '.join(others)} into {', '.join(news)}"))
            else:
                parts = [i for i in news if i != household_id]
                found.append(("split", f"split: members now also in {', '.join(parts)}"))
            explained |= set(olds) | set(news)
        members = context.members_a.get(household_id, [])
        now_in = {person: context.household_b.get(person) for person in members}
        moved = sorted((person, home) for person, home in now_in.items() if home is not None and home not in explained)
        if moved:
            where = ", ".join(f"{person} now in {home}" for person, home in moved)
            found.append(("member_moved_out", f"{len(moved)} member(s) moved out: {where}"))
        housed = [home for home in now_in.values() if home is not None]
        if household_id not in context.households_b and not housed:
            found.append(("no_household", "no member of it is in any household in run B"))
        elif household_id in context.households_b:
            lost = [name for name in _criteria(criteria_met) if name not in context.criteria_b.get(household_id, set())]
            if lost:
                found.append(("criteria_not_met", f"no longer meets {', '.join(lost)}"))
        decision = context.decisions.get(household_id)
        if decision in SETTLED_DECISIONS:
            found.append(("settled", f"settled: latest decision {decision}"))
        if not found:
            found.append(("unexplained", "still a household meeting the same criteria, but not a candidate in run B"))
        found.sort(key=lambda reason: DROP_REASONS.index(reason[0]))
        rows.append((household_id, ";".join(kind for kind, _ in found), "; ".join(text for _, text in found)))
    return pl.DataFrame(rows, schema=dict.fromkeys(REASON_COLUMNS, pl.String), orient="row")


def diff_stored_runs(engine: Engine, run_a: str, run_b: str) -> RunDiff:
    """Compare two stored, readable runs (ids already resolved), saying why each dropped family dropped."""
    candidates_a = read_candidates(engine, run_a)
    candidates_b = read_candidates(engine, run_b)
    plain = diff_runs(candidates_a, candidates_b)
    if plain.dropped.is_empty():
        return plain
    dropped = candidates_a.join(plain.dropped.select("household_id"), on="household_id", how="semi")
    context = read_drop_context(engine, run_a, run_b, dropped["household_id"].to_list())
    return diff_runs(candidates_a, candidates_b, drop_reasons(dropped, context))
