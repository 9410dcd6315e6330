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
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tfident.synth.events import EVENT_COLUMNS
from tfident.synth.months import MonthState, iter_months, month_date
from tfident.synth.truth import judge_households

__all__ = [
    "SyntheticBatch",
    "batch_from_state",
    "generate_batch",
    "generate_months",
    "month_date",
    "synthesise",
    "synthesise_months",
    "write_batch",
]

TRUTH_BATCH_FILE = "batch.json"
"""``truth/batch.json``: the batch date the truth was judged at (read by :mod:`tfident.evaluate`)."""


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
    ``changes``: see below; written to ``truth/changes.csv`` for a later month.
    """

    as_of: dt.date
    extracts: dict[str, pl.DataFrame]
    truth_persons: pl.DataFrame
    truth_households: pl.DataFrame
    faults: pl.DataFrame
    people: pl.DataFrame
    changes: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"true_household_id": pl.String, "change": pl.String})
    )
    """Households that moved (``moved``), left the area (``left``) or arrived (``arrived``)
    since the month before; empty for the first month."""


def generate_batch(
    households: int, seed: int, as_of: dt.date, month_offset: int = 0, churn: float = 0.05
) -> SyntheticBatch:
    """Generate a synthetic batch of ``households`` true households on ``as_of`` (pure, in memory).

    ``month_offset`` k > 0 gives the same council k months later (batch date
    :func:`~tfident.synth.months.month_date`): the same people and, for records that
    persist, the same record ids, with ``churn`` of the households moving each month
    (see :mod:`tfident.synth.months`). ``month_offset=0`` ignores ``churn``.
    """
    if month_offset < 0:
        raise ValueError("month_offset must be 0 or more")
    state = None
    for state in iter_months(households, seed, as_of, month_offset + 1, churn):  # noqa: B007 - the last month
        pass
    assert state is not None
    return batch_from_state(state)


def generate_months(
    households: int, seed: int, as_of: dt.date, months: int, churn: float = 0.05
) -> Iterator[SyntheticBatch]:
    """The batches of ``months`` consecutive months of one synthetic council, oldest first."""
    for state in iter_months(households, seed, as_of, months, churn):
        yield batch_from_state(state)


def batch_from_state(state: MonthState) -> SyntheticBatch:
    """The batch of one month of the synthetic council, with its truth."""
    world, as_of = state.world, state.world.as_of
    extracts = state.extracts()
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
        for source, cols in state.events.cols.items()
    }
    household_frame = pl.DataFrame({"true_household_id": h.hid, "in_area": h.in_area})
    truth_households = judge_households(clean, people, household_frame, as_of)
    faults = state.faults.sort("source", "record_id", "fault")
    return SyntheticBatch(as_of, extracts, state.truth_persons(), truth_households, faults, people, state.moved)


def write_batch(batch: SyntheticBatch, out: Path) -> None:
    """Write ``out/<source>.csv`` for every source and ``out/truth/`` (persons, households, faults).

    Canonical CSV: a header, commas, UTF-8, dates as ``YYYY-MM-DD``, blanks as empty
    fields. Rows are sorted, so the same batch always gives the same bytes.
    ``truth/batch.json`` records the batch date the truth was judged at
    (``{"as_of": "YYYY-MM-DD"}``), so a run of another date is not scored against it.
    """
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    for source in sorted(batch.extracts):
        batch.extracts[source].write_csv(out / f"{source}.csv", date_format="%Y-%m-%d")
    batch.truth_persons.write_csv(out / "truth" / "persons.csv")
    batch.truth_households.write_csv(out / "truth" / "households.csv")
    batch.faults.write_csv(out / "truth" / "faults.csv")
    (out / "truth" / TRUTH_BATCH_FILE).write_text(json.dumps({"as_of": batch.as_of.isoformat()}) + "\n")
    if not batch.changes.is_empty():
        batch.changes.sort("true_household_id").write_csv(out / "truth" / "changes.csv")


def synthesise(households: int, seed: int, as_of: dt.date, out: Path) -> SyntheticBatch:
    """Generate a batch and write it to ``out``; returns the batch."""
    batch = generate_batch(households, seed, as_of)
    write_batch(batch, out)
    return batch


def synthesise_months(
    households: int, seed: int, as_of: dt.date, out: Path, months: int, churn: float = 0.05
) -> list[Path]:
    """Write ``months`` consecutive monthly batches of one council to ``out/<YYYY-MM-DD>/``."""
    folders = []
    for batch in generate_months(households, seed, as_of, months, churn):
        folder = Path(out) / batch.as_of.isoformat()
        write_batch(batch, folder)
        folders.append(folder)
    return folders
