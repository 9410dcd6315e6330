"""tfident.identity: person and household ids that last from one month's run to the next.

Linkage names a person after its smallest record key and households are found by
address, so without this step ids would change whenever a record comes or goes, and a
household id would belong to an address rather than to a family. Review decisions and
outcome tracking are about a family, so :func:`carry_over_ids` gives each person and
household of a new run the id it had in the previous published run:

**Persons** keep the previous id with which they share the most source records
(``record_key``). Each previous id goes to one new person at most: pairs are taken by
shared records (most first), then preferring the new person whose own id already is that
id, then by ids, so the result never depends on row order. A person with no previous
record, or whose previous ids all went to others, keeps the id linkage gave it, unless
that id was already used in the previous run, when it gets a new one salted with the
batch month.

**Households** are carried by their members, not by their address: a household keeps
the previous household id that most of its persons had (persons matched as above), each
previous id going to one household at most. Ties go to the household whose persons hold
more of the records (the better-evidenced part of a family that is seen in two places,
say a parent still shown at the old address by one stale record), then to the one
holding the larger share of that previous household, then to the one at the previous
household's address, then by ids. So

* a family that moves keeps its id (and a ``household_moved`` event is recorded);
* a different family that moves into an address gets a new id: the address's old id
  stays with the family that left, and the new family brings no previous members;
* a household with no previous members gets ``H`` + SHA-1 of its UPRN when that id was
  never used in the previous run, else one salted with the batch month, so two families
  never share an id within two consecutive runs.

The first run (no previous run) keeps the ids of linkage and of
:func:`tfident.households.household_id_for` as they are.

**Merges and splits** are returned as events (``IDENTITY_EVENTS_SCHEMA``):
``person_merge`` (records of two or more previous persons now form one person),
``person_split`` (records of one previous person now form two or more), the same for
households (``household_merge``: members of two or more previous households now live
together; ``household_split``: members of one previous household now live apart) and
``household_moved`` (a household kept its id at a different UPRN). ``old_ids`` and
``new_ids`` are ``;``-joined sorted ids. Events name ids only, never personal data.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date

import polars as pl

from tfident.households import household_id_for

__all__ = [
    "HOUSEHOLD_MERGE",
    "HOUSEHOLD_MOVED",
    "HOUSEHOLD_SPLIT",
    "IDENTITY_EVENTS_SCHEMA",
    "IDENTITY_EVENT_KINDS",
    "PERSON_MERGE",
    "PERSON_SPLIT",
    "PREVIOUS_INDEX_SCHEMA",
    "CarriedIds",
    "carry_over_ids",
    "empty_events",
]

log = logging.getLogger(__name__)

PERSON_MERGE = "person_merge"
PERSON_SPLIT = "person_split"
HOUSEHOLD_MERGE = "household_merge"
HOUSEHOLD_SPLIT = "household_split"
HOUSEHOLD_MOVED = "household_moved"
IDENTITY_EVENT_KINDS: tuple[str, ...] = (PERSON_MERGE, PERSON_SPLIT, HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT, HOUSEHOLD_MOVED)
"""``identity_events.kind`` values: the one definition (the store's table checks them)."""
IDENTITY_EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "old_ids": pl.String(),
    "new_ids": pl.String(),
}
PREVIOUS_INDEX_SCHEMA: dict[str, pl.DataType] = {
    "record_key": pl.String(),
    "person_id": pl.String(),
    "household_id": pl.String(),
    "uprn": pl.Int64(),
}
"""What :func:`carry_over_ids` needs of the previous run: one row per source record, with
its person, that person's household and the household's UPRN."""


def empty_events() -> pl.DataFrame:
    """An identity events frame with no rows."""
    return pl.DataFrame(schema=IDENTITY_EVENTS_SCHEMA)


@dataclass(frozen=True)
class CarriedIds:
    """The new run's frames with carried-over ids, and what merged, split or moved."""

    records: pl.DataFrame
    residents: pl.DataFrame
    households: pl.DataFrame
    events: pl.DataFrame


def _salted(prefix: str, key: str, as_of: date) -> str:
    return prefix + hashlib.sha1(f"{key}@{as_of:%Y-%m}".encode()).hexdigest()[:12]


