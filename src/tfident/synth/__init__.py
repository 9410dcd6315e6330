"""The synthetic council: agency extracts with realistic faults, and the truth behind them.

::

    batch = generate_batch(households=300, seed=1, as_of=date(2026, 10, 31))
    write_batch(batch, Path("batch"))          # batch/<source>.csv and batch/truth/*.csv
    synthesise(300, 1, date(2026, 10, 31), Path("batch"))   # both at once

The same arguments always give the same bytes. Stages: :mod:`.population` builds the
error-free world (gazetteer, households, people, moves), :mod:`.events` what happened
to them, :mod:`.extracts` renders each agency's rows with the noise of :mod:`.faults`,
and :mod:`.truth` judges every true household by the Phase 1 rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tfident.synth.events import EVENT_COLUMNS, build_events
from tfident.synth.extracts import render_extracts
from tfident.synth.population import build_world
from tfident.synth.truth import judge_households

__all__ = ["SyntheticBatch", "generate_batch", "synthesise", "write_batch"]


@dataclass(frozen=True)
class SyntheticBatch:
    """A synthetic batch in memory.

    ``extracts``: one frame per source (all ten), canonical columns only.
    ``truth_persons``: ``source, record_id, true_person_id, true_household_id`` for every
    record of every person source. ``truth_households``: one row per true household
    (see :data:`tfident.synth.truth.TRUTH_HOUSEHOLD_COLUMNS`). ``faults``: ``source,
    record_id, fault``, one row per fault added to a record. ``people``: the true people
    (``true_person_id, true_household_id, forename, middle_names, surname,
    former_surname, sex, date_of_birth, role, twin, named_after_father``).
    """

    as_of: dt.date
    extracts: dict[str, pl.DataFrame]
    truth_persons: pl.DataFrame
    truth_households: pl.DataFrame
    faults: pl.DataFrame
    people: pl.DataFrame


def generate_batch(households: int, seed: int, as_of: dt.date) -> SyntheticBatch:
    """Generate a synthetic batch of ``households`` true households on ``as_of`` (pure, in memory)."""
    world = build_world(households, seed, as_of)
    events = build_events(world, seed)
    extracts, truth_persons, faults = render_extracts(world, events, seed)
    p, h = world.people, world.households
    people = pl.DataFrame(
        {
            "true_person_id": p.pid,
            "true_household_id": [h.hid[i] for i in p.hh],
            "forename": p.forename,
            "middle_names": p.middle,
            "surname": p.surname,
            "former_surname": p.alt_surname,
            "sex": p.sex,
            "date_of_birth": p.dob,
            "role": p.role,
            "twin": p.twin,
            "named_after_father": p.named_after_father,
        },
        schema_overrides={"middle_names": pl.String, "former_surname": pl.String, "date_of_birth": pl.Date},
    )
    clean = {
        source: pl.DataFrame(
            {"true_person_id": [p.pid[i] for i in cols["person"]], **{c: cols[c] for c in EVENT_COLUMNS[source]}},
            schema_overrides=extracts[source].select(EVENT_COLUMNS[source]).schema,
        )
        for source, cols in events.cols.items()
    }
    household_frame = pl.DataFrame({"true_household_id": h.hid, "in_area": h.in_area})
    truth_households = judge_households(clean, people, household_frame, as_of)
    return SyntheticBatch(as_of, extracts, truth_persons, truth_households, faults, people)


def write_batch(batch: SyntheticBatch, out: Path) -> None:
    """Write ``out/<source>.csv`` for every source and ``out/truth/`` (persons, households, faults).

    Canonical CSV: a header, commas, UTF-8, dates as ``YYYY-MM-DD``, blanks as empty
    fields. Rows are sorted, so the same batch always gives the same bytes.
    """
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    for source in sorted(batch.extracts):
        batch.extracts[source].write_csv(out / f"{source}.csv", date_format="%Y-%m-%d")
    batch.truth_persons.write_csv(out / "truth" / "persons.csv")
    batch.truth_households.write_csv(out / "truth" / "households.csv")
    batch.faults.write_csv(out / "truth" / "faults.csv")


def synthesise(households: int, seed: int, as_of: dt.date, out: Path) -> SyntheticBatch:
    """Generate a batch and write it to ``out``; returns the batch."""
    batch = generate_batch(households, seed, as_of)
    write_batch(batch, out)
    return batch
