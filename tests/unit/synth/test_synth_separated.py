"""Separated parents (``separated_share``): an adult who stayed at the old home when the family moved.

On a small world (600 households, seed 3) with every eligible family split: the stayer is alone
in a new true household at the family's old address, every record of theirs gives that address,
the family has one adult fewer, and everything else is as the same profile without the split.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from tfident.ingest.sources import PERSON_SOURCES as ALL_PERSON_SOURCES
from tfident.ingest.sources import VERSION_1_SOURCES
from tfident.synth import SyntheticBatch, batch_from_state, generate_months
from tfident.synth.dates import age_at
from tfident.synth.months import MonthState, first_month
from tfident.synth.profiles import Profile, get_profile

PERSON_SOURCES = tuple(s for s in ALL_PERSON_SOURCES if s in VERSION_1_SOURCES)
AS_OF = dt.date(2026, 10, 31)
HOUSEHOLDS = 600
SEED = 3
SPLIT = Profile(name="split", separated_share=1.0)
SAME_FAULTS = Profile(name="same", scale={"lag": 1.0})
"""Not ``default`` (so the renderer takes the profile path, as ``SPLIT`` does) but the same rates."""
PROFILES = Path(__file__).resolve().parents[3] / "benchmarks" / "profiles"


@pytest.fixture(scope="module")
def split() -> MonthState:
    return first_month(HOUSEHOLDS, SEED, AS_OF, SPLIT)


@pytest.fixture(scope="module")
def whole() -> MonthState:
    return first_month(HOUSEHOLDS, SEED, AS_OF, SAME_FAULTS)


def _adults(state: MonthState, hh: int) -> list[int]:
    w = state.world
    return [m for m in w.households.members[hh] if age_at(w.people.dob[m], w.as_of) >= 18]


def test_the_share_must_be_between_0_and_1() -> None:
    for bad in (-0.1, 1.01):
        with pytest.raises(ValidationError):
            Profile(name="x", separated_share=bad)
    assert Profile(name="x", separated_share=0.0).is_default
    assert not Profile(name="x", separated_share=0.2).is_default


def test_each_stayer_is_alone_at_the_old_address(split: MonthState, whole: MonthState) -> None:
    """A new household (after every other id) of one adult at the family's old, now empty home, with
    no move; the family keeps its id, address and move, one adult fewer.
    """
    w, base = split.world, whole.world
    h, p = w.households, w.people
    assert len(w.stayed) >= 1
    assert len(h.hid) == HOUSEHOLDS + len(w.stayed)
    assert h.hid[:HOUSEHOLDS] == base.households.hid
    assert len(set(h.hid)) == len(h.hid)
    for stayer, family in w.stayed.items():
        own = p.hh[stayer]
        assert own >= HOUSEHOLDS
        assert base.people.hh[stayer] == family
        assert h.members[own] == [stayer]
        assert h.addr[own] == base.households.old_addr[family] == h.old_addr[family]
        assert h.addr[own] < w.n_gazetteer
        assert h.move_date[own] is None
        assert h.old_addr[own] == -1
        assert h.in_area[own]
        assert h.addr[family] == base.households.addr[family]
        assert h.move_date[family] == base.households.move_date[family]
        assert h.members[family] == [m for m in base.households.members[family] if m != stayer]
        assert len(_adults(split, family)) == len(_adults(whole, family)) - 1
        assert p.role[stayer] != "adult_child" or all(p.role[m] == "adult_child" for m in _adults(whole, family))
        # nobody else lives at the old home
        assert [i for i in range(len(h.hid)) if h.addr[i] == h.addr[own]] == [own]
    for i in range(HOUSEHOLDS):
        if i not in w.stayed.values():
            assert h.members[i] == base.households.members[i]


def test_every_record_of_a_stayer_gives_the_old_address(split: MonthState, whole: MonthState) -> None:
    """Before and after the family's move date: the old address (postcode and UPRN, where no fault
    changed them), never ``address_stale``; the records belong to the stayer's own household.
    """
    w = split.world
    h, p, ad = w.households, w.people, w.addresses
    batch = batch_from_state(split)
    faults = batch.faults.group_by("source", "record_id").agg(pl.col("fault"))
    after_move = 0
    seen = 0
    for source in PERSON_SOURCES:
        cols = split.events.cols[source]
        rows = split.rows[source].with_row_index("row")
        truth = split.truth[source]
        for row, (person, day) in enumerate(zip(cols["person"], cols["addr_date"], strict=True)):
            if person not in w.stayed:
                continue
            seen += 1
            family = w.stayed[person]
            family_move = h.move_date[family]
            assert family_move is not None
            after_move += day >= family_move
            old = h.addr[p.hh[person]]
            record = rows.row(row, named=True)
            assert truth["true_household_id"][row] == h.hid[p.hh[person]]
            logged = faults.filter((pl.col("source") == source) & (pl.col("record_id") == record["record_id"]))
            kinds = set(logged["fault"][0]) if logged.height else set()
            assert "address_stale" not in kinds
            if not any(k.startswith("postcode_") for k in kinds):
                assert record["postcode"] == ad.postcode[old]
            if record["uprn"] is not None and "uprn_wrong" not in kinds:
                assert record["uprn"] == str(ad.uprn[old])
    assert seen > 0
    assert after_move > 0  # some records are dated after the move the stayer did not make


def test_truth_has_the_new_households(split: MonthState, whole: MonthState) -> None:
    """households.csv has each stayer's household (one member, in the area); the family is judged
    from the members who moved; every record is in its person's household.
    """
    batch: SyntheticBatch = batch_from_state(split)
    base = batch_from_state(whole)
    w = split.world
    households = batch.truth_households
    assert households.height == base.truth_households.height + len(w.stayed)
    by_id = {row["true_household_id"]: row for row in households.iter_rows(named=True)}
    before = {row["true_household_id"]: row for row in base.truth_households.iter_rows(named=True)}
    for stayer, family in w.stayed.items():
        own = by_id[w.households.hid[w.people.hh[stayer]]]
        assert own["n_members"] == 1
        assert own["in_area"] == "Y"
        hid = w.households.hid[family]
        assert by_id[hid]["n_members"] == before[hid]["n_members"] - 1
    by_person = batch.truth_persons.join(
        batch.people.select("true_person_id", pl.col("true_household_id").alias("home")), on="true_person_id"
    )
    assert by_person.height == batch.truth_persons.height
    assert (by_person["true_household_id"] == by_person["home"]).all()
    assert set(batch.truth_persons["true_household_id"]) <= set(households["true_household_id"])


def test_only_the_split_families_records_change(split: MonthState, whole: MonthState) -> None:
    """With the same fault rates, the records of everyone outside the split families are written
    exactly as without the split (the split draws from a stream of its own).
    """
    w = split.world
    touched = {m for family in w.stayed.values() for m in whole.world.households.members[family]}
    pids = sorted(w.people.pid[m] for m in touched)
    for source in PERSON_SOURCES:
        mine = split.rows[source].with_columns(split.truth[source]["true_person_id"])
        theirs = whole.rows[source].with_columns(whole.truth[source]["true_person_id"])
        outside = ~pl.col("true_person_id").is_in(pids)
        assert mine.filter(outside).equals(theirs.filter(outside)), source


def test_later_months_keep_the_stayers_households() -> None:
    """The stayer's household lives on in later months: ids stay unique and truth consistent."""
    for batch in generate_months(HOUSEHOLDS, SEED, AS_OF, 2, churn=0.1, profile=SPLIT):
        assert batch.truth_households["true_household_id"].is_unique().all()
        homes = batch.truth_persons.join(
            batch.people.select("true_person_id", pl.col("true_household_id").alias("home")), on="true_person_id"
        )
        assert (homes["true_household_id"] == homes["home"]).all()


@pytest.mark.parametrize("name", ["lagged", "messy"])
def test_the_example_profiles_are_the_builtins_with_separations(name: str) -> None:
    example = get_profile(str(PROFILES / f"{name}-separated.yaml"))
    assert example.separated_share == 0.3
    builtin = get_profile(name)
    assert example.model_copy(update={"name": name, "separated_share": 0.0}) == builtin