def _greedy(pairs: pl.DataFrame, order: list[str], descending: list[bool]) -> pl.DataFrame:
    """One-to-one ``new -> old`` (a frame of ``new, old``) from candidate pairs (one row per ``new, old``),
    best first by ``order``.

    A pair whose ``new`` and ``old`` are in no other pair (most of them, month on month) is taken
    whatever the order: nothing else can take either end before it, and it takes nothing another
    pair could have. Only the others are walked in order, so the mapping is the one a walk of
    every pair gives, at the cost of what changed.
    """
    alone = pl.col("new").is_unique() & pl.col("old").is_unique()
    flags = pairs.select(alone.alias("_alone"))["_alone"]
    settled = pairs.filter(flags).select("new", "old")
    taken_new: set[str] = set()
    taken_old: set[str] = set()
    walked: list[tuple[str, str]] = []
    for new, old in pairs.filter(~flags).sort(order, descending=descending).select("new", "old").iter_rows():
        if new in taken_new or old in taken_old:
            continue
        taken_new.add(new)
        taken_old.add(old)
        walked.append((new, old))
    return pl.concat([settled, pl.DataFrame(walked, schema=settled.schema, orient="row")])


def _events(pairs: pl.DataFrame, mapping: pl.DataFrame, merge: str, split: str) -> list[pl.DataFrame]:
    """``merge`` and ``split`` events from ``new, old`` pairs (``new`` already mapped to final ids)."""
    pairs = pairs.join(mapping, on="new").select(pl.col("final").alias("new"), "old").unique()
    # only the ids in more than one pair make an event: the lists are built for those alone
    merges = (
        pairs.filter(pl.col("new").is_duplicated())
        .group_by("new")
        .agg(pl.col("old").sort().alias("olds"))
        .filter(pl.col("olds").list.len() > 1)
        .select(
            pl.lit(merge).alias("kind"),
            pl.col("olds").list.join(";").alias("old_ids"),
            pl.col("new").alias("new_ids"),
        )
    )
    splits = (
        pairs.filter(pl.col("old").is_duplicated())
        .group_by("old")
        .agg(pl.col("new").sort().alias("news"))
        .filter(pl.col("news").list.len() > 1)
        .select(
            pl.lit(split).alias("kind"),
            pl.col("old").alias("old_ids"),
            pl.col("news").list.join(";").alias("new_ids"),
        )
    )
    return [merges, splits]


def _person_map(records: pl.DataFrame, previous: pl.DataFrame, as_of: date) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """``new -> final`` person ids and the person merge and split events."""
    new = records.select("record_key", pl.col("person_id").alias("new")).filter(pl.col("new").is_not_null())
    old = previous.select("record_key", pl.col("person_id").alias("old")).filter(pl.col("old").is_not_null())
    pairs = new.join(old, on="record_key").group_by("new", "old").agg(pl.len().alias("shared"))
    pairs = pairs.with_columns((pl.col("new") == pl.col("old")).alias("natural"))
    chosen = _greedy(pairs, ["shared", "natural", "new", "old"], [True, True, False, False])
    # each new id: the previous id chosen for it; else a salted one when the id was used in the previous
    # run; else its own (only the salted are made in Python: the ids new since, few month on month)
    ids = new.select(pl.col("new").unique().sort()).join(chosen, on="new", how="left", maintain_order="left")
    clash = ids.filter(pl.col("old").is_null() & pl.col("new").is_in(old["old"].unique().implode()))["new"]
    salted = pl.DataFrame(
        {"new": clash, "_salted": [_salted("P", pid, as_of) for pid in clash.to_list()]},
        schema={"new": pl.String, "_salted": pl.String},
    )
    mapping = ids.join(salted, on="new", how="left", maintain_order="left").select(
        "new", pl.coalesce("old", "_salted", "new").alias("final")
    )
    return mapping, _events(pairs.select("new", "old"), mapping, PERSON_MERGE, PERSON_SPLIT)


