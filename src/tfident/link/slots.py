"""Slots: what one person fills at most once in a source, so two records of one slot are two people.

A pupil has one attendance row per school and term, and one school census row per school and
census day (``person_slot`` in ``tfident/ingest/sources.yaml``). Two attendance rows of one school
and term are two pupils, however alike their names, dates of birth and numbers: twins with each
other's name for a middle name, a record carrying a twin's UPN. Clustering never puts two records
of one slot in one person (guard ``one_record_per_slot``).

Every pupil of a school shares its slots with the others, so a profile's slots as such would say
nothing and cost much: clustering is given, for each profile, only the slots it shares with another
profile that scored pairs could bring into the same person (:func:`contested_slots`: the same
connected component of the pairs clustering and its second pass may merge on). Those are few: twins
and siblings at one school whose records meet, and one record's copy split from its person.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from tfident.ingest.sources import SOURCES
from tfident.link.graph import components

SLOTS_SCHEMA: dict[str, pl.DataType] = {"record_key": pl.String(), "slot": pl.String()}
"""``record_slots``' frame: a record (``source:record_id``, as standardise keys it) and its slot."""

SLOT_COLUMN = "slots"
"""The profile column of the slots a profile shares with another profile of its component
(a sorted list, empty when none)."""


def record_slots(extracts: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """``record_key, slot`` for every record of a source with a ``person_slot`` whose slot columns are
    all filled: the slot is the source and the columns' values (``attendance|136219|2025/26-SUM``).
    A record missing one of them has no slot; so has every record of an extract lacking a column.
    """
    frames = []
    for name, frame in extracts.items():
        source = SOURCES.get(name)
        if source is None or not source.person_slot or "record_id" not in frame.columns:
            continue
        if any(column not in frame.columns for column in source.person_slot):
            continue
        # a blank value is a missing one; concat_str is null when any part is null
        parts = (pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in source.person_slot)
        frames.append(
            frame.select(
                (pl.lit(name + ":") + pl.col("record_id").cast(pl.String)).alias("record_key"),
                pl.concat_str([pl.lit(name), *parts], separator="|").alias("slot"),
            ).drop_nulls("slot")
        )
    if not frames:
        return pl.DataFrame(schema=SLOTS_SCHEMA)
    return pl.concat(frames).cast(SLOTS_SCHEMA)  # type: ignore[arg-type]


def contested_slots(
    profiles: pl.DataFrame, members: pl.DataFrame, slots: pl.DataFrame | None, pairs: pl.DataFrame
) -> pl.DataFrame:
    """``profiles`` with :data:`SLOT_COLUMN`: each profile's slots (``slots``, by the records of
    ``members``: ``record_key, pid``) that another profile of its connected component of ``pairs``
    (``pid_l, pid_r``: every pair clustering may merge on) also holds. Empty lists when ``slots`` is
    None or empty.
    """
    empty = pl.lit([], dtype=pl.List(pl.String)).alias(SLOT_COLUMN)
    if slots is None or slots.is_empty():
        return profiles.with_columns(empty)
    held = members.select("record_key", "pid").join(slots, on="record_key").select("pid", "slot").unique()
    if held.is_empty():
        return profiles.with_columns(empty)
    label = pl.Series("component", components(profiles.height, pairs.select("pid_l", "pid_r")), dtype=pl.Int64)
    placed = held.with_columns(label.gather(held["pid"]).alias("component"))
    shared = (
        placed.filter(pl.col("pid").n_unique().over("component", "slot") > 1)
        .group_by("pid")
        .agg(pl.col("slot").unique().sort().alias(SLOT_COLUMN))
    )
    return (
        profiles.drop(SLOT_COLUMN, strict=False)
        .join(shared, on="pid", how="left", maintain_order="left")
        .with_columns(pl.col(SLOT_COLUMN).fill_null(pl.lit([], dtype=pl.List(pl.String))))
    )
