"""The synthetic council: agency extracts with realistic faults, and the truth behind them.

::

    batch = generate_batch(households=300, seed=1, as_of=date(2026, 10, 31))
    write_batch(batch, Path("batch"))          # batch/<source>.csv and batch/truth/*.csv
    synthesise(300, 1, date(2026, 10, 31), Path("batch"))   # both at once

The same arguments always give the same bytes. Stages: :mod:`.population` builds the
error-free world (gazetteer, households, people, moves), :mod:`.events` what happened
to them, :mod:`.extracts` renders each agency's rows with the noise of :mod:`.faults`,
and :mod:`.truth` judges every true household by the Phase 1 rules. Asked for
(``supporting_families=True``), :mod:`.supporting` adds the optional sources of contract
1.2 and ``truth/sf2022.csv``, leaving the version 1 extracts byte for byte as they were.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tfident.synth.events import EVENT_COLUMNS
from tfident.synth.months import MonthState, iter_months, month_date
from tfident.synth.profiles import PROFILE_NAMES, Profile, get_profile
from tfident.synth.truth import judge_households

ProfileArg = str | Path | Profile | None
"""A built-in profile's name, a profile YAML file's path, a :class:`Profile`, or None (``default``)."""

__all__ = [
    "PROFILE_NAMES",
    "Profile",
    "SyntheticBatch",
    "batch_from_state",
    "generate_batch",
    "generate_months",
    "get_profile",
    "month_date",
    "synthesise",
    "synthesise_months",
    "with_supporting_families",
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
    claims_truth: pl.DataFrame | None = None
    """With attached families followed (:mod:`tfident.synth.followup`): every family attached so far
    and whether a Phase 1 results claim on the batch date is valid, written to ``truth/claims.csv``."""
    sf_truth: pl.DataFrame | None = None
    """With the optional sources of contract 1.2: every true household judged by the ``sf2022``
    rules (:data:`tfident.synth.supporting.SF_TRUTH_COLUMNS`), written to ``truth/sf2022.csv``."""


def generate_batch(
    households: int,
    seed: int,
    as_of: dt.date,
    month_offset: int = 0,
    churn: float = 0.05,
    profile: ProfileArg = None,
    supporting_families: bool = False,
) -> SyntheticBatch:
    """Generate a synthetic batch of ``households`` true households on ``as_of`` (pure, in memory).

    ``month_offset`` k > 0 gives the same council k months later (batch date
    :func:`~tfident.synth.months.month_date`): the same people and, for records that
    persist, the same record ids, with ``churn`` of the households moving each month
    (see :mod:`tfident.synth.months`). ``month_offset=0`` ignores ``churn``. ``profile``:
    the error profile (:mod:`tfident.synth.profiles`); None or ``default`` is the generator
    as it always was. ``supporting_families``: add the optional sources of contract 1.2 and
    their truth (:mod:`tfident.synth.supporting`); the other extracts do not change.
    """
    if month_offset < 0:
        raise ValueError("month_offset must be 0 or more")
    resolved = get_profile(profile)
    state = None
    for state in iter_months(households, seed, as_of, month_offset + 1, churn, resolved):  # noqa: B007 - the last month
        pass
    assert state is not None
    batch = batch_from_state(state)
    return with_supporting_families(batch, state) if supporting_families else batch


def generate_months(
    households: int,
    seed: int,
    as_of: dt.date,
    months: int,
    churn: float = 0.05,
    profile: ProfileArg = None,
    corrections: float = 0.0,
) -> Iterator[SyntheticBatch]:
    """The batches of ``months`` consecutive months of one synthetic council, oldest first
    (``corrections``: the share of earlier faulty records corrected each later month).
    """
    for state in iter_months(households, seed, as_of, months, churn, get_profile(profile), corrections):
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
    clean = _clean_events(state.events.cols, EVENT_COLUMNS, p.pid, extracts)
    household_frame = pl.DataFrame({"true_household_id": h.hid, "in_area": h.in_area})
    truth_households = judge_households(clean, people, household_frame, as_of)
    faults = state.faults.sort("source", "record_id", "fault")
    return SyntheticBatch(as_of, extracts, state.truth_persons(), truth_households, faults, people, state.moved)


def _clean_events(
    cols_by_source: dict[str, dict[str, list[Any]]],
    event_columns: dict[str, tuple[str, ...]],
    pid: list[str],
    extracts: dict[str, pl.DataFrame],
) -> dict[str, pl.DataFrame]:
    """The error-free events of each source with the true person id, typed as the extract."""
    return {
        source: pl.DataFrame(
            {"true_person_id": [pid[i] for i in cols["person"]], **{c: cols[c] for c in event_columns[source]}},
            schema_overrides={"true_person_id": pl.String, **extracts[source].select(event_columns[source]).schema},
        )
        for source, cols in cols_by_source.items()
    }


def with_supporting_families(batch: SyntheticBatch, state: MonthState) -> SyntheticBatch:
    """``batch`` with the optional sources of contract 1.2 added and judged by the ``sf2022`` rules.

    Their events and rows draw from their own random streams, so the other extracts, the
    Phase 1 truth and the fault log of the version 1 sources are unchanged.
    """
    from tfident.synth.extracts import _Renderer, render_source
    from tfident.synth.supporting import (
        SF_EVENT_COLUMNS,
        SF_RECORD_ID_FORMATS,
        SF_SOURCES,
        SF_STREAMS,
        build_sf_events,
        judge_sf2022,
    )

    world, seed = state.world, state.seed
    events = build_sf_events(world, seed)
    renderer = _Renderer(world, seed, state.profile)
    extracts = dict(batch.extracts)
    truths, faults = [batch.truth_persons], [batch.faults]
    for source in SF_SOURCES:
        frame, truth, logged = render_source(
            renderer,
            source,
            events.cols[source],
            seed,
            SF_STREAMS[source],
            record_id_format=SF_RECORD_ID_FORMATS[source],
            event_columns=SF_EVENT_COLUMNS[source],
        )
        extracts[source] = frame.sort("record_id")
        truths.append(truth)
        faults.append(logged)
    p, h = world.people, world.households
    clean = _clean_events(state.events.cols, EVENT_COLUMNS, p.pid, batch.extracts)
    clean.update(_clean_events(events.cols, SF_EVENT_COLUMNS, p.pid, extracts))
    household_frame = pl.DataFrame({"true_household_id": h.hid, "in_area": h.in_area})
    sf_truth = judge_sf2022(clean, batch.people, household_frame, batch.as_of)
    return dataclasses.replace(
        batch,
        extracts=extracts,
        truth_persons=pl.concat(truths).sort("source", "record_id"),
        faults=pl.concat(faults).sort("source", "record_id", "fault"),
        sf_truth=sf_truth,
    )


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
    if batch.sf_truth is not None:
        batch.sf_truth.write_csv(out / "truth" / "sf2022.csv")
    if batch.claims_truth is not None:
        batch.claims_truth.write_csv(out / "truth" / "claims.csv", date_format="%Y-%m-%d")


def synthesise(
    households: int,
    seed: int,
    as_of: dt.date,
    out: Path,
    profile: ProfileArg = None,
    supporting_families: bool = False,
) -> SyntheticBatch:
    """Generate a batch with error profile ``profile`` (and, asked, the sources of contract 1.2) and write it
    to ``out``; returns the batch.
    """
    batch = generate_batch(households, seed, as_of, profile=profile, supporting_families=supporting_families)
    write_batch(batch, out)
    return batch


def generate_followed_months(
    households: int,
    seed: int,
    as_of: dt.date,
    months: int,
    attach_share: float,
    churn: float = 0.05,
    profile: ProfileArg = None,
) -> Iterator[SyntheticBatch]:
    """The batches of ``months`` months with ``attach_share`` of the eligible families attached on each of the
    first three batch dates and followed (:mod:`tfident.synth.followup`); each batch has ``claims_truth``.
    """
    from tfident.synth.claims_truth import judge_claims
    from tfident.synth.followup import ATTACH_MONTHS, iter_followed_months

    for state, follow in iter_followed_months(
        households, seed, as_of, months, attach_share, churn, get_profile(profile)
    ):
        employment, employment_truth, employment_faults = follow.settle(state)
        batch = batch_from_state(state)
        if state.month < ATTACH_MONTHS:
            follow.attach(state, batch.truth_households)
        clean = _clean_events(state.events.cols, EVENT_COLUMNS, state.world.people.pid, batch.extracts)
        clean["employment"] = follow.employment_events(state.world.people.pid, batch.as_of)
        yield dataclasses.replace(
            batch,
            extracts={**batch.extracts, "employment": employment} if employment.height else batch.extracts,
            truth_persons=pl.concat([batch.truth_persons, employment_truth]).sort("source", "record_id"),
            faults=pl.concat([batch.faults, employment_faults]).sort("source", "record_id", "fault"),
            claims_truth=judge_claims(clean, follow.attached(), batch.as_of),
        )


def synthesise_months(
    households: int,
    seed: int,
    as_of: dt.date,
    out: Path,
    months: int,
    churn: float = 0.05,
    profile: ProfileArg = None,
    attach_share: float | None = None,
    corrections: float = 0.0,
) -> list[Path]:
    """Write ``months`` consecutive monthly batches of one council to ``out/<YYYY-MM-DD>/``; with
    ``attach_share``, attached families followed and ``truth/claims.csv`` (:func:`generate_followed_months`).
    """
    folders = []
    if attach_share is not None and corrections:
        raise ValueError("corrections cannot be combined with followed families (attach_share)")
    batches = (
        generate_months(households, seed, as_of, months, churn, profile, corrections)
        if attach_share is None
        else generate_followed_months(households, seed, as_of, months, attach_share, churn, profile)
    )
    for batch in batches:
        folder = Path(out) / batch.as_of.isoformat()
        write_batch(batch, folder)
        folders.append(folder)
    return folders