def _household_map(
    residents: pl.DataFrame, households: pl.DataFrame, previous: pl.DataFrame, weights: pl.DataFrame, as_of: date
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """``new -> final`` household ids and the household merge, split and moved events.

    ``residents`` already carry the final person ids; ``weights`` has ``person_id,
    _records``, each person's number of records in the new run.
    """
    before = (
        previous.filter(pl.col("person_id").is_not_null() & pl.col("household_id").is_not_null())
        .select("person_id", pl.col("household_id").alias("old"), pl.col("uprn").alias("old_uprn"))
        .unique("person_id", keep="first")
    )
    placed = residents.filter(pl.col("household_id").is_not_null()).select(
        "person_id", pl.col("household_id").alias("new"), pl.col("uprn").alias("new_uprn")
    )
    joined = placed.join(before, on="person_id").join(weights, on="person_id", how="left")
    pairs = joined.group_by("new", "old").agg(
        pl.len().alias("votes"),
        pl.col("_records").sum().alias("records"),
        (pl.col("new_uprn") == pl.col("old_uprn")).any().fill_null(False).alias("same_address"),
    )
    present = joined.group_by("old").agg(pl.len().alias("_present"))
    pairs = pairs.join(present, on="old").with_columns((pl.col("votes") / pl.col("_present")).alias("share"))
    chosen = _greedy(
        pairs, ["votes", "records", "share", "same_address", "new", "old"], [True, True, True, True, False, False]
    )
    # each household: the previous id chosen for it; else the id of its UPRN (its own without one), salted
    # when that id was used in the previous run (made in Python for the households not chosen alone)
    ids = (
        households.select(pl.col("household_id").alias("new"), "uprn")
        .unique("new", keep="last", maintain_order=True)
        .sort("new")
        .join(chosen, on="new", how="left", maintain_order="left")
    )
    rest = ids.filter(pl.col("old").is_null()).select("new", "uprn")
    plain = [household_id_for(uprn) if uprn is not None else hid for hid, uprn in rest.iter_rows()]
    clash = rest.select(
        pl.Series("_plain", plain, dtype=pl.String).is_in(previous["household_id"].drop_nulls().implode())
    )
    own = [
        _salted("H", str(uprn if uprn is not None else hid), as_of) if used else base
        for (hid, uprn), base, used in zip(rest.iter_rows(), plain, clash.to_series().to_list(), strict=True)
    ]
    unchosen = pl.DataFrame({"new": rest["new"], "_own": own}, schema={"new": pl.String, "_own": pl.String})
    mapping = ids.join(unchosen, on="new", how="left", maintain_order="left").select(
        "new", pl.coalesce("old", "_own").alias("final")
    )
    events = _events(pairs.select("new", "old"), mapping, HOUSEHOLD_MERGE, HOUSEHOLD_SPLIT)
    old_uprn = before.select("old", "old_uprn").unique("old", keep="first")
    moved = (
        households.select(pl.col("household_id").alias("new"), "uprn")
        .join(mapping, on="new")
        .join(old_uprn, left_on="final", right_on="old")
        .filter(
            pl.col("old_uprn").is_not_null() & pl.col("uprn").is_not_null() & (pl.col("uprn") != pl.col("old_uprn"))
        )
        .select(
            pl.lit(HOUSEHOLD_MOVED).alias("kind"), pl.col("final").alias("old_ids"), pl.col("final").alias("new_ids")
        )
    )
    return mapping, [*events, moved]


def carry_over_ids(
    records: pl.DataFrame,
    residents: pl.DataFrame,
    households: pl.DataFrame,
    previous: pl.DataFrame | None,
    as_of: date,
) -> CarriedIds:
    """Give the persons and households of a new run the ids they had in the previous run.

    ``records`` has ``record_key, person_id, household_id`` (and any other columns),
    ``residents`` ``person_id, household_id, uprn, ...`` and ``households``
    ``household_id, uprn, ...``, as ``tfident.pipeline.households_stage`` returns them;
    ``previous`` is the previous run's index (:data:`PREVIOUS_INDEX_SCHEMA`), or None for
    a first run, which changes nothing. Returns the three frames with the carried ids
    (residents sorted by ``person_id``, households by ``household_id``, records in their
    order) and the events (sorted). Pure: the same inputs give the same ids.
    """
    if previous is None:
        return CarriedIds(records, residents, households, empty_events())
    persons, person_events = _person_map(records, previous, as_of)
    residents = (
        residents.join(persons, left_on="person_id", right_on="new", how="left")
        .with_columns(pl.coalesce("final", "person_id").alias("person_id"))
        .drop("final")
    )
    weights = (
        records.join(persons, left_on="person_id", right_on="new")
        .group_by(pl.col("final").alias("person_id"))
        .agg(pl.len().alias("_records"))
    )
    house, household_events = _household_map(residents, households, previous, weights, as_of)

    def rename(frame: pl.DataFrame, column: str, mapping: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.join(mapping, left_on=column, right_on="new", how="left", maintain_order="left")
            .with_columns(pl.coalesce("final", column).alias(column))
            .drop("final")
        )

    residents = rename(residents, "household_id", house).sort("person_id")
    households = rename(households, "household_id", house).sort("household_id")
    records = rename(rename(records, "person_id", persons), "household_id", house)
    events = (
        pl.concat([*person_events, *household_events])
        .cast(IDENTITY_EVENTS_SCHEMA)  # type: ignore[arg-type]
        .sort("kind", "old_ids", "new_ids")
    )
    counts = dict(events.group_by("kind").len().iter_rows())
    log.info(
        "carried ids over: %d of %d persons and %d of %d households kept a previous id; events %s",
        residents.filter(pl.col("person_id").is_in(previous["person_id"].drop_nulls().implode())).height,
        residents.height,
        households.filter(pl.col("household_id").is_in(previous["household_id"].drop_nulls().implode())).height,
        households.height,
        dict(sorted(counts.items())),
    )
    return CarriedIds(records, residents, households, events)
